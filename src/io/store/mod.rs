//! The promotion store under the state directory: the evidence chain and the seed 003
//! audit layout, safe for several gander processes at once and for crashes.
//!
//! ```text
//! STATE/audit/chain.jsonl          the evidence chain (append-only JSON lines)
//! STATE/audit/chain.lock           flock'd by writers (exclusive) and verifiers (shared)
//! STATE/audit/torn/                torn tails moved aside after a crash mid-append
//! STATE/audit/promotions/{service}/{YYYYMMDD}/{request,validation,evidence,approval}/
//!                                  one JSON file per record, named {seq}-{type}.json
//! ```

use crate::engine::chain::{self, GENESIS, Problem, Record, Signature};
use chrono::{DateTime, Utc};
use sha2::Digest;
use std::fs::{File, OpenOptions};

mod layout;
mod lock;
#[cfg(unix)]
pub mod shared;
mod verify;

pub use lock::{ExclusiveLock, Held, Lock, SharedLock};
use std::io::Write;
use std::path::{Path, PathBuf};
pub use verify::{
    Finding, VerifyReport, artifact_problem, artifacts_unchanged, check_new, outside_store, verify,
    verify_cached, verify_tail,
};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the evidence chain is locked by {holder}; waited {waited}s\n  help: wait for that command to finish; a lock held by a process that died is released by the kernel"
    )]
    Busy { holder: String, waited: u64 },
    #[error(
        "cannot append: the chain has problems (first: line {line}: {message})\n  help: run `gander verify` and restore the chain from a backup before recording anything"
    )]
    Corrupt { line: usize, message: String },
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Store {
    pub root: PathBuf,
    pub audit: PathBuf,
    /// What names this store for the heads a user remembers (default: the chain's path;
    /// a PostgreSQL copy: the database's own identity, whatever reaches it).
    pub name: Option<String>,
}

/// What was read from the chain file.
#[derive(Debug, Default)]
pub struct ChainRead {
    /// (1-based line, record) of every line that parsed.
    pub records: Vec<(usize, Record)>,
    /// Lines that are not records (before the last line: corruption).
    pub bad_lines: Vec<Problem>,
    /// An incomplete last line: a crash mid-append.
    pub torn: Option<Torn>,
    /// How many records at the start are byte for byte the prefix this user verified
    /// before (its length and SHA-256 remembered, see [`crate::io::heads::Verified`]):
    /// their canonical form, hashes and links are not computed again. 0 when nothing
    /// is remembered, it does not match, or the chain is not a file.
    pub trusted: usize,
    /// The file's bytes up to the end of its last complete line, and their SHA-256
    /// (what is remembered once this read verifies). `None` for a chain not read from
    /// a file.
    pub bytes: Option<(u64, String)>,
}

#[derive(Debug, Clone)]
pub struct Torn {
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub line: usize,
}

/// A record to append: everything but seq, prev_hash, hash and signatures.
#[derive(Debug, Clone)]
pub struct Draft {
    pub promotion_id: String,
    pub service: String,
    pub kind: String,
    pub data: serde_json::Value,
}

pub use super::keys::Signer;

