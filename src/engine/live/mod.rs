//! Live observations of services (what the pollers saw) and what they mean: health,
//! p95 latency and error rate over the last poll interval, freshness and the last
//! error. Pure: io produces [`Observation`]s, this folds them into facts.

use crate::metrics::derive::{Summary, bucket_delta, histogram_quantile};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Probe {
    Pass {
        code: u16,
        ms: u64,
    },
    Fail {
        code: u16,
        ms: u64,
    },
    Error {
        error: String,
    },
    /// No endpoint configured for it.
    Skipped,
}

impl Probe {
    pub fn passed(&self) -> Option<bool> {
        match self {
            Probe::Pass { .. } => Some(true),
            Probe::Fail { .. } | Probe::Error { .. } => Some(false),
            Probe::Skipped => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Probe::Pass { code, .. } => format!("{code}"),
            Probe::Fail { code, .. } => format!("HTTP {code}"),
            Probe::Error { error } => error.clone(),
            Probe::Skipped => "-".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub name: String,
    pub status: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub live: Probe,
    pub ready: Probe,
    pub startup: Probe,
    /// `/health`: overall status and components, or why it could not be read.
    pub status: Option<String>,
    pub components: Vec<Component>,
    pub detail_error: Option<String>,
}

/// Everything one poll of one service saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub service: String,
    pub at: DateTime<Utc>,
    /// `None` when the service has no health endpoint configured.
    pub health: Option<HealthReport>,
    /// `None` when it has no metrics URL; `Err` says why the page was not usable.
    pub metrics: Option<Result<Summary, String>>,
    /// A request failed below HTTP (refused, timed out, TLS, cut short): the source
    /// could not be reached, as opposed to answering badly.
    pub unreachable: bool,
}

/// The overall health of a service as a cell shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Up,
    /// Live but not ready (a dependency down, still starting…).
    Degraded,
    Down,
    /// Never polled, or nothing configured.
    Unknown,
}

/// What the p95 and error rate of a service are figured over: the figures shown are
/// the figures decided on, so both name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "over", rename_all = "snake_case")]
pub enum FigureWindow {
    /// The difference between two scrapes this many seconds apart.
    Scrapes { seconds: f64 },
    /// One scrape's counts: everything since the service started (or no request in
    /// the window). Shown, but unknown to the gates: a week of uptime hides a
    /// regression.
    SinceStart,
    /// Prometheus's own figures, over its query's range (`1m`) when one is written.
    Prometheus { range: Option<String> },
}

impl FigureWindow {
    /// "over 2s", "since start", "Prometheus over 1m".
    pub fn describe(&self) -> String {
        match self {
            FigureWindow::Scrapes { seconds } => format!("over {}", short_secs(*seconds)),
            FigureWindow::SinceStart => "since start".into(),
            FigureWindow::Prometheus { range: Some(r) } => format!("Prometheus over {r}"),
            FigureWindow::Prometheus { range: None } => "Prometheus".into(),
        }
    }

    /// For a table column: "2.0s", "since start", "prom 1m".
    pub fn short(&self) -> String {
        match self {
            FigureWindow::Scrapes { seconds } => short_secs(*seconds),
            FigureWindow::SinceStart => "since start".into(),
            FigureWindow::Prometheus { range: Some(r) } => format!("prom {r}"),
            FigureWindow::Prometheus { range: None } => "prom".into(),
        }
    }

    /// Can a gate decide on figures over this window?
    pub fn decidable(&self) -> bool {
        !matches!(self, FigureWindow::SinceStart)
    }
}

fn short_secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1}s")
    } else {
        super::config::Duration(s.round() as u64).to_string()
    }
}

