//! Reading the chain for a view (`status`, the console): verified, then folded. This
//! user's last fold is remembered next to the verified prefix. While the chain file
//! still starts with exactly the bytes folded (their SHA-256, computed on every view:
//! a file's times cannot prove its bytes unchanged), only the records after them are
//! parsed, verified and folded, and every artifact the records name is hashed again.
//! Anything out of the ordinary (a changed byte, a record that does not link, a bad
//! signature, a changed artifact, another allowed_signers or other approval rules, a
//! head this user saw that the fold does not reach) reads it all, which reports
//! whatever is wrong.

use super::{LOCK_WAIT, signed_by, signed_by_cached};
use crate::engine::authority::rules_digest;
use crate::engine::chain::Link;
use crate::engine::config::Config;
use crate::engine::facts::{Facts, Known};
use crate::engine::folded::Folded;
use crate::engine::identity::AllowedSigners;
use crate::engine::ledger;
use crate::io::heads::{self, FoldedAt, Quick, Verified};
use crate::io::store::{self, ChainRead, SharedLock, Store, StoreError};

/// The chain as a view shows it.
#[derive(Debug, Default)]
pub struct View {
    pub folded: Folded,
    /// The line of a torn last record (a crash mid-append), if any.
    pub torn: Option<usize>,
    /// How many records this read parsed and folded (the rest came from this user's
    /// remembered fold).
    pub read: usize,
}

/// The chain's facts alone (states, open requests, chain validity) into `facts`, for a
/// command that shows no history (`status`): when nothing was added since this user's
/// fold, from its first part (without decoding the promotions' history). Returns the
/// line of a torn last record, if the chain ends in one.
pub fn open_facts(
    config: &Config,
    store: &Store,
    signers: Option<&AllowedSigners>,
    facts: &mut Facts,
) -> Result<Option<usize>, StoreError> {
    let lock = store.lock_shared(LOCK_WAIT)?;
    if let Some(s) = signers
        && let Some(q) = heads::load_quick(store)
        && let Some((last, tail)) = unchanged(config, store, &lock, s, &q)
    {
        if tail.records.is_empty() {
            q.summary.fill(facts);
            facts.chain = Known::Known(ledger::chain_facts(q.summary.records, None, 0));
            return Ok(tail.torn.map(|t| t.line));
        }
        // Records since: the whole fold, extended by what was just read.
        if let Some(at) = heads::load_folded(store).filter(|at| at.quick.verified == q.verified)
            && let Some(v) = extend_fold(config, store, s, at, last, tail, facts)
        {
            return Ok(v.torn);
        }
    }
    drop(lock);
    open_view(config, store, signers, facts).map(|v| v.torn)
}

/// When the fold stands for the chain as it is now (the same signers and rules, the
/// file still starting with the folded bytes, every artifact unchanged, a head this
/// user saw that is the fold's last record or one after it): the fold's last record
/// and what was read after it.
fn unchanged(
    config: &Config,
    store: &Store,
    lock: &SharedLock,
    signers: &AllowedSigners,
    q: &Quick,
) -> Option<((usize, Link), ChainRead)> {
    let v = &q.verified;
    let (line, last) = q.last.clone()?;
    if last.seq != v.seq
        || last.hash != v.hash
        || v.signers != signers.digest()
        || q.rules != rules_digest(config)
    {
        return None;
    }
    let tail = store.read_after(lock, v.bytes, &v.digest, line).ok()??;
    if !tail.bad_lines.is_empty() {
        return None;
    }
    let head = heads::load(store)?;
    let seen = if head.seq == last.seq {
        head.hash == last.hash
    } else {
        tail.records
            .iter()
            .any(|(_, r)| r.seq == head.seq && r.hash == head.hash)
    };
    (seen && store::artifacts_unchanged(store, &q.artifacts)).then_some(((line, last), tail))
}

/// Read, verify and fold the chain; put its facts (states, open requests, chain
/// validity) in `facts`.
pub fn open_view(
    config: &Config,
    store: &Store,
    signers: Option<&AllowedSigners>,
    facts: &mut Facts,
) -> Result<View, StoreError> {
    let lock = store.lock_shared(LOCK_WAIT)?;
    if let Some(v) = signers.and_then(|s| from_fold(config, store, &lock, s, facts)) {
        return Ok(v);
    }
    let read = store.read(&lock)?;
    Ok(apply(config, store, &read, signers, facts))
}

