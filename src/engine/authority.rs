//! Who may do what, decided once. The approval dialog, the Approvals panel, `gander
//! approve`, the gates, package stages and runbook approval steps all ask these
//! functions, so they agree by construction.
//!
//! People are named by principal here; the principal comes from a verified signature
//! (the store checks it), never from `$USER`.

use super::config::Config;
use super::ledger::{Promotion, PromotionStatus};
use chrono::{DateTime, Utc};
use std::fmt;

/// The two votes on a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Approve,
    Reject,
}

/// Why a person may not do something. Its text is what every front end shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Four-eyes: the requester (or whoever started a walk) cannot approve it.
    FourEyes {
        who: String,
        subject: String,
        others: Vec<String>,
    },
    /// Four-eyes on a runbook walk: who started it cannot approve its steps.
    FourEyesStep { who: String, walk: String },
    AlreadyApproved {
        who: String,
        subject: String,
        at: DateTime<Utc>,
    },
    NotAnApprover {
        who: String,
        service: String,
        eligible: Vec<String>,
    },
    Closed {
        subject: String,
        status: String,
        reason: Option<String>,
    },
}

impl Refusal {
    /// The refusal as told to the person themselves: "you (alice) …".
    pub fn to_you(&self) -> String {
        self.text(&format!("you ({})", self.who()))
    }

    /// The person refused.
    pub fn who(&self) -> &str {
        match self {
            Refusal::FourEyes { who, .. }
            | Refusal::FourEyesStep { who, .. }
            | Refusal::AlreadyApproved { who, .. }
            | Refusal::NotAnApprover { who, .. } => who,
            Refusal::Closed { .. } => "",
        }
    }

    fn text(&self, who: &str) -> String {
        match self {
            Refusal::FourEyes {
                subject, others, ..
            } => {
                let mut t = format!("four-eyes: {who} requested {subject} and cannot approve it");
                if !others.is_empty() {
                    t.push_str(&format!("; another approver must ({})", others.join(", ")));
                }
                t
            }
            Refusal::FourEyesStep { walk, .. } => {
                format!("four-eyes: {who} started this walk ({walk}) and cannot approve its steps")
            }
            Refusal::AlreadyApproved { subject, at, .. } => format!(
                "{who} already approved {subject} at {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Refusal::NotAnApprover {
                service, eligible, ..
            } => format!(
                "{who} is not an approver of {service} (approvers: {})",
                if eligible.is_empty() {
                    "none configured".to_string()
                } else {
                    eligible.join(", ")
                }
            ),
            Refusal::Closed {
                subject,
                status,
                reason,
            } => format!(
                "{subject} is {status}{}",
                reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(self.who()))
    }
}

/// Everyone who may approve promotions of `service` (groups expanded).
pub fn approvers(config: &Config, service: &str) -> Vec<String> {
    config
        .service(service)
        .map(|s| config.approvers_of(&s.def))
        .unwrap_or_default()
}

/// Is `who` barred from approving what `requester` asked for? (four-eyes)
pub fn own_request(config: &Config, requester: &str, who: &str) -> bool {
    config.org.approval.four_eyes && requester == who
}

/// The approvers of `service` who may approve `requester`'s promotion: never the
/// requester when four-eyes is on. This is the list a person is shown.
pub fn approvers_besides(config: &Config, service: &str, requester: &str) -> Vec<String> {
    approvers(config, service)
        .into_iter()
        .filter(|e| !own_request(config, requester, e))
        .collect()
}

/// May `who` cast `vote` on promotion `p`? Approvers may approve or reject; the
/// requester may withdraw by rejecting but never approve their own (four-eyes); a
/// person's second signed approval is refused; a closed promotion takes no votes.
pub fn may_vote(config: &Config, p: &Promotion, who: &str, vote: Vote) -> Result<(), Refusal> {
    if p.status != PromotionStatus::Open {
        return Err(Refusal::Closed {
            subject: p.id.clone(),
            status: p.status.as_str().to_string(),
            reason: p.closed_reason.clone(),
        });
    }
    let eligible = approvers(config, &p.service);
    if vote == Vote::Approve {
        if own_request(config, &p.requester, who) {
            return Err(Refusal::FourEyes {
                who: who.to_string(),
                subject: p.id.clone(),
                others: approvers_besides(config, &p.service, &p.requester),
            });
        }
        if let Some(v) = p.approvals.iter().find(|v| v.by == who && v.signed) {
            return Err(Refusal::AlreadyApproved {
                who: who.to_string(),
                subject: p.id.clone(),
                at: v.at,
            });
        }
    }
    let withdrawing = vote == Vote::Reject && who == p.requester;
    if !eligible.iter().any(|e| e == who) && !withdrawing {
        return Err(Refusal::NotAnApprover {
            who: who.to_string(),
            service: p.service.clone(),
            eligible,
        });
    }
    Ok(())
}

/// One approval as the gate sees it.
pub struct Ballot<'a> {
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub signed: bool,
}

