//! Golden Goose packages: build one from compliant services, walk it through the
//! stages with four-eyes approval where the org asks for it, roll a stage back to a
//! previous snapshot, archive old packages. Verification is `io::archive`'s.
//!
//! A package is a directory (and a `.tar.gz` of it) under `STATE/packages/`:
//! `manifest.json` (every file's path, size and SHA-256), `manifest.json.sig` (SSHSIG,
//! namespace gander), `SHA256SUMS` (for `sha256sum -c`), `summary.md`, and the services'
//! evidence under `services/{name}/{kind}/`.

use super::store::{Writer, open_writer};
use super::{Ctx, EXIT_FAILED, EXIT_USAGE, OpsError, Said};
use crate::engine::authority;
use crate::engine::chain::sha256_hex;
use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::package::{self as pkg, FileEntry, Manifest, ServiceEntry, Stages, kind};
use crate::engine::resolver::DepGraph;
use crate::io::archive::verify_package;
use crate::io::store::{Draft, write_atomic};
use serde_json::json;
use std::path::Path;

fn append(w: &mut Writer, drafts: Vec<Draft>, said: &mut Said) -> Result<(), OpsError> {
    let r = w.append(drafts);
    w.tell(said);
    r.map(|_| ())
}

fn stages(w: &Writer) -> Stages {
    pkg::fold(w.records())
}

fn facts(w: &Writer, config: &Config) -> Facts {
    w.facts(Facts::from_config(config, w.now))
}

/// Which package use case, as the console asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageCmd {
    Promote {
        id: String,
        to: String,
        reason: String,
    },
    Approve {
        id: String,
        stage: String,
    },
    Rollback {
        stage: String,
        to: Option<String>,
        reason: String,
    },
}

impl PackageCmd {
    /// What the operator asked for, in a few words (for the log and the outcome box).
    pub fn describe(&self) -> String {
        match self {
            PackageCmd::Promote { id, to, .. } => format!("package promote {id} -> {to}"),
            PackageCmd::Approve { id, stage } => format!("package approve {id} -> {stage}"),
            PackageCmd::Rollback { stage, .. } => format!("package rollback {stage}"),
        }
    }

    /// The same command with the reason the operator typed (where it takes one).
    pub fn with_reason(mut self, text: &str) -> PackageCmd {
        match &mut self {
            PackageCmd::Promote { reason, .. } | PackageCmd::Rollback { reason, .. } => {
                *reason = text.to_string();
            }
            PackageCmd::Approve { .. } => {}
        }
        self
    }

    pub fn run(&self, ctx: &Ctx) -> Said {
        match self {
            PackageCmd::Promote { id, to, reason } => promote(ctx, id, to, reason),
            PackageCmd::Approve { id, stage } => approve(ctx, id, stage),
            PackageCmd::Rollback { stage, to, reason } => rollback(ctx, stage, to.clone(), reason),
        }
    }
}

pub fn create(ctx: &Ctx, version: Option<String>, wanted: Vec<String>) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let mut w = match open_writer(ctx) {
        Ok(w) => w,
        Err(e) => return said.error(e),
    };
    w.tell(&mut said);
    let facts = facts(&w, config);
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
        said.err.push("no compliant service to package".into());
        return said.with_code(EXIT_FAILED);
    }
    for s in &services {
        if config.service(s).is_none() {
            said.err.push(format!("no service `{s}`"));
            return said.with_code(EXIT_USAGE);
        }
    }
    let stages = stages(&w);
    let failures = pkg::criteria(config, &graph, &facts, &services, &stages.released());
    if !failures.is_empty() {
        for f in &failures {
            said.err
                .push(format!("criterion {} fails: {}", f.criterion, f.reason));
        }
        said.err.push("no package built".into());
        return said.with_code(EXIT_FAILED);
    }
    let now = w.now;
    let version = version.unwrap_or_else(|| format!("1.0.0+{}", now.format("%Y%m%dT%H%M%SZ")));
    let id = format!("gg-{}", version.replace('+', "-"));
    if let Err(why) = crate::engine::names::check(&id) {
        said.err.push(format!(
            "--version {}: not usable in a package name: {why}",
            version.escape_debug()
        ));
        return said.with_code(EXIT_USAGE);
    }
    let root = w.store.root.join("packages").join(&id);
    if root.exists() {
        said.err.push(format!("package {id} exists already"));
        return said.with_code(EXIT_FAILED);
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
                    said.err.push(e.to_string());
                    return said.with_code(EXIT_FAILED);
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
        said.err.push(e.to_string());
        return said.with_code(EXIT_FAILED);
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
    let sig = match w.signer.sign(mtext.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            said.err.push(e.to_string());
            return said.with_code(EXIT_FAILED);
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
            said.err.push(e.to_string());
            return said.with_code(EXIT_FAILED);
        }
    }
    // The tarball, beside the directory.
    let tgz = w.store.root.join("packages").join(format!("{id}.tar.gz"));
    let tar_result = (|| -> std::io::Result<()> {
        let f = std::fs::File::create(&tgz)?;
        let enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut t = tar::Builder::new(enc);
        // The manifest first: a verifier bounds every later file by it.
        for name in crate::io::archive::PACKAGE_FILES {
            t.append_path_with_name(root.join(name), format!("{id}/{name}"))?;
        }
        for f in &files {
            t.append_path_with_name(root.join(&f.path), format!("{id}/{}", f.path))?;
        }
        t.into_inner()?.finish()?.sync_all()
    })();
    if let Err(e) = tar_result {
        said.err.push(format!("{}: {e}", tgz.display()));
        return said.with_code(EXIT_FAILED);
    }
    let draft = Draft {
        promotion_id: id.clone(),
        service: "-".into(),
        kind: kind::CREATED.into(),
        data: json!({"version": version, "services": services, "manifest_sha256": sha256_hex(mtext.as_bytes()), "artifacts": [{"path": format!("packages/{id}/manifest.json"), "sha256": sha256_hex(mtext.as_bytes())}]}),
    };
    if let Err(e) = append(&mut w, vec![draft], &mut said) {
        return said.error(e);
    }
    said.out.push(format!(
        "{id}: {} services, {} files in its signed manifest, signed by {} — {}",
        services.len(),
        files.len(),
        w.signer.principal,
        root.display()
    ));
    said
}

