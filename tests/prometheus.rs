//! A real Prometheus (Debian's package) scraping the demo fleet and real exporters:
//! gander's PromQL figures agree with its own, its alerts API reading works, and its
//! parser sees exactly the samples Prometheus's own (Go) parser sees.
//! scripts/test.sh installs prometheus and prometheus-node-exporter; a missing binary
//! fails these tests rather than skipping them.

use gander::io::demo::{self, server::Fault};
use gander::io::http::{Auth, Http, HttpConfig};
use gander::io::prometheus::{Prometheus, fleet_figures};
use gander::metrics::derive::{histogram_quantile, summarize};
use gander::metrics::text::parse;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(bin: &str, args: &[String], log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{bin}` ({e}): install Debian's package (bash scripts/test.sh does)")
        });
    Proc(child)
}

fn http() -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_secs(3),
        ..HttpConfig::default()
    })
    .unwrap()
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn start_prometheus(dir: &Path, scrape_configs: &str, rules: &str) -> (Proc, String) {
    start_prometheus_on(dir, free_port(), scrape_configs, rules)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scraping_the_demo_fleet_gives_gander_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(7, dir.path(), &[], None).await.unwrap();
    let fleet = running.fleet.clone();
    let mut targets = String::from("  - job_name: demo\n    static_configs:\n");
    for (i, s) in fleet.sims.iter().enumerate() {
        targets.push_str(&format!(
            "      - targets: ['{}']\n        labels: {{ service: {} }}\n",
            fleet.addrs[i], s.name
        ));
    }
    let rules = "groups:\n  - name: demo\n    rules:\n      - alert: ServiceDown\n        expr: up{job=\"demo\"} == 0\n        labels: { severity: page }\n        annotations:\n          summary: '{{ $labels.service }} is down'\n          runbook_url: 'gander://runbook/promotion_failure'\n";
    let (_prom, url) = start_prometheus(dir.path(), &targets, rules);
    let prom = Prometheus::new(http(), &url, Auth::None);
    wait_until(
        "every demo target up in Prometheus",
        Duration::from_secs(30),
        || async {
            prom.query("sum(up{job=\"demo\"})")
                .await
                .ok()
                .and_then(|v| v.first().map(|s| s.value))
                == Some(7.0)
        },
    )
    .await;
    // Rates need a few scrapes.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let (figures, errors) = fleet_figures(
        &prom,
        &gander::engine::config::Monitoring::default().fleet_queries(),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    // compliance_state: exactly the fleet's.
    for s in &fleet.sims {
        assert_eq!(
            figures.compliance_state.get(&s.name),
            Some(&s.state),
            "{}",
            s.name
        );
    }
    // p95 from Prometheus's rate window against gander's figure from a direct scrape
    // of the same counters (since start): the same distribution, so close.
    for (i, s) in fleet.sims.iter().enumerate() {
        let page = http()
            .get(
                &format!("http://{}/metrics", fleet.addrs[i]),
                "text/plain",
                &Auth::None,
            )
            .await
            .unwrap();
        let summary = summarize(&parse(&page.body, None).unwrap());
        let ours = histogram_quantile(0.95, &summary.buckets).unwrap() * 1000.0;
        let theirs = figures.p95_ms[&s.name];
        if s.role == demo::sim::Role::Steady {
            let diff = (ours - theirs).abs() / ours;
            assert!(
                diff < 0.25,
                "{}: gander {ours:.1} ms, Prometheus {theirs:.1} ms",
                s.name
            );
        }
        // And gander's histogram_quantile is Prometheus's: same cumulative counters.
        let q = format!(
            "histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket{{service=\"{}\"}}))",
            s.name
        );
        // The buckets as Prometheus stored them, and its quantile of them, in one
        // evaluation (both read the same latest sample).
        let both = format!(
            "label_replace(sum by (le) (http_request_duration_seconds_bucket{{service=\"{}\"}}), \"q\", \"\", \"\", \"\") or label_replace({q}, \"q\", \"p95\", \"\", \"\")",
            s.name
        );
        let series = prom.query(&both).await.unwrap();
        let prom_p95 = series
            .iter()
            .find(|x| x.labels.get("q").map(String::as_str) == Some("p95"))
            .unwrap()
            .value;
        let mut buckets: Vec<(f64, f64)> = series
            .iter()
            .filter_map(|x| {
                let le = x.labels.get("le")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, x.value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ours_same = histogram_quantile(0.95, &buckets).unwrap();
        assert!(
            (ours_same - prom_p95).abs() < 1e-9,
            "{}: gander {ours_same} s, Prometheus {prom_p95} s on the same buckets",
            s.name
        );
        let e = figures.error_rate[&s.name];
        assert!((0.0..0.2).contains(&e), "{}: error rate {e}", s.name);
    }

    // Alerts: take a service down; Prometheus fires, gander reads it with its runbook.
    let i = fleet
        .sims
        .iter()
        .position(|s| s.name == "service-c")
        .unwrap();
    fleet.faults[i].set(Fault::Down);
    wait_until(
        "the ServiceDown alert to fire",
        Duration::from_secs(30),
        || async {
            prom.alerts()
                .await
                .unwrap()
                .iter()
                .any(|a| a.name() == "ServiceDown" && a.state == "firing")
        },
    )
    .await;
    let alerts = prom.alerts().await.unwrap();
    let a = alerts.iter().find(|a| a.name() == "ServiceDown").unwrap();
    assert_eq!(
        a.labels.get("service").map(String::as_str),
        Some("service-c")
    );
    assert_eq!(
        a.annotations.get("summary").map(String::as_str),
        Some("service-c is down")
    );
    assert_eq!(
        a.annotations.get("runbook_url").map(String::as_str),
        Some("gander://runbook/promotion_failure")
    );
    // A bad query is a readable API error, not a panic.
    let e = prom.query("sum(").await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Prometheus answered HTTP 400: bad_data"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gander_parses_exactly_the_samples_prometheus_scrapes_from_real_exporters() {
    let dir = tempfile::tempdir().unwrap();
    let ne_port = free_port();
    let _ne = spawn(
        "prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{ne_port}")],
        &dir.path().join("node-exporter.log"),
    );
    let scrape = format!(
        "  - job_name: node\n    static_configs: [{{ targets: ['127.0.0.1:{ne_port}'] }}]\n"
    );
    let (_prom, url) = start_prometheus(dir.path(), &scrape, "groups: []\n");
    let self_scrape = url.trim_start_matches("http://").to_string();
    // Prometheus scrapes itself too (its own /metrics is the second real exporter).
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape}  - job_name: self\n    static_configs: [{{ targets: ['{self_scrape}'] }}]\n"
        ),
    )
    .unwrap();
    let prom = Prometheus::new(http(), &url, Auth::None);
    wait_until("Prometheus ready", Duration::from_secs(30), || async {
        http()
            .get(&format!("{url}/-/ready"), "*/*", &Auth::None)
            .await
            .is_ok_and(|f| f.status == 200)
    })
    .await;
    // Reload to pick up the self-scrape job.
    let client = reqwest::Client::new();
    let _ = client.post(format!("{url}/-/reload")).send().await;
    wait_until("both jobs scraped", Duration::from_secs(30), || async {
        prom.query("count(scrape_samples_scraped)")
            .await
            .ok()
            .and_then(|v| v.first().map(|s| s.value))
            == Some(2.0)
    })
    .await;
    for (job, page_url) in [
        ("node", format!("http://127.0.0.1:{ne_port}/metrics")),
        ("self", format!("{url}/metrics")),
    ] {
        // Prometheus's own count of what it parsed in its last scrape, and our parse of
        // the page fetched right after; retry if a series came or went in between.
        let mut agreed = false;
        for _ in 0..5 {
            let theirs = prom
                .query(&format!("scrape_samples_scraped{{job=\"{job}\"}}"))
                .await
                .unwrap()[0]
                .value as usize;
            let page = http()
                .get(&page_url, "text/plain", &Auth::None)
                .await
                .unwrap();
            let ours = parse(&page.body, None).unwrap().samples.len();
            if ours == theirs {
                agreed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        assert!(
            agreed,
            "{job}: gander and Prometheus disagree on the sample count"
        );
    }
    // Values: a constant of the machine, as Prometheus stored it and as gander reads it.
    let mem = prom.query("node_memory_MemTotal_bytes").await.unwrap()[0].value;
    let page = http()
        .get(
            &format!("http://127.0.0.1:{ne_port}/metrics"),
            "text/plain",
            &Auth::None,
        )
        .await
        .unwrap();
    let parsed = parse(&page.body, None).unwrap();
    let ours = parsed
        .samples
        .iter()
        .find(|s| s.name == "node_memory_MemTotal_bytes")
        .unwrap()
        .value;
    assert_eq!(ours, mem);
    let info = prom.query("node_uname_info").await.unwrap();
    let s = parsed
        .samples
        .iter()
        .find(|s| s.name == "node_uname_info")
        .unwrap();
    for l in parsed.labels(s) {
        assert_eq!(
            info[0].labels.get(l.name.as_ref()).map(String::as_str),
            Some(l.value.as_ref()),
            "label {}",
            l.name
        );
    }
}

/// The console's actions and the CLI decide on the same facts the same way: the facts
/// the console gathers before recording (a fresh read of the service through the org's
/// live source, Prometheus merged) give every gate the verdict `gander promote
/// --dry-run --json` gives, for every service, with a real Prometheus scraping the fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_cli_give_the_same_gate_verdicts() {
    use gander::engine::state_machine::StateMachine;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let running = demo::start_with(7, dir.path(), &[], Some(&url), true)
        .await
        .unwrap();
    gander::ops::evidence::seed_demo(dir.path(), &running.config_dir, &running.artifacts).unwrap();
    let fleet = running.fleet.clone();
    let mut targets = String::from("  - job_name: demo\n    static_configs:\n");
    for (i, s) in fleet.sims.iter().enumerate() {
        targets.push_str(&format!(
            "      - targets: ['{}']\n        labels: {{ service: {} }}\n",
            fleet.addrs[i], s.name
        ));
    }
    let (_prom, _) = start_prometheus_on(dir.path(), port, &targets, "groups: []\n");
    let prom = Prometheus::new(http(), &url, Auth::None);
    // Both figures for some service, exactly as gander reads them (finite values only:
    // under load the first scrapes give NaN rates for a while).
    wait_until(
        "Prometheus has p95 and error rate for a service",
        Duration::from_secs(90),
        || async {
            let (f, _) = gander::io::prometheus::fleet_figures(
                &prom,
                &gander::engine::config::Monitoring::default().fleet_queries(),
            )
            .await;
            f.p95_ms.keys().any(|k| f.error_rate.contains_key(k))
        },
    )
    .await;
    let config = gander::io::config_dir::load_dir(&running.config_dir)
        .unwrap()
        .config
        .unwrap();
    let ctx = gander::ops::Ctx::new(
        std::sync::Arc::new(config.clone()),
        &running.config_dir,
        Some(dir.path()),
    );
    let live = gander::ops::live::LiveSource::from_config(&config).unwrap();
    let graph = gander::engine::resolver::DepGraph::from_config(&config);
    let sm = StateMachine::new(&config.rules);
    let (mut compared, mut through_prometheus) = (0, 0);
    for svc in &config.services {
        let name = svc.name().to_string();
        let mut facts =
            gander::app::runtime::jobs::action_facts(&ctx, &live, &Default::default(), Some(&name))
                .await;
        gander::ops::store::read_into(
            ctx.state(),
            &ctx.config_dir,
            &config,
            &mut facts,
            &mut Vec::new(),
        );
        let from = facts.states.get(&name).cloned().unwrap_or_default();
        let Some(to) = sm.promotions_from(&from).first().cloned() else {
            continue;
        };
        let console = gander::engine::plan::plan(&config, &graph, &facts, &name, to).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(&running.config_dir)
            .arg("--state-dir")
            .arg(dir.path())
            .args(["promote", &name, "--to", to, "--dry-run", "--json"])
            .output()
            .unwrap();
        let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let cli_gates: Vec<(String, String)> = cli["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["gate"].as_str().unwrap().to_string(),
                    g["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let console_gates: Vec<(String, String)> = console
            .gates
            .iter()
            .map(|g| (g.gate.clone(), g.status.as_str().to_string()))
            .collect();
        assert_eq!(console_gates, cli_gates, "{name} -> {to}");
        assert_eq!(
            serde_json::to_value(console.verdict).unwrap(),
            cli["verdict"],
            "{name}"
        );
        // Where Prometheus has both figures, they are the ones decided on.
        if let gander::engine::facts::Known::Known(p) = &facts.services[&name].performance {
            through_prometheus += usize::from(p.source.starts_with("prometheus"));
        }
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} services had a next state");
    assert!(through_prometheus >= 1, "no figure came through Prometheus");
}

fn start_prometheus_on(dir: &Path, port: u16, scrape_configs: &str, rules: &str) -> (Proc, String) {
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n{scrape_configs}",
            dir.join("rules.yml").display()
        ),
    )
    .unwrap();
    let args = vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    let p = spawn("prometheus", &args, &dir.join("prometheus.log"));
    (p, format!("http://127.0.0.1:{port}"))
}