fn fsync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Store {
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let audit = state_dir.join("audit");
        std::fs::create_dir_all(&audit).map_err(io_err(&audit))?;
        Ok(Store {
            root: state_dir.to_path_buf(),
            audit,
            name: None,
        })
    }

    pub fn chain_path(&self) -> PathBuf {
        self.audit.join("chain.jsonl")
    }

    /// Read the chain. Takes no lock: call it while holding one.
    pub fn read(&self, lock: &impl Held) -> Result<ChainRead, StoreError> {
        self.read_with(lock, true)
    }

    /// As [`Store::read`], checking every line's canonical form whatever this user
    /// verified before (`gander verify`).
    pub fn read_full(&self, lock: &impl Held) -> Result<ChainRead, StoreError> {
        self.read_with(lock, false)
    }

    /// The records after a prefix this user folded before: the file's first `bytes`
    /// bytes (`lines` lines) must still be exactly those whose SHA-256 is `digest`, or
    /// the answer is `None` (read it all). Lines are numbered as in the whole file.
    pub fn read_after(
        &self,
        _lock: &impl Held,
        bytes: u64,
        digest: &str,
        lines: usize,
    ) -> Result<Option<ChainRead>, StoreError> {
        let Some(all) = self.chain_bytes()? else {
            return Ok(None);
        };
        let n = bytes as usize;
        if n == 0 || n > all.len() || all[n - 1] != b'\n' {
            return Ok(None);
        }
        let mut hasher = sha2::Sha256::new();
        hasher.update(&all[..n]);
        if chain::hex(&hasher.clone().finalize()) != digest {
            return Ok(None);
        }
        let complete = all.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        hasher.update(&all[n..complete]);
        let mut out = ChainRead {
            bytes: Some((complete as u64, chain::hex(&hasher.finalize()))),
            ..ChainRead::default()
        };
        parse_lines(&all, n, lines, 0, &mut out);
        Ok(Some(out))
    }

    /// The chain file's bytes (`None`: no chain yet), refusing symbolic links.
    fn chain_bytes(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.chain_path();
        // The chain is a regular file in a real directory: a symlink could swap in
        // another history under the same name.
        for p in [&self.audit, &path] {
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(StoreError::Io {
                    path: p.to_path_buf(),
                    source: std::io::Error::other(
                        "is a symbolic link; the chain and its audit directory must be real files",
                    ),
                });
            }
        }
        let read = open_regular(&path).and_then(|mut f| {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut b).map(|_| b)
        });
        match read {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn read_with(&self, _lock: &impl Held, remembered: bool) -> Result<ChainRead, StoreError> {
        let Some(bytes) = self.chain_bytes()? else {
            return Ok(ChainRead::default());
        };
        let mut out = ChainRead::default();
        // A prefix this user verified before, unchanged to the byte, needs no second
        // canonical-form check (nor, in verify_cached, hashes, links and signatures).
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut hasher = sha2::Sha256::new();
        let mut trusted_bytes = 0usize;
        if let Some(v) = remembered
            .then(|| crate::io::heads::load_verified(self))
            .flatten()
            .filter(|v| v.bytes > 0 && v.bytes as usize <= complete)
        {
            let n = v.bytes as usize;
            hasher.update(&bytes[..n]);
            if bytes[n - 1] == b'\n' && chain::hex(&hasher.clone().finalize()) == v.digest {
                trusted_bytes = n;
            }
            hasher.update(&bytes[n..complete]);
        } else {
            hasher.update(&bytes[..complete]);
        }
        out.bytes = Some((complete as u64, chain::hex(&hasher.finalize())));
        parse_lines(&bytes, 0, 0, trusted_bytes, &mut out);
        Ok(out)
    }

    /// Under the exclusive lock: move a torn tail aside to `audit/torn/` (never
    /// dropped, never "repaired" into the chain) and cut the chain back to its last
    /// complete record. Returns where the tail went.
    pub fn set_aside_torn(
        &self,
        _lock: &ExclusiveLock,
        read: &ChainRead,
    ) -> Result<Option<PathBuf>, StoreError> {
        let Some(t) = &read.torn else {
            return Ok(None);
        };
        let dir = self.audit.join("torn");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let name = dir.join(format!(
            "chain-line{}-{}.partial",
            t.line,
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ));
        write_atomic(&name, &t.bytes)?;
        let path = self.chain_path();
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.set_len(t.offset).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        Ok(Some(name))
    }

    /// Append records under the exclusive lock: each gets the next seq, the previous
    /// hash, the signer's SSHSIG and its own hash; all are written in one write and
    /// fsynced before this returns. Refuses to append to a chain with problems.
    ///
    /// Only an [`ExclusiveLock`] opens it:
    ///
    /// ```no_run
    /// # use gander::io::store::*;
    /// # fn f(store: &Store, signer: &Signer) {
    /// let lock = store.lock_exclusive(std::time::Duration::from_secs(1)).unwrap();
    /// let read = store.read(&lock).unwrap();
    /// store.append(&lock, &read, Vec::new(), signer, chrono::Utc::now());
    /// # }
    /// ```
    ///
    /// and a shared lock does not compile:
    ///
    /// ```compile_fail
    /// # use gander::io::store::*;
    /// # fn f(store: &Store, signer: &Signer) {
    /// let lock = store.lock_shared(std::time::Duration::from_secs(1)).unwrap();
    /// let read = store.read(&lock).unwrap();
    /// store.append(&lock, &read, Vec::new(), signer, chrono::Utc::now());
    /// # }
    /// ```
    pub fn append(
        &self,
        lock: &ExclusiveLock,
        read: &ChainRead,
        drafts: Vec<Draft>,
        signer: &Signer,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, StoreError> {
        let out = self.seal(read, drafts, signer, now)?;
        self.write_records(lock, &out)?;
        Ok(out)
    }

    /// Make the records an append would write (next seq, previous hash, the signer's
    /// SSHSIG, hash) without writing them. Refuses a chain with problems.
    pub fn seal(
        &self,
        read: &ChainRead,
        drafts: Vec<Draft>,
        signer: &Signer,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, StoreError> {
        if let Some(p) = read.bad_lines.first() {
            return Err(StoreError::Corrupt {
                line: p.line,
                message: p.message.clone(),
            });
        }
        // A prefix this user verified, unchanged to the byte, is not hashed again.
        if let Some(p) = chain::check_links_after(&read.records, read.trusted).first() {
            return Err(StoreError::Corrupt {
                line: p.line,
                message: p.message.clone(),
            });
        }
        let (mut seq, mut prev) = read
            .records
            .last()
            .map_or((0, GENESIS.to_string()), |(_, r)| (r.seq, r.hash.clone()));
        let timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            seq += 1;
            let mut r = Record {
                seq,
                prev_hash: prev.clone(),
                promotion_id: d.promotion_id,
                timestamp: timestamp.clone(),
                service: d.service,
                evidence: chain::Evidence {
                    kind: d.kind,
                    data: d.data,
                    signatures: Vec::new(),
                },
                hash: String::new(),
            };
            let sig = signer
                .sign(r.signed_form().as_bytes())
                .map_err(|e| StoreError::Io {
                    path: self.chain_path(),
                    source: std::io::Error::other(e),
                })?;
            r.evidence.signatures.push(Signature {
                principal: signer.principal.clone(),
                sshsig: sig,
                key: Some(signer.fingerprint.clone()),
            });
            r.hash = r.compute_hash();
            prev = r.hash.clone();
            out.push(r);
        }
        Ok(out)
    }

    /// Write sealed records to the chain file in one write, fsynced before this returns.
    pub fn write_records(&self, _lock: &ExclusiveLock, recs: &[Record]) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        let mut buf = String::new();
        for r in recs {
            buf.push_str(&r.line());
            buf.push('\n');
        }
        let path = self.chain_path();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(buf.as_bytes()).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        if recs.first().is_some_and(|r| r.seq == 1) {
            fsync_dir(&self.audit);
        }
        Ok(())
    }
}

