//! Every way a source can misbehave, against the demo fleet's real HTTP servers:
//! each becomes the right cell state with a readable reason, and polling goes on.

use gander::engine::live::{HealthState, LiveService, Observation, Probe};
use gander::io::demo::{self, Running, server::Fault};
use gander::io::http::{Http, HttpConfig};
use gander::io::poll::{self, Target, observe};
use std::time::Duration;

async fn fleet() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(7, dir.path(), &[], None).await.unwrap();
    // Let the startup probes pass (a demo service starts up in one second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    (running, dir)
}

fn http(timeout_ms: u64) -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_millis(timeout_ms),
        ..HttpConfig::default()
    })
    .unwrap()
}

fn target(r: &Running, name: &str) -> Target {
    let i = r.fleet.sims.iter().position(|s| s.name == name).unwrap();
    let base = format!("http://{}", r.fleet.addrs[i]);
    let p = &r.fleet.probes[i];
    Target {
        service: name.into(),
        live: Some(format!("{base}{}", p.live)),
        ready: Some(format!("{base}{}", p.ready)),
        startup: Some(format!("{base}{}", p.startup)),
        health: Some(format!("{base}{}", p.health)),
        metrics: Some(format!("{base}/metrics")),
    }
}

fn set(r: &Running, name: &str, f: Fault) {
    let i = r.fleet.sims.iter().position(|s| s.name == name).unwrap();
    r.fleet.faults[i].set(f);
}

async fn live_after(http: &Http, t: &Target) -> (LiveService, Observation) {
    let o = observe(http, t).await;
    let mut l = LiveService::default();
    l.apply(&o);
    (l, o)
}

