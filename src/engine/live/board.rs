//! The live state of the fleet, and what of it the gates may decide on.

use super::{HealthState, LiveService, Observation};
use crate::engine::facts::{Activity, ActivityKind, Facts, Known, Performance};
use serde::Serialize;
use std::collections::BTreeMap;

/// Live state of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Board {
    pub services: BTreeMap<String, LiveService>,
}

impl Board {
    pub fn apply(&mut self, o: &Observation) {
        self.services.entry(o.service.clone()).or_default().apply(o);
    }

    /// Put what is known live into the facts the gates decide on.
    pub fn fill(&self, facts: &mut Facts, metrics_source: &dyn Fn(&str) -> String) {
        for name in self.services.keys() {
            self.fill_one(name, facts, metrics_source);
        }
    }

    /// [`Board::fill`] for one service (the console's refresh after a poll of it).
    pub fn fill_one(&self, name: &str, facts: &mut Facts, metrics_source: &dyn Fn(&str) -> String) {
        {
            let Some(live) = self.services.get(name) else {
                return;
            };
            let sf = facts
                .services
                .entry(name.to_string())
                .or_insert_with(crate::engine::facts::ServiceFacts::unknown);
            let at = live.last_poll.unwrap_or(facts.now);
            sf.performance = match (live.p95_ms, live.error_rate, &live.window) {
                (Some(_), Some(_), Some(w)) if !w.decidable() => Known::unknown(format!(
                    "one scrape only: its p95 and error rate are {}, not over a window \
                     (monitoring.window)",
                    w.describe()
                )),
                (Some(p95), Some(err), w) => Known::Known(Performance {
                    p95_ms: p95,
                    error_rate: err,
                    source: match w {
                        Some(w) => format!("{} {}", metrics_source(name), w.describe()),
                        None => metrics_source(name),
                    },
                    observed_at: at,
                }),
                _ => Known::unknown(match &live.last_error {
                    Some(e) if live.series.is_none() => e.clone(),
                    _ => "no latency histogram or request counter on the metrics page".to_string(),
                }),
            };
            sf.activities = match &live.activities {
                Some(kinds) => Known::Known(
                    kinds
                        .iter()
                        .filter_map(|k| {
                            let kind = match k.as_str() {
                                "load_test" => ActivityKind::LoadTest,
                                "backup" => ActivityKind::Backup,
                                "security_scan" => ActivityKind::SecurityScan,
                                _ => return None,
                            };
                            Some(Activity {
                                kind,
                                started_at: live.last_poll.unwrap_or(facts.now),
                                until: None,
                            })
                        })
                        .collect(),
                ),
                None => Known::unknown(match &live.last_error {
                    Some(e) if live.series.is_none() => e.clone(),
                    _ => "the metrics page has no gander_activity metric".to_string(),
                }),
            };
            sf.health = match live.health {
                HealthState::Unknown => Known::unknown(live.reason.clone().unwrap_or_default()),
                h => Known::Known(crate::engine::facts::Health {
                    ready: h == HealthState::Up,
                    summary: live.cell(facts.now),
                }),
            };
        }
    }
}
