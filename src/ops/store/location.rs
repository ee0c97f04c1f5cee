//! Where the team's chain is (the operator's own directory, a shared directory, or
//! PostgreSQL with this bastion's verified copy), and opening it for reading.

use super::{LOCK_WAIT, OpsError, load_signers};
use crate::engine::config::Config;
use crate::engine::identity::AllowedSigners;
use crate::io::keys;
use crate::io::pg::{self, PgChain, PgError, PgSpec};
use crate::io::store::{self, ChainRead, Store};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the chain is.
#[derive(Debug, Clone)]
pub enum Location {
    /// The operator's own state directory (one operator, no server).
    Local(PathBuf),
    /// A directory shared by the team's Unix users on one host.
    Shared(PathBuf),
    /// PostgreSQL, with this bastion's copy of the chain under the state dir.
    Postgres { spec: PgSpec, mirror: PathBuf },
}

impl Location {
    /// The directory the file store reads and writes (for PostgreSQL: the copy).
    pub fn root(&self) -> &Path {
        match self {
            Location::Local(d) | Location::Shared(d) => d,
            Location::Postgres { mirror, .. } => mirror,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Location::Local(d) => format!("{} (this operator's own)", d.display()),
            Location::Shared(d) => format!("{} (shared directory)", d.display()),
            Location::Postgres { spec, mirror } => {
                format!(
                    "{} (this bastion's copy: {})",
                    spec.display(),
                    mirror.display()
                )
            }
        }
    }
}

static STORE_FLAG: OnceLock<String> = OnceLock::new();
static OWN_STORE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The demo records into its own state directory whatever `--store` or
/// `$GANDER_STORE` say: its made-up evidence must never reach a team's chain. Returns
/// whether an override was set (and is now ignored).
pub fn own_store_only() -> bool {
    OWN_STORE_ONLY.store(true, std::sync::atomic::Ordering::SeqCst);
    STORE_FLAG.get().is_some() || std::env::var("GANDER_STORE").is_ok_and(|v| !v.trim().is_empty())
}

/// `--store` from the command line (wins over `$GANDER_STORE` and org-config).
pub fn set_store_flag(value: String) {
    let _ = STORE_FLAG.set(value);
}

fn is_pg(v: &str) -> bool {
    v.starts_with("postgres://") || v.starts_with("postgresql://") || v.starts_with("pg:")
}

/// Where the chain is: `--store`, then `$GANDER_STORE`, then org-config's `store:`, then
/// the state directory.
pub fn locate(config: &Config, state: Option<&Path>) -> Result<Location, String> {
    let own = OWN_STORE_ONLY.load(std::sync::atomic::Ordering::SeqCst);
    let over = STORE_FLAG.get().cloned().filter(|_| !own).or_else(|| {
        std::env::var("GANDER_STORE")
            .ok()
            .filter(|v| !own && !v.trim().is_empty())
    });
    let cfg = config.org.store.as_ref();
    let pg = |conn: String| {
        let Some(state) = state else {
            return Err("no state directory for this bastion's copy of the chain: pass --state-dir or set GANDER_STATE_DIR".to_string());
        };
        let spec = PgSpec {
            conn,
            password: cfg
                .and_then(|c| c.password.clone())
                .or_else(|| std::env::var_os("PGPASSWORD").map(|_| "env:PGPASSWORD".to_string())),
            ca_file: cfg.and_then(|c| c.ca_file.as_deref()).map(keys::expand),
            max_artifact_bytes: cfg.map_or(64 << 20, |c| c.max_artifact_bytes),
        };
        let mirror = state.join("stores").join(spec.mirror_name());
        Ok(Location::Postgres { spec, mirror })
    };
    if let Some(v) = over {
        return if is_pg(&v) {
            let conn = v.strip_prefix("pg:").unwrap_or(&v);
            match conn.parse::<tokio_postgres::Config>() {
                Err(e) => Err(format!("--store / GANDER_STORE: not a PostgreSQL connection string: {e}")),
                Ok(c) if c.get_password().is_some() => Err(
                    "--store / GANDER_STORE holds a password, which would end up in shell history, logs and process lists; refused\n  help: set $PGPASSWORD, or `store.password: env:NAME` in org-config".into(),
                ),
                Ok(_) => pg(v),
            }
        } else {
            Ok(Location::Shared(keys::expand(&v)))
        };
    }
    if let Some(c) = cfg {
        if let Some(conn) = &c.postgres {
            return pg(conn.clone());
        }
        if let Some(d) = &c.directory {
            return Ok(Location::Shared(keys::expand(d)));
        }
    }
    match state {
        Some(d) => Ok(Location::Local(d.to_path_buf())),
        None => Err("no state directory: pass --state-dir or set GANDER_STATE_DIR".into()),
    }
}

