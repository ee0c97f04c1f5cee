//! A small HTTP/1.1 server per demo service, written directly on tokio so that it can
//! misbehave on purpose: hang, answer 500, serve garbage, drop the connection, cut a
//! body short, send 50 MB, send invalid UTF-8, or stop listening altogether.

use super::Fleet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a demo service misbehaves. Switched at run time through the control port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    None = 0,
    /// Answers after 10 s.
    Slow = 1,
    /// Every request gets a 500.
    Error500 = 2,
    /// `/metrics` and `/health` serve an HTML error page with status 200.
    Garbage = 3,
    /// Closes the connection without answering.
    Drop = 4,
    /// Declares a body and closes half-way through it.
    Cut = 5,
    /// `/metrics` streams 50 MB.
    Huge = 6,
    /// `/metrics` holds bytes that are not UTF-8.
    BadUtf8 = 7,
    /// Not listening: connection refused.
    Down = 8,
}

impl Fault {
    pub const NAMES: [&'static str; 9] = [
        "none", "slow", "500", "garbage", "drop", "cut", "huge", "bad-utf8", "down",
    ];

    pub fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "none" => Fault::None,
            "slow" => Fault::Slow,
            "500" => Fault::Error500,
            "garbage" => Fault::Garbage,
            "drop" => Fault::Drop,
            "cut" => Fault::Cut,
            "huge" => Fault::Huge,
            "bad-utf8" => Fault::BadUtf8,
            "down" => Fault::Down,
            _ => return None,
        })
    }

    pub fn from_u8(v: u8) -> Fault {
        match v {
            1 => Fault::Slow,
            2 => Fault::Error500,
            3 => Fault::Garbage,
            4 => Fault::Drop,
            5 => Fault::Cut,
            6 => Fault::Huge,
            7 => Fault::BadUtf8,
            8 => Fault::Down,
            _ => Fault::None,
        }
    }
}

/// The per-service switch.
#[derive(Debug, Default)]
pub struct FaultSwitch(AtomicU8);

impl FaultSwitch {
    pub fn get(&self) -> Fault {
        Fault::from_u8(self.0.load(Ordering::Relaxed))
    }
    pub fn set(&self, f: Fault) {
        self.0.store(f as u8, Ordering::Relaxed);
    }
}

/// Read one request head; returns the request target and whether to keep the
/// connection open afterwards. `None` when the peer closed or sent nonsense.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, bool)> {
    buf.clear();
    let mut tmp = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.lines();
            let request = lines.next()?;
            let mut parts = request.split_whitespace();
            let _method = parts.next()?;
            let target = parts.next()?.to_string();
            let version = parts.next().unwrap_or("HTTP/1.0");
            let mut keep = version == "HTTP/1.1";
            for l in lines {
                if let Some((k, v)) = l.split_once(':') {
                    if k.eq_ignore_ascii_case("connection") {
                        keep = !v.trim().eq_ignore_ascii_case("close");
                    }
                }
            }
            return Some((target, keep));
        }
        // Not HTTP (a TLS ClientHello starts with 0x16): hang up rather than wait.
        if buf.first().is_some_and(|b| !b.is_ascii_uppercase()) || buf.len() > 16 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut tmp))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
    keep: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if keep { "keep-alive" } else { "close" }
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

const GARBAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n";
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn serve_conn(fleet: Arc<Fleet>, idx: usize, mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    while let Some((target, keep)) = read_head(&mut stream, &mut buf).await {
        let fault = fleet.faults[idx].get();
        let svc = &fleet.sims[idx];
        // A lean fleet is thousands of services in one process: one socket each is
        // already its listener, so a scrape's connection is closed after the answer.
        let keep = keep && svc.naming != super::sim::Naming::Lean;
        let path = target.split('?').next().unwrap_or("/");
        let probes = &fleet.probes[idx];
        let dep_ready = |i: usize| fleet.up(i);
        match fault {
            Fault::Drop | Fault::Down => return,
            Fault::Slow => tokio::time::sleep(Duration::from_secs(10)).await,
            Fault::Error500 => {
                if respond(&mut stream, 500, "text/plain", b"internal error\n", keep)
                    .await
                    .is_err()
                {
                    return;
                }
                if !keep {
                    return;
                }
                continue;
            }
            _ => {}
        }
        let (status, ctype, body): (u16, &str, Vec<u8>) = if path == probes.live {
            (200, "text/plain", b"ok\n".to_vec())
        } else if path == probes.ready {
            if fleet.ready(idx) {
                (200, "text/plain", b"ready\n".to_vec())
            } else {
                (503, "text/plain", b"not ready\n".to_vec())
            }
        } else if path == probes.startup {
            if svc.started_up() {
                (200, "text/plain", b"started\n".to_vec())
            } else {
                (503, "text/plain", b"starting\n".to_vec())
            }
        } else if path == probes.health {
            if fault == Fault::Garbage {
                (200, "application/json", GARBAGE.as_bytes().to_vec())
            } else {
                let ok = fleet.ready(idx);
                (
                    if ok { 200 } else { 503 },
                    "application/json",
                    svc.health_json(&dep_ready).into_bytes(),
                )
            }
        } else if path == "/metrics" {
            match fault {
                Fault::Garbage => (200, TEXT, GARBAGE.as_bytes().to_vec()),
                Fault::BadUtf8 => {
                    let mut b = svc.metrics_page(&dep_ready).into_bytes();
                    b.extend_from_slice(b"bad_label{v=\"\xff\xfe\"} 1\n");
                    (200, TEXT, b)
                }
                Fault::Huge => {
                    // 50 MB without a Content-Length, delimited by closing.
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {TEXT}\r\nConnection: close\r\n\r\n"
                    );
                    if stream.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let line = "filler_metric{a=\"0123456789012345678901234567890123456789\"} 1\n"
                        .repeat(1024);
                    let mut sent = 0usize;
                    while sent < 50 * 1024 * 1024 {
                        if stream.write_all(line.as_bytes()).await.is_err() {
                            return;
                        }
                        sent += line.len();
                    }
                    return;
                }
                _ => (200, TEXT, svc.metrics_page(&dep_ready).into_bytes()),
            }
        } else {
            (404, "text/plain", b"not found\n".to_vec())
        };
        if fault == Fault::Cut {
            let head = format!(
                "HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                body.len() * 2 + 100
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body[..body.len() / 2]).await;
            return;
        }
        if respond(&mut stream, status, ctype, &body, keep)
            .await
            .is_err()
            || !keep
        {
            return;
        }
    }
}

/// Accept loop of one service; stops listening while the fault is `Down` and listens
/// again on the same port afterwards.
pub async fn run_service(fleet: Arc<Fleet>, idx: usize, listener: TcpListener) {
    let addr = fleet.addrs[idx];
    let mut listener = Some(listener);
    loop {
        if fleet.faults[idx].get() == Fault::Down {
            listener = None;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => listener.insert(l),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        // Wake up now and then to notice a switch to `Down`.
        match tokio::time::timeout(Duration::from_millis(250), l.accept()).await {
            Ok(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_conn(fleet.clone(), idx, stream));
            }
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => {}
        }
    }
}

/// The control port: `GET /fault/SERVICE/MODE` (or `/fault/all/MODE`), `GET /services`.
pub async fn run_control(fleet: Arc<Fleet>, listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let fleet = fleet.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let Some((target, _)) = read_head(&mut stream, &mut buf).await else {
                return;
            };
            let parts: Vec<&str> = target.trim_matches('/').split('/').collect();
            let (status, body) = match parts.as_slice() {
                ["fault", who, mode] => match Fault::parse(mode) {
                    None => (
                        404,
                        format!(
                            "unknown fault `{mode}`; one of: {}\n",
                            Fault::NAMES.join(", ")
                        ),
                    ),
                    Some(f) => {
                        let mut n = 0;
                        for (i, s) in fleet.sims.iter().enumerate() {
                            if *who == "all" || s.name == *who {
                                fleet.faults[i].set(f);
                                n += 1;
                            }
                        }
                        if n == 0 {
                            (404, format!("no service `{who}`\n"))
                        } else {
                            (200, format!("{n} service(s) now `{mode}`\n"))
                        }
                    }
                },
                ["services"] => {
                    let list: Vec<serde_json::Value> = fleet
                        .sims
                        .iter()
                        .enumerate()
                        .map(|(i, s)| serde_json::json!({"service": s.name, "addr": fleet.addrs[i].to_string(), "fault": Fault::NAMES[fleet.faults[i].get() as usize], "ready": fleet.ready(i)}))
                        .collect();
                    (200, serde_json::Value::Array(list).to_string())
                }
                _ => (404, "try /services or /fault/SERVICE/MODE\n".to_string()),
            };
            let _ = respond(&mut stream, status, "text/plain", body.as_bytes(), false).await;
        });
    }
}
