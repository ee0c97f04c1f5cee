//! `gander runbook …`: list, show, and walk runbooks from the command line. A walk runs
//! its checks live until a step needs a person, records every outcome in the chain (who,
//! when, verdict, note, output digest), and resumes from the first unfinished step.

use super::record::emit;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::config::Config;
use crate::engine::runbook::Named;
use crate::engine::walk;
use crate::ops::Ctx;
use crate::ops::live::{LiveAccess, LiveSource};
use crate::ops::store::{self as store_ctx, LOCK_WAIT};
use crate::ops::walks::{self, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
            crate::err!(
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
                    crate::out!(
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
            crate::out!(
                "{} — {}\n{}",
                b.name,
                b.runbook.title,
                b.runbook.description.trim()
            );
            for (i, s) in b.runbook.steps.iter().enumerate() {
                crate::out!(
                    "{:>2}. [{}] {} ({})",
                    i + 1,
                    walks::kind_word(s.kind),
                    s.title,
                    s.id
                );
                if !s.argv.is_empty() {
                    crate::out!("      $ {}", s.argv.join(" "));
                }
                if let Some(c) = &s.check {
                    crate::out!(
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
            let Ok(store) = super::open_store(&config, &located.dir, state.as_deref()) else {
                return EXIT_USAGE;
            };
            let read = match store.lock_shared(LOCK_WAIT).and_then(|l| store.read(&l)) {
                Ok(r) => r,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return EXIT_FAILED;
                }
            };
            let walks = walk::fold(store_ctx::records(&read));
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
                            |s| json!({"id": s.id, "kind": walks::kind_word(s.kind), "title": s.title}),
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
                crate::out!(
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
                    crate::err!("gander: --param {kv}: write NAME=VALUE");
                    return EXIT_USAGE;
                };
                p.insert(k.to_string(), v.to_string());
            }
            let (ctx, live) = match walk_ctx(&config, &located.dir, state.as_deref(), key) {
                Ok(x) => x,
                Err(c) => return c,
            };
            emit(walks::start(&ctx, &live, &books, &name, &service, p), json)
        }
        Sub::Resume { id, key, json } => {
            let (ctx, live) = match walk_ctx(&config, &located.dir, state.as_deref(), key) {
                Ok(x) => x,
                Err(c) => return c,
            };
            emit(walks::resume(&ctx, &live, &books, &id), json)
        }
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
                    crate::err!(
                        "gander: say one of --confirm, --answer yes|no, --approve, --run, --skip --reason …"
                    );
                    return EXIT_USAGE;
                }
            };
            let (ctx, live) = match walk_ctx(&config, &located.dir, state.as_deref(), key) {
                Ok(x) => x,
                Err(c) => return c,
            };
            emit(
                walks::complete(&ctx, &live, &books, &id, action, &note),
                json,
            )
        }
    }
}

/// The context and live source a walk's use cases run with.
fn walk_ctx(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    key: Option<PathBuf>,
) -> Result<(Ctx, LiveAccess), i32> {
    let ctx = Ctx::new(Arc::new(config.clone()), dir, state).with_key(key.as_deref());
    let live = LiveSource::from_config(config)
        .and_then(LiveAccess::own)
        .map_err(|e| {
            crate::err!("gander: {e}");
            e.code()
        })?;
    Ok((ctx, live))
}
