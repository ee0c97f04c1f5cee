//! The commands that write to the chain: `promote` (without --dry-run), `approve`,
//! `reject`. Each takes the exclusive chain lock, reads and folds the chain, decides,
//! and appends signed records in one fsynced write; on any refusal nothing is written.
//! The cores ([`request`], [`cast`]) return what they have to say, so the CLI prints it
//! and the console shows it.

use super::store_ctx;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::engine::config::Config;
use crate::engine::facts::{Facts, Known, Request};
use crate::engine::ledger::{Ledger, Promotion, PromotionStatus, kind};
use crate::engine::plan::{self, Plan, Verdict};
use crate::engine::resolver::DepGraph;
use crate::io::store::{ChainRead, Draft, Lock, Signer, Store};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::path::{Path, PathBuf};

/// What a writing command says: lines for stdout, lines for stderr, an exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    pub out: Vec<String>,
    pub err: Vec<String>,
    pub code: i32,
}

impl Said {
    fn fail(mut self, code: i32, msg: impl Into<String>) -> Said {
        self.err.push(msg.into());
        self.code = code;
        self
    }

    /// Print as text, or as a JSON document `{version, kind: "outcome", code, out, err}`.
    pub fn emit(self, json: bool) -> i32 {
        if !json {
            return self.print();
        }
        super::output::print_json(
            "outcome",
            &serde_json::json!({"code": self.code, "out": self.out, "err": self.err}),
        );
        self.code
    }

    /// Print to the terminal (CLI) and return the exit code.
    pub fn print(self) -> i32 {
        for l in &self.out {
            println!("{l}");
        }
        for l in &self.err {
            eprintln!("gander: {l}");
        }
        self.code
    }
}

/// Everything a writing command holds while it decides.
struct Session {
    store: Store,
    lock: Lock,
    read: ChainRead,
    signer: Signer,
    signers: crate::engine::identity::AllowedSigners,
    now: DateTime<Utc>,
}

fn begin(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    key: Option<&Path>,
    said: &mut Said,
) -> Result<Session, i32> {
    let w = store_ctx::open_writer(config, config_dir, state, key, said)?;
    Ok(Session {
        store: w.store,
        lock: w.lock,
        read: w.read,
        signer: w.signer,
        signers: w.signers,
        now: Utc::now(),
    })
}

impl Session {
    fn ledger(&self) -> Ledger {
        Ledger::fold(
            &store_ctx::records(&self.read),
            &store_ctx::signed_by(Some(&self.signers)),
        )
    }

    fn append(&mut self, drafts: Vec<Draft>, said: &mut Said) -> Result<(), i32> {
        if drafts.is_empty() {
            return Ok(());
        }
        let recs = self
            .store
            .append(&self.lock, &self.read, drafts, &self.signer, self.now)
            .map_err(|e| {
                said.err.push(e.to_string());
                EXIT_FAILED
            })?;
        if let Err(e) = self.store.write_layout(&recs) {
            said.err.push(format!(
                "warning: the chain is written but its audit copy is not: {e}"
            ));
        }
        let base = self.read.records.last().map_or(0, |(l, _)| *l);
        for (i, r) in recs.into_iter().enumerate() {
            self.read.records.push((base + i + 1, r));
        }
        Ok(())
    }

    /// Close open promotions that have expired (recorded, so the chain says why).
    fn expire(&mut self, said: &mut Said) -> Result<(), i32> {
        let ledger = self.ledger();
        let drafts: Vec<Draft> = ledger
            .expired(self.now)
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
        self.append(drafts, said)
    }