/// What gander knows live about one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveService {
    pub health: HealthState,
    /// Readable reason for anything but `up` ("ready: HTTP 503", "connection refused").
    pub reason: Option<String>,
    pub probes: Option<HealthReport>,
    pub p95_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub requests: Option<f64>,
    /// What `p95_ms` and `error_rate` are figured over.
    pub window: Option<FigureWindow>,
    pub series: Option<usize>,
    pub activities: Option<Vec<String>>,
    pub last_poll: Option<DateTime<Utc>>,
    /// When the last fully good read (health and metrics) happened.
    pub last_good: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Since when the service has been failing, while it is.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last poll could not reach it.
    pub unreachable: bool,
    #[serde(skip)]
    prev_metrics: Option<Summary>,
    #[serde(skip)]
    last_metrics: Option<Summary>,
    #[serde(skip)]
    prev_at: Option<DateTime<Utc>>,
    /// The last p95 and error rate there were, and when: shown marked stale once the
    /// service stops giving figures (never decided on: gates read `p95_ms`).
    #[serde(skip)]
    pub last_figures: Option<(Option<f64>, Option<f64>, DateTime<Utc>)>,
    #[serde(skip)]
    last_metrics_at: Option<DateTime<Utc>>,
}

impl Default for LiveService {
    fn default() -> Self {
        LiveService {
            health: HealthState::Unknown,
            reason: Some("not polled yet".into()),
            probes: None,
            p95_ms: None,
            error_rate: None,
            requests: None,
            window: None,
            series: None,
            activities: None,
            last_poll: None,
            last_good: None,
            last_error: None,
            last_error_at: None,
            failing_since: None,
            unreachable: false,
            prev_metrics: None,
            last_metrics: None,
            prev_at: None,
            last_figures: None,
            last_metrics_at: None,
        }
    }
}

fn health_of(h: &HealthReport) -> (HealthState, Option<String>) {
    match (&h.live, &h.ready) {
        (Probe::Error { error }, _) => (HealthState::Down, Some(error.clone())),
        (Probe::Fail { code, .. }, _) => (HealthState::Down, Some(format!("live: HTTP {code}"))),
        (_, Probe::Fail { code, .. }) => {
            let why: Vec<String> = h
                .components
                .iter()
                .filter(|c| !is_ok(&c.status))
                .map(|c| match &c.message {
                    Some(m) => format!("{}: {m}", c.name),
                    None => format!("{} {}", c.name, c.status),
                })
                .collect();
            let mut r = format!("ready: HTTP {code}");
            if !why.is_empty() {
                r.push_str(&format!(" ({})", why.join("; ")));
            }
            (HealthState::Degraded, Some(r))
        }
        (_, Probe::Error { error }) => (HealthState::Degraded, Some(format!("ready: {error}"))),
        _ => match &h.startup {
            Probe::Fail { code, .. } => {
                (HealthState::Degraded, Some(format!("startup: HTTP {code}")))
            }
            _ => (HealthState::Up, None),
        },
    }
}

/// Component status words that mean "fine" across common health libraries.
pub fn is_ok(status: &str) -> bool {
    matches!(
        status.to_ascii_lowercase().as_str(),
        "up" | "ok" | "pass" | "healthy" | "green" | "serving"
    )
}

