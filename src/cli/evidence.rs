//! `gander evidence add SERVICE FILE… [--kind KIND]` and `gander evidence list SERVICE`.
//! Files are read (format from the content), copied into the seed 003 layout
//! `audit/services/{service}/evidence/{YYYYMMDD}/{kind}/`, and recorded in the chain by
//! SHA-256 with their verdict. One unreadable file refuses the whole batch: nothing is
//! copied or recorded.

use super::store_ctx::{self, LOCK_WAIT};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::config::EvidenceKind;
use crate::engine::ledger::{Ledger, kind};
use crate::evidence::{Policy, Reading, read};
use crate::io::store::{Draft, Store};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use std::io::{Read, Write};
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
        /// The OpenSSH ed25519 private key to sign with
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
    let Some(svc) = config.service(&service) else {
        let names: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
        eprintln!(
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
                    eprintln!(
                        "gander: --kind {}: one of sast, tests, coverage, sbom, metrics",
                        k.unwrap_or_default()
                    );
                    return EXIT_USAGE;
                }
            };
            let policy = Policy {
                service: service.clone(),
                version: svc.def.spec.version.clone(),
                sast_fail_level: config.org.evidence.sast_fail_level,
                baseline: svc.def.baseline.clone(),
            };
            add(
                &config,
                &located.dir,
                state.as_deref(),
                &policy,
                &files,
                kind,
                key.as_deref(),
            )
        }
    }
}

/// Copy `from` to `to` through a temp file, hashing as it goes; fsync, rename, fsync dir.
pub fn copy_hashed(from: &Path, to: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::File::create(&tmp)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
    }
    dst.sync_all()?;
    drop(dst);
    std::fs::rename(&tmp, to)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Copy read files into the audit layout and append their evidence records (one write).
/// On failure the copies made are removed and nothing is recorded.
pub fn record(
    store: &Store,
    lock: &crate::io::store::Lock,
    read_chain: &crate::io::store::ChainRead,
    service: &str,
    readings: &[(PathBuf, Reading)],
    signer: &crate::io::store::Signer,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<crate::engine::chain::Record>, String> {
    let day = now.format("%Y%m%d").to_string();
    let mut drafts = Vec::new();
    let mut copied: Vec<String> = Vec::new();
    let undo = |copied: &[String]| {
        for c in copied {
            let _ = std::fs::remove_file(store.root.join(c));
        }
    };
    for (f, r) in readings {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("evidence");
        let rel_dir = format!(
            "audit/services/{service}/evidence/{day}/{}",
            r.kind.as_str()
        );
        let mut rel = format!("{rel_dir}/{name}");
        if store.root.join(&rel).exists() {
            rel = format!("{rel_dir}/{}-{name}", now.format("%H%M%S%.3f"));
        }
        let sha = match copy_hashed(f, &store.root.join(&rel)) {
            Ok(s) => s,
            Err(e) => {
                undo(&copied);
                return Err(format!("{}: {e}; nothing recorded", f.display()));
            }
        };
        copied.push(rel.clone());
        drafts.push(Draft {
            promotion_id: "-".into(),
            service: service.to_string(),
            kind: kind::EVIDENCE.into(),
            data: json!({
                "evidence_kind": r.kind,
                "format": r.format,
                "source": f.display().to_string(),
                "artifacts": [{"path": rel, "sha256": sha}],
                "passed": r.passed,
                "summary": r.summary,
                // Records hold integers only: the figure is stored x100 (figure_scale).
                "figure": r.figure.map(|x| (x * 100.0).round() as i64),
                "figure_scale": 100,
                "details": r.details.iter().take(20).collect::<Vec<_>>(),
            }),
        });
    }
    match store.append(lock, read_chain, drafts, signer, now) {
        Ok(recs) => {
            let _ = store.write_layout(&recs);
            Ok(recs)
        }
        Err(e) => {
            undo(&copied);
            Err(e.to_string())
        }
    }
}

fn add(
    config: &crate::engine::config::Config,
    config_dir: &Path,
    state: Option<&Path>,
    policy: &Policy,
    files: &[PathBuf],
    kind: Option<EvidenceKind>,
    key: Option<&Path>,
) -> i32 {
    // Identity first, then read every file; refuse the batch on any failure.
    let (signer, _) = match store_ctx::signer(config_dir, config, key) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut readings: Vec<(&PathBuf, Reading)> = Vec::new();
    let mut failed = false;
    for f in files {
        match read(f, kind, policy) {
            Ok(r) => readings.push((f, r)),
            Err(e) => {
                eprintln!("gander: refused: {e}");
                failed = true;
            }
        }
    }
    if failed {
        eprintln!("gander: nothing recorded: every file of a batch must be readable");
        return EXIT_FAILED;
    }
    let store = match store_ctx::open_store(state) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let lock = match store.lock(true, LOCK_WAIT) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let mut read_chain = match store.read(&lock) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    if read_chain.torn.is_some() {
        if let Ok(Some(p)) = store.set_aside_torn(&lock, &read_chain) {
            eprintln!(
                "gander: the chain ended in a torn record (a crash mid-append); it was moved to {}",
                p.display()
            );
            read_chain.torn = None;
        }
    }
    let now = Utc::now();
    let owned: Vec<(PathBuf, Reading)> =
        readings.into_iter().map(|(f, r)| (f.clone(), r)).collect();
    match record(
        &store,
        &lock,
        &read_chain,
        &policy.service,
        &owned,
        &signer,
        now,
    ) {
        Ok(recs) => {
            for ((f, r), rec) in owned.iter().zip(&recs) {
                println!(
                    "{} {} ({} {}): {} — chain #{} sha256 {}…",
                    if r.passed { "✓" } else { "✗" },
                    f.display(),
                    r.kind.as_str(),
                    r.format,
                    r.summary,
                    rec.seq,
                    &rec.evidence.data["artifacts"][0]["sha256"]
                        .as_str()
                        .unwrap_or("")[..12]
                );
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("gander: {e}");
            EXIT_FAILED
        }
    }
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
}

fn list(
    config: &crate::engine::config::Config,
    config_dir: &Path,
    state: Option<&Path>,
    service: &str,
    json_out: bool,
) -> i32 {
    let store: Store = match store_ctx::open_store(state) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let read_chain = match store.lock(false, LOCK_WAIT).and_then(|l| store.read(&l)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let ledger = Ledger::fold(
        &store_ctx::records(&read_chain),
        &store_ctx::signed_by(signers.as_ref().ok()),
    );
    let newest = ledger.evidence.get(service).cloned().unwrap_or_default();
    let mut items: Vec<Item> = ledger
        .evidence_history
        .iter()
        .filter(|(s, ..)| s == service)
        .map(|(_, k, v, seq)| Item {
            kind: *k,
            passed: v.passed,
            summary: v.summary.clone(),
            file: v.file.clone(),
            collected_at: v
                .collected_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            seq: *seq,
            newest: newest
                .get(k)
                .is_some_and(|n| n.file == v.file && n.collected_at == v.collected_at),
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
        println!("no evidence on file for {service}: `gander evidence add {service} FILE…`");
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
        println!(
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
    println!("* = the evidence the gates use (the newest of its kind)");
    EXIT_OK
}
