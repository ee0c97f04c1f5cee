//! `gander validate`: every configuration problem in one run.

use super::{EXIT_OK, EXIT_USAGE, output};
use crate::engine::diag::Diagnostic;
use crate::io::config_dir;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    dir: String,
    ok: bool,
    errors: usize,
    warnings: usize,
    services: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn run(config: Option<PathBuf>, args: Args) -> i32 {
    let located = match super::locate(config) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    let mut loaded = match config_dir::load_dir(&located.dir) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    // Runbooks are checked with the config (user files in CONFIG/runbooks and the
    // built-in ones they do not replace).
    let (books, rb_diags) = crate::io::runbooks::load(&located.dir);
    if rb_diags.iter().any(|d| d.is_error()) {
        loaded.config = None;
    }
    loaded.diagnostics.extend(rb_diags);
    // allowed_signers, when there is one: lines ssh-keygen would skip are warnings; one
    // key under two names is an error (one person could approve their own request).
    if let Some(c) = &loaded.config {
        let sp = crate::ops::store::signers_path(&located.dir, c);
        if let Ok(a) = crate::io::keys::load_allowed_signers(&sp) {
            let file = sp.display().to_string();
            for w in &a.skipped {
                let line = w
                    .strip_prefix("line ")
                    .and_then(|r| r.split(':').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let msg = w.split_once(": ").map_or(w.as_str(), |(_, m)| m);
                loaded.diagnostics.push(crate::diag::Diagnostic::warning(
                    &file,
                    crate::diag::Pos { line, column: 1 },
                    format!("{msg}; ssh-keygen skips this line, and so does gander"),
                ));
            }
            for (first, second, fp) in a.duplicate_keys() {
                loaded.diagnostics.push(
                    crate::diag::Diagnostic::error(
                        &file,
                        crate::diag::Pos { line: second, column: 1 },
                        format!("key {fp} is listed again under another principal (first on line {first})"),
                    )
                    .with_help("one key is one person: list each key once, with all its names on that line"),
                );
                loaded.config = None;
            }
        }
    }
    let errors = loaded.errors().count();
    let warnings = loaded.diagnostics.len() - errors;
    let services = loaded.config.as_ref().map_or(0, |c| c.services.len());
    if args.json {
        output::print_json(
            "validate",
            &Report {
                dir: located.dir.display().to_string(),
                ok: errors == 0,
                errors,
                warnings,
                services,
                diagnostics: &loaded.diagnostics,
            },
        );
    } else {
        super::print_diagnostics(&loaded.diagnostics);
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        match &loaded.config {
            Some(c) => crate::out!(
                "{}: ok ({}, {} states, {} gates, {}; {}) [found via {}]",
                located.dir.display(),
                plural(c.services.len(), "service"),
                c.rules.states.len(),
                c.gates.gates.len(),
                plural(books.len(), "runbook"),
                plural(warnings, "warning"),
                located.how
            ),
            None => crate::err!(
                "{}: {} and {}",
                located.dir.display(),
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        }
    }
    if errors > 0 {
        // A broken configuration is "bad config" (2), as for every other command.
        EXIT_USAGE
    } else {
        EXIT_OK
    }
}
