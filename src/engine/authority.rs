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
    /// One key under two names is one person: its second approval is refused.
    SameKey {
        who: String,
        other: String,
        subject: String,
        key: String,
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
            | Refusal::SameKey { who, .. }
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
            Refusal::SameKey {
                other,
                subject,
                key,
                ..
            } => format!(
                "{who} signs with key {key}, the key `{other}` used on {subject}: one key is one person, whatever names it is listed under"
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

/// The same person: the same principal, or the same key (when both are known).
pub fn same_person(a: &str, a_key: Option<&str>, b: &str, b_key: Option<&str>) -> bool {
    a == b || matches!((a_key, b_key), (Some(x), Some(y)) if x == y)
}

/// Is `who` (signing with `who_key`) barred from approving what `requester` asked for?
/// (four-eyes, by name and by key)
pub fn own_request(
    config: &Config,
    requester: &str,
    requester_key: Option<&str>,
    who: &str,
    who_key: Option<&str>,
) -> bool {
    config.org.approval.four_eyes && same_person(requester, requester_key, who, who_key)
}

/// The approvers of `service` who may approve `requester`'s promotion: never the
/// requester when four-eyes is on. This is the list a person is shown.
pub fn approvers_besides(config: &Config, service: &str, requester: &str) -> Vec<String> {
    approvers(config, service)
        .into_iter()
        .filter(|e| !own_request(config, requester, None, e, None))
        .collect()
}

/// May `who` cast `vote` on promotion `p`? Approvers may approve or reject; the
/// requester may withdraw by rejecting but never approve their own (four-eyes); a
/// person's second signed approval is refused; a closed promotion takes no votes.
pub fn may_vote(
    config: &Config,
    p: &Promotion,
    who: &str,
    who_key: Option<&str>,
    vote: Vote,
) -> Result<(), Refusal> {
    if p.status != PromotionStatus::Open {
        return Err(Refusal::Closed {
            subject: p.id.clone(),
            status: p.status.as_str().to_string(),
            reason: p.closed_reason.clone(),
        });
    }
    let eligible = approvers(config, &p.service);
    if vote == Vote::Approve {
        if own_request(
            config,
            &p.requester,
            p.requester_key.as_deref(),
            who,
            who_key,
        ) {
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
        if let Some(v) = p
            .approvals
            .iter()
            .find(|v| v.signed && same_person(&v.by, v.key.as_deref(), who, who_key))
        {
            return Err(Refusal::SameKey {
                who: who.to_string(),
                other: v.by.clone(),
                subject: p.id.clone(),
                key: who_key.unwrap_or_default().to_string(),
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
    pub key: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub signed: bool,
}

/// Which approvals of `requester`'s promotion of `service` count at `now`: the counted
/// principals, and for each approval that does not count, why not.
pub fn count_approvals<'a>(
    config: &Config,
    service: &str,
    requester: &str,
    requester_key: Option<&str>,
    ballots: impl IntoIterator<Item = Ballot<'a>>,
    now: DateTime<Utc>,
) -> (Vec<&'a str>, Vec<(&'a str, &'static str)>) {
    let policy = &config.org.approval;
    let eligible = approvers(config, service);
    let mut counted: Vec<&str> = Vec::new();
    let mut counted_keys: Vec<&str> = Vec::new();
    let mut ignored = Vec::new();
    for a in ballots {
        let why_not = if !a.signed {
            Some("unsigned")
        } else if own_request(config, requester, requester_key, a.by, a.key) {
            Some("the requester's own (by name or key)")
        } else if a.key.is_some_and(|k| counted_keys.contains(&k)) {
            Some("a second approval with the same key: one key is one person")
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
            None => {
                counted.push(a.by);
                counted_keys.extend(a.key);
            }
            Some(w) => ignored.push((a.by, w)),
        }
    }
    (counted, ignored)
}

/// May `who` approve a package's promotion to a stage that `requester` asked for?
/// Always four-eyes: a release to a guarded stage is never approved by its requester.
pub fn may_approve_stage(
    package: &str,
    requester: &str,
    requester_key: Option<&str>,
    who: &str,
    who_key: Option<&str>,
) -> Result<(), Refusal> {
    if same_person(requester, requester_key, who, who_key) {
        return Err(Refusal::FourEyes {
            who: who.to_string(),
            subject: package.to_string(),
            others: Vec::new(),
        });
    }
    Ok(())
}

/// Has a package's stage request been approved by someone other than its requester
/// (by name and by key)?
pub fn stage_approved(
    requester: &str,
    requester_key: Option<&str>,
    approvers: &[String],
    approver_keys: &[Option<String>],
) -> bool {
    approvers.iter().enumerate().any(|(i, a)| {
        let key = approver_keys.get(i).and_then(|k| k.as_deref());
        may_approve_stage("", requester, requester_key, a, key).is_ok()
    })
}

/// May `who` approve an approval step of a walk `started_by` started? Never the same
/// person.
pub fn may_approve_step(
    walk: &str,
    started_by: &str,
    started_key: Option<&str>,
    who: &str,
    who_key: Option<&str>,
) -> Result<(), Refusal> {
    if same_person(started_by, started_key, who, who_key) {
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
