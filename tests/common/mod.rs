//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

pub mod org;
pub mod pg;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Copy a directory tree (a config dir into a test's temp dir).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `gander demo --serve-only --steady` in its own process, with its config and state dir.
pub struct Demo {
    child: Child,
    pub config: PathBuf,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    pub fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--state-dir")
            .arg(dir.path())
            .args(["demo", "--serve-only", "--steady"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        Demo {
            child,
            config: PathBuf::from(v["config"].as_str().unwrap()),
            state: PathBuf::from(v["state_dir"].as_str().unwrap()),
            _dir: dir,
        }
    }

    /// Run gander on the demo's config and store as a demo operator (alice or bob).
    pub fn run(&self, who: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("GANDER_KEY", self.state.join("keys").join(who))
            .env("GANDER_HEADS_DIR", self.state.join("heads"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// `gander verify` must pass.
    pub fn verify_chain(&self) {
        let (code, out, _) = self.run("alice", &["verify"]);
        assert_eq!(code, 0, "{out}");
    }
}

/// A child process killed when the test ends, however it ends.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port below the kernel's ephemeral range (32768 up), for a server whose port
/// must be chosen before thousands of other sockets are opened: an ephemeral port
/// chosen first could be handed out again meanwhile (a 10,000-service fleet takes a
/// third of the range), and then the server cannot bind.
pub fn free_port_below_ephemeral() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    (0..8000u64)
        .map(|i| 20000 + ((seed + i * 7919) % 12000) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 20000-31999")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /-/ready` answered 200 (Prometheus and Alertmanager both have it).
fn ready(base: &str) -> bool {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.write_all(format!("GET /-/ready HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200")
}

fn wait_ready(base: &str, what: &str) {
    let start = std::time::Instant::now();
    while !ready(base) {
        assert!(
            // Prometheus loading 10,000 targets takes a while on 2 cores.
            start.elapsed() < Duration::from_secs(120),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A real Alertmanager (Debian's prometheus-alertmanager) whose receiver sends nothing;
/// (process, base URL).
pub fn start_alertmanager(dir: &Path) -> (Proc, String) {
    let port = free_port();
    std::fs::write(
        dir.join("am.yml"),
        "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n",
    )
    .unwrap();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", dir.join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("am.log")).unwrap())
        .spawn()
        .expect("prometheus-alertmanager is installed (scripts/test.sh installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let p = Proc(child);
    wait_ready(&url, "Alertmanager");
    (p, url)
}

/// A real Prometheus evaluating `rules` (YAML) every second, scraping nothing.
pub fn start_prometheus_with_rules(dir: &Path, rules: &str) -> (Proc, String) {
    let port = free_port();
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [{}]\n",
            dir.join("rules.yml").display()
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let p = Proc(child);
    wait_ready(&url, "Prometheus");
    (p, url)
}

/// A real Prometheus on `port` scraping `targets` (address, labels as a YAML flow map)
/// every `every` seconds; (process, base URL).
pub fn start_prometheus_scraping_on(
    dir: &Path,
    port: u16,
    targets: &[(String, String)],
    every: u64,
) -> (Proc, String) {
    let mut cfg = format!(
        "global:\n  scrape_interval: {every}s\n  evaluation_interval: {every}s\nscrape_configs:\n  - job_name: fleet\n    static_configs:\n",
    );
    for (addr, labels) in targets {
        cfg.push_str(&format!(
            "      - targets: ['{addr}']\n        labels: {labels}\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), cfg).unwrap();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let p = Proc(child);
    wait_ready(&url, "Prometheus");
    (p, url)
}
