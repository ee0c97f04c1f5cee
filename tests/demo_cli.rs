//! `gander demo --serve-only` as a separate process, read by `gander status --json` and
//! `gander scrape`, broken through its control port: the "done when" of the live data
//! work, end to end through the real binary.

use assert_cmd::Command as AssertCommand;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Demo {
    child: Child,
    config: String,
    control: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(extra: &[&str]) -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--serve-only"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    std::thread::sleep(Duration::from_millis(1200)); // startup probes pass after 1 s
    Demo {
        child,
        config: v["config"].as_str().unwrap().to_string(),
        control: v["control"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .to_string(),
        _dir: dir,
    }
}

/// A plain HTTP GET with the standard library (the control port is ours).
fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

fn gander(args: &[&str]) -> (i32, Value, String) {
    let out = AssertCommand::cargo_bin("gander")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn status_shows_the_fleet_live_and_a_broken_service_with_its_reason() {
    let demo = start_demo(&[]);
    let (code, v, err) = gander(&["status", "--json", "--config", &demo.config]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["unreachable"], serde_json::json!([]));
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 7);
    for s in services {
        let live = &s["live"];
        assert_ne!(live["health"], "unknown", "{}", s["service"]);
        assert!(live["p95_ms"].as_f64().unwrap() > 0.0, "{}", s["service"]);
        assert!(live["series"].as_u64().unwrap() > 20);
        assert!(live["last_poll"].is_string());
    }
    // Kill one service: exit 3, named, with the reason.
    assert!(get(&demo.control, "/fault/service-a/down").contains("now `down`"));
    std::thread::sleep(Duration::from_millis(400));
    let (code, v, err) = gander(&["status", "--json", "--config", &demo.config]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(v["unreachable"], serde_json::json!(["service-a"]));
    let a = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "service-a")
        .unwrap();
    assert_eq!(a["live"]["health"], "down");
    assert_eq!(a["live"]["reason"], "connection refused");
    // No Prometheus in the demo config: gander raises the alert itself.
    let alert = v["local_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["service"] == "service-a")
        .unwrap();
    assert_eq!(
        (alert["alert"].as_str(), alert["severity"].as_str()),
        (Some("ServiceDown"), Some("page"))
    );
    assert_eq!(alert["summary"], "service-a is down: connection refused");
    // Its dependents say why they are not ready.
    let b = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "service-b")
        .unwrap();
    assert!(
        b["live"]["reason"]
            .as_str()
            .unwrap()
            .contains("service-a is not ready"),
        "{b}"
    );
    // Garbage metrics: the cell names the line.
    get(&demo.control, "/fault/service-a/none");
    get(&demo.control, "/fault/identity/garbage");
    std::thread::sleep(Duration::from_millis(400));
    let (code, v, _) = gander(&["status", "--json", "--config", &demo.config]);
    assert_eq!(code, 0);
    let i = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "identity")
        .unwrap();
    let last = i["live"]["last_error"].as_str().unwrap();
    assert!(
        last.contains("metrics: bad metrics: line 1, column 1: expected a metric name, found `<`"),
        "{last}"
    );
    assert!(last.contains("/health: HTTP 200: not JSON"), "{last}");
    assert_eq!(i["live"]["health"], "degraded");
}

