//! The bastion's copy of the database's chain: pull what is new into it (checked link by
//! link against what it already holds), with the evidence files the new records name.

use super::{PgChain, PgError};
use crate::engine::chain::{self, GENESIS, Record};
use crate::engine::identity::AllowedSigners;
use crate::io::store::{ChainRead, ExclusiveLock, Store, write_atomic};
use std::path::{Component, Path};

/// What a pull brought into the copy.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub records: usize,
    pub artifacts: usize,
    /// Artifacts a new record names that the database does not hold (verify reports them).
    pub missing: Vec<String>,
}

/// Parse and check the database's lines after `(seq, hash)`: canonical, in sequence,
/// linked, hashed. Nothing from a database that disagrees with what this bastion holds
/// is taken.
pub fn check_lines(
    lines: &[(u64, String)],
    mut seq: u64,
    mut prev: String,
) -> Result<Vec<Record>, PgError> {
    let mut out = Vec::with_capacity(lines.len());
    for (s, line) in lines {
        let bad = |why: String| {
            PgError::Refused(format!(
                "the database's record seq {s} is not valid: {why}; nothing taken from it\n  help: `gander verify` on another bastion, and restore the database from a copy"
            ))
        };
        let r = chain::parse_line(line).map_err(&bad)?;
        if r.line() != *line {
            return Err(bad("not in the canonical form".into()));
        }
        if r.seq != *s || r.seq != seq + 1 {
            return Err(bad(format!("expected seq {}", seq + 1)));
        }
        if r.prev_hash != prev {
            return Err(bad(format!("does not link to seq {seq}")));
        }
        if r.compute_hash() != r.hash {
            return Err(bad("its hash does not match its content".into()));
        }
        seq = r.seq;
        prev = r.hash.clone();
        out.push(r);
    }
    Ok(out)
}

/// A path a record names for an artifact, if it stays inside the store.
fn safe_rel(p: &str) -> Option<&Path> {
    let path = Path::new(p);
    let ok = !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(path)
}

fn artifacts_of(r: &Record) -> Vec<(String, String)> {
    r.evidence
        .data
        .get("artifacts")
        .and_then(|a| a.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some((
                        a.get("path")?.as_str()?.to_string(),
                        a.get("sha256")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The evidence files records name, read from the store (for uploading with them); a
/// file over `max` bytes is refused by name.
pub fn local_artifacts(
    store: &Store,
    recs: &[Record],
    max: u64,
) -> Result<Vec<(String, Vec<u8>)>, PgError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for r in recs {
        for (p, sha) in artifacts_of(r) {
            if out.iter().any(|(s, _)| *s == sha) {
                continue;
            }
            let Some(rel) = safe_rel(&p) else {
                return Err(PgError::Refused(format!(
                    "artifact path {p} leaves the store"
                )));
            };
            let full = store.root.join(rel);
            let size = std::fs::metadata(&full)
                .map_err(|e| PgError::Refused(format!("artifact {p}: {e}; nothing recorded")))?
                .len();
            if size > max {
                return Err(PgError::Refused(format!(
                    "{} is {size} bytes, over the team store's limit of {max} (store.max_artifact_bytes); nothing recorded",
                    r.evidence
                        .data
                        .get("source")
                        .and_then(|s| s.as_str())
                        .unwrap_or(&p)
                )));
            }
            let bytes = std::fs::read(&full)
                .map_err(|e| PgError::Refused(format!("artifact {p}: {e}; nothing recorded")))?;
            if chain::sha256_hex(&bytes) != sha {
                return Err(PgError::Refused(format!(
                    "artifact {p} changed since it was hashed; nothing recorded"
                )));
            }
            out.push((sha, bytes));
        }
    }
    Ok(out)
}

/// Bring the copy up to the database: check that the database still holds this copy's
/// last record (same seq, same hash: not truncated, not rewritten), take the records
/// after it (checked), fetch the evidence files they name, and append them to the copy.
pub fn pull(
    pg: &PgChain,
    store: &Store,
    lock: &ExclusiveLock,
    read: &mut ChainRead,
    signers: Option<&AllowedSigners>,
) -> Result<Pulled, PgError> {
    let (seq, prev) = read
        .records
        .last()
        .map_or((0, GENESIS.to_string()), |(_, r)| (r.seq, r.hash.clone()));
    if seq > 0 {
        match pg.hash_at(seq)? {
            None => {
                return Err(PgError::Refused(format!(
                    "the database does not hold seq {seq}, which this bastion's copy does: it was truncated, or this is another database\n  help: restore the database from a copy (`gander store export` on a bastion that has it, `store import`)"
                )));
            }
            Some(h) if h != prev => {
                return Err(PgError::Refused(format!(
                    "the database's seq {seq} has hash {}… but this bastion's copy has {}…: the history was rewritten",
                    h.get(..12).unwrap_or(&h),
                    prev.get(..12).unwrap_or(&prev)
                )));
            }
            Some(_) => {}
        }
    }
    let lines = pg.lines_after(seq)?;
    let recs = check_lines(&lines, seq, prev)?;
    let mut pulled = Pulled {
        records: recs.len(),
        ..Pulled::default()
    };
    for r in &recs {
        for (p, sha) in artifacts_of(r) {
            let Some(rel) = safe_rel(&p) else {
                pulled.missing.push(p);
                continue;
            };
            if crate::io::store::outside_store(&store.root, &p).is_some() {
                pulled.missing.push(p);
                continue;
            }
            let dest = store.root.join(rel);
            if std::fs::read(&dest).is_ok_and(|b| chain::sha256_hex(&b) == sha) {
                continue;
            }
            match pg.artifact(&sha)? {
                Some(bytes) => {
                    if let Some(d) = dest.parent() {
                        std::fs::create_dir_all(d)
                            .map_err(|e| PgError::Refused(format!("{}: {e}", d.display())))?;
                    }
                    write_atomic(&dest, &bytes).map_err(|e| PgError::Refused(e.to_string()))?;
                    pulled.artifacts += 1;
                }
                None => pulled.missing.push(p),
            }
        }
    }
    // Only what verifies enters this bastion's verified copy: every signature by an
    // enrolled key, the acting principal the signer, every evidence file by digest.
    if let Some(a) = signers {
        let base = read.records.last().map_or(0, |(l, _)| *l);
        let numbered: Vec<(usize, Record)> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| (base + i + 1, r.clone()))
            .collect();
        if let Some(f) = crate::io::store::check_new(store, &numbered, Some(a)).first() {
            return Err(PgError::Refused(format!(
                "the database's record seq {} does not verify: {}; nothing taken from it\n  help: `gander verify` on a bastion that holds the chain; restore the database from a copy",
                f.seq.unwrap_or(0),
                f.message
            )));
        }
    }
    store
        .write_records(lock, &recs)
        .map_err(|e| PgError::Refused(e.to_string()))?;
    let _ = store.write_layout(&recs);
    let base = read.records.last().map_or(0, |(l, _)| *l);
    for (i, r) in recs.into_iter().enumerate() {
        read.records.push((base + i + 1, r));
    }
    Ok(pulled)
}

/// Every line the database holds, checked, in the file format (one line each, `\n`).
pub fn export_lines(pg: &PgChain) -> Result<(Vec<Record>, String), PgError> {
    let lines = pg.lines_after(0)?;
    let recs = check_lines(&lines, 0, GENESIS.to_string())?;
    let mut text = String::new();
    for (_, l) in &lines {
        text.push_str(l);
        text.push('\n');
    }
    Ok((recs, text))
}
