//! Verifying a chain already read: links, hashes, sequence, every signature against
//! allowed_signers, and every artifact referenced by digest.

use super::{ChainRead, Store};
use crate::engine::chain::{self, Record};
use crate::engine::identity::AllowedSigners;
use serde::Serialize;

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
    /// Evidence copies in the audit layout that no record references (left by a crash
    /// between copying and recording): a note, not a problem.
    pub unreferenced: Vec<String>,
    /// Records whose signatures and artifacts were not checked again because this
    /// user verified them before (a remembered prefix, see [`verify_cached`]): 0 for
    /// a full verification.
    #[serde(skip)]
    pub cached: usize,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Signatures and artifacts of some records, the first `cached` of them with their
/// signatures known good (artifacts only): (checked, unverified, artifacts, findings).
fn check_records(
    store: &Store,
    records: &[(usize, Record)],
    cached: usize,
    signers: Option<&AllowedSigners>,
) -> (usize, usize, usize, Vec<Finding>) {
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut unverified = 0;
    let mut artifacts = 0;
    for (i, (line, r)) in records.iter().enumerate() {
        for a in crate::engine::folded::artifacts_of(*line, r) {
            artifacts += 1;
            if let Some(message) = artifact_problem(store, &a.path, &a.sha256) {
                problems.push(Finding {
                    line: *line,
                    seq: Some(r.seq),
                    message,
                });
            }
        }
        if i < cached {
            continue;
        }
        if r.evidence.signatures.is_empty() {
            unverified += 1;
            problems.push(Finding {
                line: *line,
                seq: Some(r.seq),
                message: "record is not signed".into(),
            });
        }
        let msg = r.signed_form();
        // Validity is judged at the record's own time, as git does for commits.
        let at = r.time();
        for s in &r.evidence.signatures {
            checked += 1;
            let result = match (signers, at) {
                (Some(a), Some(at)) => a.verify(&s.principal, msg.as_bytes(), &s.sshsig, at),
                (Some(_), None) => Err(format!("timestamp `{}` is not a time", r.timestamp)),
                (None, _) => Err("no allowed_signers file to check it against".into()),
            };
            match result {
                Err(e) => {
                    unverified += 1;
                    problems.push(Finding {
                        line: *line,
                        seq: Some(r.seq),
                        message: format!("signature of `{}`: {e}", s.principal),
                    });
                }
                Ok(proven) => {
                    // The key the entry names must be the key that signed.
                    if let Some(k) = &s.key
                        && *k != proven.fingerprint
                    {
                        problems.push(Finding {
                            line: *line,
                            seq: Some(r.seq),
                            message: format!(
                                "signature of `{}` names key {k} but was made by {}",
                                s.principal, proven.fingerprint
                            ),
                        });
                    }
                }
            }
        }
        // The person a record says acted is the person its signature proves.
        let acting = match r.evidence.kind.as_str() {
            "approval" | "rejection" => r.evidence.data.get("by"),
            "request" => r.evidence.data.get("requester"),
            _ => None,
        };
        if let Some(who) = acting.and_then(|v| v.as_str())
            && !r.evidence.signatures.iter().any(|s| s.principal == who)
        {
            problems.push(Finding {
                line: *line,
                seq: Some(r.seq),
                message: format!(
                    "says `{who}` acted but is signed by {}",
                    r.evidence
                        .signatures
                        .iter()
                        .map(|s| format!("`{}`", s.principal))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    (checked, unverified, artifacts, problems)
}

/// What is wrong with the artifact a record names at `path` with digest `want`, if
/// anything: a path outside the store (or through a symbolic link), a file missing or
/// changed.
pub fn artifact_problem(store: &Store, path: &str, want: &str) -> Option<String> {
    if let Some(why) = outside_store(&store.root, path) {
        return Some(format!("artifact path {path} {why}; not followed"));
    }
    // Hashed as a stream: a 200 MB scan report costs a buffer, not 200 MB.
    match sha256_file(&store.root.join(path)) {
        Ok(got) if got == want => None,
        Ok(got) => Some(format!(
            "artifact {path} changed: sha256 {}… recorded, {}… now",
            want.get(..12).unwrap_or(want),
            &got[..12]
        )),
        Err(e) => Some(format!("artifact {path}: {e}")),
    }
}

/// Does every artifact still hash to what its record says?
pub fn artifacts_unchanged(store: &Store, list: &[crate::engine::folded::Artifact]) -> bool {
    list.iter()
        .all(|a| artifact_problem(store, &a.path, &a.sha256).is_none())
}

/// Verify a chain already read: links, hashes, sequence, every signature against
/// allowed_signers, and every artifact referenced by digest.
pub fn verify(store: &Store, read: &ChainRead, signers: Option<&AllowedSigners>) -> VerifyReport {
    verify_after(store, read, signers, 0, chain::check_links(&read.records))
}

/// As [`verify`], but the signatures of a prefix this user verified before are not
/// checked again when it provably is the same prefix: every link and hash of the whole
/// chain still verifies (a record's hash covers its signatures and the record before
/// it), its record at the remembered seq has the remembered hash, and allowed_signers
/// trusts exactly what it trusted. Anything else is a full verification. Artifacts are
/// hashed again every time: a file's times cannot prove its bytes unchanged (a write
/// through a shared mapping keeps them). A verification that finds nothing
/// is remembered for next time. `gander verify` never uses this.
pub fn verify_cached(
    store: &Store,
    read: &ChainRead,
    signers: Option<&AllowedSigners>,
) -> VerifyReport {
    let Some(signers) = signers else {
        return verify(store, read, None);
    };
    let digest = signers.digest();
    let remembered = crate::io::heads::load_verified(store)
        .filter(|v| read.bad_lines.is_empty() && v.signers == digest);
    // The file still starts with the very bytes verified: nothing in them is checked
    // again, only that what follows links to them.
    let trusted = remembered
        .as_ref()
        .filter(|v| {
            read.trusted > 0
                && read.records.get(read.trusted - 1).is_some_and(|(_, r)| {
                    r.seq == v.seq && r.hash == v.hash && read.trusted as u64 == v.seq
                })
        })
        .map_or(0, |_| read.trusted);
    let links = chain::check_links_after(&read.records, trusted);
    let skip = if trusted > 0 {
        trusted
    } else {
        // Otherwise, a prefix whose every link and hash verifies and whose record at
        // the remembered seq has the remembered hash is the same prefix.
        remembered
            .filter(|_| links.is_empty())
            .and_then(|v| {
                read.records
                    .iter()
                    .position(|(_, r)| r.seq == v.seq && r.hash == v.hash)
            })
            .map_or(0, |i| i + 1)
    };
    let report = verify_after(store, read, Some(signers), skip, links);
    if report.ok()
        && let Some((_, last)) = read.records.last()
    {
        crate::io::heads::remember_verified(
            store,
            last.seq,
            &last.hash,
            &digest,
            read.bytes.as_ref(),
        );
    }
    report
}

/// Verify records read after a prefix verified before ([`Store::read_after`]): they
/// must link to `prev`, the prefix's last record, and every signature and artifact of
/// theirs is checked. Which evidence files no record names is not known from a tail.
pub fn verify_tail(
    store: &Store,
    tail: &ChainRead,
    signers: &AllowedSigners,
    prev: &chain::Link,
) -> VerifyReport {
    let links = chain::check_links_from(&tail.records, Some(prev));
    let mut report = verify_after(store, tail, Some(signers), 0, links);
    report.unreferenced.clear();
    report
}

/// Verify links and hashes of every record, the artifacts of every record, and the
/// signatures of the records from index `skip` on.
fn verify_after(
    store: &Store,
    read: &ChainRead,
    signers: Option<&AllowedSigners>,
    skip: usize,
    links: Vec<chain::Problem>,
) -> VerifyReport {
    let mut problems: Vec<Finding> = read
        .bad_lines
        .iter()
        .map(|p| Finding {
            line: p.line,
            seq: p.seq,
            message: p.message.clone(),
        })
        .collect();
    for p in links {
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
    let (known, todo) = read.records.split_at(skip.min(read.records.len()));
    let chunk = todo.len().div_ceil(threads).max(1);
    let results: Vec<(usize, usize, usize, Vec<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|part| scope.spawn(move || check_records(store, part, 0, signers)))
            .collect();
        // The known prefix's artifacts, meanwhile, on this thread.
        let mut all = vec![check_records(store, known, known.len(), signers)];
        all.extend(handles.into_iter().filter_map(|h| h.join().ok()));
        all
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
        unreferenced: unreferenced(store, read),
        cached: skip,
    }
}

/// Files under `audit/services/*/evidence/` that no record's artifacts name.
fn unreferenced(store: &Store, read: &ChainRead) -> Vec<String> {
    let named: std::collections::HashSet<&str> = read
        .records
        .iter()
        .filter_map(|(_, r)| r.evidence.data.get("artifacts")?.as_array())
        .flatten()
        .filter_map(|a| a.get("path")?.as_str())
        .collect();
    let mut out: Vec<String> = super::files_under(&store.audit.join("services"))
        .files
        .iter()
        .map(|p| {
            p.strip_prefix(&store.root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default()
        })
        .filter(|rel| rel.contains("/evidence/") && !named.contains(rel.as_str()))
        .collect();
    out.sort();
    out
}

/// Why an artifact path a record names is not a file inside the store: `..`, absolute,
/// or through a symbolic link (which could point anywhere).
pub fn outside_store(root: &std::path::Path, rel: &str) -> Option<&'static str> {
    use std::path::Component;
    let p = std::path::Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Some("leaves the store (absolute, or with `..`)");
    }
    let mut at = root.to_path_buf();
    for c in p.components() {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some("goes through a symbolic link");
        }
    }
    None
}

/// Signatures, acting principals and artifacts of records about to join a chain.
pub fn check_new(
    store: &Store,
    records: &[(usize, Record)],
    signers: Option<&AllowedSigners>,
) -> Vec<Finding> {
    check_records(store, records, 0, signers).3
}

/// The SHA-256 of a file's content, read in 64 KiB pieces.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = super::open_regular(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
