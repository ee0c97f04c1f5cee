//! The last head each user has seen of each store: the highest `(seq, hash)` read or
//! written, kept in the user's own data directory (never in the store), so a chain that
//! is now shorter (truncated) or different at that seq (forked, rewritten) is noticed even
//! when every remaining record verifies.
//!
//! ```text
//! $XDG_DATA_HOME/gander/heads/{sha256 of the chain's path, 16 hex}.json
//!     {"chain": "/srv/gander/audit/chain.jsonl", "seq": 42, "hash": "…", "seen_at": "…"}
//! ```

use super::store::{ChainRead, Finding, Store, write_atomic};
use crate::engine::chain::sha256_hex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub chain: String,
    pub seq: u64,
    pub hash: String,
    pub seen_at: String,
}

/// Where this user's heads are: `$GANDER_HEADS_DIR`, else the user data dir's `heads/`.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("GANDER_HEADS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            directories::ProjectDirs::from("", "", "gander").map(|d| d.data_dir().join("heads"))
        })
}

/// The store as the user names it (absolute, but symlinks not followed): pointing a
/// symlink elsewhere must not select another remembered head.
fn chain_name(store: &Store) -> String {
    if let Some(n) = &store.name {
        return n.clone();
    }
    let p = store.chain_path();
    std::path::absolute(&p).unwrap_or(p).display().to_string()
}

/// This user's file for `store` with the given ending (`.json`, `.verified.json`, …).
fn file_ending(store: &Store, ending: &str) -> Option<PathBuf> {
    let name = chain_name(store);
    Some(dir()?.join(format!("{}{ending}", &sha256_hex(name.as_bytes())[..16])))
}

fn file_for(store: &Store) -> Option<PathBuf> {
    file_ending(store, ".json")
}

/// The head remembered for this store, if any.
pub fn load(store: &Store) -> Option<Head> {
    let text = std::fs::read_to_string(file_for(store)?).ok()?;
    serde_json::from_str(&text).ok()
}

/// Remember `(seq, hash)` when it is beyond what is remembered (best effort: a
/// read-only home must not stop a command).
pub fn remember(store: &Store, seq: u64, hash: &str) {
    let Some(path) = file_for(store) else {
        return;
    };
    if load(store).is_some_and(|h| h.seq >= seq) {
        return;
    }
    let head = Head {
        chain: chain_name(store),
        seq,
        hash: hash.to_string(),
        seen_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    if let Ok(text) = serde_json::to_string(&head) {
        let _ = write_atomic(&path, text.as_bytes());
    }
}

/// Remember the last record of a chain that was read and verified.
pub fn remember_read(store: &Store, read: &ChainRead) {
    if let Some((_, r)) = read.records.last() {
        remember(store, r.seq, &r.hash);
    }
}

/// Forget the remembered head (after resetting a store on purpose), and the verified
/// prefix with it.
pub fn forget(store: &Store) -> std::io::Result<bool> {
    for p in [verified_file(store), folded_file(store)]
        .into_iter()
        .flatten()
    {
        let _ = std::fs::remove_file(p);
    }
    match file_for(store) {
        Some(p) if p.exists() => std::fs::remove_file(p).map(|_| true),
        _ => Ok(false),
    }
}

/// A prefix of a chain this user verified completely (every signature against the
/// allowed_signers whose digest is `signers`), up to and including the record
/// `(seq, hash)`. Since each record's
/// hash covers its signatures and the one before it, a chain whose links verify and
/// whose record `seq` still has `hash` holds that same prefix: its signatures need not
/// be checked again. Kept next to the head, in the user's own data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub chain: String,
    pub seq: u64,
    pub hash: String,
    pub signers: String,
    /// The chain file's length through that record, and the SHA-256 of those bytes:
    /// when the file still starts with them, the prefix is not even parsed for its
    /// canonical form, hashes or links again (0 and empty: not known).
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub digest: String,
}

fn verified_file(store: &Store) -> Option<PathBuf> {
    file_ending(store, ".verified.json")
}

/// The verified prefix remembered for this store, if any.
pub fn load_verified(store: &Store) -> Option<Verified> {
    let text = std::fs::read_to_string(verified_file(store)?).ok()?;
    serde_json::from_str::<Verified>(&text)
        .ok()
        .filter(|v| v.chain == chain_name(store))
}

/// Remember a verified prefix (best effort, like the head).
pub fn remember_verified(
    store: &Store,
    seq: u64,
    hash: &str,
    signers: &str,
    bytes: Option<&(u64, String)>,
) {
    let Some(path) = verified_file(store) else {
        return;
    };
    let v = Verified {
        chain: chain_name(store),
        seq,
        hash: hash.to_string(),
        signers: signers.to_string(),
        bytes: bytes.map_or(0, |b| b.0),
        digest: bytes.map(|b| b.1.clone()).unwrap_or_default(),
    };
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    if let Ok(text) = serde_json::to_string(&v) {
        let _ = write_atomic(&path, text.as_bytes());
    }
}

