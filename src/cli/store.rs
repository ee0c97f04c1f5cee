//! `gander store`: set up a shared directory, see where the chain is, and move a chain
//! between the file format and PostgreSQL.

use super::{EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE};
use crate::engine::chain::{self, GENESIS, Record};
use crate::io::pg::{self, PgChain, PgError};
use crate::io::store::{self, Store};
use crate::ops::store::{self as store_ctx, LOCK_WAIT, Location};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCmd {
    /// Make DIR a store shared by a Unix group: setgid, group-writable, lock ready
    Init {
        dir: PathBuf,
        /// The group whose members share it
        #[arg(long)]
        group: String,
    },
    /// Where the chain is, and (PostgreSQL) whether the database answers
    Status,
    /// Write the chain in the file format (byte-identical records) for auditors
    Export {
        /// The chain file to write (`-` for stdout)
        file: PathBuf,
        /// Also write the evidence files, in the audit layout, under DIR
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
    },
    /// Move a verified file chain into an empty PostgreSQL store
    Import {
        /// A chain file (`audit/chain.jsonl` of a file store)
        file: PathBuf,
        /// Where the records' evidence paths are relative to (default: the store the
        /// file belongs to, i.e. the directory above `audit/`)
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
    },
}

fn code_of(e: &PgError) -> i32 {
    match e {
        PgError::Unreachable { .. } => EXIT_UNREACHABLE,
        PgError::Refused(_) => EXIT_FAILED,
        PgError::Config(_) => EXIT_USAGE,
    }
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    if let StoreCmd::Init { dir, group } = &args.command {
        #[cfg(unix)]
        return match store::shared::init(dir, group) {
            Ok(m) => {
                crate::out!("{m}");
                EXIT_OK
            }
            Err(e) => {
                crate::err!("gander: {e}");
                EXIT_FAILED
            }
        };
        #[cfg(not(unix))]
        {
            let _ = (dir, group);
            crate::err!("gander: shared directories need a Unix host");
            return EXIT_USAGE;
        }
    }
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let location = match store_ctx::locate(&config, state.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    match args.command {
        StoreCmd::Init { .. } => EXIT_OK,
        StoreCmd::Status => status(&location),
        StoreCmd::Export { file, artifacts } => export(location, &file, artifacts.as_deref()),
        StoreCmd::Import { file, artifacts } => import(
            &location,
            &located.dir,
            &config,
            &file,
            artifacts.as_deref(),
        ),
    }
}

fn status(location: &Location) -> i32 {
    crate::out!("store: {}", location.describe());
    let Location::Postgres { spec, mirror } = location else {
        return EXIT_OK;
    };
    match PgChain::connect(spec).and_then(|db| db.head()) {
        Ok((seq, hash)) => {
            crate::out!(
                "database: answers; {seq} records, head {}",
                hash.as_deref()
                    .map_or("(empty)".into(), |h| format!("{}…", &h[..12]))
            );
        }
        Err(e) => {
            crate::out!("database: {e}");
            if let Some(t) = store_ctx::pulled_at(mirror) {
                crate::out!(
                    "this bastion's copy was last brought up to date at {}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            return code_of(&e);
        }
    }
    EXIT_OK
}

/// Each artifact a record names: (path, sha256).
fn artifacts_of(recs: &[Record]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in recs {
        if let Some(list) = r.evidence.data.get("artifacts").and_then(|a| a.as_array()) {
            for a in list {
                if let (Some(p), Some(s)) = (
                    a.get("path").and_then(|x| x.as_str()),
                    a.get("sha256").and_then(|x| x.as_str()),
                ) && !out.iter().any(|(q, _)| q == p)
                {
                    out.push((p.to_string(), s.to_string()));
                }
            }
        }
    }
    out
}

fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    (!rel.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_))))
    .then(|| root.join(p))
}

