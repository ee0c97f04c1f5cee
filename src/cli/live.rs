//! One poll round for the CLI: the live facts `status` and `promote --dry-run` use.
//! Services are polled directly (health and metrics); when the org configures a
//! Prometheus server, its figures (rates over a minute) replace the single-scrape ones
//! and its alerts are read.

use crate::engine::config::Config;
use crate::engine::facts::{Activity, ActivityKind, Facts, Known, Performance};
use crate::engine::live::Board;
use crate::io::http::{Http, HttpConfig};
use crate::io::poll::{Target, poll_round};
use crate::io::prometheus::{Alert, Prometheus, fleet_figures};
use serde::Serialize;
use std::time::Duration;

/// How many services are polled at once.
pub const CONCURRENCY: usize = 64;

/// What the Prometheus server said, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct PromReport {
    pub url: String,
    pub reachable: bool,
    pub errors: Vec<String>,
    pub alerts: Vec<Alert>,
}

pub struct LiveRound {
    pub board: Option<Board>,
    pub prometheus: Option<PromReport>,
}

impl LiveRound {
    /// Sources that could not be reached: services, and Prometheus as `prometheus`.
    pub fn unreachable(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .board
            .iter()
            .flat_map(|b| b.services.iter())
            .filter(|(_, l)| l.unreachable)
            .map(|(n, _)| n.clone())
            .collect();
        if self.prometheus.as_ref().is_some_and(|p| !p.reachable) {
            out.push("prometheus".into());
        }
        out
    }
}

/// Poll every service with endpoints once (and Prometheus, when configured) and fold
/// the results into `facts`.
pub fn poll_once(config: &Config, facts: &mut Facts) -> Result<LiveRound, i32> {
    let targets = Target::from_config(config);
    let has_targets = targets
        .iter()
        .any(|t| t.live.is_some() || t.metrics.is_some());
    let prom_url = config.org.monitoring.prometheus_url.clone();
    if !has_targets && prom_url.is_none() {
        return Ok(LiveRound {
            board: None,
            prometheus: None,
        });
    }
    let ca_pem = match &config.org.monitoring.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            eprintln!("gander: monitoring.ca_file {path}: {e}");
            super::EXIT_USAGE
        })?),
        None => None,
    };
    let http = Http::new(HttpConfig {
        timeout: Duration::from_secs(config.org.monitoring.request_timeout.secs().max(1)),
        ca_pem,
        ..HttpConfig::default()
    })
    .map_err(|e| {
        eprintln!("gander: {e}");
        super::EXIT_USAGE
    })?;
    let prom_auth = crate::io::http::resolve_auth(config.org.monitoring.prometheus_auth.as_ref())
        .map_err(|e| {
        eprintln!("gander: monitoring.prometheus_auth: {e}");
        super::EXIT_USAGE
    })?;
    let rt = super::runtime()?;
    let (obs, prom) = rt.block_on(async {
        let scrape = async {
            if has_targets {
                poll_round(&http, &targets, CONCURRENCY).await
            } else {
                Vec::new()
            }
        };
        let prom = async {
            let url = prom_url.as_deref()?;
            let p = Prometheus::new(http.clone(), url, prom_auth.clone());
            let ((figures, errors), alerts) = tokio::join!(fleet_figures(&p), p.alerts());
            Some((url.to_string(), figures, errors, alerts))
        };
        tokio::join!(scrape, prom)
    });
    let mut board = Board::default();
    for o in &obs {
        board.apply(o);
    }
    let urls: std::collections::HashMap<String, String> = targets
        .iter()
        .filter_map(|t| t.metrics.clone().map(|m| (t.service.clone(), m)))
        .collect();
    board.fill(facts, &|s| urls.get(s).cloned().unwrap_or_default());
    let prometheus = prom.map(|(url, figures, mut errors, alerts)| {
        let reachable = !errors
            .iter()
            .any(|e| e.contains("connection refused") || e.contains("timed out"))
            && alerts.as_ref().map_or_else(|e| !e.unreachable(), |_| true);
        let alerts = match alerts {
            Ok(a) => a,
            Err(e) => {
                errors.push(format!("alerts: {e}"));
                Vec::new()
            }
        };
        // Prometheus's rates over a minute beat one scrape's cumulative figures.
        for (name, sf) in facts.services.iter_mut() {
            if let (Some(p95), Some(err)) = (figures.p95_ms.get(name), figures.error_rate.get(name))
            {
                sf.performance = Known::Known(Performance {
                    p95_ms: *p95,
                    error_rate: *err,
                    source: format!("prometheus {url}"),
                    observed_at: facts.now,
                });
            }
            if reachable && errors.iter().all(|e| !e.starts_with("activities")) {
                let kinds = figures.activities.get(name).cloned().unwrap_or_default();
                sf.activities = Known::Known(
                    kinds
                        .iter()
                        .filter_map(|k| match k.as_str() {
                            "load_test" => Some(ActivityKind::LoadTest),
                            "backup" => Some(ActivityKind::Backup),
                            "security_scan" => Some(ActivityKind::SecurityScan),
                            _ => None,
                        })
                        .map(|kind| Activity {
                            kind,
                            started_at: facts.now,
                            until: None,
                        })
                        .collect(),
                );
            }
        }
        PromReport {
            url,
            reachable,
            errors,
            alerts,
        }
    });
    Ok(LiveRound {
        board: has_targets.then_some(board),
        prometheus,
    })
}
