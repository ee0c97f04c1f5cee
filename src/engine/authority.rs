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
        // Whom to ask instead: never the requester (four-eyes).
        return Err(Refusal::NotAnApprover {
            who: who.to_string(),
            service: p.service.clone(),
            eligible: approvers_besides(config, &p.service, &p.requester),
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

/// Does reaching `to` (not a demotion) need approvals: a requirement of the state, or a
/// gate of it that holds (blocking or manual) checking `approved_promotion`?
pub fn needs_approval(config: &Config, to: &str) -> bool {
    use super::policy::{Check, CheckRef, GateType};
    let Some(def) = config.rules.states.get(to) else {
        return false;
    };
    CheckRef::known(&def.requirements).any(|c| c == Check::ApprovedPromotion)
        || def.gates.iter().any(|g| {
            config.gates.gates.get(g).is_some_and(|g| {
                g.kind != GateType::Advisory
                    && CheckRef::known(&g.checks).any(|c| c == Check::ApprovedPromotion)
            })
        })
}

/// Transitions the chain's own records do not justify, as (seq, why): a completion of a
/// promotion that was never requested or already closed, one that does not match its
/// request, or one whose target needs approval recorded without a signed approval by
/// someone other than the requester. A signature proves who wrote a record, not that
/// the rules allowed it; this checks what holds whatever the policy says today.
pub fn unjustified<'r>(
    config: &Config,
    records: impl IntoIterator<Item = &'r super::chain::Record>,
    signed_by: &dyn Fn(&super::chain::Record, &str) -> bool,
) -> Vec<(u64, String)> {
    Tally::default().extend(config, records, signed_by)
}

/// What [`unjustified`] remembers of the records it has read: each open promotion's
/// request and signed ballots, and the IDs of the closed ones.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    promos: std::collections::HashMap<String, Asked>,
    closed: std::collections::HashSet<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Asked {
    service: String,
    to: String,
    requester: String,
    requester_key: Option<String>,
    /// (by, key, signed)
    ballots: Vec<(String, Option<String>, bool)>,
}

impl Tally {
    /// The records after those already read that the records so far do not justify.
    pub fn extend<'r>(
        &mut self,
        config: &Config,
        records: impl IntoIterator<Item = &'r super::chain::Record>,
        signed_by: &dyn Fn(&super::chain::Record, &str) -> bool,
    ) -> Vec<(u64, String)> {
        use super::ledger::kind;
        let text = |r: &super::chain::Record, k: &str| {
            r.evidence
                .data
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let Tally { promos, closed } = self;
        let mut out = Vec::new();
        for r in records {
            match r.evidence.kind.as_str() {
                kind::REQUEST => {
                    if promos.contains_key(r.promotion_id.as_str())
                        || closed.contains(r.promotion_id.as_str())
                    {
                        out.push((
                            r.seq,
                            format!("a second request with the ID {}", r.promotion_id),
                        ));
                        continue;
                    }
                    promos.insert(
                        r.promotion_id.clone(),
                        Asked {
                            service: r.service.clone(),
                            to: text(r, "target_state"),
                            requester: text(r, "requester"),
                            requester_key: r.signer_key(),
                            ballots: Vec::new(),
                        },
                    );
                }
                kind::APPROVAL => {
                    if let Some(p) = promos.get_mut(r.promotion_id.as_str()) {
                        let by = text(r, "by");
                        let signed = signed_by(r, &by);
                        p.ballots.push((by, r.signer_key(), signed));
                    }
                }
                kind::REJECTION | kind::CLOSURE
                    if promos.remove(r.promotion_id.as_str()).is_some() =>
                {
                    closed.insert(r.promotion_id.clone());
                }
                kind::TRANSITION | kind::DEMOTION => {
                    let Some(p) = promos.remove(r.promotion_id.as_str()) else {
                        out.push((
                            r.seq,
                            if closed.contains(r.promotion_id.as_str()) {
                                format!("completes {}, which was already closed", r.promotion_id)
                            } else {
                                format!(
                                    "changes {}'s state with no request on record ({})",
                                    r.service, r.promotion_id
                                )
                            },
                        ));
                        continue;
                    };
                    closed.insert(r.promotion_id.clone());
                    if p.service != r.service || p.to != text(r, "to") {
                        out.push((
                            r.seq,
                            format!(
                                "does not match its request {} ({} -> {})",
                                r.promotion_id, p.service, p.to
                            ),
                        ));
                    } else if r.evidence.kind == kind::TRANSITION && needs_approval(config, &p.to) {
                        // At least one signed approval by someone other than the requester
                        // (by name and key). How many more the policy wanted, and who was
                        // eligible, may have changed since; this holds whatever the policy.
                        let mut people: Vec<(&str, Option<&str>)> = Vec::new();
                        for (by, key, signed) in &p.ballots {
                            if *signed
                                && !own_request(
                                    config,
                                    &p.requester,
                                    p.requester_key.as_deref(),
                                    by,
                                    key.as_deref(),
                                )
                                && !people
                                    .iter()
                                    .any(|(b, k)| same_person(b, *k, by, key.as_deref()))
                            {
                                people.push((by, key.as_deref()));
                            }
                        }
                        if people.is_empty() {
                            out.push((
                                r.seq,
                                format!(
                                    "completes {} without a signed approval by anyone but its requester {}",
                                    r.promotion_id, p.requester
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// What of `config` [`unjustified`] depends on, as a digest: whether four-eyes holds and
/// which states need an approval. A fold remembered under another digest is redone.
pub fn rules_digest(config: &Config) -> String {
    let mut text = format!("four_eyes={}\n", config.org.approval.four_eyes);
    let mut states: Vec<&String> = config.rules.states.keys().collect();
    states.sort();
    for s in states {
        if needs_approval(config, s) {
            text.push_str(s);
            text.push('\n');
        }
    }
    super::chain::sha256_hex(text.as_bytes())
}
