//! The team store in PostgreSQL: the same records, canonical lines, hashes and SSHSIG
//! signatures as the file chain, in a database that several bastions share.
//!
//! ```text
//! gander_schema           version, applied_at          (migrated on first use)
//! gander_records          seq PK, hash UNIQUE, prev_hash, line (the canonical JSON line)
//!                         a trigger refuses UPDATE, DELETE, TRUNCATE and a record that
//!                         does not link to seq-1
//! gander_artifacts        sha256 PK, size, chunks      (evidence files, deduplicated)
//! gander_artifact_chunks  sha256, n, bytes             (1 MiB chunks)
//!                         (v2: both refuse UPDATE, DELETE, TRUNCATE)
//! ```
//!
//! Writers hold a session advisory lock for the whole operation (released by the
//! server if the process or its connection dies) and append one batch per transaction,
//! then `NOTIFY gander_chain`. A commit whose outcome is unknown (the connection lost at
//! COMMIT) is settled on a new connection by the records' hashes: present means written,
//! absent means not; nothing is ever written twice.
//!
//! Every bastion keeps a verified copy of the chain (a mirror in the file format under
//! its state dir): readers pull what is new into it and read it, and fall back to it,
//! saying how old it is, when the database cannot be reached.

mod sync;
mod tls;

pub use sync::{Pulled, check_lines, export_lines, local_artifacts, pull};

use crate::engine::chain::{Record, sha256_hex};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio_postgres::Client;

#[derive(Debug, Error)]
pub enum PgError {
    /// The server could not be reached or stopped answering (exit 3).
    #[error("the store database {db} is unreachable: {why}")]
    Unreachable { db: String, why: String },
    /// The database said no: a conflict, a chain that does not match (exit 1).
    #[error("{0}")]
    Refused(String),
    /// Bad settings: a password reference, a CA file (exit 2).
    #[error("{0}")]
    Config(String),
}

/// Where the team's database is (no secret in it: the password is a reference).
#[derive(Debug, Clone)]
pub struct PgSpec {
    pub conn: String,
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub max_artifact_bytes: u64,
}

impl PgSpec {
    fn parsed(&self) -> Result<tokio_postgres::Config, PgError> {
        let conn = self.conn.strip_prefix("pg:").unwrap_or(&self.conn);
        conn.parse::<tokio_postgres::Config>()
            .map_err(|e| PgError::Config(format!("not a PostgreSQL connection string: {e}")))
    }

    /// Hosts, ports, database and user: how the database is named in messages and
    /// which mirror it has (never the password).
    pub fn display(&self) -> String {
        let Ok(c) = self.parsed() else {
            return "(unparsable connection string)".into();
        };
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = c.get_ports().get(i).or(c.get_ports().first()).copied();
                let h = match h {
                    tokio_postgres::config::Host::Tcp(s) => s.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                };
                match port {
                    Some(p) => format!("{h}:{p}"),
                    None => h,
                }
            })
            .collect();
        format!(
            "postgres://{}@{}/{}",
            c.get_user().unwrap_or("-"),
            hosts.join(","),
            c.get_dbname().unwrap_or("-")
        )
    }

    /// The mirror's directory name under the state dir.
    pub fn mirror_name(&self) -> String {
        format!("pg-{}", &sha256_hex(self.display().as_bytes())[..16])
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> PgError {
        PgError::Unreachable {
            db: self.display(),
            why: why.to_string(),
        }
    }
}

pub const SCHEMA_VERSION: i32 = 3;
/// The advisory lock every writer holds (`gander` in ASCII).
const WRITE_LOCK: i64 = 0x6761_6e64_6572;
const MIGRATE_LOCK: i64 = 0x6761_6e64_6573;
const CHUNK: usize = 1 << 20;
/// No query waits longer than this for the server.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Each version's migration, applied in order in one transaction: v1 the tables and the
/// append-only guard on records; v2 the same guard on evidence files; v3 the store's
/// own identity (what a user's remembered head is keyed by, whatever host name or state
/// directory reaches it).
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("schema_v1.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
];

/// A connection to the team's database, used from synchronous code (each call blocks
/// on a small runtime of its own, with a timeout).
pub struct PgChain {
    rt: tokio::runtime::Runtime,
    client: Client,
    pub spec: PgSpec,
    /// The server process of this session (to end it when its connection is lost).
    backend: i32,
}

