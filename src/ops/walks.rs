//! Runbook walks: start one, resume it, complete its current step. Checks run live
//! until a step needs a person; every outcome is recorded in the chain (who, when,
//! verdict, note, output digest), and a walk resumes from its first unfinished step.

use super::live::LiveAccess;
use super::store::{Writer, open_writer};
use super::{Ctx, EXIT_FAILED, EXIT_OK, EXIT_USAGE, OpsError, Said};
use crate::engine::authority;
use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::gates::{Ctx as GateCtx, Status};
use crate::engine::policy::Check;
use crate::engine::resolver::DepGraph;
use crate::engine::runbook::{Named, Step, StepKind, substitute};
use crate::engine::walk::{self, Walk};
use crate::io::process::run_argv;
use crate::io::store::Draft;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// What completing the current step means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    Confirm,
    Answer(bool),
    Approve,
    Run,
    Skip(String),
}

/// Start a walk and run its checks until a step needs a person.
pub fn start(
    ctx: &Ctx,
    live: &LiveAccess,
    books: &[Named],
    name: &str,
    service: &str,
    given: BTreeMap<String, String>,
) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let Some(b) = books.iter().find(|b| b.name == name).cloned() else {
        let names: Vec<&str> = books.iter().map(|b| b.name.as_str()).collect();
        let help = crate::engine::diag::suggest(name, names.iter().copied())
            .unwrap_or_else(|| format!("one of {}", names.join(", ")));
        return fail(
            said,
            EXIT_USAGE,
            format!("no runbook `{name}`\n  help: {help}"),
        );
    };
    if config.service(service).is_none() {
        return fail(said, EXIT_USAGE, format!("no service `{service}`"));
    }
    let mut p: BTreeMap<String, String> = b
        .runbook
        .parameters
        .iter()
        .filter_map(|x| x.default.clone().map(|d| (x.name.clone(), d)))
        .collect();
    for (k, v) in given {
        if !b.runbook.parameters.iter().any(|x| x.name == k) {
            return fail(
                said,
                EXIT_USAGE,
                format!("--param {k}: `{name}` has no such parameter"),
            );
        }
        p.insert(k, v);
    }
    for x in &b.runbook.parameters {
        if let Some(why) = p.get(&x.name).and_then(|v| x.refuse(v)) {
            return fail(said, EXIT_USAGE, format!("--param {}: {why}", x.name));
        }
    }
    p.insert("service".into(), service.to_string());
    let missing: Vec<&str> = b
        .runbook
        .parameters
        .iter()
        .filter(|x| !p.contains_key(&x.name))
        .map(|x| x.name.as_str())
        .collect();
    if !missing.is_empty() {
        return fail(
            said,
            EXIT_USAGE,
            format!("`{name}` needs --param for: {}", missing.join(", ")),
        );
    }
    let mut s = match Session::open(ctx, live, &mut said) {
        Ok(s) => s,
        Err(e) => return said.error(e),
    };
    let id = authority::walk_id(s.w.now, s.w.next_seq());
    said.subject = Some(id.clone());
    let draft = Draft {
        promotion_id: id.clone(),
        service: service.to_string(),
        kind: walk::START.into(),
        data: json!({"runbook": name, "title": b.runbook.title, "params": p}),
    };
    if let Err(c) = s.append(draft, &mut said) {
        said.code = c;
        return said;
    }
    said.out.push(format!("{id}: walking {name} for {service}"));
    said.code = advance(&mut s, config, &b, &id, &mut said);
    said
}

