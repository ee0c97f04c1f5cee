//! What the console costs an SSH link and a CPU, measured through a real pseudo-terminal:
//! bytes written over 10 s of an unchanged screen, bytes for a one-row change (the
//! cursor moving), and idle CPU over 60 s of `gander demo` (the fleet runs in the same
//! process, so its servers are counted too). Then the console on 1,000 services served
//! by another process (`demo --services 1000 --serve-only`), as issue 17 measured it at
//! 200×50: first frame, idle CPU at a 5 s poll interval, peak RSS, and the time from a
//! j/k key press to the first byte of the new frame. Run: `cargo bench --bench tty_io`.
//! Under `cargo test` it runs with short durations as a smoke test (no 1,000 run).

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

struct Session {
    bytes: Arc<AtomicUsize>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

fn spawn(args: &[&str]) -> Session {
    spawn_timed(args).0
}

/// As [`spawn`]; also the time of the first output byte that follows a mark set with
/// the returned `Arc` (0 = not yet), in ns since `start`.
/// Each read from the terminal: when, and how many bytes.
type Reads = Arc<std::sync::Mutex<Vec<(std::time::Instant, usize)>>>;

fn spawn_timed(args: &[&str]) -> (Session, Reads) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gander"));
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    let bytes = Arc::new(AtomicUsize::new(0));
    let b = bytes.clone();
    let reads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = reads.clone();
    std::thread::spawn(move || {
        let _m = pair.master;
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            b.fetch_add(n, Ordering::Relaxed);
            if let Ok(mut v) = r.lock() {
                v.push((std::time::Instant::now(), n));
            }
        }
    });
    (
        Session {
            bytes,
            writer,
            child,
        },
        reads,
    )
}

fn rss_peak_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The console on 1,000 services served by a separate `demo --serve-only` process.
fn thousand() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet");
    let mut fleet = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "demo",
            "--serve-only",
            "--steady",
            "--services",
            "1000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(fleet.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let (config, st) = (
        info["config"].as_str().unwrap().to_string(),
        info["state_dir"].as_str().unwrap().to_string(),
    );
    let start = std::time::Instant::now();
    let (mut c, reads) = spawn_timed(&["--config", &config, "--state-dir", &st]);
    // First frame: the first burst of output that draws the grid's header.
    std::thread::sleep(Duration::from_secs(3));
    let first = reads
        .lock()
        .unwrap()
        .iter()
        .scan(0usize, |n, (t, k)| {
            *n += k;
            Some((*t, *n))
        })
        .find(|(_, n)| *n > 2000)
        .map(|(t, _)| t - start);
    println!(
        "1,000 services, console at 200×50: first frame after {:.0} ms",
        first.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    );
    let pid = c.child.process_id().unwrap();
    // Idle: past two poll rounds, then 30 s.
    std::thread::sleep(Duration::from_secs(10));
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(30));
    let cpu = (cpu_ticks(pid) - t0) as f64 / 100.0;
    println!(
        "1,000 services: console idle CPU {:.1} % of one core (5 s poll interval), peak RSS {} MB",
        cpu / 30.0 * 100.0,
        rss_peak_kb(pid) / 1024
    );
    // j/k: from the key to the first byte of the frame it causes.
    let mut lat = Vec::new();
    for i in 0..60 {
        let mark = std::time::Instant::now();
        c.writer
            .write_all(if i % 2 == 0 { b"j" } else { b"k" })
            .unwrap();
        c.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        if let Some((t, _)) = reads.lock().unwrap().iter().find(|(t, _)| *t > mark) {
            lat.push((*t - mark).as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "1,000 services: j/k to first byte of the new frame: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} presses)",
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        lat.len()
    );
    c.writer.write_all(b"q").unwrap();
    c.writer.flush().unwrap();
    let _ = c.child.wait();
    let _ = fleet.kill();
    let _ = fleet.wait();
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (quiet_secs, cpu_secs) = if full { (10, 60) } else { (1, 2) };
    // A fleet with no endpoints: nothing changes, so nothing should be written.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::create_dir_all(cfg.join("services")).unwrap();
    std::fs::write(
        cfg.join("org-config.yaml"),
        "org: {name: Quiet}\nmodes: {sandbox: {}, compliant: {}}\n",
    )
    .unwrap();
    for s in ["a", "b", "c"] {
        std::fs::write(
            cfg.join("services").join(format!("{s}.yaml")),
            format!(
                "service:\n  name: {s}\n  spec: {{api_version: v1, compliance_mode: sandbox}}\n"
            ),
        )
        .unwrap();
    }
    let state = dir.path().join("state");
    let mut s = spawn(&[
        "--config",
        cfg.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_secs(2));
    let before = s.bytes.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(quiet_secs));
    let quiet = s.bytes.load(Ordering::Relaxed) - before;
    let before = s.bytes.load(Ordering::Relaxed);
    s.writer.write_all(b"j").unwrap();
    s.writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let one_move = s.bytes.load(Ordering::Relaxed) - before;
    s.writer.write_all(b"q").unwrap();
    s.writer.flush().unwrap();
    let _ = s.child.wait();
    println!(
        "unchanged screen: {quiet} bytes written in {quiet_secs} s (the clock shows minutes; a minute boundary in the window adds one header line)"
    );
    println!("cursor moved one row: {one_move} bytes");

    // Idle CPU of the demo: 7 services served and polled every 5 s, nothing pressed.
    let state = dir.path().join("demo-state");
    let mut d = spawn(&["--state-dir", state.to_str().unwrap(), "demo", "--steady"]);
    // Past the first polls (a window's figures need two), so what follows is idle.
    std::thread::sleep(Duration::from_secs(if full { 15 } else { 3 }));
    let pid = d.child.process_id().unwrap();
    let t0 = cpu_ticks(pid);
    let b0 = d.bytes.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(cpu_secs));
    let t1 = cpu_ticks(pid);
    let written = d.bytes.load(Ordering::Relaxed) - b0;
    let hz = 100.0; // USER_HZ on Linux
    let cpu = (t1 - t0) as f64 / hz;
    println!(
        "gander demo idle for {cpu_secs} s: {cpu:.2} s of CPU = {:.2} % of one core (fleet servers and pollers included)",
        cpu / cpu_secs as f64 * 100.0
    );
    println!(
        "gander demo --steady (7 services polled every 5 s) idle for {cpu_secs} s: {written} bytes written = {:.1} bytes/s (a minute boundary redraws the clock)",
        written as f64 / cpu_secs as f64
    );
    d.writer.write_all(b"q").unwrap();
    d.writer.flush().unwrap();
    let _ = d.child.wait();
    if full {
        thousand();
    }
}
