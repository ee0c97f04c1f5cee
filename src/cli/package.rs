//! `gander package …`: build a Golden Goose package from compliant services, verify it
//! offline, walk it through the stages with four-eyes approval where the org asks for
//! it, roll a stage back to a previous snapshot, archive old packages.
//!
//! A package is a directory (and a `.tar.gz` of it) under `STATE/packages/`:
//! `manifest.json` (every file's path, size and SHA-256), `manifest.json.sig` (SSHSIG,
//! namespace gander), `SHA256SUMS` (for `sha256sum -c`), `summary.md`, and the services'
//! evidence under `services/{name}/{kind}/`.

use super::store_ctx::{self, LOCK_WAIT};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::chain::sha256_hex;
use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::identity::AllowedSigners;
use crate::engine::package::{
    self as pkg, FileEntry, Manifest, ServiceEntry, Stages, kind, safe_path,
};
use crate::engine::resolver::DepGraph;
use crate::io::store::{ChainRead, Draft, Lock, Signer, Store, write_atomic};
use chrono::Utc;
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Build a package from compliant services (default: every compliant service)
    Create {
        #[arg(long)]
        version: Option<String>,
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Verify a package (directory or .tar.gz) offline: digests, files, signature
    Verify {
        package: PathBuf,
        /// allowed_signers to check the signature against (default: the config's)
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Promote a package to a stage (asks for an approval where the org requires one)
    Promote {
        id: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Approve a package's promotion to a stage (never your own request)
    Approve {
        id: String,
        #[arg(long)]
        stage: String,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Put a stage back to a previous snapshot (default: the one before the current)
    Rollback {
        stage: String,
        #[arg(long, value_name = "PACKAGE")]
        to: Option<String>,
        #[arg(long)]
        reason: String,
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Archive packages beyond packaging.keep_per_stage that no stage points to
    Archive {
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Packages, and what each stage runs
    List {
        #[arg(long)]
        json: bool,
    },
    /// One package's manifest
    Show { id: String },
}

struct W {
    store: Store,
    lock: Lock,
    read: ChainRead,
    signer: Signer,
    signers: AllowedSigners,
}

fn open_write(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    key: Option<&Path>,
) -> Result<W, i32> {
    let mut said = super::record::Said::default();
    let w = store_ctx::open_writer(config, dir, state, key, &mut said);
    for e in &said.err {
        eprintln!("gander: {e}");
    }
    let w = w?;
    Ok(W {
        store: w.store,
        lock: w.lock,
        read: w.read,
        signer: w.signer,
        signers: w.signers,
    })
}

impl W {
    fn append(&mut self, drafts: Vec<Draft>) -> Result<(), i32> {
        let recs = self
            .store
            .append(&self.lock, &self.read, drafts, &self.signer, Utc::now())
            .map_err(|e| {
                eprintln!("gander: {e}");
                EXIT_FAILED
            })?;
        let base = self.read.records.last().map_or(0, |(l, _)| *l);
        for (i, r) in recs.into_iter().enumerate() {
            self.read.records.push((base + i + 1, r));
        }
        Ok(())
    }

    fn stages(&self) -> Stages {
        pkg::fold(&store_ctx::records(&self.read))
    }

    fn facts(&self, config: &Config) -> Facts {
        let mut f = Facts::from_config(config, Utc::now());
        store_ctx::apply(&self.store, &self.read, Some(&self.signers), &mut f);
        f
    }
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dir = located.dir;
    match args.command {
        Sub::Create {
            version,
            services,
            key,
        } => create(
            &config,
            &dir,
            state.as_deref(),
            version,
            services,
            key.as_deref(),
        ),
        Sub::Verify {
            package,
            allowed_signers,
            json,
        } => {
            let path = allowed_signers.unwrap_or_else(|| store_ctx::signers_path(&dir, &config));
            let signers = match crate::io::keys::load_allowed_signers(&path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("gander: {e}");
                    return EXIT_USAGE;
                }
            };
            let (ok, lines) = match verify_package(&package, &signers) {
                Ok(m) => (
                    true,
                    vec![format!(
                        "{}: ok: {} {} — {} files match, signed by {}",
                        package.display(),
                        m.id,
                        m.version,
                        m.files.len(),
                        m.created_by
                    )],
                ),
                Err(problems) => (false, problems),
            };
            if json {
                output::print_json(
                    "package_verify",
                    &json!({"package": package.display().to_string(), "ok": ok, "problems": if ok { vec![] } else { lines.clone() }}),
                );
            } else {
                for l in &lines {
                    println!("{l}");
                }
            }
            if ok { EXIT_OK } else { EXIT_FAILED }
        }
        Sub::Promote {
            id,
            to,
            reason,
            key,
        } => promote(
            &config,
            &dir,
            state.as_deref(),
            &id,
            &to,
            &reason,
            key.as_deref(),
        ),
        Sub::Approve { id, stage, key } => {
            approve(&config, &dir, state.as_deref(), &id, &stage, key.as_deref())
        }
        Sub::Rollback {
            stage,
            to,
            reason,
            key,
        } => rollback(
            &config,
            &dir,
            state.as_deref(),
            &stage,
            to,
            &reason,
            key.as_deref(),
        ),
        Sub::Archive { key } => archive(&config, &dir, state.as_deref(), key.as_deref()),
        Sub::List { json } => {
            let Ok(store) = store_ctx::try_open_store(state.as_deref()) else {
                return EXIT_USAGE;
            };
            let read = match store.lock(false, LOCK_WAIT).and_then(|l| store.read(&l)) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gander: {e}");
                    return EXIT_FAILED;
                }
            };
            let st = pkg::fold(&store_ctx::records(&read));
            if json {
                output::print_json("packages", &st);
                return EXIT_OK;
            }
            for stage in &config.org.packaging.stages {
                match st.history.get(stage) {
                    None => println!("{stage:<8} (empty)"),
                    Some(h) => {
                        let cur = h.last().map(|s| s.package.clone()).unwrap_or_default();
                        let prev: Vec<String> = h
                            .iter()
                            .rev()
                            .skip(1)
                            .take(3)
                            .map(|s| s.package.clone())
                            .collect();
                        println!(
                            "{stage:<8} {cur}  (before: {})",
                            if prev.is_empty() {
                                "-".into()
                            } else {
                                prev.join(", ")
                            }
                        );
                    }
                }
            }
            for (id, (v, svcs)) in &st.packages {
                println!(
                    "  {id} {v}: {}{}",
                    svcs.join(", "),
                    if st.archived.contains(id) {
                        " [archived]"
                    } else {
                        ""
                    }
                );
            }
            EXIT_OK
        }
        Sub::Show { id } => {
            let Some(dir) = state.as_deref().map(|s| s.join("packages").join(&id)) else {
                return EXIT_USAGE;
            };
            match std::fs::read_to_string(dir.join("manifest.json")) {
                Ok(t) => {
                    println!("{t}");
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("gander: {}: {e}", dir.display());
                    EXIT_USAGE
                }
            }
        }
    }
}

fn create(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    version: Option<String>,
    wanted: Vec<String>,
    key: Option<&Path>,
) -> i32 {
    let mut w = match open_write(config, dir, state, key) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let facts = w.facts(config);
    let graph = DepGraph::from_config(config);
    let sm = crate::engine::state_machine::StateMachine::new(&config.rules);
    let services: Vec<String> = if wanted.is_empty() {
        config
            .services
            .iter()
            .map(|s| s.name().to_string())
            .filter(|s| facts.states.get(s).is_some_and(|st| sm.is_compliant(st)))
            .collect()
    } else {
        wanted
    };
    if services.is_empty() {
        eprintln!("gander: no compliant service to package");
        return EXIT_FAILED;
    }
    for s in &services {
        if config.service(s).is_none() {
            eprintln!("gander: no service `{s}`");
            return EXIT_USAGE;
        }
    }
    let stages = w.stages();
    let failures = pkg::criteria(config, &graph, &facts, &services, &stages.released());
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("gander: criterion {} fails: {}", f.criterion, f.reason);
        }
        eprintln!("gander: no package built");
        return EXIT_FAILED;
    }
    let now = Utc::now();
    let version = version.unwrap_or_else(|| format!("1.0.0+{}", now.format("%Y%m%dT%H%M%SZ")));
    let id = format!("gg-{}", version.replace('+', "-"));
    let root = w.store.root.join("packages").join(&id);
    if root.exists() {
        eprintln!("gander: package {id} exists already");
        return EXIT_FAILED;
    }
    let mut files: Vec<FileEntry> = Vec::new();
    let mut entries = Vec::new();
    let add = |files: &mut Vec<FileEntry>, rel: String, bytes: &[u8]| -> std::io::Result<()> {
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap_or(&root))?;
        std::fs::write(&p, bytes)?;
        files.push(FileEntry {
            path: rel,
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        });
        Ok(())
    };
    for s in &services {
        let svc = config.service(s).expect("checked");
        let mut arts = Vec::new();
        if let Some(crate::engine::facts::Known::Known(ev)) =
            facts.services.get(s).map(|f| &f.evidence)
        {
            for (k, v) in ev {
                let src = w.store.root.join(&v.file);
                let Ok(bytes) = std::fs::read(&src) else {
                    continue;
                };
                let name = Path::new(&v.file)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("file");
                let rel = format!("services/{s}/{}/{name}", k.as_str());
                if let Err(e) = add(&mut files, rel.clone(), &bytes) {
                    eprintln!("gander: {e}");
                    return EXIT_FAILED;
                }
                arts.push(rel);
            }
        }
        entries.push(ServiceEntry {
            name: s.clone(),
            version: svc
                .def
                .spec
                .version
                .clone()
                .unwrap_or_else(|| "0.0.0".into()),
            state: facts.states.get(s).cloned().unwrap_or_default(),
            artifacts: arts,
        });
    }
    let mut summary = format!(
        "# Golden Goose package {id}\n\nVersion {version}, built {} by {} for {}.\n\n| service | version | state | artifacts |\n|---|---|---|---|\n",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        w.signer.principal,
        config.org.org.name
    );
    for e in &entries {
        summary.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            e.name,
            e.version,
            e.state,
            e.artifacts.len()
        ));
    }
    summary.push_str("\nVerify: `sha256sum -c SHA256SUMS` and `ssh-keygen -Y verify -n gander -f allowed_signers -I PRINCIPAL -s manifest.json.sig < manifest.json`.\n");
    if let Err(e) = add(&mut files, "summary.md".into(), summary.as_bytes()) {
        eprintln!("gander: {e}");
        return EXIT_FAILED;
    }
    let manifest = Manifest {
        schema: pkg::SCHEMA.into(),
        id: id.clone(),
        version: version.clone(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        created_by: w.signer.principal.clone(),
        org: config.org.org.name.clone(),
        services: entries,
        files: files.clone(),
    };
    let mtext = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    let sig = match crate::engine::identity::sign(&w.signer.key, mtext.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let mut sums = String::new();
    for f in &files {
        sums.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    sums.push_str(&format!(
        "{}  manifest.json\n",
        sha256_hex(mtext.as_bytes())
    ));
    for (name, text) in [
        ("manifest.json", &mtext),
        ("manifest.json.sig", &sig),
        ("SHA256SUMS", &sums),
    ] {
        if let Err(e) = write_atomic(&root.join(name), text.as_bytes()) {
            eprintln!("gander: {e}");
            return EXIT_FAILED;
        }
    }
    // The tarball, beside the directory.
    let tgz = w.store.root.join("packages").join(format!("{id}.tar.gz"));
    let tar_result = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&tgz)?;
        let enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut t = tar::Builder::new(enc);
        t.append_dir_all(&id, &root)?;
        t.into_inner()?.finish()?.sync_all()
    })();
    if let Err(e) = tar_result {
        eprintln!("gander: {}: {e}", tgz.display());
        return EXIT_FAILED;
    }
    let draft = Draft {
        promotion_id: id.clone(),
        service: "-".into(),
        kind: kind::CREATED.into(),
        data: json!({"version": version, "services": services, "manifest_sha256": sha256_hex(mtext.as_bytes()), "artifacts": [{"path": format!("packages/{id}/manifest.json"), "sha256": sha256_hex(mtext.as_bytes())}]}),
    };
    if let Err(c) = w.append(vec![draft]) {
        return c;
    }
    println!(
        "{id}: {} services, {} files, signed by {} — {}",
        services.len(),
        files.len() + 3,
        w.signer.principal,
        root.display()
    );
    EXIT_OK
}

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
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
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

