//! `gander verify`: the evidence chain, record by record.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::io::store;
use crate::ops::store::{self as store_ctx, LOCK_WAIT};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let st = match super::open_store(state.as_deref()) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (sp, signers) = store_ctx::load_signers(&located.dir, &config);
    if let Err(e) = &signers {
        eprintln!("gander: warning: {e}\n  every signature will be reported as unverifiable");
    }
    // A shared lock: no append is half-written while we read.
    let lock = match st.lock_shared(LOCK_WAIT) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let read = match st.read(&lock) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    drop(lock);
    let report = store::verify(&st, &read, signers.as_ref().ok());
    if args.json {
        output::print_json("verify", &report);
    } else {
        for p in &report.problems {
            println!(
                "{}:{}: {}{}",
                report.chain,
                p.line,
                p.seq.map(|s| format!("seq {s}: ")).unwrap_or_default(),
                p.message
            );
        }
        if let Some(t) = &report.torn_tail {
            println!("{}:{}: note: {}", report.chain, t.line, t.message);
        }
        if report.ok() {
            println!(
                "{}: ok: {} records, hashes and links intact, {} signatures verified against {}, {} artifacts match",
                report.chain,
                report.records,
                report.signatures_checked,
                sp.display(),
                report.artifacts_checked
            );
        } else {
            let first = &report.problems[0];
            println!(
                "{}: FAILED: first bad record at line {}{}: {} ({} problems in all)",
                report.chain,
                first.line,
                first.seq.map(|s| format!(" (seq {s})")).unwrap_or_default(),
                first.message,
                report.problems.len()
            );
        }
    }
    if report.ok() { EXIT_OK } else { EXIT_FAILED }
}