/// What a view needs of a chain that has not changed since this user folded it, kept
/// first in the fold's file so it is read without the rest ([`load_quick`]). It stands
/// for exactly the chain bytes and allowed_signers `verified` names and
/// the approval rules whose digest is `rules` (`engine::authority::rules_digest`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quick {
    pub verified: Verified,
    pub rules: String,
    /// Every file the folded records name by digest (hashed again on every view).
    pub artifacts: Vec<crate::engine::folded::Artifact>,
    /// The ledger's facts alone: states, newest evidence, open promotions, records.
    pub summary: crate::engine::ledger::Ledger,
    /// The last record folded, and its line.
    pub last: Option<(usize, crate::engine::chain::Link)>,
}

/// A fold of a verified prefix ([`crate::engine::folded::Folded`]), kept next to it so
/// that prefix is neither parsed nor folded again.
#[derive(Debug, Clone)]
pub struct FoldedAt {
    pub quick: Quick,
    pub folded: crate::engine::folded::Folded,
}

/// A remembered fold larger than this is not read (a 100,000-record chain's is 13 MB).
const FOLD_LIMIT: u64 = 512 << 20;

/// A fold is taken only from a regular file of this user's that no one else may write
/// (a heads directory shared by mistake must not let another user decide what this
/// user's views show), and of a sane size.
fn own_fold(m: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if m.uid() != me || m.mode() & 0o022 != 0 {
            return false;
        }
    }
    m.is_file() && m.len() <= FOLD_LIMIT
}

fn folded_file(store: &Store) -> Option<PathBuf> {
    file_ending(store, ".folded.msgpack")
}

/// The first part of the remembered fold (one that does not decode is none).
pub fn load_quick(store: &Store) -> Option<Quick> {
    let f = std::fs::File::open(folded_file(store)?).ok()?;
    if !own_fold(&f.metadata().ok()?) {
        return None;
    }
    rmp_serde::from_read::<_, Quick>(std::io::BufReader::new(f))
        .ok()
        .filter(|q| q.verified.chain == chain_name(store))
}

/// The whole remembered fold, if any (one that does not decode is none).
pub fn load_folded(store: &Store) -> Option<FoldedAt> {
    let f = std::fs::File::open(folded_file(store)?).ok()?;
    if !own_fold(&f.metadata().ok()?) {
        return None;
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut { f }, &mut bytes).ok()?;
    let mut de = rmp_serde::Deserializer::new(&bytes[..]);
    let quick = Quick::deserialize(&mut de).ok()?;
    let folded = crate::engine::folded::Folded::deserialize(&mut de).ok()?;
    (quick.verified.chain == chain_name(store)).then_some(FoldedAt { quick, folded })
}

/// Forget the remembered fold alone (the next view reads the chain whole).
pub fn forget_fold(store: &Store) {
    if let Some(p) = folded_file(store) {
        let _ = std::fs::remove_file(p);
    }
}

/// Remember a fold (best effort, like the head).
pub fn remember_folded(store: &Store, mut at: FoldedAt) {
    let Some(path) = folded_file(store) else {
        return;
    };
    at.quick.verified.chain = chain_name(store);
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    if let (Ok(mut bytes), Ok(rest)) = (
        rmp_serde::to_vec_named(&at.quick),
        rmp_serde::to_vec_named(&at.folded),
    ) {
        bytes.extend_from_slice(&rest);
        let _ = write_atomic(&path, &bytes);
    }
}

/// Compare a chain with a head: `None` when the chain reaches it with the same hash.
pub fn compare(read: &ChainRead, seq: u64, hash: &str, what: &str) -> Option<Finding> {
    if seq == 0 {
        return None; // every chain extends the genesis
    }
    let last = read
        .records
        .last()
        .map(|(l, r)| (*l, r.seq))
        .unwrap_or((0, 0));
    match read.records.iter().find(|(_, r)| r.seq == seq) {
        None if seq > last.1 => Some(Finding {
            line: last.0 + 1,
            seq: Some(seq),
            message: format!(
                "truncated: the chain ends at seq {} but {what} seq {seq} ({}…); records were removed",
                last.1,
                hash.get(..12).unwrap_or(hash)
            ),
        }),
        None => Some(Finding {
            line: last.0 + 1,
            seq: Some(seq),
            message: format!("{what} seq {seq}, which this chain does not hold"),
        }),
        Some((line, r)) if r.hash != hash => Some(Finding {
            line: *line,
            seq: Some(seq),
            message: format!(
                "forked: seq {seq} has hash {}… but {what} {}…; the history was rewritten",
                r.hash.get(..12).unwrap_or(&r.hash),
                hash.get(..12).unwrap_or(hash)
            ),
        }),
        Some(_) => None,
    }
}

/// Check a chain against the head this user last saw of it.
pub fn check(store: &Store, read: &ChainRead) -> Option<Finding> {
    let h = load(store)?;
    compare(
        read,
        h.seq,
        &h.hash,
        &format!("this user saw (at {}) a record at", h.seen_at),
    )
    .map(|mut f| {
        f.message.push_str(
            "\n  help: restore the chain from a copy; if the store was reset on purpose, `gander head --forget`",
        );
        f
    })
}
