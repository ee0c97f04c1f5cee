//! The one live source, built from the config: the HTTP client (timeouts, caps, the
//! org's `ca_file`), Prometheus with its auth reference resolved, and the merge of
//! Prometheus's figures over the services' own. `gander status`/`promote`/`approve`,
//! the console's poll loop and its actions, and the runbook checks all read through it,
//! so the same facts give the same verdicts everywhere.

use super::OpsError;
use crate::engine::config::Config;
use crate::engine::facts::{Activity, ActivityKind, Facts, Known, Performance};
use crate::engine::live::{Board, PromFacts};
use crate::io::http::{Http, HttpConfig};
use crate::io::poll::{Target, poll_round};
use crate::io::prometheus::{Alert, FleetFigures, Prometheus, Series, fleet_figures};
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// The fleet was read through Prometheus, not by polling each service.
    pub through_prometheus: bool,
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

/// The HTTP client and Prometheus of an org, built once and shared by every caller.
#[derive(Clone)]
pub struct LiveSource {
    http: Http,
    prometheus: Option<(String, Prometheus)>,
    targets: Vec<Target>,
    queries: crate::engine::config::FleetQueries,
    /// Read the fleet through Prometheus, polling directly only what is asked for
    /// (more services than `monitoring.direct_poll_limit`, and Prometheus configured).
    through_prometheus: bool,
    /// How far apart two scrapes of a service are when a round has no earlier one.
    window: Duration,
}