/// Verify and fold a chain read whole; put its facts in `facts`. A chain that verifies
/// is remembered (head, verified prefix, fold) for the next read.
pub fn apply(
    config: &Config,
    store: &Store,
    read: &ChainRead,
    signers: Option<&AllowedSigners>,
    facts: &mut Facts,
) -> View {
    // Signatures a remembered verification covers are not checked again.
    let mut report = store::verify_cached(store, read, signers);
    let signed = signed_by_cached(signers, read, report.cached);
    let mut folded = Folded::default();
    folded.extend(config, &read.records, &signed);
    report.problems.extend(
        folded
            .unjustified
            .iter()
            .map(|(line, seq, m)| store::Finding {
                line: *line,
                seq: Some(*seq),
                message: m.clone(),
            }),
    );
    report.problems.sort_by_key(|p| p.line);
    let head = heads::check(store, read);
    if let Some(s) = signers
        && report.ok()
        && head.is_none()
    {
        heads::remember_read(store, read);
        remember(config, store, s, read, &folded);
    }
    folded.ledger.fill(facts);
    facts.chain = if signers.is_none() && !read.records.is_empty() {
        Known::unknown("no allowed_signers file: signatures cannot be checked")
    } else {
        Known::Known(ledger::chain_facts(
            report.records as u64,
            report
                .problems
                .first()
                .map(|p| (p.line, p.message.clone()))
                .or_else(|| head.map(|h| (h.line, h.message)))
                .map(|(line, m)| format!("line {line}: {m}")),
            report.unverified_signatures as u64,
        ))
    };
    View {
        torn: read.torn.as_ref().map(|t| t.line),
        read: read.records.len(),
        folded,
    }
}

fn remember(
    config: &Config,
    store: &Store,
    signers: &AllowedSigners,
    read: &ChainRead,
    folded: &Folded,
) {
    let (Some((len, digest)), Some((_, last))) = (&read.bytes, &folded.last) else {
        return;
    };
    heads::remember_folded(
        store,
        FoldedAt {
            quick: Quick {
                verified: Verified {
                    chain: String::new(),
                    seq: last.seq,
                    hash: last.hash.clone(),
                    signers: signers.digest(),
                    bytes: *len,
                    digest: digest.clone(),
                },
                rules: rules_digest(config),
                summary: folded.ledger.summary(),
                last: folded.last.clone(),
                artifacts: folded.artifacts.clone(),
            },
            folded: folded.clone(),
        },
    );
}

/// The view from this user's remembered fold and the records after it, when all is
/// as it was; `None` sends the caller to read it all (which reports whatever is wrong).
fn from_fold(
    config: &Config,
    store: &Store,
    lock: &SharedLock,
    signers: &AllowedSigners,
    facts: &mut Facts,
) -> Option<View> {
    let at = heads::load_folded(store)?;
    let (last, tail) = unchanged(config, store, lock, signers, &at.quick)?;
    extend_fold(config, store, signers, at, last, tail, facts)
}

/// The fold `at` extended by `tail`, the records read after its `last` one: verified
/// (links, signatures, artifacts, justification), remembered, and its facts in `facts`.
fn extend_fold(
    config: &Config,
    store: &Store,
    signers: &AllowedSigners,
    at: FoldedAt,
    (_, last): (usize, Link),
    tail: ChainRead,
    facts: &mut Facts,
) -> Option<View> {
    let report = store::verify_tail(store, &tail, signers, &last);
    if !report.ok() {
        return None;
    }
    let mut folded = at.folded;
    folded.extend(config, &tail.records, &signed_by(Some(signers)));
    if !folded.unjustified.is_empty() {
        return None;
    }
    if let Some((_, r)) = tail.records.last() {
        heads::remember(store, r.seq, &r.hash);
        heads::remember_verified(
            store,
            r.seq,
            &r.hash,
            &signers.digest(),
            tail.bytes.as_ref(),
        );
        remember(config, store, signers, &tail, &folded);
    }
    folded.ledger.fill(facts);
    facts.chain = Known::Known(ledger::chain_facts(folded.ledger.records, None, 0));
    Some(View {
        torn: tail.torn.as_ref().map(|t| t.line),
        read: tail.records.len(),
        folded,
    })
}