fn export(location: Location, file: &Path, artifacts: Option<&Path>) -> i32 {
    // The records: from the database itself (checked link by link), or the chain file.
    let (recs, text, db) = match &location {
        Location::Postgres { spec, .. } => {
            let db = match PgChain::connect(spec) {
                Ok(d) => d,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return code_of(&e);
                }
            };
            match pg::export_lines(&db) {
                Ok((r, t)) => (r, t, Some(db)),
                Err(e) => {
                    crate::err!("gander: {e}");
                    return code_of(&e);
                }
            }
        }
        _ => {
            let opened = match store_ctx::open_location(location.clone(), None) {
                Ok(o) => o,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return EXIT_USAGE;
                }
            };
            let st = opened.store;
            let read = match st.lock_shared(LOCK_WAIT).and_then(|l| st.read(&l)) {
                Ok(r) => r,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return EXIT_FAILED;
                }
            };
            let recs: Vec<Record> = read.records.into_iter().map(|(_, r)| r).collect();
            let text: String = recs.iter().map(|r| r.line() + "\n").collect();
            (recs, text, None)
        }
    };
    if file == Path::new("-") {
        use std::io::Write;
        let _ = std::io::stdout().write_all(text.as_bytes());
    } else if let Err(e) = store::write_atomic(file, text.as_bytes()) {
        crate::err!("gander: {e}");
        return EXIT_FAILED;
    }
    let mut written = 0;
    if let Some(dir) = artifacts {
        for (p, sha) in artifacts_of(&recs) {
            let Some(dest) = safe_join(dir, &p) else {
                crate::err!("gander: artifact path {p} leaves the directory; skipped");
                continue;
            };
            let bytes = match &db {
                Some(db) => match db.artifact(&sha) {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        crate::err!("gander: warning: the database does not hold {p}");
                        continue;
                    }
                    Err(e) => {
                        crate::err!("gander: {e}");
                        return code_of(&e);
                    }
                },
                None => match std::fs::read(location.root().join(&p)) {
                    Ok(b) => b,
                    Err(e) => {
                        crate::err!("gander: warning: {p}: {e}");
                        continue;
                    }
                },
            };
            if chain::sha256_hex(&bytes) != sha {
                crate::err!("gander: warning: {p} does not match its recorded sha256; not written");
                continue;
            }
            if let Some(parent) = dest.parent()
                && let Err(e) = std::fs::create_dir_all(parent)
            {
                crate::err!("gander: {}: {e}", parent.display());
                return EXIT_FAILED;
            }
            if let Err(e) = store::write_atomic(&dest, &bytes) {
                crate::err!("gander: {e}");
                return EXIT_FAILED;
            }
            written += 1;
        }
    }
    if file != Path::new("-") {
        crate::err!(
            "exported {} record{} from {} to {}{}",
            recs.len(),
            if recs.len() == 1 { "" } else { "s" },
            location.describe(),
            file.display(),
            artifacts.map_or(String::new(), |d| format!(
                " and {written} evidence file{} under {}",
                if written == 1 { "" } else { "s" },
                d.display()
            ))
        );
    }
    EXIT_OK
}

fn import(
    location: &Location,
    config_dir: &Path,
    config: &crate::engine::config::Config,
    file: &Path,
    artifacts: Option<&Path>,
) -> i32 {
    let Location::Postgres { spec, .. } = location else {
        crate::err!(
            "gander: import moves a file chain into PostgreSQL; the configured store is {}\n  help: set `store: {{postgres: …}}` in org-config, or pass --store postgres://…",
            location.describe()
        );
        return EXIT_USAGE;
    };
    // Verify it as a file store: hashes, links, signatures, artifacts.
    let root = artifacts.map(Path::to_path_buf).unwrap_or_else(|| {
        let parent = file.parent().unwrap_or(Path::new("."));
        if parent.file_name().is_some_and(|n| n == "audit") {
            parent.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            parent.to_path_buf()
        }
    });
    let staging = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            crate::err!("gander: {}: {e}", file.display());
            return EXIT_USAGE;
        }
    };
    let st = match Store::open(staging.path()) {
        Ok(s) => s,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    if let Err(e) = std::fs::write(st.chain_path(), &bytes) {
        crate::err!("gander: {e}");
        return EXIT_FAILED;
    }
    let read = match st.lock_shared(LOCK_WAIT).and_then(|l| st.read(&l)) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let recs: Vec<Record> = read.records.iter().map(|(_, r)| r.clone()).collect();
    // Artifacts are read from where the records say, relative to the source store.
    let files: Vec<(String, Vec<u8>)> = artifacts_of(&recs)
        .into_iter()
        .filter_map(|(p, sha)| {
            let b = std::fs::read(safe_join(&root, &p)?).ok()?;
            Some((sha, b))
        })
        .collect();
    for (p, _) in artifacts_of(&recs) {
        if let Some(src) = safe_join(&root, &p) {
            if let Some(d) = st.root.join(&p).parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let _ = std::fs::copy(&src, st.root.join(&p));
        }
    }
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let signers = match signers {
        Ok(s) => s,
        Err(e) => {
            crate::err!("gander: {e}\n  help: import verifies every signature first");
            return EXIT_USAGE;
        }
    };
    let report = store::verify(&st, &read, Some(&signers));
    if !report.ok() || read.torn.is_some() || recs.is_empty() {
        for p in report.problems.iter().take(5) {
            crate::err!("{}:{}: {}", file.display(), p.line, p.message);
        }
        crate::err!(
            "gander: nothing imported: {}",
            if recs.is_empty() {
                "the file holds no records".to_string()
            } else if read.torn.is_some() {
                "the file ends in a torn record".to_string()
            } else {
                format!(
                    "the chain does not verify ({} problems)",
                    report.problems.len()
                )
            }
        );
        return EXIT_FAILED;
    }
    let mut db = match PgChain::connect(spec) {
        Ok(d) => d,
        Err(e) => {
            crate::err!("gander: {e}");
            return code_of(&e);
        }
    };
    let res = db.lock_writer(LOCK_WAIT).and_then(|_| db.head()).and_then(|(seq, _)| {
        if seq != 0 {
            return Err(PgError::Refused(format!(
                "the database already holds {seq} records; import moves a chain into an empty store only"
            )));
        }
        db.insert(&recs, &files).map(|_| ())
    });
    match res {
        Ok(()) => {
            let last = recs.last().map_or(GENESIS.to_string(), |r| r.hash.clone());
            crate::out!(
                "imported {} records ({} evidence files) into {}; head {}:{}",
                recs.len(),
                files.len(),
                spec.display(),
                recs.len(),
                last
            );
            EXIT_OK
        }
        Err(e) => {
            crate::err!("gander: nothing imported: {e}");
            code_of(&e)
        }
    }
}
