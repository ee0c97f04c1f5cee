//! Package archives: verifying a package directory or tarball offline, and extracting a
//! tarball safely.
//!
//! A tarball is read in one pass that is bounded by its own manifest: the first file in
//! it must be `manifest.json` (gander writes it first), and every later file must be one
//! the manifest lists, no larger than it says, or one of the two package files beside
//! it. So a small tarball cannot fill the disk, and the extracted copy lives in a
//! temporary directory that is removed on every path.

use crate::engine::chain::sha256_hex;
use crate::engine::identity::AllowedSigners;
use crate::engine::package::{self as pkg, Manifest, safe_path};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The three files of a package beside what its manifest lists.
pub const PACKAGE_FILES: [&str; 3] = ["manifest.json", "manifest.json.sig", "SHA256SUMS"];
/// The largest manifest, signature or SHA256SUMS read.
const MAX_META: u64 = 16 << 20;

/// Verify a package directory or tarball; the manifest on success, every problem otherwise.
pub fn verify_package(path: &Path, signers: &AllowedSigners) -> Result<Manifest, Vec<String>> {
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    if meta.is_dir() {
        return verify_dir(path, signers);
    }
    let tmp = tempfile::Builder::new()
        .prefix("gander-verify-")
        .tempdir()
        .map_err(|e| vec![format!("cannot make a temporary directory: {e}")])?;
    let root = extract_safely(path, tmp.path(), Some(signers)).map_err(|e| vec![e])?;
    verify_dir(&root, signers)
    // `tmp` is removed here, whatever happened above.
}

fn read_meta(root: &Path, name: &str) -> Result<String, String> {
    let p = root.join(name);
    let md = std::fs::symlink_metadata(&p).map_err(|e| format!("{name}: {e}"))?;
    if !md.is_file() {
        return Err(format!("{name}: not a regular file"));
    }
    if md.len() > MAX_META {
        return Err(format!(
            "{name}: {} bytes, more than a package's {MAX_META}",
            md.len()
        ));
    }
    std::fs::read_to_string(&p).map_err(|e| format!("{name}: {e}"))
}