    /// Facts: live ones from the caller, plus the chain's.
    fn facts(&self, mut facts: Facts) -> Facts {
        store_ctx::apply(&self.store, &self.read, Some(&self.signers), &mut facts);
        facts
    }
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
        Verdict::AwaitingApproval => said.out.push(format!("{id}: open, awaiting approval")),
        _ => said.out.push(format!(
            "{id}: open but blocked; it completes when every gate passes (re-check with the same `gander promote`):"
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

/// `gander promote SERVICE --to STATE` (recording), for the CLI.
pub fn promote(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    graph: &DepGraph,
    live: Facts,
    args: &super::promote::Args,
) -> i32 {
    request(
        config,
        config_dir,
        state,
        graph,
        live,
        &args.service,
        &args.to,
        &args.reason,
        args.key.as_deref(),
    )
    .print()
}

/// Request a promotion (or re-check the open one to the same state).
#[allow(clippy::too_many_arguments)]
pub fn request(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    graph: &DepGraph,
    live: Facts,
    service: &str,
    to: &str,
    reason: &str,
    key: Option<&Path>,
) -> Said {
    let mut said = Said::default();
    let mut s = match begin(config, config_dir, state, key, &mut said) {
        Ok(s) => s,
        Err(c) => {
            said.code = c;
            return said;
        }
    };
    if let Err(c) = s.expire(&mut said) {
        said.code = c;
        return said;
    }
    let ledger = s.ledger();
    let me = s.signer.principal.clone();
    let mut facts = s.facts(live);
    let open = ledger.open_for(service).cloned();
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
    let mut drafts = Vec::new();
    let promotion = match open {
        Some(p) => {
            said.out
                .push(format!("{}: re-checking the open promotion", p.id));
            p
        }
        None => {
            let next_seq = s.read.records.last().map_or(1, |(_, r)| r.seq + 1);
            let id = format!("PRM-{}-{:06}", s.now.format("%Y%m%d"), next_seq);
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
    if let Err(c) = s.append(drafts, &mut said) {
        said.code = c;
        return said;
    }
    outcome(&promotion.id, &plan, completed, &mut said);
    said.code = match plan.verdict {
        Verdict::Ready | Verdict::AwaitingApproval => EXIT_OK,
        _ => EXIT_FAILED,
    };
    said
}

#[derive(Debug, clap::Args)]
pub struct VoteArgs {
    /// The promotion (PRM-…), as `gander promotions` lists it
    pub id: String,
    /// Why (required to reject)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// The OpenSSH ed25519 private key to sign with
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Do not poll the services before re-evaluating
    #[arg(long)]
    pub offline: bool,
}

/// `gander approve ID` and `gander reject ID --reason`, for the CLI.
pub fn vote(
    config_flag: Option<PathBuf>,
    state: Option<PathBuf>,
    args: VoteArgs,
    approve: bool,
) -> i32 {
    if !approve && args.reason.trim().is_empty() {
        eprintln!("gander: a rejection needs a reason: --reason \"…\"");
        return EXIT_USAGE;
    }
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut live = Facts::from_config(&config, Utc::now());
    if approve && !args.offline {
        if let Err(c) = super::live::poll_once(&config, &mut live) {
            return c;
        }
    }
    cast(
        &config,
        &located.dir,
        state.as_deref(),
        live,
        &args.id,
        &args.reason,
        args.key.as_deref(),
        approve,
    )
    .print()
}

/// Approve or reject a promotion: the shared core of the CLI and the console.
#[allow(clippy::too_many_arguments)]
pub fn cast(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    live: Facts,
    id: &str,
    reason: &str,
    key: Option<&Path>,
    approve: bool,
) -> Said {
    let mut said = Said::default();
    if !approve && reason.trim().is_empty() {
        return said.fail(EXIT_USAGE, "a rejection needs a reason");
    }
    let mut s = match begin(config, config_dir, state, key, &mut said) {
        Ok(s) => s,
        Err(c) => {
            said.code = c;
            return said;
        }
    };
    if let Err(c) = s.expire(&mut said) {
        said.code = c;
        return said;
    }
    let ledger = s.ledger();
    let me = s.signer.principal.clone();
    let Some(p) = ledger.get(id).cloned() else {
        let ids: Vec<&str> = ledger.promotions.iter().map(|p| p.id.as_str()).collect();
        let help = crate::engine::diag::suggest(id, ids.iter().copied())
            .unwrap_or_else(|| "`gander promotions` lists them".into());
        return said.fail(EXIT_USAGE, format!("no promotion `{id}`\n  help: {help}"));
    };
    if p.status != PromotionStatus::Open {
        return said.fail(
            EXIT_FAILED,
            format!(
                "{} is {}{}; nothing recorded",
                p.id,
                p.status.as_str(),
                p.closed_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
    }
    let svc = config.service(&p.service).map(|x| &x.def);
    let eligible = svc.map(|d| config.approvers_of(d)).unwrap_or_default();
    if approve {
        if config.org.approval.four_eyes && me == p.requester {
            return said.fail(
                EXIT_FAILED,
                format!("four-eyes: {me} requested {} and cannot approve it; another approver must ({})", p.id, eligible.join(", ")),
            );
        }
        if let Some(v) = p.approvals.iter().find(|v| v.by == me && v.signed) {
            return said.fail(
                EXIT_FAILED,
                format!(
                    "{me} already approved {} at {}; nothing recorded",
                    p.id,
                    v.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            );
        }
    }
    // Approvers may approve or reject; the requester may also withdraw by rejecting.
    let may_vote = eligible.contains(&me) || (!approve && me == p.requester);
    if !may_vote {
        return said.fail(
            EXIT_FAILED,
            format!(
                "{me} is not an approver of {} (approvers: {}); nothing recorded",
                p.service,
                if eligible.is_empty() {
                    "none configured".to_string()
                } else {
                    eligible.join(", ")
                }
            ),
        );
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
    if let Err(c) = s.append(vec![vote], &mut said) {
        said.code = c;
        return said;
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
    if let Err(c) = s.append(drafts, &mut said) {
        said.code = c;
        return said;
    }
    said.out.push(format!("{}: approved by {me}", p.id));
    outcome(&p.id, &plan, completed, &mut said);
    said
}
