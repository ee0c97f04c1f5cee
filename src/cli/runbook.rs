//! `gander runbook …`: list, show, and walk runbooks from the command line. A walk runs
//! its checks live until a step needs a person, records every outcome in the chain (who,
//! when, verdict, note, output digest), and resumes from the first unfinished step.
//! (The console's Runbooks panel is not built yet; the walk state it would show is this.)

use super::record::Said;
use super::store_ctx::{self, LOCK_WAIT};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::gates::{Ctx, Status};
use crate::engine::policy::Check;
use crate::engine::resolver::DepGraph;
use crate::engine::runbook::{Named, Step, StepKind, substitute};
use crate::engine::walk::{self, Walk};
use crate::io::store::{Draft, Store};
use chrono::Utc;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// The runbooks, or those that apply to a service or an alert
    List {
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        alert: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One runbook, step by step
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Start a walk: run its checks live until a step needs a person
    Run {
        name: String,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
        #[arg(long)]
        service: String,
        /// A parameter, NAME=VALUE (repeatable)
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Continue a walk from its first unfinished step
    Resume {
        id: String,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Complete the current step of a walk: confirm, answer, approve, run, or skip it
    Step {
        id: String,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
        /// Confirm a manual step
        #[arg(long)]
        confirm: bool,
        /// Answer a decision: yes or no
        #[arg(long, value_name = "yes|no")]
        answer: Option<String>,
        /// Approve an approval step (a second identity: never who started the walk)
        #[arg(long)]
        approve: bool,
        /// Run a command step (it is shown first in `resume`; this is the confirmation)
        #[arg(long)]
        run: bool,
        /// Skip the step; needs --reason
        #[arg(long)]
        skip: bool,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Walks on record, with their progress
    Walks {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (books, diags) = crate::io::runbooks::load(&located.dir);
    if diags.iter().any(|d| d.is_error()) {
        super::print_diagnostics(&diags);
        return EXIT_USAGE;
    }
    let find = |name: &str| -> Result<&Named, i32> {
        books.iter().find(|b| b.name == name).ok_or_else(|| {
            let names: Vec<&str> = books.iter().map(|b| b.name.as_str()).collect();
            eprintln!(
                "gander: no runbook `{name}`\n  help: {}",
                crate::engine::diag::suggest(name, names.iter().copied())
                    .unwrap_or_else(|| format!("one of {}", names.join(", ")))
            );
            EXIT_USAGE
        })
    };
    match args.command {
        Sub::List {
            service,
            alert,
            json,
        } => {
            let list: Vec<&Named> = books
                .iter()
                .filter(|b| {
                    (service.is_none() && alert.is_none())
                        || b.runbook.applies(service.as_deref(), alert.as_deref())
                })
                .collect();
            if json {
                output::print_json("runbooks", &json!({"runbooks": list}));
            } else {
                for b in list {
                    println!(
                        "{:<28} {} ({} steps)",
                        b.name,
                        b.runbook.title,
                        b.runbook.steps.len()
                    );
                }
            }
            EXIT_OK
        }
        Sub::Show { name, json } => {
            let b = match find(&name) {
                Ok(b) => b,
                Err(c) => return c,
            };
            if json {
                output::print_json("runbook", b);
                return EXIT_OK;
            }
            println!(
                "{} — {}\n{}",
                b.name,
                b.runbook.title,
                b.runbook.description.trim()
            );
            for (i, s) in b.runbook.steps.iter().enumerate() {
                println!(
                    "{:>2}. [{}] {} ({})",
                    i + 1,
                    kind_word(s.kind),
                    s.title,
                    s.id
                );
                if !s.argv.is_empty() {
                    println!("      $ {}", s.argv.join(" "));
                }
                if let Some(c) = &s.check {
                    println!(
                        "      check: {c} {}",
                        s.args
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
            EXIT_OK
        }
        Sub::Walks { json } => {
            let Ok(store) = store_ctx::try_open_store(state.as_deref()) else {
                return EXIT_USAGE;
            };
            let read = match store.lock(false, LOCK_WAIT).and_then(|l| store.read(&l)) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gander: {e}");
                    return EXIT_FAILED;
                }
            };
            let walks = walk::fold(&store_ctx::records(&read));
            if json {
                // Each walk with the step it waits at (null when finished).
                let list: Vec<serde_json::Value> = walks
                    .iter()
                    .map(|w| {
                        let cur = books
                            .iter()
                            .find(|b| b.name == w.runbook)
                            .and_then(|b| w.current(&b.runbook));
                        let mut v = serde_json::to_value(w).unwrap_or_default();
                        v["current"] = cur.map_or(
                            serde_json::Value::Null,
                            |s| json!({"id": s.id, "kind": kind_word(s.kind), "title": s.title}),
                        );
                        v
                    })
                    .collect();
                output::print_json("walks", &json!({"walks": list}));
                return EXIT_OK;
            }
            for w in &walks {
                let cur = books
                    .iter()
                    .find(|b| b.name == w.runbook)
                    .and_then(|b| w.current(&b.runbook))
                    .map_or("finished".to_string(), |s| format!("at {}", s.id));
                println!(
                    "{}  {} for {}  started by {}  {} steps done, {cur}",
                    w.id,
                    w.runbook,
                    w.service,
                    w.started_by,
                    w.done.len()
                );
            }
            EXIT_OK
        }
        Sub::Run {
            name,
            service,
            params,
            key,
            json,
        } => {
            let mut p = BTreeMap::new();
            for kv in params {
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("gander: --param {kv}: write NAME=VALUE");
                    return EXIT_USAGE;
                };
                p.insert(k.to_string(), v.to_string());
            }
            start(
                &config,
                &located.dir,
                state.as_deref(),
                &books,
                &name,
                &service,
                p,
                key.as_deref(),
            )
            .emit(json)
        }
        Sub::Resume { id, key, json } => resume(
            &config,
            &located.dir,
            state.as_deref(),
            &books,
            &id,
            key.as_deref(),
        )
        .emit(json),
        Sub::Step {
            id,
            confirm,
            answer,
            approve,
            run,
            skip,
            note,
            reason,
            key,
            json,
        } => {
            let action = match (confirm, answer.as_deref(), approve, run, skip) {
                (true, None, false, false, false) => StepAction::Confirm,
                (false, Some("yes"), false, false, false) => StepAction::Answer(true),
                (false, Some("no"), false, false, false) => StepAction::Answer(false),
                (false, None, true, false, false) => StepAction::Approve,
                (false, None, false, true, false) => StepAction::Run,
                (false, None, false, false, true) => StepAction::Skip(reason),
                _ => {
                    eprintln!(
                        "gander: say one of --confirm, --answer yes|no, --approve, --run, --skip --reason …"
                    );
                    return EXIT_USAGE;
                }
            };
            complete(
                &config,
                &located.dir,
                state.as_deref(),
                &books,
                &id,
                action,
                &note,
                key.as_deref(),
            )
            .emit(json)
        }
    }
}

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
#[allow(clippy::too_many_arguments)]
pub fn start(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    books: &[Named],
    name: &str,
    service: &str,
    given: BTreeMap<String, String>,
    key: Option<&Path>,
) -> Said {
    let mut said = Said::default();
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
    let mut s = match Session::open(config, config_dir, state, key, &mut said) {
        Ok(s) => s,
        Err(c) => {
            said.code = c;
            return said;
        }
    };
    let id = format!("RBW-{}-{:06}", Utc::now().format("%Y%m%d"), s.next_seq());
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
pub fn resume(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    books: &[Named],
    id: &str,
    key: Option<&Path>,
) -> Said {
    let mut said = Said::default();
    let mut s = match Session::open(config, config_dir, state, key, &mut said) {
        Ok(s) => s,
        Err(c) => {
            said.code = c;
            return said;
        }
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
#[allow(clippy::too_many_arguments)]
pub fn complete(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
    books: &[Named],
    id: &str,
    action: StepAction,
    note: &str,
    key: Option<&Path>,
) -> Said {
    let mut said = Said::default();
    let mut s = match Session::open(config, config_dir, state, key, &mut said) {
        Ok(s) => s,
        Err(c) => {
            said.code = c;
            return said;
        }
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
            if s.signer.principal == w.started_by {
                return fail(
                    said,
                    EXIT_FAILED,
                    format!(
                        "four-eyes: {} started this walk and cannot approve its steps",
                        w.started_by
                    ),
                );
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
            let outcome = if r.code == Some(0) { "ran" } else { "failed" };
            (
                outcome.to_string(),
                json!({"argv": argv, "exit_code": r.code, "timed_out": r.timed_out, "duration_ms": r.ms, "output_bytes": r.total, "output_sha256": r.sha256}),
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
        step.id, s.signer.principal
    ));
    said.code = advance(&mut s, config, &b, id, &mut said);
    said
}

fn fail(mut said: Said, code: i32, msg: impl Into<String>) -> Said {
    said.err.push(msg.into());
    said.code = code;
    said
}

fn kind_word(k: StepKind) -> &'static str {
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

/// The output kept of a command: at most this much (the rest is counted, not held).
pub const MAX_OUTPUT: usize = 64 * 1024;

pub struct CommandResult {
    pub code: Option<i32>,
    pub timed_out: bool,
    pub ms: u64,
    pub total: u64,
    pub output_text: String,
    pub sha256: String,
}

/// Run argv directly (no shell), stdout and stderr together, killed at the timeout; the
/// first 64 KiB kept, everything hashed and counted.
pub fn run_argv(argv: &[String], timeout: Duration) -> CommandResult {
    use sha2::{Digest, Sha256};
    let start = Instant::now();
    let Some((prog, rest)) = argv.split_first() else {
        return CommandResult {
            code: None,
            timed_out: false,
            ms: 0,
            total: 0,
            output_text: "empty argv".into(),
            sha256: String::new(),
        };
    };
    let child = std::process::Command::new(prog)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return CommandResult {
                code: None,
                timed_out: false,
                ms: 0,
                total: 0,
                output_text: format!("cannot run {prog}: {e}"),
                sha256: String::new(),
            };
        }
    };
    let collect = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut h = Sha256::new();
            let mut total = 0u64;
            let mut buf = [0u8; 8192];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                total += n as u64;
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            (kept, h.finalize().to_vec(), total)
        })
    };
    let out = collect(Box::new(child.stdout.take().expect("piped")));
    let err = collect(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    let code = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let (o, oh, ot) = out.join().unwrap_or_default();
    let (e, eh, et) = err.join().unwrap_or_default();
    let mut text = String::from_utf8_lossy(&o).into_owned();
    text.push_str(&String::from_utf8_lossy(&e));
    let total = ot + et;
    if total as usize > o.len() + e.len() {
        text.push_str(&format!(
            "\n[… {} more bytes not kept]",
            total as usize - o.len() - e.len()
        ));
    }
    if timed_out {
        text.push_str(&format!(
            "\n[stopped at the {}s timeout]",
            timeout.as_secs()
        ));
    }
    let sha = crate::engine::chain::sha256_hex(&[oh, eh].concat());
    CommandResult {
        code,
        timed_out,
        ms: start.elapsed().as_millis() as u64,
        total,
        output_text: text,
        sha256: sha,
    }
}

struct Session {
    store: Store,
    lock: crate::io::store::Lock,
    read: crate::io::store::ChainRead,
    signer: crate::io::store::Signer,
    signers: crate::engine::identity::AllowedSigners,
}

impl Session {
    fn open(
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
        })
    }

    fn next_seq(&self) -> u64 {
        self.read.records.last().map_or(1, |(_, r)| r.seq + 1)
    }

    fn walk(&self, id: &str) -> Option<Walk> {
        walk::fold(&store_ctx::records(&self.read))
            .into_iter()
            .find(|w| w.id == id)
    }

    fn append(&mut self, d: Draft, said: &mut Said) -> Result<(), i32> {
        let recs = self
            .store
            .append(&self.lock, &self.read, vec![d], &self.signer, Utc::now())
            .map_err(|e| {
                said.err.push(e.to_string());
                EXIT_FAILED
            })?;
        let base = self.read.records.last().map_or(0, |(l, _)| *l);
        for (i, r) in recs.into_iter().enumerate() {
            self.read.records.push((base + i + 1, r));
        }
        Ok(())
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
        let (pass, details) = run_check(s, config, &step, &w);
        let outcome = if pass { "pass" } else { "fail" };
        said.out.push(format!(
            "{} {}: {} — {}",
            if pass { "✓" } else { "✗" },
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
            said.out.push(format!("{id}: stopped at `{}`: fix it and `gander runbook resume {id}`, or `gander runbook step {id} --skip --reason …`", step.id));
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

fn run_check(s: &Session, config: &Config, step: &Step, w: &Walk) -> (bool, Vec<String>) {
    let mut facts = Facts::from_config(config, Utc::now());
    let graph = DepGraph::from_config(config);
    let check = step.check.as_deref().unwrap_or_default();
    // Live facts for the service (health, metrics) when the check needs them.
    if matches!(check, "health" | "validate_compliance_state") {
        let _ = super::live::poll_once(&only(config, &w.service), &mut facts);
    }
    store_ctx::apply(&s.store, &s.read, Some(&s.signers), &mut facts);
    let Some(svc) = config.service(&w.service) else {
        return (false, vec![format!("no service `{}`", w.service)]);
    };
    let ctx = Ctx {
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
        (
            r.status == Status::Pass,
            vec![format!("{}: {}", r.status.as_str(), r.reason)],
        )
    };
    match check {
        "verify_dependencies" => one(Check::DependenciesCompliant),
        "evidence" => one(Check::EvidenceCollected),
        "check_evidence_chain" => {
            let r = crate::io::store::verify(&s.store, &s.read, Some(&s.signers));
            match r.problems.first() {
                None => (true, vec![format!("{} records verify", r.records)]),
                Some(p) => (false, vec![format!("line {}: {}", p.line, p.message)]),
            }
        }
        "health" => match &sf.health {
            crate::engine::facts::Known::Known(h) => (h.ready, vec![h.summary.clone()]),
            crate::engine::facts::Known::Unknown(w) => (false, vec![format!("unknown: {w}")]),
        },
        "validate_compliance_state" => {
            let state = facts.states.get(&w.service).cloned().unwrap_or_default();
            let sm = crate::engine::state_machine::StateMachine::new(&config.rules);
            match sm.promotions_from(&state).first() {
                None => (
                    true,
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
                        (ok, d)
                    }
                    None => (false, vec!["no plan".into()]),
                },
            }
        }
        "promql" => {
            let Some(url) = config.org.monitoring.prometheus_url.clone() else {
                return (
                    false,
                    vec!["no monitoring.prometheus_url configured".into()],
                );
            };
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
            let Ok(rt) = super::runtime() else {
                return (false, vec!["no runtime".into()]);
            };
            let http = match crate::io::http::Http::new(crate::io::http::HttpConfig::default()) {
                Ok(h) => h,
                Err(e) => return (false, vec![e]),
            };
            let p = crate::io::prometheus::Prometheus::new(
                http,
                &url,
                crate::io::http::resolve_auth(config.org.monitoring.prometheus_auth.as_ref())
                    .unwrap_or(crate::io::http::Auth::None),
            );
            match rt.block_on(p.query(&q)) {
                Ok(v) if v.is_empty() => (false, vec![format!("`{q}` returned nothing")]),
                Ok(v) => {
                    let worst = v.iter().map(|x| x.value).fold(f64::NEG_INFINITY, f64::max);
                    (
                        worst < below,
                        vec![format!("{worst:.3} (must be below {below})")],
                    )
                }
                Err(e) => (false, vec![e.to_string()]),
            }
        }
        other => (false, vec![format!("unknown check `{other}`")]),
    }
}

/// The config restricted to one service, for a targeted poll.
fn only(config: &Config, service: &str) -> Config {
    let mut c = config.clone();
    c.services.retain(|s| s.name() == service);
    c.org.monitoring.prometheus_url = None;
    c
}
