//! `gander promote SERVICE --to STATE [--dry-run]`: every requirement and gate
//! verdict; without `--dry-run`, a signed request (and its validation) in the chain,
//! and the transition itself when every gate passes.

use super::{EXIT_USAGE, output};
use crate::engine::facts::Facts;
use crate::engine::plan::{self, Plan, Verdict};
use crate::engine::policy::GateType;
use crate::engine::resolver::DepGraph;
use crate::engine::state_machine::Refusal;
use chrono::Utc;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service to promote
    pub service: String,
    /// The state to promote it to (a state of compliance_rules.yaml)
    #[arg(long, value_name = "STATE")]
    pub to: String,
    /// Evaluate only; record nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Why (recorded in the request)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// The OpenSSH key to sign with: ed25519, ECDSA or RSA, or a .pub whose private half
    /// is in ssh-agent (default: $GANDER_KEY, signing.key, the agent, ~/.ssh/id_ed25519)
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Print the evaluation as JSON
    #[arg(long)]
    pub json: bool,
    /// Do not poll the services: configuration only
    #[arg(long)]
    pub offline: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    evaluated_at: String,
    #[serde(flatten)]
    plan: &'a Plan,
    /// When the transition needs several steps, the evaluation of the first one.
    first_step: Option<&'a Plan>,
}

pub fn run(config: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(_) = config.service(&args.service) else {
        let names: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
        crate::err!(
            "gander: no service `{}` in {}\n  help: {}",
            args.service,
            located.dir.display(),
            crate::engine::diag::suggest(&args.service, names.iter().copied())
                .unwrap_or_else(|| "run `gander order` to list the services".into())
        );
        return EXIT_USAGE;
    };
    if !config.rules.states.contains_key(&args.to) {
        crate::err!(
            "gander: `{}` is not a state\n  help: {}",
            args.to,
            crate::engine::diag::suggest(&args.to, config.rules.states.keys().map(String::as_str))
                .unwrap_or_default()
        );
        return EXIT_USAGE;
    }
    if !args.dry_run {
        // Who is asking, before any network: a bad key writes nothing and waits for nothing.
        if let Err(e) = crate::ops::store::try_signer(&located.dir, &config, args.key.as_deref()) {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    }
    let now = Utc::now();
    let graph = DepGraph::from_config(&config);
    let mut facts = Facts::from_config(&config, now);
    if !args.offline {
        match super::poll_once(&config, &mut facts) {
            Ok(r) => {
                let u = r.unreachable();
                if !u.is_empty() {
                    crate::err!(
                        "gander: could not reach: {} (their facts are unknown)",
                        u.join(", ")
                    );
                }
            }
            Err(code) => return code,
        }
    }
    if !args.dry_run {
        let ctx = crate::ops::Ctx::new(
            std::sync::Arc::new(config.clone()),
            &located.dir,
            state.as_deref(),
        )
        .with_key(args.key.as_deref());
        return super::record::promote(&ctx, &graph, facts, &args);
    }
    super::read_store_into(state.as_deref(), &located.dir, &config, &mut facts);
    let Some(p) = plan::plan(&config, &graph, &facts, &args.service, &args.to) else {
        return EXIT_USAGE;
    };
    let first = match &p.refusal {
        Some(Refusal::NotAllowed {
            path: Some(path), ..
        }) if path.len() > 2 => plan::plan(&config, &graph, &facts, &args.service, &path[1]),
        _ => None,
    };
    if args.json {
        output::print_json(
            "promotion_plan",
            &Report {
                evaluated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                plan: &p,
                first_step: first.as_ref(),
            },
        );
        return p.verdict.exit_code();
    }
    crate::out!(
        "Dry run: promote {} from `{}` to `{}` ({}; nothing is recorded)",
        p.service,
        p.from,
        p.to,
        now.format("%Y-%m-%d %H:%M UTC")
    );
    print_plan(&p);
    if let Some(f) = &first {
        crate::out!();
        crate::out!("First step: {} -> {}", f.from, f.to);
        print_plan(f);
    }
    crate::out!();
    crate::out!(
        "Legend: pass; pending = waits for people; STALE = evidence too old; UNKNOWN = no data, never a pass; FAIL."
    );
    p.verdict.exit_code()
}

pub fn print_plan(p: &Plan) {
    crate::out!(
        "Verdict: {}",
        match p.verdict {
            Verdict::Ready => "READY: every requirement and gate passes",
            Verdict::AwaitingApproval => "AWAITING APPROVAL: only manual gates wait",
            Verdict::Blocked => "BLOCKED",
            Verdict::Refused => "REFUSED by the state machine",
        }
    );
    if let Some(r) = &p.refusal {
        crate::out!("  {r}");
    }
    if let Some(d) = &p.demotion {
        crate::out!("  demotion ({d}): gates never hold a demotion");
    }
    if !p.requirements.is_empty() {
        crate::out!("Requirements for entering `{}`:", p.to);
        for r in &p.requirements {
            crate::out!("{}", output::check_line("  ", r));
        }
    }
    if !p.gates.is_empty() {
        crate::out!("Gates:");
        for g in &p.gates {
            let kind = match g.kind {
                GateType::Blocking => "blocking",
                GateType::Manual => "manual",
                GateType::Advisory => "advisory",
            };
            crate::out!(
                "  {} {} ({kind}, stage {})",
                output::tag(g.status),
                g.gate,
                serde_json::to_value(g.stage)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
            for c in &g.checks {
                crate::out!("{}", output::check_line("      ", c));
            }
        }
    }
}