/// The store opened for reading, and what the reader must be told about it.
pub struct Opened {
    pub store: Store,
    pub location: Location,
    /// Set when the chain shown is not the team's latest (the database unreachable):
    /// what happened and how old the copy is.
    pub stale: Option<String>,
}

pub(super) fn pg_to_ops(e: PgError) -> OpsError {
    match e {
        PgError::Unreachable { .. } => OpsError::Unreachable(format!("nothing recorded: {e}")),
        PgError::Refused(m) => OpsError::Store(m),
        PgError::Config(m) => OpsError::Usage(m),
    }
}

/// When this bastion's copy was last brought up to date.
pub fn pulled_at(mirror: &Path) -> Option<DateTime<Utc>> {
    let t = std::fs::metadata(mirror.join("pulled"))
        .ok()?
        .modified()
        .ok()?;
    Some(DateTime::<Utc>::from(t))
}

/// Bring this bastion's copy up to the database.
pub fn sync_copy(
    spec: &PgSpec,
    store: &Store,
    signers: Option<&AllowedSigners>,
) -> Result<pg::Pulled, PgError> {
    let db = PgChain::connect(spec)?;
    let lock = store
        .lock_exclusive(LOCK_WAIT)
        .map_err(|e| PgError::Refused(e.to_string()))?;
    let mut read = store
        .read(&lock)
        .map_err(|e| PgError::Refused(e.to_string()))?;
    if read.torn.is_some() {
        store
            .set_aside_torn(&lock, &read)
            .map_err(|e| PgError::Refused(e.to_string()))?;
        read.torn = None;
    }
    let pulled = pg::pull(&db, store, &lock, &mut read, signers)?;
    let _ = std::fs::write(store.root.join("pulled"), Utc::now().to_rfc3339());
    if let Ok(id) = db.store_id() {
        let _ = std::fs::write(store.root.join("store-id"), &id);
    }
    Ok(pulled)
}

