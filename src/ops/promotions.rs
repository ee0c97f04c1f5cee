//! Promotions: request (or re-check), approve, reject; expiry. Each takes the exclusive
//! chain lock, reads and folds the chain, decides, and appends signed records in one
//! fsynced write; on any refusal nothing is written. Who may vote is
//! `engine::authority`'s decision.

use super::store::{Writer, open_writer};
use super::{Ctx, EXIT_FAILED, EXIT_OK, EXIT_USAGE, OpsError, Said};
use crate::engine::authority::{self, Vote};
use crate::engine::facts::{Facts, Known, Request};
use crate::engine::ledger::{Promotion, PromotionStatus, kind};
use crate::engine::plan::{self, Plan, Verdict};
use crate::engine::resolver::DepGraph;
use crate::io::store::Draft;
use chrono::{DateTime, Utc};
use serde_json::json;

/// Open the writer and close expired promotions first (recorded, so the chain says why).
fn begin(ctx: &Ctx, said: &mut Said) -> Result<Writer, OpsError> {
    let mut w = open_writer(ctx)?;
    w.tell(said);
    let drafts: Vec<Draft> = w
        .ledger()
        .expired(w.now)
        .into_iter()
        .map(|p| Draft {
            promotion_id: p.id.clone(),
            service: p.service.clone(),
            kind: kind::CLOSURE.into(),
            data: json!({
                "status": "expired",
                "reason": format!(
                    "not completed before {}",
                    p.expires_at.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
                ),
            }),
        })
        .collect();
    for d in &drafts {
        said.err
            .push(format!("{} expired and is closed", d.promotion_id));
    }
    w.append(drafts)?;
    Ok(w)
}

