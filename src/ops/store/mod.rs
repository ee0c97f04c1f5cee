//! Opening the store for reading or writing, the operator's identity, and the one chain
//! writer every use case appends through.

use super::{Clock, OpsError, Said};
use crate::engine::chain::Record;
use crate::engine::config::Config;
use crate::engine::facts::{Facts, Known};
use crate::engine::identity::AllowedSigners;
use crate::engine::ledger::{self, Ledger};
use crate::io::keys;
use crate::io::pg::{self, PgChain};
use crate::io::store::{self, ChainRead, Draft, ExclusiveLock, Signer, Store};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a command waits for another gander holding the chain lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(15);

mod location;
mod view;
pub use location::*;
pub use view::{View, apply, open_facts, open_view};

pub fn signers_path(config_dir: &Path, config: &Config) -> PathBuf {
    match &config.org.signing.allowed_signers {
        Some(p) => {
            let p = keys::expand(p);
            if p.is_absolute() {
                p
            } else {
                config_dir.join(p)
            }
        }
        None => config_dir.join("allowed_signers"),
    }
}

pub fn load_signers(
    config_dir: &Path,
    config: &Config,
) -> (PathBuf, Result<AllowedSigners, String>) {
    let p = signers_path(config_dir, config);
    let mut r = keys::load_allowed_signers(&p);
    if let (Ok(a), Some(rev)) = (&mut r, &config.org.signing.revoked_keys) {
        let path = keys::expand(rev);
        let path = if path.is_absolute() {
            path
        } else {
            config_dir.join(path)
        };
        if let Err(e) = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| a.read_revoked(&b))
        {
            r = Err(format!("signing.revoked_keys {}: {e}", path.display()));
        }
    }
    (p, r)
}

pub fn try_signer(
    config_dir: &Path,
    config: &Config,
    key_flag: Option<&Path>,
) -> Result<(Signer, AllowedSigners), String> {
    let (sp, signers) = load_signers(config_dir, config);
    let signers = signers?;
    let s = keys::choose_signer(
        key_flag,
        config.org.signing.key.as_deref(),
        config.org.signing.agent_key.as_deref(),
        &signers,
        &sp,
        chrono::Utc::now(),
    )?;
    Ok((s, signers))
}

/// Does `r` carry a signature by `principal` that verifies?
pub fn signed_by<'a>(signers: Option<&'a AllowedSigners>) -> impl Fn(&Record, &str) -> bool + 'a {
    move |r: &Record, principal: &str| {
        let Some(a) = signers else {
            return false;
        };
        let msg = r.signed_form();
        let at = r.time().unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        r.evidence.signatures.iter().any(|s| {
            s.principal == principal && a.verify(principal, msg.as_bytes(), &s.sshsig, at).is_ok()
        })
    }
}

/// As [`signed_by`], for a chain whose first `cached` records a remembered full
/// verification covers (`store::verify_cached`): their signatures are known to verify
/// for the principals they name, so only later records' are checked again.
pub fn signed_by_cached<'a>(
    signers: Option<&'a AllowedSigners>,
    read: &ChainRead,
    cached: usize,
) -> impl Fn(&Record, &str) -> bool + 'a {
    let full = signed_by(signers);
    let through = cached
        .checked_sub(1)
        .and_then(|i| read.records.get(i))
        .map(|(_, r)| r.seq);
    move |r: &Record, principal: &str| match through {
        Some(t) if signers.is_some() && r.seq <= t => r
            .evidence
            .signatures
            .iter()
            .any(|s| s.principal == principal),
        _ => full(r, principal),
    }
}

/// The records read, in file order (borrowed: folds need not copy 100,000 of them).
pub fn records(read: &ChainRead) -> impl Iterator<Item = &Record> + Clone {
    read.records.iter().map(|(_, r)| r)
}

/// Records the chain's own records do not justify (`engine::authority::unjustified`),
/// as verify findings.
pub fn justify(
    config: &Config,
    read: &ChainRead,
    signers: Option<&AllowedSigners>,
) -> Vec<store::Finding> {
    justify_with(config, read, &signed_by(signers))
}