fn db_err(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

/// Connect (TLS through rustls when the server offers it or `ca_file` asks for it),
/// spawning the connection on the current runtime.
pub async fn connect_client(spec: &PgSpec) -> Result<Client, PgError> {
    let (cfg, tls) = prepare(spec)?;
    let (client, conn) = cfg
        .connect(tls)
        .await
        .map_err(|e| spec.unreachable(db_err(&e)))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

fn prepare(
    spec: &PgSpec,
) -> Result<
    (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    PgError,
> {
    let mut cfg = spec.parsed()?;
    if let Some(r) = &spec.password {
        let pw = crate::io::http::read_secret(r)
            .map_err(|e| PgError::Config(format!("store.password: {e}")))?;
        cfg.password(pw);
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(5));
    }
    cfg.keepalives(true)
        .keepalives_idle(Duration::from_secs(15))
        .application_name(format!(
            "gander {} pid {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        ));
    // TLS is required (and the server's certificate checked) unless every host is this
    // machine or the connection string chooses `sslmode` itself: a password must not
    // cross a network in the clear, nor go to a server that merely claims a name.
    let conn = spec.conn.to_ascii_lowercase();
    let local = cfg.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(n) => {
            n == "localhost"
                || n.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => true,
    });
    if spec.ca_file.is_some() || (!local && !conn.contains("sslmode")) {
        cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    let tls = tls::connector(spec.ca_file.as_deref())?;
    Ok((cfg, tls))
}

/// Run `f` with a deadline: a server that stops answering is unreachable, not a hang.
async fn timed<T>(
    spec: &PgSpec,
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, PgError> {
    match tokio::time::timeout(QUERY_TIMEOUT, f).await {
        Err(_) => Err(spec.unreachable(format!("no answer in {}s", QUERY_TIMEOUT.as_secs()))),
        Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) => {
            Err(spec.unreachable(
                "the server is a read-only standby\n  help: list every host and add `target_session_attrs=read-write` so gander finds the primary",
            ))
        }
        Ok(Err(e)) if e.as_db_error().is_some() => Err(PgError::Refused(db_err(&e))),
        Ok(Err(e)) => Err(spec.unreachable(db_err(&e))),
        Ok(Ok(v)) => Ok(v),
    }
}

impl PgChain {
    /// Connect and bring the schema up to date.
    pub fn connect(spec: &PgSpec) -> Result<PgChain, PgError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| spec.unreachable(e))?;
        let mut client = rt.block_on(connect_client(spec))?;
        rt.block_on(migrate(spec, &mut client))?;
        let backend = rt
            .block_on(timed(
                spec,
                client.query_one("SELECT pg_backend_pid()", &[]),
            ))?
            .get::<_, i32>(0);
        Ok(PgChain {
            rt,
            client,
            spec: spec.clone(),
            backend,
        })
    }

    fn block<T>(
        &self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, PgError> {
        self.rt.block_on(timed(&self.spec, f))
    }

    /// The last record's (seq, hash), or (0, genesis) for an empty chain.
    pub fn head(&self) -> Result<(u64, Option<String>), PgError> {
        let row = self.block(self.client.query_opt(
            "SELECT seq, hash FROM gander_records ORDER BY seq DESC LIMIT 1",
            &[],
        ))?;
        Ok(row.map_or((0, None), |r| {
            (r.get::<_, i64>(0) as u64, Some(r.get::<_, String>(1)))
        }))
    }

    pub fn hash_at(&self, seq: u64) -> Result<Option<String>, PgError> {
        let row = self.block(self.client.query_opt(
            "SELECT hash FROM gander_records WHERE seq = $1",
            &[&(seq as i64)],
        ))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Records after `seq`, in order: (seq, canonical line).
    /// Every row's columns must say what its line says (the trigger links by columns).
    pub fn lines_after(&self, seq: u64) -> Result<Vec<(u64, String)>, PgError> {
        let rows = self.block(self.client.query(
            "SELECT seq, line, hash, prev_hash FROM gander_records WHERE seq > $1 ORDER BY seq",
            &[&(seq as i64)],
        ))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let (s, line) = (r.get::<_, i64>(0) as u64, r.get::<_, String>(1));
            let (hash, prev): (String, String) = (r.get(2), r.get(3));
            let parsed = crate::engine::chain::parse_line(&line).ok();
            if parsed
                .as_ref()
                .is_none_or(|p| p.hash != hash || p.prev_hash != prev)
            {
                return Err(PgError::Refused(format!(
                    "the database's row seq {s} has hash/prev_hash columns that differ from its record; the row was edited\n  help: `gander verify`, and restore the database from a copy"
                )));
            }
            out.push((s, line));
        }
        Ok(out)
    }

    /// Take the writers' lock (session-level: the server releases it if this process
    /// or its connection dies), waiting up to `wait`.
    pub fn lock_writer(&self, wait: Duration) -> Result<(), PgError> {
        let start = Instant::now();
        loop {
            let row = self.block(
                self.client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITE_LOCK]),
            )?;
            if row.get::<_, bool>(0) {
                return Ok(());
            }
            if start.elapsed() >= wait {
                let holder = self
                    .block(self.client.query_opt(
                        "SELECT a.application_name || ' from ' || coalesce(host(a.client_addr), 'local socket') \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.locktype = 'advisory' AND l.granted AND l.objid = ($1::bigint & 4294967295)::oid LIMIT 1",
                        &[&WRITE_LOCK],
                    ))
                    .ok()
                    .flatten()
                    .map(|r| r.get::<_, String>(0))
                    .unwrap_or_else(|| "another gander".into());
                return Err(PgError::Refused(format!(
                    "the team store is locked by {holder}; waited {}s\n  help: wait for that command to finish; the server releases a lock whose holder died",
                    wait.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The store's identity (made once, at creation).
    pub fn store_id(&self) -> Result<String, PgError> {
        let row = self.block(
            self.client
                .query_one("SELECT id FROM gander_store LIMIT 1", &[]),
        )?;
        Ok(row.get(0))
    }

    /// Is the evidence file with this digest in the database?
    pub fn has_artifact(&self, sha: &str) -> Result<bool, PgError> {
        let row = self.block(
            self.client
                .query_opt("SELECT 1 FROM gander_artifacts WHERE sha256 = $1", &[&sha]),
        )?;
        Ok(row.is_some())
    }

    /// An evidence file by digest, reassembled from its chunks and checked.
    pub fn artifact(&self, sha: &str) -> Result<Option<Vec<u8>>, PgError> {
        let rows = self.block(self.client.query(
            "SELECT bytes FROM gander_artifact_chunks WHERE sha256 = $1 ORDER BY n",
            &[&sha],
        ))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for r in rows {
            out.extend_from_slice(r.get::<_, &[u8]>(0));
        }
        if sha256_hex(&out) != sha {
            return Err(PgError::Refused(format!(
                "the database's copy of artifact {}… does not match its digest",
                sha.get(..12).unwrap_or(sha)
            )));
        }
        Ok(Some(out))
    }

    /// Append one batch in one transaction: the artifacts (each once, by digest), the
    /// records, and a notification. A commit whose outcome is unknown is settled on a
    /// new connection by the last record's hash; then this connection is replaced by the
    /// new one, the writer lock taken again, and a note says what happened.
    pub fn insert(
        &mut self,
        recs: &[Record],
        artifacts: &[(String, Vec<u8>)],
    ) -> Result<Option<String>, PgError> {
        let Some(last) = recs.last() else {
            return Ok(None);
        };
        for (sha, bytes) in artifacts {
            if bytes.len() as u64 > self.spec.max_artifact_bytes {
                return Err(PgError::Refused(format!(
                    "an evidence file ({}…) is {} bytes, over the store's limit of {} (store.max_artifact_bytes); nothing recorded",
                    sha.get(..12).unwrap_or(sha),
                    bytes.len(),
                    self.spec.max_artifact_bytes
                )));
            }
        }
        let spec = self.spec.clone();
        let fault = std::env::var("GANDER_PG_FAULT").ok();
        let mut committing = false;
        let outcome = {
            let (rt, client) = (&self.rt, &mut self.client);
            rt.block_on(async {
                let tx = timed(&spec, client.transaction()).await?;
                for (sha, bytes) in artifacts {
                    let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
                    let n = timed(&spec, tx.execute(
                        "INSERT INTO gander_artifacts (sha256, size, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[sha, &(bytes.len() as i64), &(chunks.len() as i32)],
                    ))
                    .await?;
                    if n == 1 {
                        for (i, c) in chunks.iter().enumerate() {
                            timed(&spec, tx.execute(
                                "INSERT INTO gander_artifact_chunks (sha256, n, bytes) VALUES ($1, $2, $3)",
                                &[sha, &(i as i32), c],
                            ))
                            .await?;
                        }
                    }
                }
                for r in recs {
                    timed(&spec, tx.execute(
                        "INSERT INTO gander_records (seq, hash, prev_hash, line) VALUES ($1, $2, $3, $4)",
                        &[&(r.seq as i64), &r.hash, &r.prev_hash, &r.line()],
                    ))
                    .await?;
                }
                timed(&spec, tx.execute("SELECT pg_notify('gander_chain', $1)", &[&last.seq.to_string()])).await?;
                committing = true;
                if fault.as_deref() == Some("lose-commit") {
                    // Test hook: send COMMIT and drop the connection without its answer.
                    let f = tx.commit();
                    let _ = tokio::time::timeout(Duration::from_millis(1), f).await;
                    return Err(spec.unreachable("connection lost at COMMIT (GANDER_PG_FAULT)"));
                }
                timed(&spec, tx.commit()).await
            })
        };
        match outcome {
            Ok(()) => Ok(None),
            Err(PgError::Refused(m))
                if m.contains("duplicate key") || m.contains("does not link") =>
            {
                Err(PgError::Refused(format!(
                    "another operator recorded seq {} first; nothing recorded\n  help: run the command again: it sees their record",
                    recs[0].seq
                )))
            }
            Err(PgError::Unreachable { .. }) if committing => {
                // Settle it on a fresh connection, by the record's hash.
                std::thread::sleep(Duration::from_millis(200));
                let fresh = PgChain::connect(&self.spec);
                match fresh.and_then(|c| c.seq_of(&last.hash).map(|s| (c, s))) {
                    Ok((c, Some(seq))) => {
                        // Written. End the lost session (the server may not have noticed
                        // yet, and it holds the writer lock), then carry on with the new
                        // connection, holding the lock again; if someone wrote in
                        // between, the next append says so.
                        let _ = c.block(c.client.query_one(
                            "SELECT pg_terminate_backend($1)",
                            &[&self.backend],
                        ));
                        c.lock_writer(Duration::from_secs(15))?;
                        *self = c;
                        Ok(Some(format!(
                            "note: the connection was lost at COMMIT; the database holds the record (seq {seq}, checked by its hash on a new connection)"
                        )))
                    }
                    Ok((_, None)) => Err(PgError::Refused(
                        "the connection was lost at COMMIT and the database does not hold the record (checked by its hash on a new connection); nothing recorded".into(),
                    )),
                    Err(e) => Err(PgError::Unreachable {
                        db: self.spec.display(),
                        why: format!(
                            "the connection was lost at COMMIT and the outcome cannot be checked ({e}); the record ({}…) is either wholly in the database or absent, and the next command settles which",
                            last.hash.get(..12).unwrap_or(&last.hash)
                        ),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The seq of the record with this hash, if the database holds it.
    pub fn seq_of(&self, hash: &str) -> Result<Option<u64>, PgError> {
        let row = self.block(
            self.client
                .query_opt("SELECT seq FROM gander_records WHERE hash = $1", &[&hash]),
        )?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }
}

async fn migrate(spec: &PgSpec, client: &mut Client) -> Result<(), PgError> {
    let exists: bool = timed(
        spec,
        client.query_one("SELECT to_regclass('gander_schema') IS NOT NULL", &[]),
    )
    .await?
    .get(0);
    let current: i32 = if exists {
        timed(
            spec,
            client.query_one("SELECT coalesce(max(version), 0) FROM gander_schema", &[]),
        )
        .await?
        .get(0)
    } else {
        0
    };
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    if current > SCHEMA_VERSION {
        return Err(PgError::Refused(format!(
            "the store database's schema is version {current}, newer than this gander knows ({SCHEMA_VERSION})\n  help: upgrade gander on this bastion"
        )));
    }
    let tx = timed(spec, client.transaction()).await?;
    timed(
        spec,
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK]),
    )
    .await?;
    timed(spec, tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS gander_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    ))
    .await?;
    let done: i32 = timed(
        spec,
        tx.query_one("SELECT coalesce(max(version), 0) FROM gander_schema", &[]),
    )
    .await?
    .get(0);
    for (v, sql) in MIGRATIONS {
        if *v > done {
            timed(spec, tx.batch_execute(sql)).await?;
            timed(
                spec,
                tx.execute("INSERT INTO gander_schema (version) VALUES ($1)", &[v]),
            )
            .await?;
        }
    }
    timed(spec, tx.commit()).await
}

/// Wait for other operators' writes: calls `on_change` on every `NOTIFY gander_chain`
/// and after every (re)connection; `on_state` gets `None` when connected and the error
/// while not. Runs until `on_change` returns false.
pub async fn listen(spec: PgSpec, on_change: impl Fn() -> bool, on_state: impl Fn(Option<String>)) {
    loop {
        let attempt = async {
            let (cfg, tls) = prepare(&spec)?;
            let (client, mut conn) = cfg
                .connect(tls)
                .await
                .map_err(|e| spec.unreachable(db_err(&e)))?;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                loop {
                    let m = futures_util::future::poll_fn(|cx| conn.poll_message(cx)).await;
                    match m {
                        Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                            if tx.send(()).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    }
                }
            });
            timed(&spec, client.batch_execute("LISTEN gander_chain")).await?;
            Ok::<_, PgError>((client, rx, driver))
        };
        match attempt.await {
            Ok((client, mut rx, driver)) => {
                on_state(None);
                if !on_change() {
                    return;
                }
                while rx.recv().await.is_some() {
                    if !on_change() {
                        return;
                    }
                }
                drop(client);
                driver.abort();
                on_state(Some(
                    spec.unreachable("the connection was lost").to_string(),
                ));
            }
            Err(e) => on_state(Some(e.to_string())),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
