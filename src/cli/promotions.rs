//! `gander promotions`: open and recent promotions with their gate verdicts.

use super::{EXIT_OK, EXIT_USAGE, output};
use crate::engine::ledger::{Ledger, Promotion, PromotionStatus};
use crate::ops::store::{self as store_ctx, LOCK_WAIT};
use chrono::Utc;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    /// How many closed promotions to show besides the open ones
    #[arg(long, default_value_t = 20)]
    pub recent: usize,
}

#[derive(Serialize)]
struct Report<'a> {
    open: Vec<&'a Promotion>,
    recent: Vec<&'a Promotion>,
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match super::open_store(&config, &located.dir, state.as_deref()) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let lock = match store.lock_shared(LOCK_WAIT) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return super::EXIT_FAILED;
        }
    };
    let read = match store.read(&lock) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    drop(lock);
    let (_, signers) = store_ctx::load_signers(&located.dir, &config);
    let ledger = Ledger::fold(
        store_ctx::records(&read),
        &store_ctx::signed_by(signers.as_ref().ok()),
    );
    let open: Vec<&Promotion> = ledger
        .promotions
        .iter()
        .filter(|p| p.status == PromotionStatus::Open)
        .collect();
    let mut recent: Vec<&Promotion> = ledger
        .promotions
        .iter()
        .filter(|p| p.status != PromotionStatus::Open)
        .collect();
    recent.reverse();
    recent.truncate(args.recent);
    if args.json {
        output::print_json("promotions", &Report { open, recent });
        return EXIT_OK;
    }
    let now = Utc::now();
    let need = config.org.approval.required_approvals;
    let line = |p: &Promotion| {
        let verdict = p
            .validation
            .as_ref()
            .and_then(|v| v.get("verdict"))
            .and_then(|v| v.as_str())
            .unwrap_or("-");
        let age = crate::engine::config::Duration(
            (now - p.requested_at).num_seconds().max(0) as u64 / 60 * 60,
        );
        // Counted as the gate counts them (by key, eligibility, expiry), with why not.
        let (counted, ignored) = crate::engine::authority::count_approvals(
            &config,
            &p.service,
            &p.requester,
            p.requester_key.as_deref(),
            p.approvals
                .iter()
                .map(|v| crate::engine::authority::Ballot {
                    by: &v.by,
                    key: v.key.as_deref(),
                    at: v.at,
                    signed: v.signed,
                }),
            now,
        );
        let approvals: Vec<String> = counted
            .iter()
            .map(|b| b.to_string())
            .chain(
                ignored
                    .iter()
                    .map(|(b, why)| format!("{b}: not counted, {why}")),
            )
            .collect();
        let counted_n = counted.len();
        // A transition that needs no approval says so, not "0/1".
        let approvals = if crate::engine::authority::needs_approval(&config, &p.to) {
            format!(
                "approvals {counted_n}/{need}{}",
                if approvals.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", approvals.join(", "))
                }
            )
        } else {
            "no approval needed".to_string()
        };
        crate::out!(
            "  {}  {:<14} {:<35} {:<10} by {:<10} {} ago  {approvals}  last check: {verdict}",
            p.id,
            p.service,
            format!("{} -> {}", p.from, p.to),
            p.status.as_str(),
            p.requester,
            age,
        );
        if let Some(r) = &p.closed_reason {
            crate::out!("      closed: {}", crate::diag::printable(r));
        }
        if p.status == PromotionStatus::Open {
            for b in p
                .validation
                .as_ref()
                .and_then(|v| v.get("blockers"))
                .and_then(|b| b.as_array())
                .into_iter()
                .flatten()
                .filter_map(|b| b.as_str())
            {
                crate::out!("      {}", crate::diag::printable(b));
            }
        }
    };
    crate::out!("Open promotions ({}):", open.len());
    for p in &open {
        line(p);
    }
    crate::out!("Recent ({}):", recent.len());
    for p in &recent {
        line(p);
    }
    EXIT_OK
}
