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
    /// Also check the chain against a head written down earlier (`gander head`)
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
}

/// `SEQ:HASH` as `gander head` prints it.
fn parse_head(s: &str) -> Option<(u64, String)> {
    let (seq, hash) = s.split_once(':')?;
    let hash = hash.trim();
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(())
        .and(
            seq.trim()
                .parse()
                .ok()
                .map(|n| (n, hash.to_ascii_lowercase())),
        )
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let expect = match args.expect_head.as_deref().map(|h| (h, parse_head(h))) {
        None => None,
        Some((_, Some(h))) => Some(h),
        Some((h, None)) => {
            crate::err!(
                "gander: --expect-head {h}: write SEQ:HASH as `gander head` prints it (a number, a colon, 64 hex digits)"
            );
            return EXIT_USAGE;
        }
    };
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let opened = match store_ctx::open_read(&config, &located.dir, state.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    // PostgreSQL: the database itself is what is verified; a copy that could not be
    // brought up to date is not a verdict on it.
    if let (Some(why), store_ctx::Location::Postgres { spec, .. }) =
        (&opened.stale, &opened.location)
    {
        let unreachable = why.contains("unreachable");
        let first = why.lines().next().unwrap_or(why);
        if args.json {
            output::print_json(
                "verify",
                &serde_json::json!({"chain": spec.display(), "ok": false, "reachable": !unreachable, "problems": [{"line": null, "seq": null, "message": first}]}),
            );
        } else {
            crate::out!("{}: FAILED: {first}", spec.display());
        }
        crate::err!("gander: the team store could not be verified: {why}");
        return if unreachable {
            super::EXIT_UNREACHABLE
        } else {
            EXIT_FAILED
        };
    }
    let st = opened.store;
    let (sp, signers) = store_ctx::load_signers(&located.dir, &config);
    if let Err(e) = &signers {
        crate::err!("gander: warning: {e}\n  every signature will be reported as unverifiable");
    }
    // A shared lock: no append is half-written while we read.
    let lock = match st.lock_shared(LOCK_WAIT) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let read = match st.read_full(&lock) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    drop(lock);
    let mut report = store::verify(&st, &read, signers.as_ref().ok());
    // What signatures cannot prove: that the rules allowed each state change.
    report
        .problems
        .extend(store_ctx::justify(&config, &read, signers.as_ref().ok()));
    report.problems.sort_by_key(|p| p.line);
    if let store_ctx::Location::Postgres { spec, .. } = &opened.location {
        // Every line the database holds, byte for byte, against the copy just verified
        // (a row edited in place behind the append-only trigger shows here).
        match store_ctx::compare_with_database(spec, &read) {
            Ok(findings) => report.problems.extend(findings),
            Err(e @ crate::io::pg::PgError::Unreachable { .. }) => {
                crate::err!("gander: the team store could not be verified: {e}");
                return super::EXIT_UNREACHABLE;
            }
            Err(e) => report.problems.push(store::Finding {
                line: 0,
                seq: None,
                message: format!("in the database: {e}"),
            }),
        }
    }
    // Truncation and forks: against the head this user last saw, and the one given.
    report.problems.extend(crate::io::heads::check(&st, &read));
    if let Some((seq, hash)) = &expect {
        report.problems.extend(crate::io::heads::compare(
            &read,
            *seq,
            hash,
            "the expected head is",
        ));
    }
    if report.ok() && signers.is_ok() {
        crate::io::heads::remember_read(&st, &read);
    }
    if args.json {
        output::print_json("verify", &report);
    } else {
        for p in &report.problems {
            crate::out!(
                "{}:{}: {}{}",
                report.chain,
                p.line,
                p.seq.map(|s| format!("seq {s}: ")).unwrap_or_default(),
                p.message
            );
        }
        if let Some(t) = &report.torn_tail {
            crate::out!("{}:{}: note: {}", report.chain, t.line, t.message);
        }
        for u in &report.unreferenced {
            crate::out!(
                "note: {u:?}: an evidence copy no record references (a crash between copying and recording?); it is not evidence"
            );
        }
        if report.ok() {
            crate::out!(
                "{}: ok: {} records, hashes and links intact, {} signatures verified against {}, {} artifacts match",
                report.chain,
                report.records,
                report.signatures_checked,
                sp.display(),
                report.artifacts_checked
            );
        } else {
            let first = &report.problems[0];
            crate::out!(
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