fn stage_index(config: &Config, stage: &str) -> Result<usize, OpsError> {
    config
        .org
        .packaging
        .stages
        .iter()
        .position(|s| s == stage)
        .ok_or_else(|| {
            OpsError::Usage(format!(
                "no stage `{stage}`; stages: {}",
                config.org.packaging.stages.join(" -> ")
            ))
        })
}

pub fn promote(ctx: &Ctx, id: &str, to: &str, reason: &str) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let i = match stage_index(config, to) {
        Ok(i) => i,
        Err(e) => return said.error(e),
    };
    let mut w = match open_writer(ctx) {
        Ok(w) => w,
        Err(e) => return said.error(e),
    };
    w.tell(&mut said);
    let st = stages(&w);
    let Some((_, services)) = st.packages.get(id).cloned() else {
        said.err
            .push(format!("no package `{id}` (`gander package list`)"));
        return said.with_code(EXIT_USAGE);
    };
    if st.archived.iter().any(|a| a == id) {
        said.err.push(format!("{id} is archived"));
        return said.with_code(EXIT_FAILED);
    }
    if i > 0 {
        let prev = &config.org.packaging.stages[i - 1];
        if st.current(prev).map(|s| s.package.as_str()) != Some(id) {
            said.err.push(format!(
                "{id} is not what `{prev}` runs; promote it there first (stages: {})",
                config.org.packaging.stages.join(" -> ")
            ));
            return said.with_code(EXIT_FAILED);
        }
    }
    if st.current(to).map(|s| s.package.as_str()) == Some(id) {
        said.err.push(format!("`{to}` already runs {id}"));
        return said.with_code(EXIT_FAILED);
    }
    // Release criteria still hold, and the package still verifies.
    let facts = facts(&w, config);
    let graph = DepGraph::from_config(config);
    let released: Vec<String> = st
        .released()
        .into_iter()
        .filter(|s| !services.contains(s))
        .collect();
    let failures = pkg::criteria(config, &graph, &facts, &services, &released);
    if !failures.is_empty() {
        for f in &failures {
            said.err
                .push(format!("criterion {} fails now: {}", f.criterion, f.reason));
        }
        return said.with_code(EXIT_FAILED);
    }
    if let Err(p) = verify_package(&w.store.root.join("packages").join(id), &w.signers) {
        said.err
            .push(format!("{id} no longer verifies: {}", p.join("; ")));
        return said.with_code(EXIT_FAILED);
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
        .is_some_and(|(req, apps)| {
            let keys = st.request_keys.get(&(id.to_string(), to.to_string()));
            authority::stage_approved(
                req,
                keys.and_then(|k| k.0.as_deref()),
                apps,
                keys.map(|k| k.1.as_slice()).unwrap_or_default(),
            )
        });
    if needs_approval && !approved {
        if st.requests.contains_key(&(id.to_string(), to.to_string())) {
            said.err.push(format!(
                "promoting {id} to `{to}` waits for an approval by someone other than the requester"
            ));
            return said.with_code(EXIT_FAILED);
        }
        let d = Draft {
            promotion_id: id.into(),
            service: "-".into(),
            kind: kind::REQUEST.into(),
            data: json!({"stage": to, "reason": reason}),
        };
        if let Err(e) = append(&mut w, vec![d], &mut said) {
            return said.error(e);
        }
        said.out.push(format!(
            "{id}: promotion to `{to}` requested by {}; it needs an approval: gander package approve {id} --stage {to}",
            w.signer.principal
        ));
        return said;
    }
    let d = Draft {
        promotion_id: id.into(),
        service: "-".into(),
        kind: kind::STAGE.into(),
        data: json!({"stage": to, "reason": reason, "previous": st.current(to).map(|s| s.package.clone())}),
    };
    if let Err(e) = append(&mut w, vec![d], &mut said) {
        return said.error(e);
    }
    said.out.push(format!("{id}: `{to}` now runs it"));
    said
}