impl LiveSource {
    /// Build from the org's monitoring settings. A missing `ca_file` or an auth
    /// reference that does not resolve is an error here, not a silent downgrade.
    pub fn from_config(config: &Config) -> Result<LiveSource, OpsError> {
        let m = &config.org.monitoring;
        let ca_pem = match &m.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| OpsError::Usage(format!("monitoring.ca_file {path}: {e}")))?,
            ),
            None => None,
        };
        let http = Http::new(HttpConfig {
            timeout: Duration::from_secs(m.request_timeout.secs().max(1)),
            ca_pem,
            ..HttpConfig::default()
        })
        .map_err(OpsError::Usage)?;
        let prometheus = match &m.prometheus_url {
            Some(url) => {
                let auth = crate::io::http::resolve_auth(m.prometheus_auth.as_ref())
                    .map_err(|e| OpsError::Usage(format!("monitoring.prometheus_auth: {e}")))?;
                Some((url.clone(), Prometheus::new(http.clone(), url, auth)))
            }
            None => None,
        };
        Ok(LiveSource {
            through_prometheus: prometheus.is_some() && config.services.len() > m.direct_poll_limit,
            http,
            prometheus,
            targets: Target::from_config(config),
            queries: m.fleet_queries(),
            window: Duration::from_secs(m.window.secs()),
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Is there anything to poll directly?
    pub fn has_targets(&self) -> bool {
        self.targets
            .iter()
            .any(|t| t.live.is_some() || t.metrics.is_some())
    }

    /// Is the fleet read through Prometheus (too many services to poll each)?
    pub fn through_prometheus(&self) -> bool {
        self.through_prometheus
    }

    /// The fleet's figures from Prometheus per service, each naming its query's range,
    /// for the console's own round.
    pub async fn prometheus_figures(&self) -> Option<(BTreeMap<String, PromFacts>, Vec<String>)> {
        let p = self.prometheus()?;
        let (figures, errors) = fleet_figures(p, &self.queries).await;
        Some((self.per_service(&figures), errors))
    }

    fn per_service(&self, figures: &FleetFigures) -> BTreeMap<String, PromFacts> {
        let range = query_range(&self.queries.p95_seconds);
        let mut per = figures.per_service();
        for f in per.values_mut() {
            f.range = range.clone();
        }
        per
    }

    pub fn prometheus(&self) -> Option<&Prometheus> {
        self.prometheus.as_ref().map(|(_, p)| p)
    }

    /// A PromQL instant query (the runbook `promql` check).
    pub async fn query(&self, promql: &str) -> Result<Vec<Series>, String> {
        match self.prometheus() {
            None => Err("no monitoring.prometheus_url configured".into()),
            Some(p) => p.query(promql).await.map_err(|e| e.to_string()),
        }
    }

    /// One round: poll the services (all, or just `only`) and Prometheus, and fold both
    /// into `facts`, Prometheus's rates beating the services' own figures.
    pub async fn round(&self, only: Option<&str>, facts: &mut Facts) -> LiveRound {
        self.round_after(Board::default(), only, facts).await
    }

    /// A round folded into what earlier polls saw (the console's board), so a service's
    /// figures are over the time since its last scrape. A service with no earlier
    /// scrape, or no request since, is scraped again `monitoring.window` later: one
    /// scrape only has counts since the service started, and gates do not decide on
    /// those. Prometheus's figures, where it has them, are both shown and decided on.
    pub async fn round_after(
        &self,
        mut board: Board,
        only: Option<&str>,
        facts: &mut Facts,
    ) -> LiveRound {
        let targets: Vec<Target> = self
            .targets
            .iter()
            .filter(|t| only.is_none_or(|s| t.service == s))
            // At scale the fleet comes from Prometheus; only a named service is polled.
            .filter(|_| only.is_some() || !self.through_prometheus)
            .filter(|t| t.live.is_some() || t.metrics.is_some())
            .cloned()
            .collect();
        let has_targets = !targets.is_empty();
        let scrape = async {
            if has_targets {
                poll_round(&self.http, &targets, CONCURRENCY).await
            } else {
                Vec::new()
            }
        };
        let prom = async {
            let (url, p) = self.prometheus.as_ref()?;
            let ((figures, errors), alerts) =
                tokio::join!(fleet_figures(p, &self.queries), p.alerts());
            Some((url.clone(), figures, errors, alerts))
        };
        let (obs, prom) = tokio::join!(scrape, prom);
        let range = query_range(&self.queries.p95_seconds);
        let per = prom
            .as_ref()
            .map(|(_, figures, _, _)| self.per_service(figures));
        if self.through_prometheus
            && let (Some((_, _, errors, _)), Some(per)) = (&prom, &per)
        {
            // The fleet as Prometheus has it: activities are known (none) for every
            // service it answered for, when its activities query worked.
            let activities_ok = errors.iter().all(|e| !e.starts_with("activities"));
            for t in &self.targets {
                let mut f = per.get(&t.service).cloned().unwrap_or_default();
                if activities_ok && f.activities.is_none() && f.up.is_some() {
                    f.activities = Some(Vec::new());
                }
                board
                    .services
                    .entry(t.service.clone())
                    .or_default()
                    .apply_prometheus(&f, facts.now);
            }
        }
        for o in &obs {
            board.apply(o);
        }
        let from_prometheus = |name: &str| {
            per.as_ref()
                .and_then(|per| per.get(name))
                .filter(|f| f.p95_ms.is_some() && f.error_rate.is_some())
        };
        let again: Vec<Target> = targets
            .iter()
            .filter(|t| t.metrics.is_some() && from_prometheus(&t.service).is_none())
            .filter(|t| {
                board.services.get(&t.service).is_some_and(|l| {
                    l.window.as_ref().is_some_and(|w| !w.decidable()) && !l.unreachable
                })
            })
            .cloned()
            .collect();
        if !again.is_empty() && !self.window.is_zero() {
            tokio::time::sleep(self.window).await;
            for o in &poll_round(&self.http, &again, CONCURRENCY).await {
                board.apply(o);
            }
        }
        for (name, live) in board.services.iter_mut() {
            if let Some(f) = from_prometheus(name) {
                live.take_prometheus_figures(f);
            }
        }
        let urls: std::collections::HashMap<String, String> = targets
            .iter()
            .filter_map(|t| t.metrics.clone().map(|m| (t.service.clone(), m)))
            .collect();
        board.fill(facts, &|s| urls.get(s).cloned().unwrap_or_default());
        let prometheus = prom.map(|(url, figures, errors, alerts)| {
            merge_prometheus(facts, &url, &figures, range.as_deref(), errors, alerts)
        });
        LiveRound {
            board: (has_targets || self.through_prometheus).then_some(board),
            prometheus,
            through_prometheus: self.through_prometheus && only.is_none(),
        }
    }

    /// [`LiveSource::round`] from synchronous code, on a runtime of its own.
    pub fn round_blocking(
        &self,
        only: Option<&str>,
        facts: &mut Facts,
    ) -> Result<LiveRound, OpsError> {
        if !self.has_targets() && self.prometheus.is_none() {
            return Ok(LiveRound {
                board: None,
                prometheus: None,
                through_prometheus: false,
            });
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OpsError::Usage(format!("cannot start the async runtime: {e}")))?;
        Ok(rt.block_on(self.round(only, facts)))
    }
}

/// Fold Prometheus's answer into `facts`: its figures (rates over a minute) replace the
/// single-scrape ones; its activities decide blackouts when it answered.
pub fn merge_prometheus(
    facts: &mut Facts,
    url: &str,
    figures: &FleetFigures,
    range: Option<&str>,
    mut errors: Vec<String>,
    alerts: Result<Vec<Alert>, crate::io::prometheus::PromError>,
) -> PromReport {
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
    for (name, sf) in facts.services.iter_mut() {
        if let (Some(p95), Some(err)) = (figures.p95_ms.get(name), figures.error_rate.get(name)) {
            sf.performance = Known::Known(Performance {
                p95_ms: *p95,
                error_rate: *err,
                source: match range {
                    Some(r) => format!("prometheus {url} over {r}"),
                    None => format!("prometheus {url}"),
                },
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
        url: url.to_string(),
        reachable,
        errors,
        alerts,
    }
}

/// The range a query's first range selector figures over: `1m` in `rate(x[1m])`.
pub fn query_range(promql: &str) -> Option<String> {
    let start = promql.find('[')? + 1;
    let len = promql[start..].find([']', ':'])?;
    Some(promql[start..start + len].trim().to_string()).filter(|r| !r.is_empty())
}

/// A live source for synchronous use cases (a walk's checks run under the chain lock on
/// a blocking thread): it blocks on the runtime the source's connections belong to.
#[derive(Clone)]
pub struct LiveAccess {
    source: LiveSource,
    handle: tokio::runtime::Handle,
    _own: Option<std::sync::Arc<tokio::runtime::Runtime>>,
}

impl LiveAccess {
    /// On a running runtime (the console): call from a blocking thread, never a task.
    pub fn on(source: LiveSource, handle: tokio::runtime::Handle) -> LiveAccess {
        LiveAccess {
            source,
            handle,
            _own: None,
        }
    }

    /// With a runtime of its own (the CLI).
    pub fn own(source: LiveSource) -> Result<LiveAccess, OpsError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| OpsError::Usage(format!("cannot start the async runtime: {e}")))?;
        Ok(LiveAccess {
            source,
            handle: rt.handle().clone(),
            _own: Some(std::sync::Arc::new(rt)),
        })
    }

    pub fn round(&self, only: Option<&str>, facts: &mut Facts) -> LiveRound {
        self.handle.block_on(self.source.round(only, facts))
    }

    pub fn query(&self, promql: &str) -> Result<Vec<Series>, String> {
        self.handle.block_on(self.source.query(promql))
    }
}

#[cfg(test)]
mod tests {
    use super::query_range;

    #[test]
    fn a_querys_range_is_its_first_range_selector() {
        assert_eq!(
            query_range("histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))").as_deref(),
            Some("1m")
        );
        assert_eq!(
            query_range("max_over_time(up[5m:30s])").as_deref(),
            Some("5m")
        );
        assert_eq!(query_range("up == 1"), None);
        assert_eq!(query_range("x[]"), None);
    }
}
