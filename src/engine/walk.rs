//! A runbook walk as the chain records it: which steps are done, with what outcome, and
//! which step comes next. Pure: a fold over records, like the ledger.

use super::chain::Record;
use super::runbook::{Runbook, StepKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const START: &str = "runbook_start";
pub const STEP: &str = "runbook_step";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub step: String,
    /// pass, fail, confirmed, skipped, yes, no, approved, ran
    pub outcome: String,
    pub by: String,
    pub note: String,
    pub at: String,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Walk {
    pub id: String,
    pub runbook: String,
    pub service: String,
    pub params: BTreeMap<String, String>,
    pub started_by: String,
    /// The key that started it (when recorded): four-eyes is by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_key: Option<String>,
    pub started_at: String,
    pub done: Vec<Done>,
}

impl Walk {
    pub fn outcome(&self, step: &str) -> Option<&Done> {
        self.done.iter().rev().find(|d| d.step == step)
    }

    /// The step to do next, following `next`, decisions' answers and the list order;
    /// `None` when the walk is finished. A failed check stays current (re-run or skip).
    pub fn current<'r>(&self, rb: &'r Runbook) -> Option<&'r super::runbook::Step> {
        let mut i = 0usize;
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > rb.steps.len() * 2 + 2 {
                return None;
            }
            let step = rb.steps.get(i)?;
            let Some(d) = self.outcome(&step.id) else {
                return Some(step);
            };
            // A failed or undecided check, and a failed or timed-out command (unless it may fail),
            // stay current: the walk stops there until it is run again or skipped.
            if step.kind == StepKind::Check && matches!(d.outcome.as_str(), "fail" | "unknown") {
                return Some(step);
            }
            if step.kind == StepKind::Command
                && matches!(d.outcome.as_str(), "failed" | "timeout")
                && !step.allow_failure
            {
                return Some(step);
            }
            let next = match step.kind {
                StepKind::Decision if d.outcome == "yes" => step.yes.as_deref(),
                StepKind::Decision if d.outcome == "no" => step.no.as_deref(),
                _ => step
                    .next
                    .as_deref()
                    .or_else(|| rb.steps.get(i + 1).map(|s| s.id.as_str())),
            };
            match next {
                None | Some("end") => return None,
                Some(id) => i = rb.steps.iter().position(|s| s.id == id)?,
            }
        }
    }
}

fn text(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Every walk in the chain, by id, in start order.
pub fn fold<'r>(records: impl IntoIterator<Item = &'r Record>) -> Vec<Walk> {
    let mut walks: Vec<Walk> = Vec::new();
    extend(&mut walks, records);
    walks
}

/// Fold more records into `walks`, the ones after those already folded.
pub fn extend<'r>(walks: &mut Vec<Walk>, records: impl IntoIterator<Item = &'r Record>) {
    for r in records {
        let d = &r.evidence.data;
        match r.evidence.kind.as_str() {
            START => walks.push(Walk {
                id: r.promotion_id.clone(),
                runbook: text(d, "runbook"),
                service: r.service.clone(),
                params: d
                    .get("params")
                    .and_then(|p| p.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                started_key: r.signer_key(),
                started_by: r
                    .evidence
                    .signatures
                    .first()
                    .map(|s| s.principal.clone())
                    .unwrap_or_default(),
                started_at: r.timestamp.clone(),
                done: Vec::new(),
            }),
            STEP => {
                if let Some(w) = walks.iter_mut().find(|w| w.id == r.promotion_id) {
                    w.done.push(Done {
                        step: text(d, "step"),
                        outcome: text(d, "outcome"),
                        by: r
                            .evidence
                            .signatures
                            .first()
                            .map(|s| s.principal.clone())
                            .unwrap_or_default(),
                        note: text(d, "note"),
                        at: r.timestamp.clone(),
                        seq: r.seq,
                    });
                }
            }
            _ => {}
        }
    }
}
