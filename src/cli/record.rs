//! The commands that write promotions: `promote` (without --dry-run), `approve`,
//! `reject`. Arguments and printing only; the use cases are `ops::promotions`.

use super::{EXIT_USAGE, output};
use crate::engine::authority::Vote;
use crate::engine::facts::Facts;
use crate::engine::resolver::DepGraph;
use crate::ops::{self, Ctx, Said};
use std::path::PathBuf;

/// Print what a use case said to the terminal and return its exit code.
pub fn print(said: Said) -> i32 {
    use crate::diag::printable;
    for l in &said.out {
        crate::out!("{}", printable(l));
    }
    for l in &said.err {
        crate::err!("gander: {}", printable(l));
    }
    said.code
}

/// Print as text, or as a JSON document `{version, kind: "outcome", code, out, err}`.
pub fn emit(said: Said, json: bool) -> i32 {
    if !json {
        return print(said);
    }
    output::print_json(
        "outcome",
        &serde_json::json!({"code": said.code, "out": said.out, "err": said.err}),
    );
    said.code
}

/// `gander promote SERVICE --to STATE` (recording), for the CLI.
pub fn promote(ctx: &Ctx, graph: &DepGraph, live: Facts, args: &super::promote::Args) -> i32 {
    print(ops::promotions::request(
        ctx,
        graph,
        live,
        &args.service,
        &args.to,
        &args.reason,
    ))
}

#[derive(Debug, clap::Args)]
pub struct VoteArgs {
    /// The promotion (PRM-…), as `gander promotions` lists it
    pub id: String,
    /// Why (shown to everyone; `reject` requires one)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// The OpenSSH key to sign with (ed25519, ECDSA or RSA; or a .pub whose private half is in ssh-agent)
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
    vote: Vote,
) -> i32 {
    if vote == Vote::Reject && args.reason.trim().is_empty() {
        crate::err!("gander: a rejection needs a reason: --reason \"…\"");
        return EXIT_USAGE;
    }
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ctx = Ctx::new(std::sync::Arc::new(config), &located.dir, state.as_deref())
        .with_key(args.key.as_deref());
    let mut live = Facts::from_config(&ctx.config, ctx.clock.now());
    if vote == Vote::Approve && !args.offline {
        if let Err(c) = super::poll_once(&ctx.config, &mut live) {
            return c;
        }
    }
    print(ops::promotions::cast(
        &ctx,
        live,
        &args.id,
        &args.reason,
        vote,
    ))
}
