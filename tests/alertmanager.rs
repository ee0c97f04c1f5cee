//! Silences through a real Alertmanager (Debian's prometheus-alertmanager, started here
//! on a free loopback port): gander's silence mutes exactly the alert it was made for,
//! names the operator as its creator, and is listed back; refusals and an unreachable
//! Alertmanager are errors that say so. scripts/test.sh installs the package.

use gander::io::alertmanager::{Alertmanager, matchers_for};
use gander::io::http::{Auth, Http, HttpConfig};
use std::collections::BTreeMap;
use std::time::Duration;

mod common;
use common::{free_port, start_alertmanager};

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
