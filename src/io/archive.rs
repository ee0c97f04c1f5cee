//! Package archives: verifying a package directory or tarball offline, and extracting a
//! tarball safely.

use crate::engine::chain::sha256_hex;
use crate::engine::identity::AllowedSigners;
use crate::engine::package::{self as pkg, Manifest, safe_path};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Verify a package directory or tarball; the manifest on success, every problem otherwise.
pub fn verify_package(path: &Path, signers: &AllowedSigners) -> Result<Manifest, Vec<String>> {
    let tmp;
    let root: PathBuf = if path.is_dir() {
        path.to_path_buf()
    } else {
        tmp = tempfile_dir().map_err(|e| vec![e])?;
        extract_safely(path, &tmp).map_err(|e| vec![e])?
    };
    let mut problems = Vec::new();
    let mtext = std::fs::read_to_string(root.join("manifest.json"))
        .map_err(|e| vec![format!("manifest.json: {e}")])?;
    let m: Manifest = serde_json::from_str(&mtext)
        .map_err(|e| vec![format!("manifest.json: not a package manifest: {e}")])?;
    if m.schema != pkg::SCHEMA {
        problems.push(format!(
            "manifest.json: schema `{}`, expected `{}`",
            m.schema,
            pkg::SCHEMA
        ));
    }
    match std::fs::read_to_string(root.join("manifest.json.sig")) {
        Err(e) => problems.push(format!("manifest.json.sig: {e}")),
        Ok(sig) => {
            if let Err(e) = signers.verify(&m.created_by, mtext.as_bytes(), &sig) {
                problems.push(format!("manifest.json.sig: {e}"));
            }
        }
    }
    let mut listed = std::collections::BTreeSet::new();
    for f in &m.files {
        if !safe_path(&f.path) {
            problems.push(format!(
                "manifest lists `{}`, a path outside the package",
                f.path
            ));
            continue;
        }
        listed.insert(f.path.clone());
        let p = root.join(&f.path);
        match std::fs::symlink_metadata(&p) {
            Err(_) => problems.push(format!("{}: listed in the manifest but missing", f.path)),
            Ok(md) if !md.is_file() => problems.push(format!("{}: not a regular file", f.path)),
            Ok(_) => {
                let mut bytes = Vec::new();
                if std::fs::File::open(&p)
                    .and_then(|mut h| h.read_to_end(&mut bytes))
                    .is_err()
                {
                    problems.push(format!("{}: unreadable", f.path));
                    continue;
                }
                let got = sha256_hex(&bytes);
                if got != f.sha256 || bytes.len() as u64 != f.size {
                    problems.push(format!("{}: sha256 {}… size {} in the manifest, {}… size {} on disk: the file changed", f.path, &f.sha256[..12.min(f.sha256.len())], f.size, &got[..12], bytes.len()));
                }
            }
        }
    }
    // Files the manifest does not list (beside the three package files).
    for e in walk(&root) {
        let rel = e
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if !listed.contains(&rel)
            && !["manifest.json", "manifest.json.sig", "SHA256SUMS"].contains(&rel.as_str())
        {
            problems.push(format!("{rel}: in the package but not in the manifest"));
        }
    }
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let d = std::env::temp_dir().join(format!(
        "gander-verify-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}

/// Extract a `.tar.gz` under `into`, refusing any entry that is not a plain file or
/// directory (symlinks, hard links, devices) or whose path would leave `into`. Returns the
/// package root (its single top-level directory).
pub fn extract_safely(tgz: &Path, into: &Path) -> Result<PathBuf, String> {
    let f = std::fs::File::open(tgz).map_err(|e| format!("{}: {e}", tgz.display()))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut top: Option<String> = None;
    for entry in ar
        .entries()
        .map_err(|e| format!("{}: not a tar.gz: {e}", tgz.display()))?
    {
        let mut e = entry.map_err(|e| format!("{}: {e}", tgz.display()))?;
        let path = e
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let clean = path.trim_end_matches('/');
        if !safe_path(clean) {
            return Err(format!(
                "{}: entry `{path}` would be written outside the package; refused",
                tgz.display()
            ));
        }
        let t = e.header().entry_type();
        if !(t.is_file() || t.is_dir()) {
            return Err(format!(
                "{}: entry `{path}` is a {:?}, not a file or a directory; refused",
                tgz.display(),
                t
            ));
        }
        let first = clean.split('/').next().unwrap_or_default().to_string();
        match &top {
            None => top = Some(first),
            Some(t0) if *t0 != first => {
                return Err(format!(
                    "{}: more than one top-level directory",
                    tgz.display()
                ));
            }
            _ => {}
        }
        let dest = into.join(clean);
        if t.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
        } else {
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|e| e.to_string())?;
            std::io::copy(&mut e, &mut out).map_err(|e| e.to_string())?;
        }
    }
    Ok(into.join(top.ok_or_else(|| format!("{}: empty archive", tgz.display()))?))
}
