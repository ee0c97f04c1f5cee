//! The Alerts panel's rows: Prometheus's and gander's own, with since when each fires,
//! which are silenced, and which sit under an upstream cause.

use super::Model;
use chrono::{DateTime, Utc};

/// An alert row, from Prometheus or from gander's own thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub source: &'static str,
    /// Firing now (Prometheus also reports alerts pending their `for:`).
    pub firing: bool,
    pub severity: String,
    pub name: String,
    pub service: String,
    pub summary: String,
    pub runbook: Option<String>,
    /// Prometheus's labels for the alert (empty for gander's own).
    pub labels: std::collections::BTreeMap<String, String>,
    /// The Alertmanager silence muting it: "until 14:05 by alice".
    pub silenced: Option<String>,
    /// Since when it has been active (Prometheus's `activeAt`; for gander's own, when
    /// it was first seen, or when the service started failing).
    pub since: Option<DateTime<Utc>>,
    /// The upstream service whose own firing alert is the likely cause: this row is
    /// listed under that service's alerts.
    pub cause: Option<String>,
}

impl Model {
    /// The alert rows: Prometheus's, then gander's own.
    pub fn alerts(&self) -> Vec<AlertRow> {
        let mut out: Vec<AlertRow> = self
            .prom_alerts
            .iter()
            .map(|a| AlertRow {
                source: "prometheus",
                firing: a.state == "firing",
                severity: a
                    .labels
                    .get("severity")
                    .cloned()
                    .unwrap_or_else(|| a.state.clone()),
                name: a.name().to_string(),
                service: a.labels.get("service").cloned().unwrap_or_default(),
                summary: a.annotations.get("summary").cloned().unwrap_or_default(),
                runbook: a.annotations.get("runbook_url").cloned(),
                silenced: self
                    .silences
                    .iter()
                    .find(|s| s.matches(&a.labels))
                    .map(|s| format!("until {} by {}", s.ends_at.format("%H:%M"), s.created_by)),
                labels: a.labels.clone(),
                since: a
                    .active_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                cause: None,
            })
            .collect();
        out.extend(self.local_alerts.iter().map(|a| {
            AlertRow {
                source: "gander",
                firing: true,
                severity: a.severity.to_string(),
                name: a.alert.to_string(),
                service: a.service.clone(),
                summary: a.summary.clone(),
                runbook: None,
                labels: Default::default(),
                silenced: None,
                since: self
                    .alert_seen
                    .get(&format!("{}\0{}", a.alert, a.service))
                    .copied()
                    .or(a.since),
                cause: None,
            }
        }));
        self.group_by_cause(out)
    }

    /// Each alert whose service depends (directly or not) on a service with a firing,
    /// unsilenced alert is listed under the furthest-upstream such service: service-b
    /// down first, then its dependents' alerts. Otherwise the order is kept.
    fn group_by_cause(&self, mut rows: Vec<AlertRow>) -> Vec<AlertRow> {
        let alarmed: std::collections::HashSet<String> = rows
            .iter()
            .filter(|a| a.firing && a.silenced.is_none() && !a.service.is_empty())
            .map(|a| a.service.clone())
            .collect();
        if alarmed.len() < 2 {
            return rows;
        }
        match self.graph.root_causes(&alarmed) {
            Some(causes) => {
                for r in &mut rows {
                    r.cause = causes.get(r.service.as_str()).map(|c| c.to_string());
                }
            }
            // A cycle: no dependency order, so each row asks the graph on its own.
            None => {
                for r in &mut rows {
                    if r.service.is_empty() {
                        continue;
                    }
                    let ups: Vec<&str> = self
                        .graph
                        .upstream(&r.service)
                        .into_iter()
                        .filter(|u| *u != r.service && alarmed.contains(*u))
                        .collect();
                    r.cause = ups
                        .iter()
                        .find(|u| {
                            !self
                                .graph
                                .upstream(u)
                                .into_iter()
                                .any(|x| x != **u && alarmed.contains(x))
                        })
                        .or(ups.first())
                        .map(|u| u.to_string());
                }
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        let (roots, mut children): (Vec<AlertRow>, Vec<AlertRow>) =
            rows.into_iter().partition(|r| r.cause.is_none());
        let mut placed: Vec<String> = Vec::new();
        for r in roots {
            let svc = r.service.clone();
            out.push(r);
            if !placed.contains(&svc) {
                // The rest of this service's own rows come before its dependents'.
                placed.push(svc);
            }
        }
        // Insert each cause's dependents after the cause's last row.
        for svc in placed {
            let Some(last) = out.iter().rposition(|r| r.service == svc) else {
                continue;
            };
            let mine: Vec<AlertRow>;
            (mine, children) = children
                .into_iter()
                .partition(|c| c.cause.as_deref() == Some(svc.as_str()));
            for (k, c) in mine.into_iter().enumerate() {
                out.insert(last + 1 + k, c);
            }
        }
        out.extend(children);
        out
    }

    /// Firing alerts, worst first (page before ticket before the rest), then by name.
    /// Firing and not silenced in Alertmanager (a silenced alert pages nobody).
    pub fn firing(&self) -> Vec<AlertRow> {
        let mut v: Vec<AlertRow> = self
            .alerts()
            .into_iter()
            .filter(|a| a.firing && a.silenced.is_none())
            .collect();
        v.sort_by(|a, b| {
            severity_rank(&a.severity)
                .cmp(&severity_rank(&b.severity))
                .then_with(|| a.name.cmp(&b.name))
        });
        v
    }

    /// Firing alerts counted by severity, worst first: `[("page", 1), ("ticket", 2)]`.
    pub fn firing_counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for a in self.firing() {
            match out.iter_mut().find(|(s, _)| *s == a.severity) {
                Some((_, n)) => *n += 1,
                None => out.push((a.severity, 1)),
            }
        }
        out
    }
}

/// Page (and critical) wakes someone: first; ticket (and warning) next; the rest after.
pub fn severity_rank(s: &str) -> u8 {
    match s {
        "page" | "critical" => 0,
        "ticket" | "warning" => 1,
        _ => 2,
    }
}

/// Does this severity wake someone?
pub fn pages(s: &str) -> bool {
    severity_rank(s) == 0
}