fn justify_with(
    config: &Config,
    read: &ChainRead,
    signed: &dyn Fn(&Record, &str) -> bool,
) -> Vec<store::Finding> {
    crate::engine::authority::unjustified(config, records(read), signed)
        .into_iter()
        .map(|(seq, message)| store::Finding {
            line: read
                .records
                .iter()
                .find(|(_, r)| r.seq == seq)
                .map_or(0, |(l, _)| *l),
            seq: Some(seq),
            message,
        })
        .collect()
}

/// For read-only commands: fold the store into `facts`; what the reader must be told
/// (a store that cannot be opened, a copy that is old) goes to `notes`.
pub fn read_into(
    state: Option<&Path>,
    config_dir: &Path,
    config: &Config,
    facts: &mut Facts,
    notes: &mut Vec<String>,
) {
    let opened = match open_read(config, config_dir, state) {
        Ok(o) => o,
        Err(e) => {
            notes.push(format!("gander: {e}"));
            return;
        }
    };
    if let Some(s) = &opened.stale {
        notes.push(format!("warning: {s}"));
    }
    let store = opened.store;
    // A chain this user never saw records of, and that is not there: none yet. One
    // this user saw is read (and found cut short).
    if !store.chain_path().exists() && crate::io::heads::load(&store).is_none() {
        // No chain yet: empty (and an empty chain is valid), so no evidence on file.
        facts.chain = Known::Known(ledger::chain_facts(0, None, 0));
        Ledger::default().fill(facts);
        return;
    }
    let (path, signers) = load_signers(config_dir, config);
    match open_facts(config, &store, signers.as_ref().ok(), facts) {
        Err(e) => {
            notes.push(format!("gander: {e}"));
            return;
        }
        Ok(Some(line)) => notes.push(format!(
            "note: the chain ends in a torn record at line {line} (a crash mid-append); it is not part of the chain, and the next write sets it aside"
        )),
        Ok(None) => {}
    }
    if let (Known::Unknown(why), Err(e)) = (&facts.chain, &signers) {
        notes.push(format!(
            "warning: the evidence chain cannot be verified ({why}): {}: {e}\n  help: gates that need the chain fail until allowed_signers can be read",
            path.display()
        ));
    }
    // Whatever the gates on screen need: a chain that does not verify is said.
    if let Known::Known(c) = &facts.chain
        && let Some(p) = &c.problem
    {
        notes.push(format!(
            "warning: the evidence chain does not verify: {p}\n  help: `gander verify` lists every problem; gates that need the chain fail until it is restored"
        ));
    }
}

/// What a use case that writes to the chain holds: the store, its exclusive lock, the
/// chain as read under it (a torn tail already set aside), the operator's identity, and
/// the one time this operation records.
pub struct Writer {
    pub store: Store,
    pub lock: ExclusiveLock,
    pub read: ChainRead,
    pub signer: Signer,
    pub signers: AllowedSigners,
    pub now: DateTime<Utc>,
    /// Notes for the operator (a torn tail set aside, a lock taken over, an audit copy
    /// not written); the use case passes them on.
    pub notes: Vec<String>,
    /// The team's database, its writer lock held (PostgreSQL store only).
    db: Option<PgChain>,
    /// The seqs this operation has appended so far (first, last).
    appended: Option<(u64, u64)>,
    config: std::sync::Arc<Config>,
}