fn verify_dir(root: &Path, signers: &AllowedSigners) -> Result<Manifest, Vec<String>> {
    let mut problems = Vec::new();
    let mtext = read_meta(root, "manifest.json").map_err(|e| vec![e])?;
    let m: Manifest = serde_json::from_str(&mtext)
        .map_err(|e| vec![format!("manifest.json: not a package manifest: {e}")])?;
    if m.schema != pkg::SCHEMA {
        problems.push(format!(
            "manifest.json: schema `{}`, expected `{}`",
            m.schema,
            pkg::SCHEMA
        ));
    }
    match read_meta(root, "manifest.json.sig") {
        Err(e) => problems.push(e),
        Ok(sig) => {
            let at = chrono::DateTime::parse_from_rfc3339(&m.created_at)
                .map(|d| d.with_timezone(&chrono::Utc))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            if let Err(e) = signers.verify(&m.created_by, mtext.as_bytes(), &sig, at) {
                problems.push(format!("manifest.json.sig: {e}"));
            }
        }
    }
    // Symlinks anywhere (files or directories) are refused: a package is plain files.
    let (files, links) = walk(root);
    for l in &links {
        problems.push(format!(
            "{l}: a symbolic link; a package holds plain files and directories only"
        ));
    }
    let mut listed = BTreeSet::new();
    for f in &m.files {
        if !safe_path(&f.path) {
            problems.push(format!(
                "manifest lists `{}`, a path outside the package",
                f.path
            ));
            continue;
        }
        listed.insert(f.path.clone());
        if links
            .iter()
            .any(|l| f.path == *l || f.path.starts_with(&format!("{l}/")))
        {
            continue; // reported above; never read through a link
        }
        let p = root.join(&f.path);
        match std::fs::symlink_metadata(&p) {
            Err(_) => problems.push(format!("{}: listed in the manifest but missing", f.path)),
            Ok(md) if !md.is_file() => problems.push(format!("{}: not a regular file", f.path)),
            Ok(md) if md.len() != f.size => problems.push(format!(
                "{}: size {} in the manifest, {} on disk: the file changed",
                f.path,
                f.size,
                md.len()
            )),
            Ok(_) => match sha256_file(&p) {
                Err(e) => problems.push(format!("{}: {e}", f.path)),
                Ok(got) if got != f.sha256 => problems.push(format!(
                    "{}: sha256 {}… in the manifest, {}… on disk: the file changed",
                    f.path,
                    f.sha256.get(..12).unwrap_or(&f.sha256),
                    &got[..12]
                )),
                Ok(_) => {}
            },
        }
    }
    for rel in &files {
        if !listed.contains(rel) && !PACKAGE_FILES.contains(&rel.as_str()) {
            problems.push(format!("{rel}: in the package but not in the manifest"));
        }
    }
    match read_meta(root, "SHA256SUMS") {
        Err(e) => problems.push(e),
        Ok(text) => problems.extend(check_sums(root, &text, &m, &mtext)),
    }
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

fn sha256_file(p: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(sha256_hex_of(&h.finalize()))
}

fn sha256_hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `SHA256SUMS` read as `sha256sum -c --strict` reads it: every line `HEX  PATH` (or
/// `HEX *PATH`), 64 hex digits, each file present with that digest; and it covers the
/// manifest and every file the manifest lists, with the manifest's digests.
pub fn check_sums(root: &Path, text: &str, m: &Manifest, mtext: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let parsed = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .filter(|(h, p)| {
                h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !p.is_empty()
            });
        let Some((hash, path)) = parsed else {
            problems.push(format!(
                "SHA256SUMS:{n}: not a `SHA256  PATH` line (as `sha256sum -c` reads them)"
            ));
            continue;
        };
        if !safe_path(path) {
            problems.push(format!(
                "SHA256SUMS:{n}: `{}` is outside the package",
                path.escape_debug()
            ));
            continue;
        }
        let hash = hash.to_ascii_lowercase();
        let p = root.join(path);
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.is_file() => match sha256_file(&p) {
                Ok(got) if got == hash => {}
                Ok(_) => problems.push(format!("SHA256SUMS:{n}: {path}: FAILED (digest differs)")),
                Err(e) => problems.push(format!("SHA256SUMS:{n}: {path}: {e}")),
            },
            Ok(_) => problems.push(format!("SHA256SUMS:{n}: {path}: not a regular file")),
            Err(_) => problems.push(format!("SHA256SUMS:{n}: {path}: missing")),
        }
        sums.insert(path.to_string(), hash);
    }
    let mut want: Vec<(String, String)> = m
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    want.push(("manifest.json".into(), sha256_hex(mtext.as_bytes())));
    for (path, hash) in want {
        match sums.get(&path) {
            None => problems.push(format!("SHA256SUMS does not list {path}")),
            Some(h) if *h != hash => problems.push(format!(
                "SHA256SUMS gives {path} another digest than the manifest"
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Every regular file (relative, `/`-separated) and every symlink under `root`; never
/// follows a link.
fn walk(root: &Path) -> (Vec<String>, Vec<String>) {
    let rel = |p: &PathBuf| {
        p.strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default()
    };
    let t = super::store::files_under(root);
    (
        t.files.iter().map(rel).collect(),
        t.links.iter().map(rel).collect(),
    )
}

/// Extract a `.tar.gz` under `into`, refusing any entry that is not a plain file or
/// directory (symlinks, hard links, devices), whose path would leave `into` or comes
/// twice, and bounding every file by the manifest (which must come first, and, when
/// `signers` are given, carry a good signature before any other file is written).
/// Returns the package root (its single top-level directory).
pub fn extract_safely(
    tgz: &Path,
    into: &Path,
    signers: Option<&AllowedSigners>,
) -> Result<PathBuf, String> {
    let name = tgz.display();
    let f = std::fs::File::open(tgz).map_err(|e| format!("{name}: {e}"))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut top: Option<String> = None;
    // path -> size the manifest allows; None until the manifest has been read.
    let mut allowed: Option<BTreeMap<String, u64>> = None;
    let mut manifest: Option<(Manifest, String)> = None;
    let mut signed = signers.is_none();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut written: u64 = 0;
    for entry in ar
        .entries()
        .map_err(|e| format!("{name}: not a tar.gz: {e}"))?
    {
        let mut e = entry.map_err(|e| format!("{name}: {e}"))?;
        let path = e
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let clean = path.trim_end_matches('/');
        if !safe_path(clean) {
            return Err(format!(
                "{name}: entry `{}` would be written outside the package; refused",
                path.escape_debug()
            ));
        }
        let t = e.header().entry_type();
        if !(t.is_file() || t.is_dir()) {
            return Err(format!(
                "{name}: entry `{}` is a {t:?}, not a file or a directory; refused",
                path.escape_debug()
            ));
        }
        let (first, inside) = clean.split_once('/').unwrap_or((clean, ""));
        match &top {
            None => top = Some(first.to_string()),
            Some(t0) if t0 != first => {
                return Err(format!("{name}: more than one top-level directory"));
            }
            _ => {}
        }
        let dest = into.join(clean);
        if t.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
            continue;
        }
        if !seen.insert(clean.to_string()) {
            return Err(format!(
                "{name}: `{}` comes twice; a second copy could hide behind the first; refused",
                path.escape_debug()
            ));
        }
        // Nothing but the package's own files until its manifest's signature holds.
        if !signed && allowed.is_some() && !PACKAGE_FILES.contains(&inside) {
            return Err(format!(
                "{name}: `{}` comes before manifest.json.sig; a package tarball starts with its manifest and its signature; refused",
                path.escape_debug()
            ));
        }
        let size = e.header().size().map_err(|e| format!("{name}: {e}"))?;
        let limit = match &allowed {
            None if inside == "manifest.json" => MAX_META,
            None => {
                return Err(format!(
                    "{name}: `{}` comes before manifest.json (a package tarball starts with its manifest); refused",
                    path.escape_debug()
                ));
            }
            Some(a) => match a.get(inside) {
                Some(n) => *n,
                None if PACKAGE_FILES.contains(&inside) => MAX_META,
                None => {
                    return Err(format!(
                        "{name}: `{}` is not in the manifest; refused before writing it",
                        path.escape_debug()
                    ));
                }
            },
        };
        if size > limit {
            return Err(format!(
                "{name}: `{}` is {size} bytes, more than the {limit} the manifest allows; refused before writing it",
                path.escape_debug()
            ));
        }
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
        }
        let budget = allowed
            .as_ref()
            .map_or(MAX_META, |a| a.values().sum::<u64>() + 3 * MAX_META);
        if written + size > budget {
            return Err(format!(
                "{name}: more than the {budget} bytes the manifest accounts for; refused"
            ));
        }
        let mut out = std::fs::File::create(&dest).map_err(|e| e.to_string())?;
        // Never more than the header said (and so never more than allowed).
        written += std::io::copy(&mut (&mut e).take(limit), &mut out).map_err(|e| e.to_string())?;
        if allowed.is_none() {
            let text = std::fs::read_to_string(&dest)
                .map_err(|e| format!("{name}: manifest.json: {e}"))?;
            let m: Manifest = serde_json::from_str(&text)
                .map_err(|e| format!("{name}: manifest.json: not a package manifest: {e}"))?;
            allowed = Some(m.files.iter().map(|f| (f.path.clone(), f.size)).collect());
            manifest = Some((m, text));
        } else if inside == "manifest.json.sig"
            && let (Some(signers), Some((m, text))) = (signers, &manifest)
        {
            let sig = std::fs::read_to_string(&dest).map_err(|e| format!("{name}: {e}"))?;
            let at = chrono::DateTime::parse_from_rfc3339(&m.created_at)
                .map(|d| d.with_timezone(&chrono::Utc))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            signers
                .verify(&m.created_by, text.as_bytes(), &sig, at)
                .map_err(|e| {
                    format!("{name}: manifest.json.sig: {e}; refused before extracting the rest")
                })?;
            signed = true;
        }
    }
    Ok(into.join(top.ok_or_else(|| format!("{name}: empty archive"))?))
}