#[test]
fn scrape_prints_every_series_and_names_the_bad_line() {
    let demo = start_demo(&["--fault", "reporting=garbage"]);
    let services: Value = serde_json::from_str(&get(&demo.control, "/services")).unwrap();
    let addr = |name: &str| {
        services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()["addr"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let url = format!("http://{}/metrics", addr("service-c"));
    let (code, v, err) = gander(&["scrape", &url, "--json"]);
    assert_eq!(code, 0, "{err}");
    let series = v["series"].as_array().unwrap();
    let state = series
        .iter()
        .find(|s| s["name"] == "compliance_state" && s["labels"]["state"] == "sandbox")
        .unwrap();
    assert_eq!(
        (state["type"].as_str(), state["value"].as_f64()),
        (Some("gauge"), Some(1.0))
    );
    let inf = series
        .iter()
        .find(|s| {
            s["name"] == "http_request_duration_seconds_bucket" && s["labels"]["le"] == "+Inf"
        })
        .unwrap();
    assert_eq!(inf["type"], "histogram");
    assert_eq!(
        series
            .iter()
            .filter(|s| s["name"] == "service_dependencies")
            .count(),
        4,
        "service-c has four dependencies"
    );
    let bad = format!("http://{}/metrics", addr("reporting"));
    let (code, _, err) = gander(&["scrape", &bad]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad metrics page: line 1, column 1: expected a metric name, found `<`"),
        "{err}"
    );
    let (code, _, err) = gander(&["scrape", "http://127.0.0.1:1/metrics"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn demo_watch_mode_prints_the_live_table_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--rounds", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "identity",
        "ledger-db",
        "service-a",
        "service-b",
        "service-c",
        "notifications",
        "reporting",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(text.contains("P95") && text.contains("HEALTH"), "{text}");
    // The demo's directory (config, keys, chain) is gone after it stops...
    let left: Vec<_> = std::fs::read_dir(dir.path().join("demo"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // ...unless --keep, which says where it is.
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--rounds", "1", "--keep"])
        // A team store in the environment is never where the demo's made-up evidence goes.
        .env("GANDER_STORE", "postgres://gander@127.0.0.1:1/gander")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("demo: kept"), "{err}");
    assert!(err.contains("$GANDER_STORE is ignored"), "{err}");
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("demo"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].path().join("audit/chain.jsonl").exists());
    // --serve-only ends cleanly on SIGTERM.
    let mut demo = start_demo(&[]);
    let pid = demo.child.id() as i32;
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let mut waited = 0;
    let status = loop {
        if let Some(s) = demo.child.try_wait().unwrap() {
            break s;
        }
        assert!(waited < 50, "demo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    };
    assert_eq!(status.code(), Some(0));
}

/// `--serve-only` prints exactly one JSON line on stdout (so `| jq` works) with
/// ready-to-paste arguments; the hints go to stderr.
#[test]
fn serve_only_prints_one_json_line_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--serve-only", "--steady"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    let args = v["args"].as_str().unwrap();
    assert!(
        args.starts_with("--config ") && args.contains(" --state-dir "),
        "{args}"
    );
    // What is pasted acts as the demo's operator.
    let words: Vec<&str> = args.split(' ').collect();
    let mut who = Command::new(env!("CARGO_BIN_EXE_gander"));
    who.args(&words).arg("whoami");
    let said = who.output().unwrap();
    let text = String::from_utf8_lossy(&said.stdout).to_string();
    assert!(text.contains("alice"), "{args}: {text}");
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "", "stdout after the JSON line");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("status"), "the hints are on stderr: {err}");
}

fn performance_check(plan: &Value) -> Value {
    plan["gates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap().iter())
        .find(|c| c["check"] == "performance_baseline_met")
        .cloned()
        .unwrap_or_else(|| panic!("no performance check in {plan}"))
}

#[test]
fn one_shot_figures_are_over_a_window_and_one_scrape_decides_nothing() {
    let demo = start_demo(&["--steady"]);
    // Default window: two scrapes 2 s apart, named in the JSON and in the gate.
    let (code, v, err) = gander(&[
        "status",
        "--json",
        "--service",
        "reporting",
        "--config",
        &demo.config,
    ]);
    assert_eq!(code, 0, "{err}");
    let live = &v["services"][0]["live"];
    assert_eq!(live["window"]["over"], "scrapes", "{live}");
    let secs = live["window"]["seconds"].as_f64().unwrap();
    assert!((1.9..5.0).contains(&secs), "{secs}");
    let (_, plan, err) = gander(&[
        "promote",
        "reporting",
        "--to",
        "compliant",
        "--dry-run",
        "--json",
        "--config",
        &demo.config,
    ]);
    let check = performance_check(&plan);
    assert!(
        check["file"]
            .as_str()
            .unwrap_or_default()
            .contains(" over 2."),
        "the gate names its window: {check} {err}"
    );
    assert_ne!(check["status"], "unknown", "{check}");
    // `window: 0s`: one scrape, whose whole-life figures are shown as such and decide
    // nothing.
    let org = std::path::Path::new(&demo.config).join("org-config.yaml");
    let text = std::fs::read_to_string(&org).unwrap();
    std::fs::write(
        &org,
        text.replace("monitoring:\n", "monitoring:\n  window: 0s\n"),
    )
    .unwrap();
    let (_, v, err) = gander(&[
        "status",
        "--json",
        "--service",
        "reporting",
        "--config",
        &demo.config,
    ]);
    let live = &v["services"][0]["live"];
    assert_eq!(live["window"]["over"], "since_start", "{live} {err}");
    assert!(live["p95_ms"].as_f64().is_some(), "still shown: {live}");
    let (_, plan, _) = gander(&[
        "promote",
        "reporting",
        "--to",
        "compliant",
        "--dry-run",
        "--json",
        "--config",
        &demo.config,
    ]);
    let check = performance_check(&plan);
    assert_eq!(check["status"], "unknown", "{check}");
    assert!(
        check["reason"].as_str().unwrap().contains("since start"),
        "{check}"
    );
}
