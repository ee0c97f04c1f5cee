//! Polling services: the four health endpoints and the metrics page of each, with
//! bounded concurrency, sending owned [`Observation`]s. One round for the CLI; a loop
//! with exponential backoff and jitter for the console and `gander demo`.

use super::http::{Auth, FetchError, Http};
use crate::engine::config::Config;
use crate::engine::live::{Component, HealthReport, Observation, Probe};
use crate::metrics::derive::summarize;
use crate::metrics::text::{Format, parse};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// What to poll for one service.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: String,
    pub live: Option<String>,
    pub ready: Option<String>,
    pub startup: Option<String>,
    pub health: Option<String>,
    pub metrics: Option<String>,
}

fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

impl Target {
    pub fn from_config(config: &Config) -> Vec<Target> {
        config
            .services
            .iter()
            .map(|s| {
                let e = s.def.endpoints.as_ref();
                let url = |p: fn(&crate::engine::config::Probes) -> &String| {
                    e.map(|e| join(&e.health_base_url, p(&e.probes)))
                };
                Target {
                    service: s.name().to_string(),
                    live: url(|p| &p.live),
                    ready: url(|p| &p.ready),
                    startup: url(|p| &p.startup),
                    health: url(|p| &p.health),
                    metrics: e.map(|e| {
                        e.metrics_url
                            .clone()
                            .unwrap_or_else(|| join(&e.health_base_url, "/metrics"))
                    }),
                }
            })
            .collect()
    }
}