impl LiveService {
    /// Fold one observation in.
    pub fn apply(&mut self, o: &Observation) {
        self.last_poll = Some(o.at);
        self.unreachable = o.unreachable;
        let (mut state, mut reason) = match &o.health {
            Some(h) => health_of(h),
            None => (
                HealthState::Unknown,
                Some("no health endpoint configured".into()),
            ),
        };
        self.probes = o.health.clone();
        let mut errors: Vec<String> = Vec::new();
        if let Some(h) = &o.health {
            if let Some(e) = &h.detail_error {
                errors.push(format!("/health: {e}"));
            }
            if let Probe::Error { error } = &h.live {
                errors.push(error.clone());
            }
        }
        match &o.metrics {
            Some(Ok(m)) => {
                self.prev_metrics = self.last_metrics.take();
                self.prev_at = self.last_metrics_at.replace(o.at);
                self.last_metrics = Some(m.clone());
                self.series = Some(m.series);
                self.activities = m.activities.clone();
                self.requests = m.requests;
                let prev = self
                    .prev_metrics
                    .as_ref()
                    .zip(self.prev_at)
                    .filter(|(_, t)| *t < o.at);
                let windowed = prev.and_then(|(p, t)| {
                    let d_req = m.requests.zip(p.requests).map(|(a, b)| a - b);
                    let d_err = m.errors.zip(p.errors).map(|(a, b)| a - b);
                    // A counter that went down is a restart: no window across it.
                    if d_req.is_some_and(|d| d < 0.0) || d_err.is_some_and(|d| d < 0.0) {
                        return None;
                    }
                    let p95 = histogram_quantile(0.95, &bucket_delta(&p.buckets, &m.buckets));
                    let err = match (d_req, d_err) {
                        (Some(r), Some(e)) if r > 0.0 => Some(e / r),
                        _ => None,
                    };
                    // No request in the window: nothing to figure over it.
                    (p95.is_some() || err.is_some()).then(|| {
                        let seconds = (o.at - t).num_milliseconds() as f64 / 1000.0;
                        (p95, err, FigureWindow::Scrapes { seconds })
                    })
                });
                let (p95, err, window) = windowed.unwrap_or_else(|| {
                    let err = match (m.requests, m.errors) {
                        (Some(r), Some(e)) if r > 0.0 => Some(e / r),
                        _ => None,
                    };
                    (
                        histogram_quantile(0.95, &m.buckets),
                        err,
                        FigureWindow::SinceStart,
                    )
                });
                self.p95_ms = p95.map(|s| s * 1000.0);
                self.error_rate = err;
                self.window = (self.p95_ms.is_some() || err.is_some()).then_some(window);
                if self.p95_ms.is_some() || err.is_some() {
                    self.last_figures = Some((self.p95_ms, err, o.at));
                }
            }
            Some(Err(e)) => {
                errors.push(format!("metrics: {e}"));
                self.p95_ms = None;
                self.error_rate = None;
                self.window = None;
                self.activities = None;
                self.series = None;
                if state == HealthState::Up {
                    state = HealthState::Degraded;
                    reason = Some(format!("metrics: {e}"));
                }
            }
            None => {}
        }
        self.health = state;
        self.reason = reason;
        if errors.is_empty() && state == HealthState::Up {
            self.last_good = Some(o.at);
            self.failing_since = None;
        } else {
            if !errors.is_empty() {
                self.last_error = Some(errors.join("; "));
                self.last_error_at = Some(o.at);
            } else if let Some(r) = &self.reason {
                self.last_error = Some(r.clone());
                self.last_error_at = Some(o.at);
            }
            if self.failing_since.is_none() {
                self.failing_since = Some(o.at);
            }
        }
    }

    /// Fold in what Prometheus says of the service (the fleet read at scale): its
    /// target's `up`, p95 and error ratio over Prometheus's window, and activities.
    /// Missing figures stay unknown; no `up` series means Prometheus does not scrape it.
    pub fn apply_prometheus(&mut self, f: &PromFacts, at: DateTime<Utc>) {
        self.last_poll = Some(at);
        self.unreachable = false;
        self.probes = None;
        self.take_prometheus_figures(f);
        self.activities = f.activities.clone();
        let (state, reason) = match f.up {
            Some(true) => (HealthState::Up, None),
            Some(false) => (
                HealthState::Down,
                Some("Prometheus: its scrape target is down (up == 0)".to_string()),
            ),
            None => (
                HealthState::Unknown,
                Some("Prometheus has no `up` series for it".to_string()),
            ),
        };
        self.health = state;
        self.reason = reason;
        if state == HealthState::Up {
            self.last_good = Some(at);
            self.failing_since = None;
        } else {
            self.last_error = self.reason.clone();
            self.last_error_at = Some(at);
            if state == HealthState::Down && self.failing_since.is_none() {
                self.failing_since = Some(at);
            }
        }
    }

