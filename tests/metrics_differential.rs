//! The metrics verdict held to the reference: Debian's Prometheus scrapes edge-case
//! pages, and gander must accept exactly the pages Prometheus scrapes without error, with
//! the same samples and label values. (Its own binary: 47 scrape jobs at 1 s would load
//! the other Prometheus tests.)

use gander::io::http::{Auth, Http, HttpConfig};
use gander::io::prometheus::Prometheus;
use gander::metrics::text::parse;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::Proc;

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

fn start_prometheus(dir: &Path, scrape_configs: &str) -> (Proc, String) {
    let port = common::free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape_configs}"),
    )
    .unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus is installed (scripts/test.sh installs it)");
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

/// Metrics pages on the edge of the formats, each served with its Content-Type at its
/// own path: (name, content type, body).
fn edge_pages() -> Vec<(&'static str, &'static str, &'static str)> {
    const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
    const OM: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    vec![
        (
            "text-plain",
            TEXT,
            "# HELP m A gauge.\n# TYPE m gauge\nm{a=\"1\"} 2\n",
        ),
        ("text-blank-lines-comments", TEXT, "# a note\n\nm 1\n\n"),
        ("text-leading-spaces", TEXT, "  m 1\n"),
        ("text-leading-space-comment", TEXT, "  # a note\nm 1\n"),
        ("text-leading-space-type", TEXT, " # TYPE m gauge\nm 1\n"),
        ("text-blank-only-line", TEXT, "m 1\n  \nn 2\n"),
        ("text-crlf", TEXT, "m 1\r\nn 2\r\n"),
        (
            "text-blanks-inside",
            TEXT,
            "b  {  y = \"q\" , }   -Inf   \n",
        ),
        (
            "text-utf8-quoted-name",
            TEXT,
            "{\"my.dotted\", \"l.x\"=\"v\"} 1\n",
        ),
        ("text-no-final-newline", TEXT, "m 1"),
        ("text-tab-separators", TEXT, "m\t1\n"),
        ("text-timestamp", TEXT, "m 1 1700000000000\n"),
        ("text-special-values", TEXT, "a NaN\nb +Inf\nc -Inf\n"),
        ("text-float-timestamp", TEXT, "m 1 1.0\n"),
        ("text-exponent-timestamp", TEXT, "m 1 1e3\n"),
        ("text-value-out-of-range", TEXT, "m 1e400\n"),
        ("text-hex-value", TEXT, "m 0x1A\n"),
        ("text-escapes", TEXT, "m{p=\"a\\\\b\\\"c\\nd\"} 1\n"),
        ("text-untyped", TEXT, "# TYPE u untyped\nu 1\n"),
        (
            "text-histogram",
            TEXT,
            "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n",
        ),
        (
            "text-summary",
            TEXT,
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 3\ns_count 2\n",
        ),
        ("text-type-trailing-blank", TEXT, "# TYPE c counter \nc 1\n"),
        ("text-duplicate-label", TEXT, "m{a=\"1\",a=\"2\"} 1\n"),
        ("text-bad-value", TEXT, "m one\n"),
        ("text-no-value", TEXT, "m\n"),
        ("text-bad-name", TEXT, "1m 1\n"),
        ("text-unterminated-label", TEXT, "m{a=\"1} 1\n"),
        ("text-bad-escape", TEXT, "m{a=\"\\q\"} 1\n"),
        ("text-empty", TEXT, ""),
        (
            "om-plain",
            OM,
            "# TYPE a_seconds counter\n# UNIT a_seconds seconds\n# HELP a_seconds Help.\na_seconds_total{l=\"x\"} 1 123\n# EOF\n",
        ),
        (
            "om-exemplar",
            OM,
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1 # {trace_id=\"abc\"} 0.5 123\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n# EOF\n",
        ),
        (
            "om-gaugehistogram-info-stateset",
            OM,
            "# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# EOF\n",
        ),
        (
            "om-blank-line",
            OM,
            "# TYPE a_seconds counter\n\na_seconds_total 1\n# EOF\n",
        ),
        (
            "om-leading-space",
            OM,
            "# TYPE a_seconds counter\n a_seconds_total 1\n# EOF\n",
        ),
        (
            "om-tab",
            OM,
            "# TYPE a_seconds counter\na_seconds_total\t1\n# EOF\n",
        ),
        (
            "om-trailing-space-after-timestamp",
            OM,
            "a_total 1 123 \n# EOF\n",
        ),
        (
            "om-type-trailing-blank",
            OM,
            "# TYPE c counter \nc_total 1\n# EOF\n",
        ),
        ("om-untyped", OM, "# TYPE u untyped\nu 1\n# EOF\n"),
        (
            "om-two-spaces-before-type",
            OM,
            "#  TYPE c counter\nc_total 1\n# EOF\n",
        ),
        (
            "om-unit-not-a-suffix",
            OM,
            "# TYPE m gauge\n# UNIT m seconds\nm 1\n# EOF\n",
        ),
        (
            "om-unit-empty",
            OM,
            "# TYPE m_seconds gauge\n# UNIT m_seconds\nm_seconds 1\n# EOF\n",
        ),
        ("om-help-empty", OM, "# HELP m\nm 1\n# EOF\n"),
        ("om-blank-after-eof", OM, "m 1\n# EOF\n\n"),
        ("om-no-eof", OM, "m 1\n"),
        ("om-plain-comment", OM, "# just a note\nm 1\n# EOF\n"),
        ("om-duplicate-label", OM, "m{a=\"1\",a=\"2\"} 1\n# EOF\n"),
        (
            "om-counter-without-total",
            OM,
            "# TYPE c counter\nc 1\n# EOF\n",
        ),
    ]
}