fn stage_index(config: &Config, stage: &str) -> Result<usize, i32> {
    config
        .org
        .packaging
        .stages
        .iter()
        .position(|s| s == stage)
        .ok_or_else(|| {
            eprintln!(
                "gander: no stage `{stage}`; stages: {}",
                config.org.packaging.stages.join(" -> ")
            );
            EXIT_USAGE
        })
}

fn promote(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    id: &str,
    to: &str,
    reason: &str,
    key: Option<&Path>,
) -> i32 {
    let i = match stage_index(config, to) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let mut w = match open_write(config, dir, state, key) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let st = w.stages();
    let Some((_, services)) = st.packages.get(id).cloned() else {
        eprintln!("gander: no package `{id}` (`gander package list`)");
        return EXIT_USAGE;
    };
    if st.archived.iter().any(|a| a == id) {
        eprintln!("gander: {id} is archived");
        return EXIT_FAILED;
    }
    if i > 0 {
        let prev = &config.org.packaging.stages[i - 1];
        if st.current(prev).map(|s| s.package.as_str()) != Some(id) {
            eprintln!(
                "gander: {id} is not what `{prev}` runs; promote it there first (stages: {})",
                config.org.packaging.stages.join(" -> ")
            );
            return EXIT_FAILED;
        }
    }
    if st.current(to).map(|s| s.package.as_str()) == Some(id) {
        eprintln!("gander: `{to}` already runs {id}");
        return EXIT_FAILED;
    }
    // Release criteria still hold, and the package still verifies.
    let facts = w.facts(config);
    let graph = DepGraph::from_config(config);
    let released: Vec<String> = st
        .released()
        .into_iter()
        .filter(|s| !services.contains(s))
        .collect();
    let failures = pkg::criteria(config, &graph, &facts, &services, &released);
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("gander: criterion {} fails now: {}", f.criterion, f.reason);
        }
        return EXIT_FAILED;
    }
    if let Err(p) = verify_package(&w.store.root.join("packages").join(id), &w.signers) {
        eprintln!("gander: {id} no longer verifies: {}", p.join("; "));
        return EXIT_FAILED;
    }
    let needs_approval = config
        .org
        .packaging
        .require_approval_for
        .iter()
        .any(|s| s == to);
    let approved = st
        .requests
        .get(&(id.to_string(), to.to_string()))
        .is_some_and(|(req, apps)| apps.iter().any(|a| a != req));
    if needs_approval && !approved {
        if st.requests.contains_key(&(id.to_string(), to.to_string())) {
            eprintln!(
                "gander: promoting {id} to `{to}` waits for an approval by someone other than the requester"
            );
            return EXIT_FAILED;
        }
        let d = Draft {
            promotion_id: id.into(),
            service: "-".into(),
            kind: kind::REQUEST.into(),
            data: json!({"stage": to, "reason": reason}),
        };
        if let Err(c) = w.append(vec![d]) {
            return c;
        }
        println!(
            "{id}: promotion to `{to}` requested by {}; it needs an approval: gander package approve {id} --stage {to}",
            w.signer.principal
        );
        return EXIT_OK;
    }
    let d = Draft {
        promotion_id: id.into(),
        service: "-".into(),
        kind: kind::STAGE.into(),
        data: json!({"stage": to, "reason": reason, "previous": st.current(to).map(|s| s.package.clone())}),
    };
    if let Err(c) = w.append(vec![d]) {
        return c;
    }
    println!("{id}: `{to}` now runs it");
    EXIT_OK
}