/// Identity first (a bad key path or an unknown key writes nothing), then the exclusive
/// lock and the chain.
pub fn open_writer(ctx: &super::Ctx) -> Result<Writer, OpsError> {
    let config = &ctx.config;
    let (signer, signers) =
        try_signer(&ctx.config_dir, config, ctx.key()).map_err(OpsError::Usage)?;
    let location = locate(config, ctx.state()).map_err(OpsError::Usage)?;
    // PostgreSQL: the team's writer lock first (held until this operation ends), so
    // nothing reaches the database between the pull below and this append.
    let db = match &location {
        Location::Postgres { spec, .. } => {
            let db = PgChain::connect(spec).map_err(pg_to_ops)?;
            db.lock_writer(LOCK_WAIT).map_err(pg_to_ops)?;
            Some(db)
        }
        #[cfg(unix)]
        Location::Shared(d) => {
            store::shared::check(d).map_err(OpsError::Store)?;
            None
        }
        _ => None,
    };
    let mut store = Store::open(location.root()).map_err(|e| OpsError::Usage(e.to_string()))?;
    if let Some(db) = &db {
        if let Ok(id) = db.store_id() {
            let _ = std::fs::write(store.root.join("store-id"), &id);
        }
        store.name = copy_name(&store.root);
    }
    let lock = store
        .lock_exclusive(LOCK_WAIT)
        .map_err(|e| OpsError::Store(e.to_string()))?;
    // Under the lock, so two orgs' first writers cannot both claim an empty store.
    check_org(&location, &config.org.org.name, true).map_err(OpsError::Refused)?;
    let mut notes = Vec::new();
    if let Some(prev) = lock.recovered_from() {
        notes.push(format!(
            "note: the previous lock holder is gone ({prev}); its lock was released by the kernel and is taken over"
        ));
    }
    let mut read = store
        .read(&lock)
        .map_err(|e| OpsError::Usage(e.to_string()))?;
    if let Some(db) = &db {
        // This bastion's copy: a torn tail is a local crash, set aside; then what the
        // team recorded since it was last brought up to date.
        if read.torn.is_some() {
            store
                .set_aside_torn(&lock, &read)
                .map_err(|e| OpsError::Store(e.to_string()))?;
            read.torn = None;
        }
        pg::pull(db, &store, &lock, &mut read, Some(&signers)).map_err(pg_to_ops)?;
        let _ = std::fs::write(store.root.join("pulled"), Utc::now().to_rfc3339());
        // The database as a whole, not only its head: a row rewritten behind the
        // append-only guard stops every writer, as a bad line stops the file store's.
        if let Some(f) = compare_lines(db, &read).map_err(pg_to_ops)?.first() {
            return Err(OpsError::Store(format!(
                "nothing recorded: the team store does not match this bastion's copy ({}{})\n  help: `gander verify` on other bastions: if they agree with the database, only this copy was changed: remove {} and it is pulled again; otherwise restore the database from a copy (`gander store export` on a bastion that holds it)",
                f.seq.map(|s| format!("seq {s}: ")).unwrap_or_default(),
                f.message,
                store.root.display()
            )));
        }
    }
    let swept = store.sweep_temp(&lock);
    if !swept.is_empty() {
        notes.push(format!(
            "note: removed {} temp file{} left by a writer that died mid-write ({})",
            swept.len(),
            if swept.len() == 1 { "" } else { "s" },
            swept
                .iter()
                .take(3)
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Nothing is added to a chain that does not verify completely: hashes, links,
    // sequence, every signature, every artifact digest, and the last head this user saw.
    let mut report = store::verify_cached(&store, &read, Some(&signers));
    {
        let signed = signed_by_cached(Some(&signers), &read, report.cached);
        report.problems.extend(justify_with(config, &read, &signed));
    }
    report.problems.sort_by_key(|p| p.line);
    let head = crate::io::heads::check(&store, &read);
    if let Some((line, message)) = report
        .problems
        .first()
        .map(|p| (p.line, p.message.clone()))
        .or_else(|| head.map(|h| (h.line, h.message)))
    {
        return Err(OpsError::Store(format!(
            "nothing recorded: the chain does not verify (first problem: line {line}: {message})\n  help: `gander verify` shows every problem; restore {} from a copy before recording anything",
            store.chain_path().display()
        )));
    }
    if read.torn.is_some() {
        match store.set_aside_torn(&lock, &read) {
            Ok(Some(path)) => {
                notes.push(format!(
                    "the chain ended in a torn record (a crash mid-append); it was moved to {} and is not part of the chain",
                    path.display()
                ));
                read.torn = None;
            }
            Ok(None) => {}
            Err(e) => return Err(OpsError::Usage(e.to_string())),
        }
    }
    // Time only goes forward in the chain: a clock a little behind the last record
    // (another bastion's, an NTP step) writes at that record's time; far behind, nothing.
    let mut now = clock_now(ctx.clock);
    if let Some(last) = read.records.last().and_then(|(_, r)| r.time())
        && now < last
    {
        if last - now > chrono::Duration::minutes(5) {
            return Err(OpsError::Refused(format!(
                "this machine's clock ({}) is behind the chain's last record ({}); nothing recorded\n  help: fix the clock (NTP) and try again",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        now = last;
    }
    Ok(Writer {
        store,
        lock,
        read,
        signer,
        signers,
        now,
        notes,
        db,
        appended: None,
        config: ctx.config.clone(),
    })
}

fn clock_now(c: Clock) -> DateTime<Utc> {
    c.now()
}

impl Writer {
    /// The one way records reach the chain: each draft signed and linked, all written in
    /// one fsynced append, then their audit-layout copies; the chain as held is extended
    /// so the use case can fold it again. Returns what was appended.
    pub fn append(&mut self, drafts: Vec<Draft>) -> Result<Vec<Record>, OpsError> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let recs = self
            .store
            .seal(&self.read, drafts, &self.signer, self.now)
            .map_err(|e| OpsError::Store(e.to_string()))?;
        if let Some(db) = &mut self.db {
            // The database first: this bastion's copy only ever holds what it holds.
            let before = self.appended;
            let said_before = move |e: OpsError| match before {
                Some((a, b)) => {
                    let m = format!(
                        "{e}\n  note: this operation's earlier records (seq {a}{}) are recorded; run the command again to finish it",
                        if a == b {
                            String::new()
                        } else {
                            format!("–{b}")
                        }
                    );
                    match e {
                        OpsError::Unreachable(_) => OpsError::Unreachable(m),
                        OpsError::Usage(_) => OpsError::Usage(m),
                        OpsError::Refused(_) => OpsError::Refused(m),
                        OpsError::Store(_) => OpsError::Store(m),
                    }
                }
                None => e,
            };
            let files = pg::local_artifacts(&self.store, &recs, db.spec.max_artifact_bytes)
                .map_err(pg_to_ops)
                .map_err(said_before)?;
            if let Some(note) = db
                .insert(&recs, &files)
                .map_err(pg_to_ops)
                .map_err(said_before)?
            {
                self.notes.push(note);
            }
        }
        if let (Some(f), Some(l)) = (recs.first(), recs.last()) {
            self.appended = Some((self.appended.map_or(f.seq, |(a, _)| a), l.seq));
        }
        if let Err(e) = self.store.write_records(&self.lock, &recs) {
            if self.db.is_none() {
                return Err(OpsError::Store(e.to_string()));
            }
            self.notes.push(format!(
                "warning: recorded in the team store, but this bastion's copy is not updated ({e}); the next command brings it up to date"
            ));
        }
        if let Err(e) = self.store.write_layout(&recs) {
            self.notes.push(format!(
                "warning: the chain is written but its audit copy is not: {e}"
            ));
        }
        let base = self.read.records.last().map_or(0, |(l, _)| *l);
        for (i, r) in recs.iter().enumerate() {
            self.read.records.push((base + i + 1, r.clone()));
        }
        if let Some(last) = recs.last() {
            crate::io::heads::remember(&self.store, last.seq, &last.hash);
        }
        Ok(recs)
    }

    /// The records as held (including what this operation appended).
    pub fn records(&self) -> impl Iterator<Item = &Record> + Clone {
        records(&self.read)
    }

    /// The seq the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.read.records.last().map_or(1, |(_, r)| r.seq + 1)
    }

    pub fn principal(&self) -> &str {
        &self.signer.principal
    }

    /// Fold the chain (as held) with signatures checked.
    pub fn ledger(&self) -> Ledger {
        Ledger::fold(self.records(), &signed_by(Some(&self.signers)))
    }

    /// `live` facts plus the chain's (states, open requests, evidence, chain validity).
    pub fn facts(&self, mut live: Facts) -> Facts {
        apply(
            &self.config,
            &self.store,
            &self.read,
            Some(&self.signers),
            &mut live,
        );
        live
    }

    /// Move the notes into what the use case says.
    pub fn tell(&mut self, said: &mut Said) {
        said.err.append(&mut self.notes);
        if self.appended.is_some() {
            said.recorded = self.appended;
        }
    }
}
