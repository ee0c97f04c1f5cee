//! The promotions and service states that the chain's records add up to. The chain is
//! the only source of truth; this is a fold over it.

use super::chain::Record;
use super::config::EvidenceKind;
use super::facts::{Approval, ChainFacts, EvidenceVerdict, Facts, Known, Rejection, Request};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Record types (`evidence.type`).
pub mod kind {
    pub const REQUEST: &str = "request";
    pub const VALIDATION: &str = "validation";
    pub const APPROVAL: &str = "approval";
    pub const REJECTION: &str = "rejection";
    pub const TRANSITION: &str = "transition";
    pub const DEMOTION: &str = "demotion";
    pub const CLOSURE: &str = "closure";
    pub const EVIDENCE: &str = "evidence";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStatus {
    /// Waiting: for approvals, or for blocking gates to pass.
    Open,
    Completed,
    Rejected,
    Expired,
    /// Closed because the service was demoted while it was open.
    Demoted,
    /// Closed for another reason (withdrawn).
    Closed,
}

impl PromotionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionStatus::Open => "open",
            PromotionStatus::Completed => "completed",
            PromotionStatus::Rejected => "rejected",
            PromotionStatus::Expired => "expired",
            PromotionStatus::Demoted => "demoted",
            PromotionStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// Its signature verifies against allowed_signers and names `by`.
    pub signed: bool,
    /// The key that signed it (when recorded): people are counted by key.
    pub key: Option<String>,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: String,
    pub service: String,
    pub from: String,
    pub to: String,
    pub requester: String,
    /// The key that signed the request (when recorded).
    pub requester_key: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: PromotionStatus,
    pub approvals: Vec<Vote>,
    pub rejections: Vec<Vote>,
    /// The last validation's data (verdict, gates, blockers).
    pub validation: Option<serde_json::Value>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_reason: Option<String>,
    /// Seq of every record about it.
    pub records: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub state: String,
    pub since: DateTime<Utc>,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// In request order.
    pub promotions: Vec<Promotion>,
    pub states: BTreeMap<String, ServiceState>,
    pub records: u64,
    /// The newest evidence of each kind per service (later records win).
    pub evidence: BTreeMap<String, BTreeMap<EvidenceKind, EvidenceVerdict>>,
    /// Every evidence record, oldest first: (service, kind, verdict, seq).
    pub evidence_history: Vec<(String, EvidenceKind, EvidenceVerdict, u64)>,
}