/// Continue a walk from its first unfinished step.
pub fn resume(ctx: &Ctx, live: &LiveAccess, books: &[Named], id: &str) -> Said {
    let mut said = Said {
        subject: Some(id.to_string()),
        ..Said::default()
    };
    let config = &*ctx.config;
    let mut s = match Session::open(ctx, live, &mut said) {
        Ok(s) => s,
        Err(e) => return said.error(e),
    };
    let Some(w) = s.walk(id) else {
        return fail(
            said,
            EXIT_USAGE,
            format!("no walk `{id}` (`gander runbook walks` lists them)"),
        );
    };
    let Some(b) = books.iter().find(|b| b.name == w.runbook).cloned() else {
        return fail(
            said,
            EXIT_USAGE,
            format!("the walk's runbook `{}` is gone", w.runbook),
        );
    };
    said.code = advance(&mut s, config, &b, id, &mut said);
    said
}

/// Complete the current step of a walk, then run checks until a person is needed.
pub fn complete(
    ctx: &Ctx,
    live: &LiveAccess,
    books: &[Named],
    id: &str,
    action: StepAction,
    note: &str,
) -> Said {
    let mut said = Said {
        subject: Some(id.to_string()),
        ..Said::default()
    };
    let config = &*ctx.config;
    let mut s = match Session::open(ctx, live, &mut said) {
        Ok(s) => s,
        Err(e) => return said.error(e),
    };
    let Some(w) = s.walk(id) else {
        return fail(said, EXIT_USAGE, format!("no walk `{id}`"));
    };
    let Some(b) = books.iter().find(|b| b.name == w.runbook).cloned() else {
        return fail(
            said,
            EXIT_USAGE,
            format!("the walk's runbook `{}` is gone", w.runbook),
        );
    };
    let Some(step) = w.current(&b.runbook).cloned() else {
        return fail(
            said,
            EXIT_FAILED,
            format!("{id} is finished; nothing to complete"),
        );
    };
    let (outcome, mut data) = match (&action, step.kind) {
        (StepAction::Skip(reason), _) => {
            if reason.trim().is_empty() {
                return fail(said, EXIT_USAGE, "skipping a step needs --reason");
            }
            ("skipped".to_string(), json!({"reason": reason}))
        }
        (StepAction::Confirm, StepKind::Manual) => ("confirmed".to_string(), json!({})),
        (StepAction::Answer(yes), StepKind::Decision) => {
            ((if *yes { "yes" } else { "no" }).to_string(), json!({}))
        }
        (StepAction::Approve, StepKind::Approval) => {
            if let Err(r) = authority::may_approve_step(
                id,
                &w.started_by,
                w.started_key.as_deref(),
                s.w.principal(),
                Some(&s.w.signer.fingerprint),
            ) {
                return fail(said, EXIT_FAILED, r.to_string());
            }
            ("approved".to_string(), json!({}))
        }
        (StepAction::Run, StepKind::Command) => {
            let argv: Vec<String> = step.argv.iter().map(|a| substitute(a, &w.params)).collect();
            let timeout = step.timeout.map_or(Duration::from_secs(60), |t| {
                Duration::from_secs(t.secs().max(1))
            });
            let r = run_argv(&argv, timeout);
            said.out.push(format!("$ {}", shell_words(&argv)));
            said.out.extend(r.output_text.lines().map(str::to_string));
            let outcome = if r.timed_out {
                "timeout"
            } else if r.code == Some(0) {
                "ran"
            } else {
                "failed"
            };
            (
                outcome.to_string(),
                json!({"argv": argv, "exit_code": r.code, "signal": r.signal, "timed_out": r.timed_out, "duration_ms": r.ms, "output_bytes": r.total, "output_sha256": r.sha256}),
            )
        }
        _ => {
            let how = match step.kind {
                StepKind::Manual => "--confirm [--note …]",
                StepKind::Decision => "--answer yes|no",
                StepKind::Approval => "--approve (by a second person)",
                StepKind::Command => "--run (the command is shown by `runbook resume`)",
                StepKind::Check => "`gander runbook resume` runs it",
            };
            return fail(
                said,
                EXIT_USAGE,
                format!(
                    "the current step of {id} is `{}` ({}): {how}",
                    step.id,
                    kind_word(step.kind)
                ),
            );
        }
    };
    data["step"] = json!(step.id);
    data["outcome"] = json!(outcome);
    data["note"] = json!(note);
    let (exit_code, signal) = (
        data.get("exit_code").and_then(|c| c.as_i64()),
        data.get("signal").and_then(|c| c.as_i64()),
    );
    let draft = Draft {
        promotion_id: id.to_string(),
        service: w.service.clone(),
        kind: walk::STEP.into(),
        data,
    };
    if let Err(c) = s.append(draft, &mut said) {
        said.code = c;
        return said;
    }
    said.out.push(format!(
        "{id}: {} {outcome} by {}",
        step.id,
        s.w.principal()
    ));
    if step.kind == StepKind::Command
        && matches!(outcome.as_str(), "failed" | "timeout")
        && !matches!(action, StepAction::Skip(_))
    {
        let why = match (outcome.as_str(), exit_code, signal) {
            ("timeout", _, _) => "it ran past its timeout and was stopped".to_string(),
            (_, Some(c), _) => format!("it exited with {c}"),
            (_, None, Some(sig)) => format!("it was ended by signal {sig}"),
            _ => "it could not run".to_string(),
        };
        if !step.allow_failure {
            said.out.push(format!(
                "{id}: stopped at `{}`: {why}; fix it and `gander runbook step {id} --run` again, or `--skip --reason …`",
                step.id
            ));
            said.code = EXIT_FAILED;
            return said;
        }
        said.out.push(format!(
            "{id}: `{}` failed ({why}) but may fail; going on",
            step.id
        ));
    }
    said.code = advance(&mut s, config, &b, id, &mut said);
    said
}