fn validation_data(p: &Plan) -> serde_json::Value {
    let check = |c: &crate::engine::gates::CheckResult| json!({"check": c.check, "status": c.status, "reason": c.reason});
    json!({
        "verdict": p.verdict,
        "from": p.from,
        "to": p.to,
        "requirements": p.requirements.iter().map(check).collect::<Vec<_>>(),
        "gates": p.gates.iter().map(|g| json!({
            "gate": g.gate,
            "type": g.kind,
            "stage": g.stage,
            "status": g.status,
            "checks": g.checks.iter().map(check).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "blockers": p.blockers,
    })
}

/// The record that completes a promotion when its plan is ready.
fn completion(p: &Promotion, plan: &Plan) -> Option<Draft> {
    if plan.verdict != Verdict::Ready {
        return None;
    }
    let k = if plan.demotion.is_some() {
        kind::DEMOTION
    } else {
        kind::TRANSITION
    };
    Some(Draft {
        promotion_id: p.id.clone(),
        service: p.service.clone(),
        kind: k.into(),
        data: json!({
            "from": plan.from,
            "to": plan.to,
            "approvals": p.approvals.iter().filter(|v| v.signed).map(|v| v.by.clone()).collect::<Vec<_>>(),
            "demotion_reason": plan.demotion,
        }),
    })
}

fn outcome(id: &str, plan: &Plan, completed: bool, said: &mut Said) {
    if completed {
        said.out.push(format!(
            "{id}: {} is now `{}` ({} -> {})",
            plan.service, plan.to, plan.from, plan.to
        ));
        return;
    }
    match plan.verdict {
        Verdict::AwaitingApproval => {
            // Who is still needed, as the approval check says it (never the requester).
            let needs = plan
                .gates
                .iter()
                .flat_map(|g| &g.checks)
                .filter(|c| c.status == crate::engine::gates::Status::Pending)
                .find_map(|c| c.reason.split_once("needs ").map(|(_, n)| n.to_string()))
                .map(|n| format!(": needs {}", n.split(';').next().unwrap_or(&n)))
                .unwrap_or_default();
            said.out
                .push(format!("{id}: recorded, awaiting approval{needs}"));
            said.err.push(format!(
                "next: an approver runs `gander approve {id}` (or `a` in the console's Approvals panel)"
            ));
        }
        _ => said.out.push(format!(
            "{id}: recorded, blocked by {}; it completes when every gate passes (re-check with the same `gander promote`):",
            plan.blockers.first().map_or("a gate", |b| b.as_str())
        )),
    }
    for b in &plan.blockers {
        said.out.push(format!("  {b}"));
    }
    for g in plan.gates.iter().filter(|g| g.holds()) {
        for c in g
            .checks
            .iter()
            .filter(|c| c.status == crate::engine::gates::Status::Pending)
        {
            said.out
                .push(format!("  waiting: {}: {}", c.check, c.reason));
        }
    }
}

/// Request a promotion (or re-check the open one to the same state).
pub fn request(
    ctx: &Ctx,
    graph: &DepGraph,
    live: Facts,
    service: &str,
    to: &str,
    reason: &str,
) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let mut s = match begin(ctx, &mut said) {
        Ok(s) => s,
        Err(e) => return said.error(e),
    };
    let ledger = s.ledger();
    let me = s.signer.principal.clone();
    let mut facts = s.facts(live);
    let mut open = ledger.open_for(service).cloned();
    let sm = crate::engine::state_machine::StateMachine::new(&config.rules);
    let from_state = facts.states.get(service).cloned().unwrap_or_default();
    let demotion = sm.demotion_reason(&from_state, to).is_some();
    let mut closing = Vec::new();
    if let Some(p) = open.as_ref().filter(|p| p.to != to && demotion) {
        // A demotion (a compliance violation) overrides an open promotion: that one is
        // closed first, on the record, with the reason.
        said.err.push(format!(
            "{} ({} -> {}) is closed: {service} is being demoted to `{to}`",
            p.id, p.from, p.to
        ));
        closing.push(Draft {
            promotion_id: p.id.clone(),
            service: service.to_string(),
            kind: kind::CLOSURE.into(),
            data: json!({"status": "demoted", "reason": format!("{service} demoted to `{to}`: {reason}")}),
        });
        open = None;
    }
    if let Some(p) = &open {
        if p.to != to {
            let secs = |d: DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            return said.fail(
                EXIT_FAILED,
                format!(
                    "{service} already has an open promotion, {} to `{}`, requested by {} at {}\n  help: approve or reject it (`gander approve {}` / `gander reject {} --reason …`), or wait for it to expire{}",
                    p.id,
                    p.to,
                    p.requester,
                    secs(p.requested_at),
                    p.id,
                    p.id,
                    p.expires_at.map(|e| format!(" at {}", secs(e))).unwrap_or_default()
                ),
            );
        }
    } else if let Some(sf) = facts.services.get_mut(service) {
        // Evaluate as the request this will be.
        sf.request = Known::Known(Some(Request {
            requester: me.clone(),
            requester_key: Some(s.signer.fingerprint.clone()),
            to: to.to_string(),
            approvals: Vec::new(),
            rejections: Vec::new(),
        }));
    }
    let Some(plan) = plan::plan(config, graph, &facts, service, to) else {
        return said.fail(EXIT_USAGE, format!("no service `{service}`"));
    };
    if plan.verdict == Verdict::Refused {
        if let Some(r) = &plan.refusal {
            said.err.push(r.to_string());
        }
        return said.fail(
            EXIT_FAILED,
            "nothing recorded: the state machine refuses this transition",
        );
    }
    let mut drafts = closing;
    let promotion = match open {
        Some(p) => {
            said.out
                .push(format!("{}: re-checking the open promotion", p.id));
            p
        }
        None => {
            let id = authority::promotion_id(s.now, s.next_seq());
            let svc = config.service(service).map(|x| &x.def);
            let expires =
                s.now + chrono::Duration::seconds(config.org.approval.expiry.secs() as i64);
            drafts.push(Draft {
                promotion_id: id.clone(),
                service: service.to_string(),
                kind: kind::REQUEST.into(),
                data: json!({
                    "service": service,
                    "target_state": to,
                    "from_state": plan.from,
                    "requester": me,
                    "reason": reason,
                    "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "evidence_refs": Vec::<String>::new(),
                    "dependencies": {
                        "required": svc.map(|d| d.spec.dependencies.all().map(|(_, n)| n.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
                        "optional": Vec::<String>::new(),
                    },
                }),
            });
            Promotion {
                id,
                service: service.to_string(),
                from: plan.from.clone(),
                to: to.to_string(),
                requester: me.clone(),
                requester_key: Some(s.signer.fingerprint.clone()),
                requested_at: s.now,
                expires_at: Some(expires),
                status: PromotionStatus::Open,
                approvals: Vec::new(),
                rejections: Vec::new(),
                validation: None,
                closed_at: None,
                closed_reason: None,
                records: Vec::new(),
            }
        }
    };
    drafts.push(Draft {
        promotion_id: promotion.id.clone(),
        service: service.to_string(),
        kind: kind::VALIDATION.into(),
        data: validation_data(&plan),
    });
    let done = completion(&promotion, &plan);
    let completed = done.is_some();
    drafts.extend(done);
    let appended = s.append(drafts);
    s.tell(&mut said);
    if let Err(e) = appended {
        return said.error(e);
    }
    said.subject = Some(promotion.id.clone());
    outcome(&promotion.id, &plan, completed, &mut said);
    said.code = match plan.verdict {
        Verdict::Ready | Verdict::AwaitingApproval => EXIT_OK,
        _ => EXIT_FAILED,
    };
    said
}

/// Approve or reject a promotion: the shared core of the CLI and the console.
pub fn cast(ctx: &Ctx, live: Facts, id: &str, reason: &str, vote: Vote) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let approve = vote == Vote::Approve;
    if !approve && reason.trim().is_empty() {
        return said.fail(EXIT_USAGE, "a rejection needs a reason");
    }
    let mut s = match begin(ctx, &mut said) {
        Ok(s) => s,
        Err(e) => return said.error(e),
    };
    let ledger = s.ledger();
    let me = s.signer.principal.clone();
    let Some(p) = ledger.get(id).cloned() else {
        // An open promotion is what one votes on: suggest among those first.
        let open: Vec<&str> = ledger
            .promotions
            .iter()
            .filter(|p| p.status == crate::engine::ledger::PromotionStatus::Open)
            .map(|p| p.id.as_str())
            .collect();
        let ids: Vec<&str> = ledger.promotions.iter().map(|p| p.id.as_str()).collect();
        let help = crate::engine::diag::suggest(id, open.iter().copied())
            .or_else(|| crate::engine::diag::suggest(id, ids.iter().copied()))
            .unwrap_or_else(|| "`gander promotions` lists them".into());
        return said.fail(EXIT_USAGE, format!("no promotion `{id}`\n  help: {help}"));
    };
    said.subject = Some(p.id.clone());
    if let Err(r) = authority::may_vote(config, &p, &me, Some(&s.signer.fingerprint), vote) {
        return said.fail(EXIT_FAILED, format!("{r}; nothing recorded"));
    }
    let vote = Draft {
        promotion_id: p.id.clone(),
        service: p.service.clone(),
        kind: if approve {
            kind::APPROVAL
        } else {
            kind::REJECTION
        }
        .into(),
        data: json!({"by": me, "reason": reason}),
    };
    let appended = s.append(vec![vote]);
    s.tell(&mut said);
    if let Err(e) = appended {
        return said.error(e);
    }
    if !approve {
        said.out
            .push(format!("{}: rejected by {me}: {reason}", p.id));
        return said;
    }
    // Re-evaluate with the approval in.
    let ledger = s.ledger();
    let p = ledger.get(id).cloned().unwrap_or(p);
    let facts = s.facts(live);
    let graph = DepGraph::from_config(config);
    let Some(plan) = plan::plan(config, &graph, &facts, &p.service, &p.to) else {
        return said.fail(EXIT_USAGE, format!("no service `{}`", p.service));
    };
    let mut drafts = vec![Draft {
        promotion_id: p.id.clone(),
        service: p.service.clone(),
        kind: kind::VALIDATION.into(),
        data: validation_data(&plan),
    }];
    let done = completion(&p, &plan);
    let completed = done.is_some();
    drafts.extend(done);
    let appended = s.append(drafts);
    s.tell(&mut said);
    if let Err(e) = appended {
        return said.error(e);
    }
    said.out.push(format!("{}: approved by {me}", p.id));
    outcome(&p.id, &plan, completed, &mut said);
    said
}