pub fn approve(ctx: &Ctx, id: &str, stage: &str) -> Said {
    let mut said = Said::default();
    let mut w = match open_writer(ctx) {
        Ok(w) => w,
        Err(e) => return said.error(e),
    };
    w.tell(&mut said);
    let st = stages(&w);
    let Some((requester, _)) = st
        .requests
        .get(&(id.to_string(), stage.to_string()))
        .cloned()
    else {
        said.err
            .push(format!("no open request to promote {id} to `{stage}`"));
        return said.with_code(EXIT_FAILED);
    };
    let requester_key = st
        .request_keys
        .get(&(id.to_string(), stage.to_string()))
        .and_then(|k| k.0.clone());
    if let Err(r) = authority::may_approve_stage(
        id,
        &requester,
        requester_key.as_deref(),
        w.principal(),
        Some(&w.signer.fingerprint),
    ) {
        said.err.push(format!("{r}; nothing recorded"));
        return said.with_code(EXIT_FAILED);
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
    if let Err(e) = append(&mut w, vec![a, s], &mut said) {
        return said.error(e);
    }
    said.out.push(format!(
        "{id}: approved by {}; `{stage}` now runs it",
        w.signer.principal
    ));
    said
}

pub fn rollback(ctx: &Ctx, stage: &str, to: Option<String>, reason: &str) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    if let Err(e) = stage_index(config, stage) {
        return said.error(e);
    }
    if reason.trim().is_empty() {
        said.err.push("a rollback needs --reason".into());
        return said.with_code(EXIT_USAGE);
    }
    let mut w = match open_writer(ctx) {
        Ok(w) => w,
        Err(e) => return said.error(e),
    };
    w.tell(&mut said);
    let st = stages(&w);
    let Some(h) = st.history.get(stage).filter(|h| !h.is_empty()) else {
        said.err.push(format!("`{stage}` has never run a package"));
        return said.with_code(EXIT_FAILED);
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
                said.err
                    .push(format!("`{stage}` has no earlier snapshot to go back to"));
                return said.with_code(EXIT_FAILED);
            }
        },
    };
    if !h.iter().any(|s| s.package == target) {
        said.err.push(format!("`{stage}` never ran {target}"));
        return said.with_code(EXIT_FAILED);
    }
    // Its evidence must still verify.
    if let Err(p) = verify_package(&w.store.root.join("packages").join(&target), &w.signers) {
        said.err.push(format!(
            "{target} no longer verifies, so it cannot be restored: {}",
            p.join("; ")
        ));
        return said.with_code(EXIT_FAILED);
    }
    let d = Draft {
        promotion_id: target.clone(),
        service: "-".into(),
        kind: kind::ROLLBACK.into(),
        data: json!({"stage": stage, "reason": reason, "from": current}),
    };
    if let Err(e) = append(&mut w, vec![d], &mut said) {
        return said.error(e);
    }
    said.out.push(format!(
        "`{stage}` rolled back from {current} to {target}: {reason}"
    ));
    said
}

pub fn archive(ctx: &Ctx) -> Said {
    let mut said = Said::default();
    let config = &*ctx.config;
    let mut w = match open_writer(ctx) {
        Ok(w) => w,
        Err(e) => return said.error(e),
    };
    w.tell(&mut said);
    let st = stages(&w);
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
                said.err.push(format!("{}: {e}", root.display()));
                return said.with_code(EXIT_FAILED);
            }
        }
        said.out.push(format!(
            "{id}: archived (the .tar.gz is kept; its directory removed)"
        ));
        drafts.push(Draft {
            promotion_id: id.clone(),
            service: "-".into(),
            kind: kind::ARCHIVED.into(),
            data: json!({"kept": format!("packages/{id}.tar.gz")}),
        });
    }
    if drafts.is_empty() {
        said.out.push(format!(
            "nothing to archive (keeping {keep} per stage and everything a stage runs)"
        ));
        return said;
    }
    match append(&mut w, drafts, &mut said) {
        Ok(()) => said,
        Err(e) => said.error(e),
    }
}