const PROBE_ACCEPT: &str = "application/json, text/plain;q=0.9, */*;q=0.1";
const METRICS_ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0;q=0.9, text/plain;version=0.0.4;q=0.5, */*;q=0.1";

fn transport(e: &FetchError) -> bool {
    !matches!(
        e,
        FetchError::Status(_) | FetchError::NotUtf8(..) | FetchError::TooLarge(_)
    )
}

async fn probe(http: &Http, url: &Option<String>, unreachable: &mut bool) -> Probe {
    let Some(url) = url else {
        return Probe::Skipped;
    };
    match http.get(url, PROBE_ACCEPT, &Auth::None).await {
        Ok(f) if (200..300).contains(&f.status) => Probe::Pass {
            code: f.status,
            ms: f.elapsed.as_millis() as u64,
        },
        Ok(f) => Probe::Fail {
            code: f.status,
            ms: f.elapsed.as_millis() as u64,
        },
        Err(e) => {
            *unreachable |= transport(&e);
            Probe::Error {
                error: e.to_string(),
            }
        }
    }
}

/// Read a `/health` document: `{"status": …, "components": [ {name, status, message} ] }`
/// or `components` as a map (Spring Boot's shape), `checks` as an alias.
pub fn parse_health(body: &str) -> Result<(Option<String>, Vec<Component>), String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| {
        let snippet: String = body.chars().take(40).collect();
        format!("not JSON ({e}): {snippet:?}")
    })?;
    let status = v.get("status").and_then(|s| s.as_str()).map(str::to_string);
    let comps = v.get("components").or_else(|| v.get("checks"));
    let mut out = Vec::new();
    let text =
        |c: &serde_json::Value, k: &str| c.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match comps {
        Some(serde_json::Value::Array(list)) => {
            for c in list {
                out.push(Component {
                    name: text(c, "name").unwrap_or_else(|| "?".into()),
                    status: text(c, "status").unwrap_or_else(|| "unknown".into()),
                    message: text(c, "message").or_else(|| text(c, "error")),
                });
            }
        }
        Some(serde_json::Value::Object(map)) => {
            for (name, c) in map {
                out.push(Component {
                    name: name.clone(),
                    status: text(c, "status").unwrap_or_else(|| "unknown".into()),
                    message: text(c, "message").or_else(|| text(c, "error")),
                });
            }
        }
        _ => {}
    }
    if status.is_none() && out.is_empty() {
        return Err("JSON without `status` or `components`".into());
    }
    Ok((status, out))
}

/// Poll one service once. Its endpoints are read one after another, so they share one
/// kept-alive connection (at 1,000 services, five at once meant 5,000 sockets and their
/// buffers); when the live probe cannot reach the service, the rest are not tried and
/// carry its error, so a hung service costs one timeout, not five.
pub async fn observe(http: &Http, t: &Target) -> Observation {
    observe_keeping(http, t, None).await.0
}

/// What a passing service's startup probe and `/health` said when last read: the
/// console reads them again only every [`DETAIL_EVERY`] rounds while its live and ready
/// probes pass (a startup probe matters at start; `/health` explains a failing probe),
/// and at once when either does not pass.
#[derive(Debug, Clone)]
pub struct Detail {
    startup: Probe,
    status: Option<String>,
    components: Vec<Component>,
}

/// Rounds between two reads of a passing service's startup probe and `/health`.
pub const DETAIL_EVERY: u64 = 6;

/// As [`observe`]; with `kept`, a service whose live and ready probes pass is not asked
/// for its startup probe and `/health` again (what was read last is carried). Returns
/// the detail to keep for next time: `Some` when both were read now and all passed.
pub async fn observe_keeping(
    http: &Http,
    t: &Target,
    kept: Option<&Detail>,
) -> (Observation, Option<Detail>) {
    let mut unreachable = false;
    let live = probe(http, &t.live, &mut unreachable).await;
    let gone = match &live {
        Probe::Error { error } if unreachable => Some(error.clone()),
        _ => None,
    };
    let skipped = |url: &Option<String>| match (url, &gone) {
        (None, _) => Some(Probe::Skipped),
        (Some(_), Some(error)) => Some(Probe::Error {
            error: error.clone(),
        }),
        (Some(_), None) => None,
    };
    let ready = match skipped(&t.ready) {
        Some(p) => p,
        None => probe(http, &t.ready, &mut unreachable).await,
    };
    let passing = |p: &Probe| matches!(p, Probe::Pass { .. } | Probe::Skipped);
    // Live and ready pass: what was read last of the startup probe and /health stands.
    let reuse = kept
        .filter(|_| passing(&live) && passing(&ready) && gone.is_none())
        .cloned();
    let (startup, status, components, detail_error) = match &reuse {
        Some(k) => (
            k.startup.clone(),
            k.status.clone(),
            k.components.clone(),
            None,
        ),
        None => {
            let startup = match skipped(&t.startup) {
                Some(p) => p,
                None => probe(http, &t.startup, &mut unreachable).await,
            };
            let (status, components, detail_error) = match (&t.health, &gone) {
                (None, _) => (None, Vec::new(), None),
                (Some(_), Some(error)) => (None, Vec::new(), Some(error.clone())),
                (Some(url), None) => match http.get(url, PROBE_ACCEPT, &Auth::None).await {
                    Ok(f) => match parse_health(&f.body) {
                        Ok((s, c)) => (s, c, None),
                        Err(e) => (None, Vec::new(), Some(format!("HTTP {}: {e}", f.status))),
                    },
                    Err(e) => {
                        unreachable |= transport(&e);
                        (None, Vec::new(), Some(e.to_string()))
                    }
                },
            };
            (startup, status, components, detail_error)
        }
    };
    let metrics = read_metrics(http, t, &gone, &mut unreachable).await;
    let keep = reuse.or_else(|| {
        (passing(&live)
            && passing(&ready)
            && passing(&startup)
            && detail_error.is_none()
            && (t.live.is_some() || t.health.is_some()))
        .then(|| Detail {
            startup: startup.clone(),
            status: status.clone(),
            components: components.clone(),
        })
    });
    let health = if t.live.is_none() && t.health.is_none() {
        None
    } else {
        Some(HealthReport {
            live,
            ready,
            startup,
            status,
            components,
            detail_error,
        })
    };
    let o = Observation {
        service: t.service.clone(),
        at: Utc::now(),
        health,
        metrics,
        unreachable,
    };
    (o, keep)
}

/// The metrics page, parsed and summarized (or why not).
async fn read_metrics(
    http: &Http,
    t: &Target,
    gone: &Option<String>,
    unreachable: &mut bool,
) -> Option<Result<crate::metrics::derive::Summary, String>> {
    match (&t.metrics, gone) {
        (None, _) => None,
        (Some(_), Some(error)) => Some(Err(error.clone())),
        (Some(url), None) => Some(match http.get(url, METRICS_ACCEPT, &Auth::None).await {
            Ok(f) if !(200..300).contains(&f.status) => Err(format!("HTTP {}", f.status)),
            Ok(f) => {
                let hint = f
                    .content_type
                    .as_deref()
                    .filter(|c| c.starts_with("application/openmetrics-text"))
                    .map(|_| Format::OpenMetrics);
                match parse(&f.body, hint) {
                    Ok(page) => Ok(summarize(&page)),
                    Err(e) => Err(format!("bad metrics: {e}")),
                }
            }
            Err(e) => {
                *unreachable |= transport(&e);
                Err(e.to_string())
            }
        }),
    }
}

/// Poll every target once, at most `concurrency` services at a time.
pub async fn poll_round(http: &Http, targets: &[Target], concurrency: usize) -> Vec<Observation> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().cloned().enumerate() {
        let http = http.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, observe(&http, &t).await)
        });
    }
    let mut out: Vec<Option<Observation>> = vec![None; targets.len()];
    while let Some(r) = set.join_next().await {
        if let Ok((i, o)) = r {
            out[i] = Some(o);
        }
    }
    out.into_iter().flatten().collect()
}

/// A small xorshift for jitter; seeded per target so retries spread out.
fn jitter(seed: &mut u64, max: Duration) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(*seed % ms)
}

/// The delay before the next poll of a target that failed `failures` times in a row:
/// the interval doubled per failure up to 8 intervals (or 5 minutes), plus jitter of
/// up to a quarter of it.
pub fn backoff(interval: Duration, failures: u32, seed: &mut u64) -> Duration {
    let base = interval
        .saturating_mul(1u32 << failures.min(3))
        .min(Duration::from_secs(300).max(interval));
    base + jitter(seed, base / 4)
}

/// Poll every target forever: each on its own schedule (interval, or backoff after a
/// failure), at most `concurrency` at a time, sending each observation on `tx`.
/// Stops when the receiver is dropped.
/// Poll every target on its own task, every `interval`; the second poll of a service
/// comes `window` after its first (when shorter), so its figures are over a window soon
/// instead of since it started.
pub fn spawn(
    http: Http,
    targets: Vec<Target>,
    interval: Duration,
    window: Duration,
    concurrency: usize,
    tx: mpsc::Sender<Observation>,
) {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let n = targets.len().max(1) as u32;
    for (i, t) in targets.into_iter().enumerate() {
        let (http, sem, tx) = (http.clone(), sem.clone(), tx.clone());
        tokio::spawn(async move {
            // Spread the first round over the interval instead of a thundering herd.
            tokio::time::sleep(interval / n * i as u32 / 4).await;
            let mut seed =
                0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
            let mut failures = 0u32;
            let mut polls = 0u64;
            let mut kept: Option<Detail> = None;
            loop {
                let o = {
                    let _permit = sem.acquire().await;
                    let full = polls % DETAIL_EVERY == 0;
                    let (o, k) = observe_keeping(&http, &t, kept.as_ref().filter(|_| !full)).await;
                    kept = k;
                    o
                };
                failures = if o.unreachable { failures + 1 } else { 0 };
                if tx.send(o).await.is_err() {
                    return;
                }
                polls += 1;
                let wait = if failures == 0 && polls == 1 && !window.is_zero() {
                    window.min(interval)
                } else if failures == 0 {
                    interval
                } else {
                    backoff(interval, failures - 1, &mut seed)
                };
                tokio::time::sleep(wait).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let mut seed = 42;
        let i = Duration::from_secs(5);
        let d0 = backoff(i, 0, &mut seed);
        assert!(d0 >= i && d0 < i + i / 4, "{d0:?}");
        let d2 = backoff(i, 2, &mut seed);
        assert!(d2 >= i * 4 && d2 < i * 5, "{d2:?}");
        let d9 = backoff(i, 9, &mut seed);
        assert!(d9 >= i * 8 && d9 < i * 10, "{d9:?}");
    }

    #[test]
    fn health_documents_in_common_shapes() {
        let (s, c) = parse_health(r#"{"status":"degraded","components":[{"name":"db","status":"healthy"},{"name":"dep:x","status":"unhealthy","message":"x is not ready"}]}"#).unwrap();
        assert_eq!(s.as_deref(), Some("degraded"));
        assert_eq!(c[1].message.as_deref(), Some("x is not ready"));
        let (s, c) =
            parse_health(r#"{"status":"UP","components":{"diskSpace":{"status":"UP"}}}"#).unwrap();
        assert_eq!(
            (s.as_deref(), c[0].name.as_str()),
            (Some("UP"), "diskSpace")
        );
        let e = parse_health("<html>").unwrap_err();
        assert!(e.starts_with("not JSON"), "{e}");
    }
}
