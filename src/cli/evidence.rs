//! `gander evidence add SERVICE FILE… [--kind KIND]` and `gander evidence list SERVICE`.
//! Files are read (format from the content), copied into the seed 003 layout
//! `audit/services/{service}/evidence/{YYYYMMDD}/{kind}/`, and recorded in the chain by
//! SHA-256 with their verdict. One unreadable file refuses the whole batch: nothing is
//! copied or recorded.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::config::EvidenceKind;
use crate::engine::ledger::Ledger;
use crate::io::store::Store;
use crate::ops::Ctx;
use crate::ops::store::{self as store_ctx, LOCK_WAIT};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Read, copy and record evidence files for a service
    Add {
        service: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Require this kind (sast, tests, coverage, sbom, metrics); detected otherwise
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// The OpenSSH key to sign with (ed25519, ECDSA or RSA; or a .pub whose private half is in ssh-agent)
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// What is on file for a service, newest of each kind first, with its verdict
    List {
        service: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let service = match &args.command {
        Sub::Add { service, .. } | Sub::List { service, .. } => service.clone(),
    };
    if config.service(&service).is_none() {
        let names: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
        crate::err!(
            "gander: no service `{service}`{}",
            crate::engine::diag::suggest(&service, names.iter().copied())
                .map(|h| format!("\n  help: {h}"))
                .unwrap_or_default()
        );
        return EXIT_USAGE;
    };
    match args.command {
        Sub::List { json, .. } => list(&config, &located.dir, state.as_deref(), &service, json),
        Sub::Add {
            files,
            kind: k,
            key,
            ..
        } => {
            let kind = match k
                .as_deref()
                .map(|k| serde_json::from_value::<EvidenceKind>(json!(k)))
            {
                None => None,
                Some(Ok(k)) => Some(k),
                Some(Err(_)) => {
                    crate::err!(
                        "gander: --kind {}: one of sast, tests, coverage, sbom, metrics",
                        k.unwrap_or_default()
                    );
                    return EXIT_USAGE;
                }
            };
            let ctx = Ctx::new(
                std::sync::Arc::new(config.clone()),
                &located.dir,
                state.as_deref(),
            )
            .with_key(key.as_deref());
            add(&ctx, &service, &files, kind)
        }
    }
}

fn add(ctx: &Ctx, service: &str, files: &[PathBuf], kind: Option<EvidenceKind>) -> i32 {
    super::record::print(crate::ops::evidence::add_said(ctx, service, files, kind))
}

#[derive(Serialize)]
struct Item {
    kind: EvidenceKind,
    passed: bool,
    summary: String,
    file: String,
    collected_at: String,
    seq: u64,
    newest: bool,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    counts: serde_json::Map<String, serde_json::Value>,
}

fn list(
    config: &crate::engine::config::Config,
    config_dir: &Path,
    state: Option<&Path>,
    service: &str,
    json_out: bool,
) -> i32 {
    let store: Store = match super::open_store(config, config_dir, state) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let read_chain = match store.lock_shared(LOCK_WAIT).and_then(|l| store.read(&l)) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let ledger = Ledger::fold(
        store_ctx::records(&read_chain),
        &store_ctx::signed_by(signers.as_ref().ok()),
    );
    let newest = ledger.evidence.get(service).cloned().unwrap_or_default();
    let mut items: Vec<Item> = ledger
        .evidence_history
        .iter()
        .filter(|(s, ..)| s == service)
        .map(|(_, k, v, seq)| {
            // The verdict the gate gives: coverage is judged against the org's
            // threshold, not only by the file's own figures.
            let threshold = config.org.evidence.coverage_threshold;
            let below = *k == crate::engine::config::EvidenceKind::Coverage
                && v.figure.is_some_and(|f| f < threshold);
            Item {
                kind: *k,
                passed: v.passed && !below,
                summary: if below {
                    format!("{} (below the {threshold} % threshold)", v.summary)
                } else {
                    v.summary.clone()
                },
                counts: v.counts.clone(),
                file: v.file.clone(),
                collected_at: v
                    .collected_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                seq: *seq,
                newest: newest
                    .get(k)
                    .is_some_and(|n| n.file == v.file && n.collected_at == v.collected_at),
            }
        })
        .collect();
    items.reverse();
    if json_out {
        #[derive(Serialize)]
        struct Report<'a> {
            service: &'a str,
            evidence: &'a [Item],
        }
        output::print_json(
            "evidence",
            &Report {
                service,
                evidence: &items,
            },
        );
        return EXIT_OK;
    }
    if items.is_empty() {
        crate::out!("no evidence on file for {service}: `gander evidence add {service} FILE…`");
        return EXIT_OK;
    }
    let max_age = config.org.evidence.max_age;
    for i in &items {
        let stale = (Utc::now()
            - chrono::DateTime::parse_from_rfc3339(&i.collected_at)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now()))
        .num_seconds()
            > max_age.secs() as i64;
        crate::out!(
            "{} {:<8} {} {}{}  {}  (chain #{}, {})",
            if i.newest { "*" } else { " " },
            i.kind.as_str(),
            if i.passed { "✓" } else { "✗" },
            i.summary,
            if stale { " [STALE]" } else { "" },
            i.file,
            i.seq,
            i.collected_at
        );
    }
    crate::out!("* = the evidence the gates use (the newest of its kind)");
    EXIT_OK
}