/// Which approvals of `requester`'s promotion of `service` count at `now`: the counted
/// principals, and for each approval that does not count, why not.
pub fn count_approvals<'a>(
    config: &Config,
    service: &str,
    requester: &str,
    ballots: impl IntoIterator<Item = Ballot<'a>>,
    now: DateTime<Utc>,
) -> (Vec<&'a str>, Vec<(&'a str, &'static str)>) {
    let policy = &config.org.approval;
    let eligible = approvers(config, service);
    let mut counted: Vec<&str> = Vec::new();
    let mut ignored = Vec::new();
    for a in ballots {
        let why_not = if !a.signed {
            Some("unsigned")
        } else if own_request(config, requester, a.by) {
            Some("the requester's own")
        } else if !eligible.iter().any(|e| e == a.by) {
            Some("not an eligible approver")
        } else if (now - a.at).num_seconds() > policy.expiry.secs() as i64 {
            Some("expired")
        } else if counted.contains(&a.by) {
            Some("a second approval by the same person")
        } else {
            None
        };
        match why_not {
            None => counted.push(a.by),
            Some(w) => ignored.push((a.by, w)),
        }
    }
    (counted, ignored)
}

/// May `who` approve a package's promotion to a stage that `requester` asked for?
/// Always four-eyes: a release to a guarded stage is never approved by its requester.
pub fn may_approve_stage(package: &str, requester: &str, who: &str) -> Result<(), Refusal> {
    if requester == who {
        return Err(Refusal::FourEyes {
            who: who.to_string(),
            subject: package.to_string(),
            others: Vec::new(),
        });
    }
    Ok(())
}

/// Has a package's stage request been approved by someone other than its requester?
pub fn stage_approved(requester: &str, approvers: &[String]) -> bool {
    approvers
        .iter()
        .any(|a| may_approve_stage("", requester, a).is_ok())
}

/// May `who` approve an approval step of a walk `started_by` started? Never the same
/// person.
pub fn may_approve_step(walk: &str, started_by: &str, who: &str) -> Result<(), Refusal> {
    if started_by == who {
        return Err(Refusal::FourEyesStep {
            who: who.to_string(),
            walk: walk.to_string(),
        });
    }
    Ok(())
}

/// A promotion's ID: `PRM-YYYYMMDD-SEQ`, SEQ the chain seq of its request record.
pub fn promotion_id(now: DateTime<Utc>, seq: u64) -> String {
    format!("PRM-{}-{seq:06}", now.format("%Y%m%d"))
}

/// A runbook walk's ID: `RBW-YYYYMMDD-SEQ`, SEQ the chain seq of its start record.
pub fn walk_id(now: DateTime<Utc>, seq: u64) -> String {
    format!("RBW-{}-{seq:06}", now.format("%Y%m%d"))
}