impl Store {
    /// Under the exclusive lock: remove the temp files (`.NAME.tmp-PID`) that writers
    /// killed mid-write left in the audit tree, when their process is gone. Returns them.
    pub fn sweep_temp(&self, _lock: &ExclusiveLock) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        for p in files_under(&self.audit).files {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let pid = name
                .strip_prefix('.')
                .and_then(|n| n.rsplit_once(".tmp-"))
                .and_then(|(_, pid)| pid.parse::<i32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id() as i32
                && !lock::pid_alive(pid)
                && std::fs::remove_file(&p).is_ok()
            {
                removed.push(p);
            }
        }
        removed
    }
}

/// What lies under a directory, never following a symlink.
#[derive(Debug, Default)]
pub struct Tree {
    /// Regular files.
    pub files: Vec<PathBuf>,
    /// Symbolic links (files or directories), not followed.
    pub links: Vec<PathBuf>,
}

/// Walk `root`: every regular file and every symlink under it, sorted.
pub fn files_under(root: &Path) -> Tree {
    let mut t = Tree::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(ft) if ft.is_symlink() => t.links.push(e.path()),
                Ok(ft) if ft.is_dir() => stack.push(e.path()),
                Ok(ft) if ft.is_file() => t.files.push(e.path()),
                _ => {}
            }
        }
    }
    t.files.sort();
    t.links.sort();
    t
}

/// Write a whole file crash-safely: temp file, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    fsync_dir(dir);
    Ok(())
}

/// Open a file that must be a regular file: a FIFO or a device put in the place of the
/// chain or of an artifact would block a reader (and the lock it holds) for good.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NONBLOCK);
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("is not a regular file"));
    }
    Ok(f)
}

/// A tail without its newline longer than this is not what a crash mid-append leaves
/// (no record gander writes comes near it): it is reported, not set aside.
const TORN_LIMIT: usize = 4 << 20;

/// Parse the lines of `bytes` from `offset` (after `line_no` lines) into `out`; the
/// first `trusted_bytes` bytes are a prefix verified before (no canonical-form check).
fn parse_lines(
    bytes: &[u8],
    mut offset: usize,
    mut line_no: usize,
    trusted_bytes: usize,
    out: &mut ChainRead,
) {
    while offset < bytes.len() {
        line_no += 1;
        let end = bytes[offset..].iter().position(|b| *b == b'\n');
        let Some(len) = end else {
            // No newline: the last append never finished. A crash leaves a prefix of
            // one record; a tail that is a whole record, or several run together,
            // was edited, and is corruption, not a torn write.
            let tail = &bytes[offset..];
            let whole = std::str::from_utf8(tail)
                .ok()
                .is_some_and(|t| t.contains("}{") || chain::parse_line(t).is_ok());
            if tail.len() > TORN_LIMIT {
                out.bad_lines.push(Problem {
                    line: line_no,
                    seq: None,
                    message: format!(
                        "{} bytes without a newline: more than any record, so not a torn write (the file was extended)",
                        tail.len()
                    ),
                });
            } else if whole {
                out.bad_lines.push(Problem {
                    line: line_no,
                    seq: None,
                    message: "complete records without their newlines (the file was edited); not a torn write".into(),
                });
            } else {
                out.torn = Some(Torn {
                    offset: offset as u64,
                    bytes: tail.to_vec(),
                    line: line_no,
                });
            }
            break;
        };
        let raw = &bytes[offset..offset + len];
        let known = offset + len < trusted_bytes;
        let parsed = std::str::from_utf8(raw)
            .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))
            .and_then(|text| {
                let r = chain::parse_line(text)?;
                // Only the canonical form is a record: extra fields, repeated keys
                // or other spacing would be text no hash or signature covers.
                if !known && r.line() != text {
                    return Err(
                        "not in the canonical form (`jq -cS` of the record); the line was edited"
                            .into(),
                    );
                }
                Ok(r)
            });
        match parsed {
            Ok(r) => {
                if known && out.bad_lines.is_empty() {
                    out.trusted += 1;
                }
                out.records.push((line_no, r))
            }
            Err(message) => out.bad_lines.push(Problem {
                line: line_no,
                seq: None,
                message,
            }),
        }
        offset += len + 1;
    }
}