fn metrics_error(o: &Observation) -> String {
    match &o.metrics {
        Some(Err(e)) => e.clone(),
        other => panic!("expected a metrics error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_service_is_up_with_figures() {
    let (r, _d) = fleet().await;
    let (l, o) = live_after(&http(2000), &target(&r, "identity")).await;
    assert_eq!(l.health, HealthState::Up, "{:?}", l.reason);
    assert!(!o.unreachable);
    assert!(
        l.p95_ms.unwrap() > 50.0 && l.p95_ms.unwrap() < 400.0,
        "{:?}",
        l.p95_ms
    );
    assert!(l.series.unwrap() > 20);
    assert_eq!(l.activities, Some(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_down_and_unreachable() {
    let (r, _d) = fleet().await;
    set(&r, "service-a", Fault::Down);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (l, o) = live_after(&http(2000), &target(&r, "service-a")).await;
    assert_eq!(l.health, HealthState::Down);
    assert_eq!(l.reason.as_deref(), Some("connection refused"));
    assert!(o.unreachable && l.unreachable);
    // Back up: the same port listens again.
    set(&r, "service-a", Fault::None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (l, _) = live_after(&http(2000), &target(&r, "service-a")).await;
    assert_eq!(l.health, HealthState::Up, "{:?}", l.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_times_out_without_waiting_ten_seconds() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Slow);
    let start = std::time::Instant::now();
    let (l, o) = live_after(&http(1000), &target(&r, "identity")).await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(l.health, HealthState::Down);
    assert_eq!(l.reason.as_deref(), Some("timed out after 1s"));
    assert!(o.unreachable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_body_is_refused_at_the_cap() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Huge);
    let (l, o) = live_after(&http(5000), &target(&r, "identity")).await;
    assert_eq!(metrics_error(&o), "body over 16777216 bytes, refused");
    assert_eq!(l.health, HealthState::Degraded);
    assert!(
        !o.unreachable,
        "the service answered; it is not unreachable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_names_the_line_and_column() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::BadUtf8);
    let (_, o) = live_after(&http(2000), &target(&r, "identity")).await;
    let e = metrics_error(&o);
    assert!(e.starts_with("body is not UTF-8 (line "), "{e}");
    assert!(e.contains(", column "), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_metrics_name_the_line() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Garbage);
    let (l, o) = live_after(&http(2000), &target(&r, "identity")).await;
    assert_eq!(
        metrics_error(&o),
        "bad metrics: line 1, column 1: expected a metric name, found `<`"
    );
    assert_eq!(l.health, HealthState::Degraded);
    let detail = o.health.as_ref().unwrap().detail_error.as_deref().unwrap();
    assert!(detail.starts_with("HTTP 200: not JSON"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_down_with_the_status() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Error500);
    let (l, o) = live_after(&http(2000), &target(&r, "identity")).await;
    assert_eq!(l.health, HealthState::Down);
    assert_eq!(l.reason.as_deref(), Some("live: HTTP 500"));
    assert_eq!(metrics_error(&o), "HTTP 500");
    assert!(!o.unreachable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_reported_as_such() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Cut);
    let (l, o) = live_after(&http(2000), &target(&r, "identity")).await;
    assert_eq!(metrics_error(&o), "connection dropped mid-body");
    assert_eq!(l.health, HealthState::Down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_down() {
    let (r, _d) = fleet().await;
    set(&r, "identity", Fault::Drop);
    let (l, o) = live_after(&http(2000), &target(&r, "identity")).await;
    assert_eq!(l.health, HealthState::Down);
    assert!(o.unreachable);
    assert!(matches!(o.health.unwrap().live, Probe::Error { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_http_port_fails_fast() {
    let (r, _d) = fleet().await;
    let mut t = target(&r, "identity");
    t.metrics = t.metrics.map(|m| m.replace("http://", "https://"));
    let start = std::time::Instant::now();
    let (_, o) = live_after(&http(2000), &t).await;
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert!(o.unreachable);
    assert!(!metrics_error(&o).is_empty());
}

/// A real TLS server (openssl s_server) with a self-signed certificate: refused as
/// untrusted, then accepted once its certificate is given as the custom CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_as_tls_and_a_custom_ca_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    let (ca, cert, key) = (p("ca.pem"), p("cert.pem"), p("key.pem"));
    std::fs::write(p("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let ok = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed (scripts/test.sh installs it)");
        assert!(ok.success(), "openssl {args:?}");
    };
    let s = |x: &str| std::ffi::OsString::from(x);
    // A test CA, and a server certificate it signs.
    openssl(&[
        &s("req"),
        &s("-x509"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-days"),
        &s("1"),
        &s("-subj"),
        &s("/CN=gander test CA"),
        &s("-keyout"),
        p("ca.key").as_os_str(),
        &s("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        &s("req"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-subj"),
        &s("/CN=localhost"),
        &s("-keyout"),
        key.as_os_str(),
        &s("-out"),
        p("leaf.csr").as_os_str(),
    ]);
    openssl(&[
        &s("x509"),
        &s("-req"),
        &s("-in"),
        p("leaf.csr").as_os_str(),
        &s("-CA"),
        ca.as_os_str(),
        &s("-CAkey"),
        p("ca.key").as_os_str(),
        &s("-CAcreateserial"),
        &s("-days"),
        &s("1"),
        &s("-extfile"),
        p("ext.cnf").as_os_str(),
        &s("-out"),
        cert.as_os_str(),
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/");
    let mut waited = 0;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && waited < 50 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    let e = http(3000)
        .get(&url, "*/*", &gander::io::http::Auth::None)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("TLS: "), "{e}");
    assert!(
        e.to_string().to_lowercase().contains("issuer")
            || e.to_string().to_lowercase().contains("certificate"),
        "{e}"
    );
    let trusted = Http::new(HttpConfig {
        timeout: Duration::from_secs(3),
        ca_pem: Some(std::fs::read(&ca).unwrap()),
        ..HttpConfig::default()
    })
    .unwrap();
    let f = trusted
        .get(&url, "*/*", &gander::io::http::Auth::None)
        .await;
    let _ = server.kill();
    let _ = server.wait();
    let f = f.expect("trusted through the custom CA");
    assert_eq!(f.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_outage_degrades_dependents_with_the_reason() {
    let (r, _d) = fleet().await;
    set(&r, "service-a", Fault::Error500);
    let (l, _) = live_after(&http(2000), &target(&r, "service-b")).await;
    assert_eq!(l.health, HealthState::Degraded);
    let reason = l.reason.unwrap();
    assert!(reason.starts_with("ready: HTTP 503"), "{reason}");
    assert!(
        reason.contains("dependency:service-a: service-a is not ready"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_survives_faults_and_sees_a_breakage_within_two_intervals() {
    let (r, _d) = fleet().await;
    let interval = Duration::from_millis(500);
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let targets = vec![target(&r, "identity"), target(&r, "ledger-db")];
    poll::spawn(http(400), targets, interval, interval, 4, tx);
    // Up first.
    let mut board = gander::engine::live::Board::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while board.services.len() < 2 && tokio::time::Instant::now() < deadline {
        let o = rx.recv().await.unwrap();
        board.apply(&o);
    }
    assert_eq!(board.services["identity"].health, HealthState::Up);
    // Break it in every way in turn; the loop must keep reporting.
    for fault in [Fault::Garbage, Fault::Error500, Fault::Drop, Fault::Down] {
        set(&r, "identity", fault);
        let broke = tokio::time::Instant::now();
        loop {
            let o = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("the poller keeps sending")
                .unwrap();
            board.apply(&o);
            if o.service == "identity" && board.services["identity"].health != HealthState::Up {
                break;
            }
        }
        // Seen within two poll intervals plus the request timeout.
        assert!(
            broke.elapsed() <= interval * 2 + Duration::from_millis(500),
            "{fault:?}: {:?}",
            broke.elapsed()
        );
        set(&r, "identity", Fault::None);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // ledger-db kept being polled all along.
    assert_eq!(board.services["ledger-db"].health, HealthState::Up);
}

/// The console asks a passing service for its startup probe and `/health` only every
/// few rounds (what it read last is carried), and at once when a probe fails, so a
/// failing service's reason is always fresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_service_is_not_asked_for_its_detail_every_round_but_a_failing_one_is() {
    let (r, _d) = fleet().await;
    let h = http(2000);
    let t = target(&r, "identity");
    let (o, kept) = poll::observe_keeping(&h, &t, None).await;
    let kept = kept.unwrap_or_else(|| panic!("everything passed, kept: {o:?}"));
    let components = o.health.unwrap().components.len();
    assert!(components > 0);
    // Startup and /health now point nowhere: they are not asked, so nothing fails.
    let mut nowhere = t.clone();
    nowhere.startup = Some("http://127.0.0.1:9/startup".into());
    nowhere.health = Some("http://127.0.0.1:9/health".into());
    let (o, again) = poll::observe_keeping(&h, &nowhere, Some(&kept)).await;
    let hr = o.health.unwrap();
    assert!(matches!(hr.startup, Probe::Pass { .. }), "{:?}", hr.startup);
    assert_eq!((hr.detail_error, hr.components.len()), (None, components));
    assert!(again.is_some());
    // A service whose dependency fails: ready fails, and /health is read at once for
    // the reason, even with a detail kept.
    set(&r, "service-a", Fault::Error500);
    let (o, after) = poll::observe_keeping(&h, &target(&r, "service-b"), Some(&kept)).await;
    assert!(after.is_none(), "a failing service's detail is not kept");
    let mut l = LiveService::default();
    l.apply(&o);
    assert_eq!(l.health, HealthState::Degraded);
    let reason = l.reason.unwrap();
    assert!(
        reason.contains("dependency:service-a: service-a is not ready"),
        "{reason}"
    );
}
