//! Evidence: files read (format from their content), copied into the seed 003 layout
//! `audit/services/{service}/evidence/{YYYYMMDD}/{kind}/` and recorded in the chain by
//! SHA-256 with their verdict. One unreadable file refuses the whole batch: nothing is
//! copied or recorded.

use super::store::{Writer, open_writer};
use super::{Ctx, EXIT_FAILED, OpsError, Said};
use crate::engine::chain::Record;
use crate::engine::config::EvidenceKind;
use crate::engine::ledger::kind;
use crate::evidence::{Policy, Reading, read};
use crate::io::store::Draft;
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The policy a service's evidence is judged by.
pub fn policy(ctx: &Ctx, service: &str) -> Option<Policy> {
    let svc = ctx.config.service(service)?;
    Some(Policy {
        service: service.to_string(),
        version: svc.def.spec.version.clone(),
        sast_fail_level: ctx.config.org.evidence.sast_fail_level,
        baseline: svc.def.baseline.clone(),
    })
}

/// What was recorded: each file, its reading, and its chain record.
pub struct Added {
    pub items: Vec<(PathBuf, Reading, Record)>,
}

/// Read every file (all must be readable), then copy and record them in one append.
pub fn add(
    ctx: &Ctx,
    service: &str,
    files: &[PathBuf],
    kind: Option<EvidenceKind>,
    said: &mut Said,
) -> Result<Added, OpsError> {
    let Some(policy) = policy(ctx, service) else {
        return Err(OpsError::Usage(format!("no service `{service}`")));
    };
    // Identity first, then read every file; refuse the batch on any failure.
    super::store::try_signer(&ctx.config_dir, &ctx.config, ctx.key()).map_err(OpsError::Usage)?;
    let mut readings: Vec<(PathBuf, Reading)> = Vec::new();
    let mut failed = false;
    for f in files {
        match read(f, kind, &policy) {
            Ok(r) => readings.push((f.clone(), r)),
            Err(e) => {
                said.err.push(format!("refused: {e}"));
                failed = true;
            }
        }
    }
    if failed {
        return Err(OpsError::Refused(
            "nothing recorded: every file of a batch must be readable".into(),
        ));
    }
    let mut w = open_writer(ctx)?;
    w.tell(said);
    let recs = record(&mut w, service, &readings)?;
    w.tell(said);
    Ok(Added {
        items: readings
            .into_iter()
            .zip(recs)
            .map(|((f, r), rec)| (f, r, rec))
            .collect(),
    })
}

/// [`add`] as lines and an exit code.
pub fn add_said(ctx: &Ctx, service: &str, files: &[PathBuf], kind: Option<EvidenceKind>) -> Said {
    let mut said = Said::default();
    match add(ctx, service, files, kind, &mut said) {
        Ok(a) => {
            for (f, r, rec) in &a.items {
                said.out.push(format!(
                    "{} {} ({} {}): {} — chain #{} sha256 {}…",
                    if r.passed { "✓" } else { "✗" },
                    f.display(),
                    r.kind.as_str(),
                    r.format,
                    r.summary,
                    rec.seq,
                    rec.evidence.data["artifacts"][0]["sha256"]
                        .as_str()
                        .unwrap_or("")
                        .get(..12)
                        .unwrap_or("")
                ));
            }
            said
        }
        Err(OpsError::Refused(m)) => said.fail(EXIT_FAILED, m),
        Err(e) => said.error(e),
    }
}

/// Copy `from` to `to` through a temp file, hashing as it goes; fsync, rename, fsync dir.
pub fn copy_hashed(from: &Path, to: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::File::create(&tmp)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
    }
    dst.sync_all()?;
    drop(dst);
    std::fs::rename(&tmp, to)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Copy read files into the audit layout and append their evidence records (one write).
/// On failure the copies made are removed and nothing is recorded.
fn record(
    w: &mut Writer,
    service: &str,
    readings: &[(PathBuf, Reading)],
) -> Result<Vec<Record>, OpsError> {
    let now = w.now;
    let root = w.store.root.clone();
    let day = now.format("%Y%m%d").to_string();
    let mut drafts = Vec::new();
    let mut copied: Vec<String> = Vec::new();
    let undo = |copied: &[String]| {
        for c in copied {
            let _ = std::fs::remove_file(root.join(c));
        }
    };
    for (f, r) in readings {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("evidence");
        let rel_dir = format!(
            "audit/services/{service}/evidence/{day}/{}",
            r.kind.as_str()
        );
        if let Some(why) = crate::io::store::outside_store(&root, &rel_dir) {
            undo(&copied);
            return Err(OpsError::Store(format!(
                "{rel_dir} {why}; nothing recorded"
            )));
        }
        let mut rel = format!("{rel_dir}/{name}");
        if root.join(&rel).exists() {
            rel = format!("{rel_dir}/{}-{name}", now.format("%H%M%S%.3f"));
        }
        let sha = match copy_hashed(f, &root.join(&rel)) {
            Ok(s) => s,
            Err(e) => {
                undo(&copied);
                return Err(OpsError::Store(format!(
                    "{}: {e}; nothing recorded",
                    f.display()
                )));
            }
        };
        copied.push(rel.clone());
        drafts.push(Draft {
            promotion_id: "-".into(),
            service: service.to_string(),
            kind: kind::EVIDENCE.into(),
            data: json!({
                "evidence_kind": r.kind,
                "format": r.format,
                "source": f.display().to_string(),
                "artifacts": [{"path": rel, "sha256": sha}],
                "passed": r.passed,
                "summary": r.summary,
                // Records hold integers only: the figure is stored x100 (figure_scale).
                "figure": r.figure.map(|x| (x * 100.0).round() as i64),
                "figure_scale": 100,
                "details": r.details.iter().take(20).collect::<Vec<_>>(),
                "counts": r.counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            }),
        });
    }
    w.append(drafts).inspect_err(|_| undo(&copied))
}

/// Record the demo fleet's CI artifacts as its operator `alice` (key under
/// `STATE/keys/alice`), so the demo runs the shipped policies on real-format evidence.
pub fn seed_demo(
    state_dir: &Path,
    config_dir: &Path,
    artifacts: &[(String, Vec<PathBuf>)],
) -> Result<(), OpsError> {
    let config = crate::io::config_dir::load_dir(config_dir)
        .map_err(|e| OpsError::Usage(e.to_string()))?
        .config
        .ok_or_else(|| OpsError::Usage("the demo config does not load".into()))?;
    let ctx = Ctx::new(std::sync::Arc::new(config), config_dir, Some(state_dir))
        .with_key(Some(&state_dir.join("keys").join("alice")));
    for (service, files) in artifacts {
        let mut said = Said::default();
        add(&ctx, service, files, None, &mut said)?;
    }
    Ok(())
}
