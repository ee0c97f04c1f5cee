//! What gander's HTTP client puts on the wire: the correlation ID the log records, and
//! credentials read from where the config points (never from the config itself).

use gander::engine::config::AuthConfig;
use gander::io::http::{Auth, Http, HttpConfig, resolve_auth};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serve one request and hand back its head.
async fn capture_one() -> (String, tokio::task::JoinHandle<String>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", l.local_addr().unwrap());
    let h = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            head.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nup 1")
            .await
            .unwrap();
        String::from_utf8(head).unwrap()
    });
    (url, h)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn every_request_carries_a_fresh_correlation_id() {
    let http = Http::new(HttpConfig {
        timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    })
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (url, h) = capture_one().await;
        let f = http.get(&url, "text/plain", &Auth::None).await.unwrap();
        let head = h.await.unwrap();
        let id = header(&head, "X-Correlation-ID")
            .expect("X-Correlation-ID sent")
            .to_string();
        assert_eq!(id, f.correlation_id);
        assert!(header(&head, "accept-encoding").unwrap().contains("gzip"));
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn bearer_and_basic_credentials_come_from_env_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "s3cret-token\n").unwrap();
    let auth = resolve_auth(Some(&AuthConfig {
        bearer_token: Some(format!("file:{}", secret.display())),
        ..AuthConfig::default()
    }))
    .unwrap();
    assert_eq!(auth, Auth::Bearer("s3cret-token".into()));
    let http = Http::new(HttpConfig::default()).unwrap();
    let (url, h) = capture_one().await;
    http.get(&url, "text/plain", &auth).await.unwrap();
    assert_eq!(
        header(&h.await.unwrap(), "authorization"),
        Some("Bearer s3cret-token")
    );

    // SAFETY: this test is the only one touching this variable.
    unsafe { std::env::set_var("GANDER_TEST_PROM_PASSWORD", "hunter2") };
    let auth = resolve_auth(Some(&AuthConfig {
        basic_user: Some("gander".into()),
        basic_password: Some("env:GANDER_TEST_PROM_PASSWORD".into()),
        ..AuthConfig::default()
    }))
    .unwrap();
    let (url, h) = capture_one().await;
    http.get(&url, "text/plain", &auth).await.unwrap();
    // base64("gander:hunter2")
    assert_eq!(
        header(&h.await.unwrap(), "authorization"),
        Some("Basic Z2FuZGVyOmh1bnRlcjI=")
    );

    let e = resolve_auth(Some(&AuthConfig {
        bearer_token: Some("env:GANDER_TEST_NOT_SET".into()),
        ..AuthConfig::default()
    }))
    .unwrap_err();
    assert_eq!(e, "environment variable GANDER_TEST_NOT_SET is not set");
}
