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
use crate::engine::identity::{self, AllowedSigners};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
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

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Store {
    pub root: PathBuf,
    pub audit: PathBuf,
}

/// A held lock on the chain; released on drop (or by the kernel if the process dies).
pub struct Lock {
    file: File,
    pub exclusive: bool,
    /// Set when the previous holder's note names a process that no longer runs.
    pub recovered_from: Option<String>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.exclusive {
            // A clean release leaves no holder note, so a note found later means the
            // holder died with the lock (SIGKILL, power loss).
            let _ = self.file.set_len(0);
        }
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: unlocking our own open descriptor.
            unsafe {
                libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
            }
        }
    }
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

/// Who signs: a private key and the principal allowed_signers gives it.
pub struct Signer {
    pub key: ssh_key::PrivateKey,
    pub principal: String,
}

fn fsync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn pid_alive(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence.
        unsafe {
            libc::kill(pid, 0) == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl Store {
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let audit = state_dir.join("audit");
        std::fs::create_dir_all(&audit).map_err(io_err(&audit))?;
        Ok(Store {
            root: state_dir.to_path_buf(),
            audit,
        })
    }

    pub fn chain_path(&self) -> PathBuf {
        self.audit.join("chain.jsonl")
    }

    /// Take the chain lock, waiting up to `wait`. Writers take it exclusive, readers
    /// shared (so they never see an append half-written).
    pub fn lock(&self, exclusive: bool, wait: Duration) -> Result<Lock, StoreError> {
        let path = self.audit.join("chain.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let start = Instant::now();
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let op = if exclusive {
                libc::LOCK_EX
            } else {
                libc::LOCK_SH
            } | libc::LOCK_NB;
            loop {
                // SAFETY: flock on our own descriptor.
                if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                    break;
                }
                if start.elapsed() >= wait {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = if holder.trim().is_empty() {
                        "another gander process".to_string()
                    } else {
                        holder.trim().to_string()
                    };
                    return Err(StoreError::Busy {
                        holder,
                        waited: wait.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut recovered_from = None;
        if exclusive {
            let mut note = String::new();
            let _ = file.read_to_string(&mut note);
            if let Some(pid) = note
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok())
            {
                if pid != std::process::id() as i32 && !pid_alive(pid) && note.contains("holding") {
                    recovered_from = Some(note.trim().to_string());
                }
            }
            let me = format!(
                "pid {} holding since {} ({})\n",
                std::process::id(),
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                std::env::args()
                    .skip(1)
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let _ = file.set_len(0);
            let _ = file.seek(SeekFrom::Start(0));
            let _ = file.write_all(me.as_bytes());
        }
        Ok(Lock {
            file,
            exclusive,
            recovered_from,
        })
    }

    /// Read the chain. Takes no lock: call it while holding one.
    pub fn read(&self, _lock: &Lock) -> Result<ChainRead, StoreError> {
        let path = self.chain_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ChainRead::default()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut out = ChainRead::default();
        let mut offset = 0usize;
        let mut line_no = 0usize;
        while offset < bytes.len() {
            line_no += 1;
            let end = bytes[offset..].iter().position(|b| *b == b'\n');
            let Some(len) = end else {
                // No newline: the last append never finished.
                out.torn = Some(Torn {
                    offset: offset as u64,
                    bytes: bytes[offset..].to_vec(),
                    line: line_no,
                });
                break;
            };
            let raw = &bytes[offset..offset + len];
            let parsed = std::str::from_utf8(raw)
                .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))
                .and_then(chain::parse_line);
            match parsed {
                Ok(r) => out.records.push((line_no, r)),
                Err(message) => out.bad_lines.push(Problem {
                    line: line_no,
                    seq: None,
                    message,
                }),
            }
            offset += len + 1;
        }
        Ok(out)
    }

    /// Under the exclusive lock: move a torn tail aside to `audit/torn/` (never
    /// dropped, never "repaired" into the chain) and cut the chain back to its last
    /// complete record. Returns where the tail went.
    pub fn set_aside_torn(
        &self,
        lock: &Lock,
        read: &ChainRead,
    ) -> Result<Option<PathBuf>, StoreError> {
        assert!(
            lock.exclusive,
            "setting a torn tail aside needs the exclusive lock"
        );
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
    pub fn append(
        &self,
        lock: &Lock,
        read: &ChainRead,
        drafts: Vec<Draft>,
        signer: &Signer,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, StoreError> {
        assert!(lock.exclusive, "appending needs the exclusive lock");
        if let Some(p) = read.bad_lines.first() {
            return Err(StoreError::Corrupt {
                line: p.line,
                message: p.message.clone(),
            });
        }
        if let Some(p) = chain::check_links(&read.records).first() {
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
        let mut buf = String::new();
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
            let sig = identity::sign(&signer.key, r.signed_form().as_bytes()).map_err(|e| {
                StoreError::Io {
                    path: self.chain_path(),
                    source: std::io::Error::other(e),
                }
            })?;
            r.evidence.signatures.push(Signature {
                principal: signer.principal.clone(),
                sshsig: sig,
            });
            r.hash = r.compute_hash();
            prev = r.hash.clone();
            buf.push_str(&r.line());
            buf.push('\n');
            out.push(r);
        }
        let path = self.chain_path();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(buf.as_bytes()).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        if out.first().is_some_and(|r| r.seq == 1) {
            fsync_dir(&self.audit);
        }
        Ok(out)
    }

    /// Write each record's copy into the seed 003 audit layout (derived from the chain;
    /// a crash between the chain append and these files loses nothing).
    pub fn write_layout(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            let day = r.timestamp.get(..10).unwrap_or("00000000").replace('-', "");
            let sub = match r.evidence.kind.as_str() {
                "request" => "request",
                "validation" => "validation",
                "approval" | "rejection" => "approval",
                _ => "evidence",
            };
            let dir = self
                .audit
                .join("promotions")
                .join(&r.service)
                .join(&day)
                .join(sub);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let path = dir.join(format!("{:08}-{}.json", r.seq, r.evidence.kind));
            let text = serde_json::to_string_pretty(r).unwrap_or_default();
            write_atomic(&path, text.as_bytes())?;
        }
        Ok(())
    }
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

/// One finding of `gander verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub line: usize,
    pub seq: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub chain: String,
    pub records: usize,
    pub signatures_checked: usize,
    /// Records whose signatures do not verify (they do not count as signed).
    pub unverified_signatures: usize,
    pub artifacts_checked: usize,
    pub problems: Vec<Finding>,
    /// A torn last line (crash mid-append): not part of the chain; reported.
    pub torn_tail: Option<Finding>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Signatures and artifacts of some records: (checked, unverified, artifacts, findings).
fn check_records(
    store: &Store,
    records: &[(usize, Record)],
    signers: Option<&AllowedSigners>,
) -> (usize, usize, usize, Vec<Finding>) {
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut unverified = 0;
    let mut artifacts = 0;
    for (line, r) in records {
        if r.evidence.signatures.is_empty() {
            unverified += 1;
            problems.push(Finding {
                line: *line,
                seq: Some(r.seq),
                message: "record is not signed".into(),
            });
        }
        let msg = r.signed_form();
        for s in &r.evidence.signatures {
            checked += 1;
            let result = match signers {
                Some(a) => a.verify(&s.principal, msg.as_bytes(), &s.sshsig),
                None => Err("no allowed_signers file to check it against".into()),
            };
            if let Err(e) = result {
                unverified += 1;
                problems.push(Finding {
                    line: *line,
                    seq: Some(r.seq),
                    message: format!("signature of `{}`: {e}", s.principal),
                });
            }
        }
        if let Some(list) = r.evidence.data.get("artifacts").and_then(|a| a.as_array()) {
            for a in list {
                let (Some(p), Some(want)) = (
                    a.get("path").and_then(|x| x.as_str()),
                    a.get("sha256").and_then(|x| x.as_str()),
                ) else {
                    continue;
                };
                artifacts += 1;
                let path = store.root.join(p);
                match std::fs::read(&path) {
                    Ok(b) => {
                        let got = chain::sha256_hex(&b);
                        if got != want {
                            problems.push(Finding {
                                line: *line,
                                seq: Some(r.seq),
                                message: format!(
                                    "artifact {p} changed: sha256 {}… recorded, {}… now",
                                    &want.get(..12).unwrap_or(want),
                                    &got[..12]
                                ),
                            });
                        }
                    }
                    Err(e) => problems.push(Finding {
                        line: *line,
                        seq: Some(r.seq),
                        message: format!("artifact {p}: {e}"),
                    }),
                }
            }
        }
    }
    (checked, unverified, artifacts, problems)
}

/// Verify a chain already read: links, hashes, sequence, every signature against
/// allowed_signers, and every artifact referenced by digest.
pub fn verify(store: &Store, read: &ChainRead, signers: Option<&AllowedSigners>) -> VerifyReport {
    let mut problems: Vec<Finding> = read
        .bad_lines
        .iter()
        .map(|p| Finding {
            line: p.line,
            seq: p.seq,
            message: p.message.clone(),
        })
        .collect();
    for p in chain::check_links(&read.records) {
        problems.push(Finding {
            line: p.line,
            seq: p.seq,
            message: p.message,
        });
    }
    // Signatures dominate the cost (an ed25519 verification each): spread the records
    // over the cores; each thread reports its findings, merged in line order below.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = read.records.len().div_ceil(threads).max(1);
    let results: Vec<(usize, usize, usize, Vec<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = read
            .records
            .chunks(chunk)
            .map(|part| scope.spawn(move || check_records(store, part, signers)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let (mut checked, mut unverified, mut artifacts) = (0, 0, 0);
    for (c, u, a, f) in results {
        checked += c;
        unverified += u;
        artifacts += a;
        problems.extend(f);
    }
    problems.sort_by_key(|p| p.line);
    VerifyReport {
        chain: store.chain_path().display().to_string(),
        records: read.records.len(),
        signatures_checked: checked,
        unverified_signatures: unverified,
        artifacts_checked: artifacts,
        problems,
        torn_tail: read.torn.as_ref().map(|t| Finding {
            line: t.line,
            seq: None,
            message: format!("torn last line ({} bytes without a newline: a crash mid-append); it is not part of the chain and the next write moves it to audit/torn/", t.bytes.len()),
        }),
    }
}
