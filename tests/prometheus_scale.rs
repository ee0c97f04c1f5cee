//! The fleet read through a real Prometheus (issue 17): above
//! `monitoring.direct_poll_limit` services, `gander status` takes health, p95 and error
//! ratio from Prometheus in a handful of queries, with the org's label and query preset.
//! Both shipped presets are run against the demo fleet naming its metrics their way.
//! The 10,000-service run is `#[ignore]`d (scripts/scale.sh runs it).

mod common;
use gander::io::demo::{self, sim::Naming};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Run {
    _prom: common::Proc,
    _rt: tokio::runtime::Runtime,
    config: std::path::PathBuf,
    state: std::path::PathBuf,
    names: Vec<String>,
    addrs: Vec<String>,
}

/// `n` steady demo services naming metrics as `naming`, scraped by Prometheus with the
/// service in `label`; the org reads through Prometheus above `limit` services.
fn fleet(dir: &Path, n: usize, naming: Naming, label: &str, limit: usize, every: u64) -> Run {
    let port = common::free_port_below_ephemeral();
    let url = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = rt
        .block_on(demo::start_named(n, dir, &[], Some(&url), true, naming))
        .unwrap();
    let names: Vec<String> = running.fleet.sims.iter().map(|s| s.name.clone()).collect();
    let addrs: Vec<String> = running.fleet.addrs.iter().map(|a| a.to_string()).collect();
    let targets: Vec<(String, String)> = names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| (a.clone(), format!("{{ {label}: {n} }}")))
        .collect();
    let pdir = dir.join("prom");
    std::fs::create_dir_all(&pdir).unwrap();
    let (prom, got) = common::start_prometheus_scraping_on(&pdir, port, &targets, every);
    assert_eq!(got, url);
    let org = running.config_dir.join("org-config.yaml");
    let text = std::fs::read_to_string(&org).unwrap().replacen(
        "monitoring:\n",
        &format!("monitoring:\n  direct_poll_limit: {limit}\n"),
        1,
    );
    std::fs::write(&org, text).unwrap();
    Run {
        _prom: prom,
        config: running.config_dir.clone(),
        state: dir.to_path_buf(),
        _rt: rt,
        names,
        addrs,
    }
}

fn status(r: &Run) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(&r.config)
        .arg("--state-dir")
        .arg(&r.state)
        .args(["status", "--json"])
        .env("GANDER_HEADS_DIR", r.state.join("heads"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// p95 (ms) per service, once Prometheus has every service's.
fn wait_for_all(r: &Run, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let v = status(r);
        let have = v["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["live"]["p95_ms"].is_number() && s["live"]["health"] == "up")
            .count();
        if have == r.names.len() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "Prometheus gave {have} of {} services: {}",
            r.names.len(),
            &v.to_string()[..v.to_string().len().min(2000)]
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn p95s(v: &Value) -> std::collections::BTreeMap<String, f64> {
    v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_string(),
                s["live"]["p95_ms"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn both_query_presets_read_the_whole_fleet_through_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 12;
    let gander_dir = tmp.path().join("gander");
    let otel_dir = tmp.path().join("otel");
    std::fs::create_dir_all(&gander_dir).unwrap();
    std::fs::create_dir_all(&otel_dir).unwrap();
    let g = fleet(&gander_dir, n, Naming::Gander, "service", 5, 1);
    let o = fleet(&otel_dir, n, Naming::Otel, "job", 5, 1);
    let gv = wait_for_all(&g, Duration::from_secs(90));
    let ov = wait_for_all(&o, Duration::from_secs(90));
    // Read through Prometheus: no probes were polled, figures are Prometheus's.
    for v in [&gv, &ov] {
        for s in v["services"].as_array().unwrap() {
            assert!(s["live"]["probes"].is_null(), "{s}");
            assert_eq!(s["live"]["error_rate"].as_f64(), Some(0.0), "{s}");
        }
    }
    // The same fleet plan named two ways: the same p95 per service (the histograms
    // have the same shape; Prometheus interpolates within the same buckets).
    let (a, b) = (p95s(&gv), p95s(&ov));
    for (name, pa) in &a {
        let pb = b[name];
        assert!(
            (pa - pb).abs() <= 0.1 * pa.max(pb),
            "{name}: {pa} ms with gander's names, {pb} ms with OpenTelemetry's"
        );
    }
    // A direct scrape of a sample agrees with what came through Prometheus.
    for i in [0, n / 2, n - 1] {
        let page = std::process::Command::new("curl")
            .args(["-sf", &format!("http://{}/metrics", g.addrs[i])])
            .output()
            .unwrap();
        let text = String::from_utf8(page.stdout).unwrap();
        let parsed = gander::metrics::text::parse(&text, None).unwrap();
        let sum = gander::metrics::derive::summarize(&parsed);
        let direct =
            gander::metrics::derive::histogram_quantile(0.95, &sum.buckets).unwrap() * 1000.0;
        let via = a[&g.names[i]];
        assert!(
            (direct - via).abs() <= 0.1 * direct,
            "{}: {direct} ms scraped directly, {via} ms through Prometheus",
            g.names[i]
        );
    }
}

/// 10,000 services with lean pages, a real Prometheus scraping them every 15 s, and
/// `gander status --json` reading all of them through it; a sample agrees with a direct
/// scrape. Slow (minutes on 2 cores): run by scripts/scale.sh.
#[test]
#[ignore]
fn ten_thousand_services_through_a_real_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 10_000;
    let r = fleet(tmp.path(), n, Naming::Lean, "service", 200, 15);
    let started = Instant::now();
    let v = wait_for_all(&r, Duration::from_secs(600));
    eprintln!(
        "all {n} services through Prometheus after {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let v2 = status(&r);
    eprintln!(
        "gander status --json on {n} services through Prometheus: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(v2["services"].as_array().unwrap().len(), n);
    let via = p95s(&v);
    for i in [0, 1234, 5000, 9999] {
        let page = Command::new("curl")
            .args(["-sf", &format!("http://{}/metrics", r.addrs[i])])
            .output()
            .unwrap();
        let text = String::from_utf8(page.stdout).unwrap();
        let sum =
            gander::metrics::derive::summarize(&gander::metrics::text::parse(&text, None).unwrap());
        let direct =
            gander::metrics::derive::histogram_quantile(0.95, &sum.buckets).unwrap() * 1000.0;
        let p = via[&r.names[i]];
        assert!(
            (direct - p).abs() <= 0.1 * direct,
            "{}: {direct} ms directly, {p} ms through Prometheus",
            r.names[i]
        );
    }
}