    /// When the figures shown were read: the last metrics page, or the last round
    /// through Prometheus when they are Prometheus's.
    pub fn figures_at(&self) -> Option<DateTime<Utc>> {
        match self.window {
            Some(FigureWindow::Prometheus { .. }) => self.last_poll,
            _ => self.last_metrics_at,
        }
    }

    /// Prometheus's p95 and error rate replace the service's own: what is shown is
    /// what the gates decide on.
    pub fn take_prometheus_figures(&mut self, f: &PromFacts) {
        self.p95_ms = f.p95_ms;
        self.error_rate = f.error_rate;
        if let (true, Some(at)) = (f.p95_ms.is_some() || f.error_rate.is_some(), self.last_poll) {
            self.last_figures = Some((f.p95_ms, f.error_rate, at));
        }
        self.window =
            (f.p95_ms.is_some() || f.error_rate.is_some()).then(|| FigureWindow::Prometheus {
                range: f.range.clone(),
            });
    }

    /// The cell text: "up", "degraded 8s: ready: HTTP 503", "down 12s: connection refused".
    pub fn cell(&self, now: DateTime<Utc>) -> String {
        let since = |t: Option<DateTime<Utc>>| {
            t.map(|t| {
                format!(
                    " {}",
                    super::config::Duration((now - t).num_seconds().max(0) as u64)
                )
            })
            .unwrap_or_default()
        };
        match self.health {
            HealthState::Up => "up".into(),
            HealthState::Unknown => format!("unknown: {}", self.reason.clone().unwrap_or_default()),
            HealthState::Degraded => format!(
                "degraded{}: {}",
                since(self.failing_since),
                self.reason.clone().unwrap_or_default()
            ),
            HealthState::Down => format!(
                "down{}: {}",
                since(self.failing_since),
                self.reason.clone().unwrap_or_default()
            ),
        }
    }
}

/// One service's figures as Prometheus has them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromFacts {
    pub up: Option<bool>,
    pub p95_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub activities: Option<Vec<String>>,
    /// The range the p95 query figures over (`1m`), when it writes one.
    pub range: Option<String>,
}