fn approve(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    id: &str,
    stage: &str,
    key: Option<&Path>,
) -> i32 {
    let mut w = match open_write(config, dir, state, key) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let st = w.stages();
    let Some((requester, _)) = st
        .requests
        .get(&(id.to_string(), stage.to_string()))
        .cloned()
    else {
        eprintln!("gander: no open request to promote {id} to `{stage}`");
        return EXIT_FAILED;
    };
    if requester == w.signer.principal {
        eprintln!("gander: four-eyes: {requester} requested this and cannot approve it");
        return EXIT_FAILED;
    }
    let a = Draft {
        promotion_id: id.into(),
        service: "-".into(),
        kind: kind::APPROVAL.into(),
        data: json!({"stage": stage}),
    };
    let s = Draft {
        promotion_id: id.into(),
        service: "-".into(),
        kind: kind::STAGE.into(),
        data: json!({"stage": stage, "reason": format!("approved by {}", w.signer.principal), "previous": st.current(stage).map(|s| s.package.clone())}),
    };
    if let Err(c) = w.append(vec![a, s]) {
        return c;
    }
    println!(
        "{id}: approved by {}; `{stage}` now runs it",
        w.signer.principal
    );
    EXIT_OK
}

fn rollback(
    config: &Config,
    dir: &Path,
    state: Option<&Path>,
    stage: &str,
    to: Option<String>,
    reason: &str,
    key: Option<&Path>,
) -> i32 {
    if let Err(c) = stage_index(config, stage) {
        return c;
    }
    if reason.trim().is_empty() {
        eprintln!("gander: a rollback needs --reason");
        return EXIT_USAGE;
    }
    let mut w = match open_write(config, dir, state, key) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let st = w.stages();
    let Some(h) = st.history.get(stage).filter(|h| !h.is_empty()) else {
        eprintln!("gander: `{stage}` has never run a package");
        return EXIT_FAILED;
    };
    let current = h.last().map(|s| s.package.clone()).unwrap_or_default();
    let target = match to {
        Some(t) => t,
        None => match h
            .iter()
            .rev()
            .map(|s| s.package.clone())
            .find(|p| *p != current)
        {
            Some(p) => p,
            None => {
                eprintln!("gander: `{stage}` has no earlier snapshot to go back to");
                return EXIT_FAILED;
            }
        },
    };
    if !h.iter().any(|s| s.package == target) {
        eprintln!("gander: `{stage}` never ran {target}");
        return EXIT_FAILED;
    }
    // Its evidence must still verify.
    if let Err(p) = verify_package(&w.store.root.join("packages").join(&target), &w.signers) {
        eprintln!(
            "gander: {target} no longer verifies, so it cannot be restored: {}",
            p.join("; ")
        );
        return EXIT_FAILED;
    }
    let d = Draft {
        promotion_id: target.clone(),
        service: "-".into(),
        kind: kind::ROLLBACK.into(),
        data: json!({"stage": stage, "reason": reason, "from": current}),
    };
    if let Err(c) = w.append(vec![d]) {
        return c;
    }
    println!("`{stage}` rolled back from {current} to {target}: {reason}");
    EXIT_OK
}

