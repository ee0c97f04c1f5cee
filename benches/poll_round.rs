//! One poll round (health probes and metrics of every service) over 1,000 demo
//! services served by a separate `gander demo --serve-only` process: wall time and this
//! process's CPU time per round. Run: `cargo bench --bench poll_round`.
//! Under `cargo test` it runs once on 50 services as a smoke test.

use gander::io::http::{Http, HttpConfig};
use gander::io::poll::{Target, poll_round};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a local struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (n, rounds) = if bench { (1000, 10) } else { (50, 1) };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--serve-only", "--services", &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap();
    let config_dir = std::path::PathBuf::from(info["config"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(1200));
    let config = gander::io::config_dir::load_dir(&config_dir)
        .unwrap()
        .config
        .expect("the demo config is valid");
    let targets = Target::from_config(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = Http::new(HttpConfig {
        timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    })
    .unwrap();
    gander::io::demo::raise_fd_limit();
    // Warm up: connections pooled as a long-running console would have them.
    let warm = rt.block_on(poll_round(&http, &targets, 64));
    assert_eq!(warm.len(), n);
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..rounds {
        let (c0, w0) = (cpu_time(), Instant::now());
        let obs = rt.block_on(poll_round(&http, &targets, 64));
        walls.push(w0.elapsed());
        cpus.push(cpu_time() - c0);
        let failed = obs.iter().filter(|o| o.unreachable).count();
        assert_eq!(failed, 0, "{failed} services unreachable");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    walls.sort();
    cpus.sort();
    let med = |v: &[Duration]| v[v.len() / 2];
    let cpu = med(&cpus);
    println!(
        "poll round over {n} services (5 requests each, 64 at a time): wall median {:.0} ms (min {:.0}, max {:.0}); CPU median {:.0} ms = {:.1} % of one core at a 5 s interval",
        med(&walls).as_secs_f64() * 1000.0,
        walls[0].as_secs_f64() * 1000.0,
        walls[walls.len() - 1].as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() / 5.0 * 100.0
    );
}