fn fail(mut said: Said, code: i32, msg: impl Into<String>) -> Said {
    said.err.push(msg.into());
    said.code = code;
    said
}

pub fn kind_word(k: StepKind) -> &'static str {
    match k {
        StepKind::Check => "check",
        StepKind::Manual => "manual",
        StepKind::Command => "command",
        StepKind::Decision => "decision",
        StepKind::Approval => "approval",
    }
}

/// argv shown as a person would type it (quoted where needed); display only.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A walk being worked on: the chain writer and the live source its checks read.
struct Session<'a> {
    w: Writer,
    live: &'a LiveAccess,
}

impl<'a> Session<'a> {
    fn open(ctx: &Ctx, live: &'a LiveAccess, said: &mut Said) -> Result<Session<'a>, OpsError> {
        let mut w = open_writer(ctx)?;
        w.tell(said);
        Ok(Session { w, live })
    }

    fn walk(&self, id: &str) -> Option<Walk> {
        walk::fold(self.w.records())
            .into_iter()
            .find(|w| w.id == id)
    }

    fn append(&mut self, d: Draft, said: &mut Said) -> Result<(), i32> {
        let r = self.w.append(vec![d]);
        self.w.tell(said);
        r.map(|_| ()).map_err(|e| {
            let code = e.code();
            said.err.push(e.to_string());
            code
        })
    }
}

/// Run checks from the current step until a step needs a person or the walk ends.
fn advance(s: &mut Session, config: &Config, b: &Named, id: &str, said: &mut Said) -> i32 {
    loop {
        let Some(w) = s.walk(id) else {
            return EXIT_USAGE;
        };
        let Some(step) = w.current(&b.runbook).cloned() else {
            said.out
                .push(format!("{id}: finished ({} steps recorded)", w.done.len()));
            return EXIT_OK;
        };
        if step.kind != StepKind::Check {
            waiting(id, &step, &w, said);
            return EXIT_OK;
        }
        // A failed check stays current: re-run it with `resume` after fixing, or skip it.
        let rerun = w.outcome(&step.id).is_some();
        let (checked, details) = run_check(s, config, &step, &w);
        let pass = checked == Checked::Pass;
        let (outcome, mark) = match checked {
            Checked::Pass => ("pass", "✓"),
            Checked::Fail => ("fail", "✗"),
            // Not decided, not failed: no data to decide on. The walk stops as on a fail.
            Checked::Unknown => ("unknown", "?"),
        };
        said.out.push(format!(
            "{mark} {}: {} — {}",
            step.id,
            step.title,
            details.join("; ")
        ));
        let draft = Draft {
            promotion_id: id.to_string(),
            service: w.service.clone(),
            kind: walk::STEP.into(),
            data: json!({"step": step.id, "outcome": outcome, "details": details, "note": if rerun { "re-run" } else { "" }}),
        };
        if let Err(c) = s.append(draft, said) {
            return c;
        }
        if !pass {
            let why = if checked == Checked::Unknown {
                "no data to decide on"
            } else {
                "fix it"
            };
            said.out.push(format!("{id}: stopped at `{}`: {why} and `gander runbook resume {id}`, or `gander runbook step {id} --skip --reason …`", step.id));
            return EXIT_FAILED;
        }
    }
}

fn waiting(id: &str, step: &Step, w: &Walk, said: &mut Said) {
    said.out.push(format!(
        "{id}: next step `{}` ({}) needs a person: {}",
        step.id,
        kind_word(step.kind),
        step.title
    ));
    if !step.instructions.is_empty() {
        said.out.push(format!(
            "  {}",
            substitute(step.instructions.trim(), &w.params)
        ));
    }
    match step.kind {
        StepKind::Manual => said.out.push(format!(
            "  then: gander runbook step {id} --confirm [--note …]"
        )),
        StepKind::Decision => {
            said.out
                .push(format!("  {}", step.question.clone().unwrap_or_default()));
            said.out
                .push(format!("  then: gander runbook step {id} --answer yes|no"));
        }
        StepKind::Approval => said.out.push(format!(
            "  then, as someone other than {}: gander runbook step {id} --approve",
            w.started_by
        )),
        StepKind::Command => {
            let argv: Vec<String> = step.argv.iter().map(|a| substitute(a, &w.params)).collect();
            said.out.push(format!("  will run: {}", shell_words(&argv)));
            said.out
                .push(format!("  then: gander runbook step {id} --run"));
        }
        StepKind::Check => {}
    }
}

/// What a check step found: a pass, a fail, or nothing to decide on (never a pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Pass,
    Fail,
    Unknown,
}