fn ts(r: &Record) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&r.timestamp)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn text(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

impl Ledger {
    /// Fold the records. `signed_by(record, principal)` tells whether a record carries a
    /// valid signature of `principal` (verified against allowed_signers by the caller).
    pub fn fold<'r>(
        records: impl IntoIterator<Item = &'r Record>,
        signed_by: &dyn Fn(&Record, &str) -> bool,
    ) -> Ledger {
        let mut l = Ledger::default();
        l.extend(records, signed_by);
        l
    }

    /// Fold more records, the ones after those already folded: `fold(a ++ b)` is
    /// `fold(a)` then `extend(b)`.
    pub fn extend<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r Record>,
        signed_by: &dyn Fn(&Record, &str) -> bool,
    ) {
        let l = self;
        // A later request with the same ID is the one later records are about.
        let mut index: std::collections::HashMap<String, usize> = l
            .promotions
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        for r in records {
            l.records += 1;
            let d = &r.evidence.data;
            let at = ts(r);
            if r.evidence.kind == kind::EVIDENCE {
                let k: Option<EvidenceKind> = d
                    .get("evidence_kind")
                    .and_then(|k| serde_json::from_value(k.clone()).ok());
                if let Some(k) = k {
                    let v = EvidenceVerdict {
                        passed: d.get("passed").and_then(|x| x.as_bool()).unwrap_or(false),
                        summary: text(d, "summary"),
                        file: d
                            .get("artifacts")
                            .and_then(|a| a.get(0))
                            .and_then(|a| a.get("path"))
                            .and_then(|p| p.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        collected_at: at,
                        counts: d
                            .get("counts")
                            .and_then(|c| c.as_object())
                            .cloned()
                            .unwrap_or_default(),
                        // Records hold integers: the figure is scaled (figure_scale).
                        figure: d.get("figure").and_then(|f| f.as_f64()).map(|f| {
                            f / d
                                .get("figure_scale")
                                .and_then(|s| s.as_f64())
                                .filter(|s| *s > 0.0)
                                .unwrap_or(1.0)
                        }),
                    };
                    l.evidence
                        .entry(r.service.clone())
                        .or_default()
                        .insert(k, v.clone());
                    l.evidence_history.push((r.service.clone(), k, v, r.seq));
                }
                continue;
            }
            if r.evidence.kind == kind::REQUEST {
                index.insert(r.promotion_id.clone(), l.promotions.len());
                l.promotions.push(Promotion {
                    id: r.promotion_id.clone(),
                    service: r.service.clone(),
                    from: text(d, "from_state"),
                    to: text(d, "target_state"),
                    requester: text(d, "requester"),
                    requester_key: r.signer_key(),
                    requested_at: at,
                    expires_at: d
                        .get("expires_at")
                        .and_then(|x| x.as_str())
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .map(|d| d.with_timezone(&Utc)),
                    status: PromotionStatus::Open,
                    approvals: Vec::new(),
                    rejections: Vec::new(),
                    validation: None,
                    closed_at: None,
                    closed_reason: None,
                    records: vec![r.seq],
                });
                continue;
            }
            if matches!(r.evidence.kind.as_str(), kind::TRANSITION | kind::DEMOTION) {
                l.states.insert(
                    r.service.clone(),
                    ServiceState {
                        state: text(d, "to"),
                        since: at,
                        seq: r.seq,
                    },
                );
            }
            let Some(&i) = index.get(&r.promotion_id) else {
                continue;
            };
            let p = &mut l.promotions[i];
            p.records.push(r.seq);
            match r.evidence.kind.as_str() {
                kind::VALIDATION => p.validation = Some(d.clone()),
                kind::APPROVAL | kind::REJECTION => {
                    let by = text(d, "by");
                    let vote = Vote {
                        signed: signed_by(r, &by),
                        key: r.signer_key(),
                        by,
                        at,
                        reason: text(d, "reason"),
                        seq: r.seq,
                    };
                    if r.evidence.kind == kind::APPROVAL {
                        p.approvals.push(vote);
                    } else {
                        p.rejections.push(vote);
                        p.status = PromotionStatus::Rejected;
                        p.closed_at = Some(at);
                        p.closed_reason = Some(text(d, "reason"));
                    }
                }
                // A demotion completes its own promotion like a transition.
                kind::TRANSITION | kind::DEMOTION => {
                    p.status = PromotionStatus::Completed;
                    p.closed_at = Some(at);
                }
                kind::CLOSURE => {
                    p.status = match text(d, "status").as_str() {
                        "expired" => PromotionStatus::Expired,
                        "demoted" => PromotionStatus::Demoted,
                        "rejected" => PromotionStatus::Rejected,
                        _ => PromotionStatus::Closed,
                    };
                    p.closed_at = Some(at);
                    p.closed_reason = Some(text(d, "reason"));
                }
                _ => {}
            }
        }
    }

    /// What [`Ledger::fill`] needs and nothing more: states, the newest evidence, open
    /// promotions and the record count (no closed promotion, no evidence history).
    pub fn summary(&self) -> Ledger {
        Ledger {
            promotions: self
                .promotions
                .iter()
                .filter(|p| p.status == PromotionStatus::Open)
                .cloned()
                .collect(),
            states: self.states.clone(),
            records: self.records,
            evidence: self.evidence.clone(),
            evidence_history: Vec::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Promotion> {
        self.promotions.iter().find(|p| p.id == id)
    }

    /// The open promotion of a service, if any (at most one by construction).
    pub fn open_for(&self, service: &str) -> Option<&Promotion> {
        self.promotions
            .iter()
            .rev()
            .find(|p| p.service == service && p.status == PromotionStatus::Open)
    }

    /// Open promotions past their expiry at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> Vec<&Promotion> {
        self.promotions
            .iter()
            .filter(|p| p.status == PromotionStatus::Open && p.expires_at.is_some_and(|e| now >= e))
            .collect()
    }

    /// Put what the chain says into the facts: states, time in state, open requests.
    pub fn fill(&self, facts: &mut Facts) {
        for (svc, st) in &self.states {
            facts.states.insert(svc.clone(), st.state.clone());
            if let Some(sf) = facts.services.get_mut(svc) {
                sf.state_since = Known::Known(st.since);
            }
        }
        for (name, sf) in facts.services.iter_mut() {
            // The store is the evidence source: what is not on file is missing.
            sf.evidence = Known::Known(self.evidence.get(name).cloned().unwrap_or_default());
            if !self.states.contains_key(name) {
                sf.state_since = Known::unknown(
                    "no transition on record for this service (state from its config)",
                );
            }
            sf.request = Known::Known(self.open_for(name).map(|p| {
                Request {
                    requester: p.requester.clone(),
                    requester_key: p.requester_key.clone(),
                    to: p.to.clone(),
                    approvals: p
                        .approvals
                        .iter()
                        .map(|v| Approval {
                            by: v.by.clone(),
                            at: v.at,
                            signed: v.signed,
                            key: v.key.clone(),
                        })
                        .collect(),
                    rejections: p
                        .rejections
                        .iter()
                        .map(|v| Rejection {
                            by: v.by.clone(),
                            at: v.at,
                            reason: v.reason.clone(),
                        })
                        .collect(),
                }
            }));
        }
    }
}

/// Chain facts for the audit_trail gate from a verification's findings.
pub fn chain_facts(records: u64, first_problem: Option<String>, unverified: u64) -> ChainFacts {
    ChainFacts {
        records,
        problem: first_problem,
        unverified_signatures: unverified,
    }
}
