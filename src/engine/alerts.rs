//! Local alerting: when no Prometheus alerting is configured (or it cannot be reached),
//! gander evaluates the org's mode-aware thresholds itself on what it polled.

use super::config::Config;
use super::live::{Board, HealthState};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalAlert {
    pub service: String,
    pub alert: &'static str,
    /// `page` wakes someone; `ticket` waits for working hours.
    pub severity: &'static str,
    pub summary: String,
    pub since: Option<DateTime<Utc>>,
}

/// Alerts for every polled service, worst first, then by service name.
pub fn evaluate(config: &Config, board: &Board) -> Vec<LocalAlert> {
    let mut out = Vec::new();
    for svc in &config.services {
        let Some(live) = board.services.get(svc.name()) else {
            continue;
        };
        let mode = svc.def.spec.compliance_mode;
        let t = &config.org.modes.get(mode).thresholds;
        let mut push = |alert, severity, summary: String, since| {
            out.push(LocalAlert {
                service: svc.name().to_string(),
                alert,
                severity,
                summary,
                since,
            })
        };
        match live.health {
            HealthState::Down => push(
                "ServiceDown",
                "page",
                format!(
                    "{} is down: {}",
                    svc.name(),
                    live.reason.clone().unwrap_or_default()
                ),
                live.failing_since,
            ),
            HealthState::Degraded => push(
                "ServiceDegraded",
                "ticket",
                format!(
                    "{} is degraded: {}",
                    svc.name(),
                    live.reason.clone().unwrap_or_default()
                ),
                live.failing_since,
            ),
            _ => {}
        }
        if let Some(p95) = live.p95_ms.filter(|p| *p > t.p95_latency_ms) {
            push(
                "LatencyHigh",
                "ticket",
                format!(
                    "{} p95 {p95:.0} ms over the {} threshold {:.0} ms",
                    svc.name(),
                    mode.as_str(),
                    t.p95_latency_ms
                ),
                live.last_poll,
            );
        }
        if let Some(e) = live.error_rate.filter(|e| *e > t.error_rate) {
            push(
                "ErrorRateHigh",
                "page",
                format!(
                    "{} error rate {:.1} % over the {} threshold {:.1} %",
                    svc.name(),
                    e * 100.0,
                    mode.as_str(),
                    t.error_rate * 100.0
                ),
                live.last_poll,
            );
        }
    }
    out.sort_by(|a, b| {
        (a.severity != "page", &a.service, a.alert).cmp(&(
            b.severity != "page",
            &b.service,
            b.alert,
        ))
    });
    out
}