impl From<bool> for Checked {
    fn from(pass: bool) -> Self {
        if pass { Checked::Pass } else { Checked::Fail }
    }
}

fn run_check(s: &Session, config: &Config, step: &Step, w: &Walk) -> (Checked, Vec<String>) {
    let mut facts = Facts::from_config(config, s.w.now);
    let graph = DepGraph::from_config(config);
    let check = step.check.as_deref().unwrap_or_default();
    // Live facts for the service (health, metrics) when the check needs them.
    let prometheus = config.org.monitoring.prometheus_url.is_some();
    if matches!(check, "health" | "validate_compliance_state") || (check == "promql" && !prometheus)
    {
        s.live.round(Some(&w.service), &mut facts);
    }
    let facts = s.w.facts(facts);
    let Some(svc) = config.service(&w.service) else {
        return (Checked::Fail, vec![format!("no service `{}`", w.service)]);
    };
    let ctx = GateCtx {
        config,
        graph: &graph,
        facts: &facts,
    };
    let sf = facts
        .services
        .get(&w.service)
        .cloned()
        .unwrap_or_else(crate::engine::facts::ServiceFacts::unknown);
    let one = |c: Check| {
        let r = ctx.check(c, svc, &sf);
        let checked = match r.status {
            Status::Pass => Checked::Pass,
            Status::Unknown => Checked::Unknown,
            _ => Checked::Fail,
        };
        (
            checked,
            vec![format!("{}: {}", r.status.as_str(), r.reason)],
        )
    };
    match check {
        "verify_dependencies" => one(Check::DependenciesCompliant),
        "evidence" => one(Check::EvidenceCollected),
        "check_evidence_chain" => {
            let r = crate::io::store::verify(&s.w.store, &s.w.read, Some(&s.w.signers));
            match r.problems.first() {
                None => (Checked::Pass, vec![format!("{} records verify", r.records)]),
                Some(p) => (
                    Checked::Fail,
                    vec![format!("line {}: {}", p.line, p.message)],
                ),
            }
        }
        "health" => match &sf.health {
            crate::engine::facts::Known::Known(h) => (h.ready.into(), vec![h.summary.clone()]),
            crate::engine::facts::Known::Unknown(w) => {
                (Checked::Unknown, vec![format!("unknown: {w}")])
            }
        },
        "validate_compliance_state" => {
            let state = facts.states.get(&w.service).cloned().unwrap_or_default();
            let sm = crate::engine::state_machine::StateMachine::new(&config.rules);
            match sm.promotions_from(&state).first() {
                None => (
                    Checked::Pass,
                    vec![format!("`{state}`: at the top of the state machine")],
                ),
                Some(to) => match crate::engine::plan::plan(config, &graph, &facts, &w.service, to)
                {
                    Some(p) => {
                        let ok = matches!(
                            p.verdict,
                            crate::engine::plan::Verdict::Ready
                                | crate::engine::plan::Verdict::AwaitingApproval
                        );
                        let mut d = vec![format!("`{state}` -> `{to}`: {}", p.verdict.as_str())];
                        d.extend(p.blockers.iter().take(5).cloned());
                        (ok.into(), d)
                    }
                    None => (Checked::Fail, vec!["no plan".into()]),
                },
            }
        }
        "promql" => {
            let q = substitute(
                step.args
                    .get("query")
                    .map(String::as_str)
                    .unwrap_or_default(),
                &w.params,
            );
            let below: f64 = step
                .args
                .get("below")
                .and_then(|b| b.parse().ok())
                .unwrap_or(f64::INFINITY);
            // Without Prometheus, the figure gander scrapes itself (`args.own`), over
            // its own window; with neither, nothing to decide on.
            if !prometheus {
                let own = step.args.get("own").map(String::as_str);
                let figure = match (&sf.performance, own) {
                    (crate::engine::facts::Known::Known(p), Some("p95_ms")) => {
                        Ok((p.p95_ms, "p95", p.source.clone()))
                    }
                    (crate::engine::facts::Known::Known(p), Some("error_rate")) => {
                        Ok((p.error_rate, "error rate", p.source.clone()))
                    }
                    (_, None) => Err("no monitoring.prometheus_url configured, and the step names no figure of gander's own (`args.own`)".to_string()),
                    (crate::engine::facts::Known::Unknown(why), Some(_)) => Err(format!(
                        "no monitoring.prometheus_url configured, and gander's own figure is unknown: {why}"
                    )),
                    (_, Some(other)) => Err(format!("unknown own figure `{other}`")),
                };
                // With its unit: milliseconds for p95, a fraction for the error rate.
                return match figure {
                    Ok((v, what, source)) => {
                        let unit = if what == "p95" { " ms" } else { "" };
                        (
                            (v < below).into(),
                            vec![format!(
                                "{what} {v:.3}{unit} (must be below {below}{unit}; from gander's own scrape of {source}, no Prometheus configured)"
                            )],
                        )
                    }
                    Err(why) => (Checked::Unknown, vec![why]),
                };
            }
            match s.live.query(&q) {
                Ok(v) if v.is_empty() => {
                    (Checked::Unknown, vec![format!("`{q}` returned nothing")])
                }
                Ok(v) => {
                    let worst = v.iter().map(|x| x.value).fold(f64::NEG_INFINITY, f64::max);
                    (
                        (worst < below).into(),
                        vec![format!("{worst:.3} (must be below {below})")],
                    )
                }
                Err(e) => (Checked::Unknown, vec![e]),
            }
        }
        other => (Checked::Fail, vec![format!("unknown check `{other}`")]),
    }
}