mod board;
pub use board::Board;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::facts::{Facts, Known, Performance};
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn ok_health() -> HealthReport {
        HealthReport {
            live: Probe::Pass { code: 200, ms: 1 },
            ready: Probe::Pass { code: 200, ms: 1 },
            startup: Probe::Pass { code: 200, ms: 1 },
            status: Some("healthy".into()),
            components: vec![],
            detail_error: None,
        }
    }

    fn summary(req: f64, err: f64, fast: f64) -> Summary {
        Summary {
            series: 10,
            requests: Some(req),
            errors: Some(err),
            buckets: vec![(0.1, fast), (0.5, req), (f64::INFINITY, req)],
            activities: Some(vec![]),
        }
    }

    #[test]
    fn rates_come_from_the_window_between_two_polls() {
        let mut s = LiveService::default();
        s.apply(&Observation {
            service: "a".into(),
            at: t(0),
            health: Some(ok_health()),
            metrics: Some(Ok(summary(1000.0, 1.0, 1000.0))),
            unreachable: false,
        });
        assert_eq!(s.error_rate, Some(0.001));
        assert_eq!(s.p95_ms.map(|v| v.round()), Some(95.0));
        assert_eq!(s.window, Some(FigureWindow::SinceStart));
        // In the next 5 s: 100 requests, 10 errors, all slow.
        s.apply(&Observation {
            service: "a".into(),
            at: t(5),
            health: Some(ok_health()),
            metrics: Some(Ok(summary(1100.0, 11.0, 1000.0))),
            unreachable: false,
        });
        assert_eq!(s.error_rate, Some(0.1));
        assert_eq!(s.p95_ms.map(|v| v.round()), Some(480.0));
        assert_eq!(s.window, Some(FigureWindow::Scrapes { seconds: 5.0 }));
        assert_eq!(s.health, HealthState::Up);
        assert_eq!(s.last_good, Some(t(5)));
    }

    fn fill_one(s: &LiveService) -> Known<Performance> {
        let mut board = Board::default();
        board.services.insert("a".into(), s.clone());
        let mut facts = Facts {
            now: t(10),
            states: BTreeMap::new(),
            services: BTreeMap::new(),
            chain: Known::unknown("not read"),
        };
        board.fill(&mut facts, &|_| "live metrics".into());
        facts.services["a"].performance.clone()
    }

    #[test]
    fn one_scrapes_figures_are_shown_but_a_gate_cannot_decide_on_them() {
        let mut s = LiveService::default();
        let obs = |at, requests, errors| Observation {
            service: "a".into(),
            at,
            health: Some(ok_health()),
            metrics: Some(Ok(summary(requests, errors, 1000.0))),
            unreachable: false,
        };
        s.apply(&obs(t(0), 1000.0, 1.0));
        assert!(s.p95_ms.is_some(), "shown, named as since start");
        match fill_one(&s) {
            Known::Unknown(reason) => assert!(reason.contains("since start"), "{reason}"),
            k => panic!("a gate must not decide on whole-life figures: {k:?}"),
        }
        s.apply(&obs(t(2), 1100.0, 1.0));
        match fill_one(&s) {
            Known::Known(p) => {
                assert_eq!(p.error_rate, 0.0);
                assert!(p.source.ends_with("over 2.0s"), "{}", p.source);
            }
            k => panic!("two scrapes make a window: {k:?}"),
        }
        // The service restarted: its counters went down, so no window across it.
        s.apply(&obs(t(4), 50.0, 0.0));
        assert_eq!(s.window, Some(FigureWindow::SinceStart));
        // No request between two scrapes: nothing to figure over the window either.
        s.apply(&obs(t(6), 50.0, 0.0));
        assert_eq!(s.window, Some(FigureWindow::SinceStart));
        assert!(matches!(fill_one(&s), Known::Unknown(_)));
    }

    #[test]
    fn a_refused_connection_is_down_with_its_reason_and_age() {
        let mut s = LiveService::default();
        s.apply(&Observation {
            service: "a".into(),
            at: t(0),
            health: Some(ok_health()),
            metrics: Some(Ok(summary(1.0, 0.0, 1.0))),
            unreachable: false,
        });
        let down = HealthReport {
            live: Probe::Error {
                error: "connection refused".into(),
            },
            ready: Probe::Error {
                error: "connection refused".into(),
            },
            startup: Probe::Error {
                error: "connection refused".into(),
            },
            status: None,
            components: vec![],
            detail_error: Some("connection refused".into()),
        };
        s.apply(&Observation {
            service: "a".into(),
            at: t(5),
            health: Some(down.clone()),
            metrics: Some(Err("connection refused".into())),
            unreachable: true,
        });
        s.apply(&Observation {
            service: "a".into(),
            at: t(10),
            health: Some(down),
            metrics: Some(Err("connection refused".into())),
            unreachable: true,
        });
        assert_eq!(s.health, HealthState::Down);
        assert_eq!(s.cell(t(17)), "down 12s: connection refused");
        assert!(s.unreachable);
        assert_eq!(s.last_good, Some(t(0)));
    }

    #[test]
    fn garbage_metrics_degrade_a_healthy_service_and_say_why() {
        let mut s = LiveService::default();
        s.apply(&Observation {
            service: "a".into(),
            at: t(0),
            health: Some(ok_health()),
            metrics: Some(Err(
                "line 1, column 1: expected a metric name, found `<`".into()
            )),
            unreachable: false,
        });
        assert_eq!(s.health, HealthState::Degraded);
        assert_eq!(
            s.cell(t(0)),
            "degraded 0s: metrics: line 1, column 1: expected a metric name, found `<`"
        );
        assert!(!s.unreachable);
    }
}