fn archive(config: &Config, dir: &Path, state: Option<&Path>, key: Option<&Path>) -> i32 {
    let mut w = match open_write(config, dir, state, key) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let st = w.stages();
    let keep = config.org.packaging.keep_per_stage as usize;
    let mut kept: std::collections::BTreeSet<String> = st
        .history
        .values()
        .filter_map(|h| h.last().map(|s| s.package.clone()))
        .collect();
    for h in st.history.values() {
        let mut seen = Vec::new();
        for s in h.iter().rev() {
            if !seen.contains(&s.package) {
                seen.push(s.package.clone());
            }
        }
        kept.extend(seen.into_iter().take(keep));
    }
    let mut drafts = Vec::new();
    for id in st.packages.keys() {
        if kept.contains(id) || st.archived.contains(id) {
            continue;
        }
        let root = w.store.root.join("packages").join(id);
        if root.is_dir() {
            if let Err(e) = std::fs::remove_dir_all(&root) {
                eprintln!("gander: {}: {e}", root.display());
                return EXIT_FAILED;
            }
        }
        println!("{id}: archived (the .tar.gz is kept; its directory removed)");
        drafts.push(Draft {
            promotion_id: id.clone(),
            service: "-".into(),
            kind: kind::ARCHIVED.into(),
            data: json!({"kept": format!("packages/{id}.tar.gz")}),
        });
    }
    if drafts.is_empty() {
        println!("nothing to archive (keeping {keep} per stage and everything a stage runs)");
        return EXIT_OK;
    }
    match w.append(drafts) {
        Ok(()) => EXIT_OK,
        Err(c) => c,
    }
}