/// The differential the metrics verdict is held to: every page gander calls good is
/// scraped by a real Prometheus without error (`up` is 1), each served with its own
/// Content-Type the way an exporter would, and every page Prometheus scrapes gander reads,
/// with the same samples and label values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_gander_accepts_is_scraped_by_prometheus_without_error() {
    use gander::metrics::text::Format;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pages = edge_pages();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = pages.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let served = served.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..got]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let page = served.iter().find(|(n, _, _)| path == format!("/{n}"));
                let reply = match page {
                    Some((_, ct, body)) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .into()
                    }
                };
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    let jobs: String = pages
        .iter()
        .map(|(name, _, _)| {
            format!(
                "  - job_name: '{name}'\n    metrics_path: /{name}\n    static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n"
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (_prom, url) = start_prometheus(dir.path(), &jobs);
    let prom = Prometheus::new(http(), &url, Auth::None);
    wait_until(
        "every page scraped once",
        Duration::from_secs(60),
        || async {
            prom.query("count(up)")
                .await
                .ok()
                .and_then(|v| v.first().map(|s| s.value))
                == Some(pages.len() as f64)
        },
    )
    .await;
    // Prometheus's verdict on each page, and gander's on the same bytes and header.
    let ups = prom.query("up").await.unwrap();
    // Prometheus's reason for each failed scrape, to name in a failure.
    let targets: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("{url}/api/v1/targets"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let their_error = |job: &str| {
        targets["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["labels"]["job"] == job)
            .and_then(|t| t["lastError"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut too_lenient = Vec::new();
    let mut stricter = Vec::new();
    for (name, ct, body) in &pages {
        let theirs = ups
            .iter()
            .find(|s| s.labels.get("job").map(String::as_str) == Some(name))
            .map(|s| s.value == 1.0)
            .unwrap_or_else(|| panic!("no `up` for {name}"));
        let hint = ct
            .starts_with("application/openmetrics-text")
            .then_some(Format::OpenMetrics);
        let ours = parse(body, hint);
        match (&ours, theirs) {
            (Ok(_), false) => too_lenient.push(format!("{name}: {}", their_error(name))),
            (Err(e), true) => stricter.push(format!("{name}: {e}")),
            (Ok(page), true) => {
                // Both read it: the same number of samples, the same label values.
                let scraped = prom
                    .query(&format!("scrape_samples_scraped{{job=\"{name}\"}}"))
                    .await
                    .unwrap()[0]
                    .value;
                assert_eq!(page.samples.len() as f64, scraped, "{name}: samples");
                // (A sample with its own old timestamp is outside an instant query.)
                for s in page.samples.iter().filter(|s| s.timestamp_ms.is_none()) {
                    for l in page.labels(s) {
                        let matching = prom
                            .query(&format!(
                                "{}{{job=\"{name}\",{}={}}}",
                                s.name,
                                l.name,
                                serde_json::to_string(l.value.as_ref()).unwrap()
                            ))
                            .await
                            .unwrap();
                        assert_eq!(matching.len(), 1, "{name}: {}={:?}", l.name, l.value);
                    }
                }
            }
            (Err(_), false) => {}
        }
    }
    // Quoted UTF-8 names are Prometheus 3.0's; Debian's 2.42 predates them.
    too_lenient.retain(|p| !p.starts_with("text-utf8-quoted-name:"));
    assert!(
        too_lenient.is_empty(),
        "gander accepts pages Prometheus fails to scrape: {too_lenient:?}"
    );
    assert!(
        stricter.is_empty(),
        "gander refuses pages Prometheus scrapes: {stricter:?}"
    );
}
