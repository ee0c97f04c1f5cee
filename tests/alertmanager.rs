//! Silences through a real Alertmanager (Debian's prometheus-alertmanager, started here
//! on a free loopback port): gander's silence mutes exactly the alert it was made for,
//! names the operator as its creator, and is listed back; refusals and an unreachable
//! Alertmanager are errors that say so. scripts/test.sh installs the package.

use gander::io::alertmanager::{Alertmanager, matchers_for};
use gander::io::http::{Auth, Http, HttpConfig};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real Alertmanager with a receiver that sends nothing; (process, base URL).
fn start_alertmanager(dir: &std::path::Path) -> (Proc, String) {
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
    let start = Instant::now();
    while reqwest::blocking_ready(&url).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Alertmanager did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (Proc(child), url)
}

mod reqwest {
    /// `GET /-/ready` with std only (the test needs no blocking HTTP client).
    pub fn blocking_ready(url: &str) -> std::io::Result<()> {
        use std::io::{Read, Write};
        let addr = url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr)?;
        s.write_all(format!("GET /-/ready HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        if out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(std::io::Error::other(out))
        }
    }
}

fn http() -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_secs(3),
        ..HttpConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_mutes_exactly_its_alert_and_names_who_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_am, url) = start_alertmanager(dir.path());
    let h = http();
    // Two alerts fire: service-b's error rate and service-c's.
    let labels = |svc: &str| -> BTreeMap<String, String> {
        [
            ("alertname", "ErrorRateHigh"),
            ("service", svc),
            ("severity", "page"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let alerts = serde_json::json!([
        {"labels": labels("service-b"), "annotations": {"summary": "b"}},
        {"labels": labels("service-c"), "annotations": {"summary": "c"}},
    ]);
    let f = h
        .post_json(&format!("{url}/api/v2/alerts"), &alerts, &Auth::None)
        .await
        .unwrap();
    assert_eq!(f.status, 200, "{}", f.body);
    let am = Alertmanager::new(h.clone(), &url, Auth::None);
    assert_eq!(am.silences().await.unwrap(), vec![]);
    let now = chrono::Utc::now();
    let id = am
        .silence(
            &matchers_for(&labels("service-b")),
            now,
            now + chrono::Duration::hours(2),
            "alice",
            "rolling back PRM-20261123-000029",
        )
        .await
        .unwrap();
    // Listed back, as made.
    let listed = am.silences().await.unwrap();
    assert_eq!(listed.len(), 1);
    let s = &listed[0];
    assert_eq!(
        (s.id.as_str(), s.created_by.as_str()),
        (id.as_str(), "alice")
    );
    assert_eq!(s.comment, "rolling back PRM-20261123-000029");
    assert_eq!(s.status.state, "active");
    assert!(
        (s.ends_at - now - chrono::Duration::hours(2))
            .num_seconds()
            .abs()
            <= 1
    );
    assert!(s.matches(&labels("service-b")) && !s.matches(&labels("service-c")));
    // Alertmanager agrees: b is suppressed by this silence, c still fires.
    let mut suppressed = BTreeMap::new();
    for _ in 0..50 {
        let f = h
            .get(
                &format!("{url}/api/v2/alerts"),
                "application/json",
                &Auth::None,
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&f.body).unwrap();
        suppressed = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["service"].as_str().unwrap().to_string(),
                    a["status"]["silencedBy"].clone(),
                )
            })
            .collect();
        if suppressed.get("service-b") == Some(&serde_json::json!([id])) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(suppressed["service-b"], serde_json::json!([id]));
    assert_eq!(suppressed["service-c"], serde_json::json!([]));
    // A silence that ends before it starts is refused, with Alertmanager's reason.
    let e = am
        .silence(
            &matchers_for(&labels("service-c")),
            now,
            now - chrono::Duration::hours(1),
            "alice",
            "x",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 400"), "{e}");
    assert_eq!(am.silences().await.unwrap().len(), 1, "nothing added");
    // Unreachable: said, not hung.
    let gone = Alertmanager::new(h, &format!("http://127.0.0.1:{}", free_port()), Auth::None);
    let e = gone.silences().await.unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
}