/// Every line the database holds against the copy's: (line, problem) where they differ.
pub fn compare_with_database(
    spec: &PgSpec,
    read: &ChainRead,
) -> Result<Vec<store::Finding>, PgError> {
    let db = PgChain::connect(spec)?;
    let mut out = compare_lines(&db, read)?;
    // And every evidence file the database holds for the chain, by digest (a bastion
    // that already has its own copy would not notice the database's changing).
    let mut seen = std::collections::HashSet::new();
    for (line, r) in &read.records {
        for a in r
            .evidence
            .data
            .get("artifacts")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(p), Some(sha)) = (
                a.get("path").and_then(|x| x.as_str()),
                a.get("sha256").and_then(|x| x.as_str()),
            ) else {
                continue;
            };
            if !seen.insert(sha.to_string()) {
                continue;
            }
            let problem = match db.artifact(sha) {
                Ok(Some(_)) => None,
                Ok(None) => Some(format!("the database does not hold artifact {p}")),
                Err(PgError::Refused(m)) => Some(format!("{m} ({p})")),
                Err(e) => return Err(e),
            };
            if let Some(message) = problem {
                out.push(store::Finding {
                    line: *line,
                    seq: Some(r.seq),
                    message,
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn compare_lines(
    db: &PgChain,
    read: &ChainRead,
) -> Result<Vec<store::Finding>, PgError> {
    let lines = db.lines_after(0)?;
    let mut out = Vec::new();
    if let Err(e) = pg::check_lines(&lines, 0, crate::engine::chain::GENESIS.to_string()) {
        out.push(store::Finding {
            line: 0,
            seq: None,
            message: e.to_string(),
        });
    }
    for (i, (seq, line)) in lines.iter().enumerate() {
        match read.records.get(i) {
            Some((_, r)) if r.line() == *line => {}
            Some((l, _)) => out.push(store::Finding {
                line: *l,
                seq: Some(*seq),
                message: format!(
                    "the database's record seq {seq} differs from this bastion's copy"
                ),
            }),
            None => {}
        }
    }
    if lines.len() < read.records.len() {
        out.push(store::Finding {
            line: read.records.len(),
            seq: Some(lines.len() as u64 + 1),
            message: format!(
                "the database holds {} records but this bastion's copy holds {}: records were removed from the database",
                lines.len(),
                read.records.len()
            ),
        });
    }
    Ok(out)
}

/// Open the store at `location` for reading (shared: checked; PostgreSQL: the copy
/// brought up to date, or said to be old when the database cannot be reached).
pub fn open_location(
    location: Location,
    signers: Option<&AllowedSigners>,
) -> Result<Opened, String> {
    let mut stale = None;
    let store = match &location {
        Location::Local(d) => Store::open(d).map_err(|e| e.to_string())?,
        #[cfg(unix)]
        Location::Shared(d) => {
            store::shared::check(d)?;
            Store::open(d).map_err(|e| e.to_string())?
        }
        #[cfg(not(unix))]
        Location::Shared(d) => Store::open(d).map_err(|e| e.to_string())?,
        Location::Postgres { spec, mirror } => {
            let mut st = Store::open(mirror).map_err(|e| e.to_string())?;
            let sync = sync_copy(spec, &st, signers);
            st.name = copy_name(mirror);
            if let Err(e) = sync {
                let age = pulled_at(mirror).map_or("never brought up to date".to_string(), |t| {
                    format!(
                        "as of {} ({} ago)",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        crate::engine::config::Duration(
                            (Utc::now() - t).num_seconds().max(0) as u64
                        )
                    )
                });
                stale = Some(format!(
                    "{e}\n  showing this bastion's copy of the chain, {age}"
                ));
            }
            st
        }
    };
    Ok(Opened {
        store,
        location,
        stale,
    })
}

/// The org a file store's chain belongs to: `audit/org`, written with the first record.
/// Two orgs configured without a `store:` share the user's default state directory; without
/// this mark the second would read and extend the first one's chain as its own.
pub fn check_org(location: &Location, org: &str, claim: bool) -> Result<(), String> {
    let root = match location {
        Location::Local(d) | Location::Shared(d) => d,
        Location::Postgres { .. } => return Ok(()),
    };
    let mark = root.join("audit").join("org");
    match std::fs::read_to_string(&mark) {
        Ok(held) if held.trim_end_matches('\n') == org => Ok(()),
        Ok(held) => Err(format!(
            "{} holds the chain of org `{}`, and this config is org `{org}`; nothing read or written\n  help: give this org its own store: --state-dir DIR, $GANDER_STATE_DIR, or `store:` in org-config",
            root.display(),
            held.trim_end_matches('\n')
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if claim {
                crate::io::store::write_atomic(&mark, format!("{org}\n").as_bytes())
                    .map_err(|e| format!("{}: {e}", mark.display()))?;
            }
            Ok(())
        }
        Err(e) => Err(format!("{}: {e}", mark.display())),
    }
}

/// Open the configured store for reading.
pub fn open_read(
    config: &Config,
    config_dir: &Path,
    state: Option<&Path>,
) -> Result<Opened, String> {
    let location = locate(config, state)?;
    check_org(&location, &config.org.org.name, false)?;
    let signers = match &location {
        Location::Postgres { .. } => load_signers(config_dir, config).1.ok(),
        _ => None,
    };
    open_location(location, signers.as_ref())
}

/// A PostgreSQL copy's name for remembered heads: the database's own identity, as last
/// read from it (`STATE/stores/pg-…/store-id`).
pub fn copy_name(mirror: &Path) -> Option<String> {
    std::fs::read_to_string(mirror.join("store-id"))
        .ok()
        .map(|id| format!("postgres store {}", id.trim()))
}
