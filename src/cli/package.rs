//! `gander package …`: arguments and printing; the use cases are `ops::packages`,
//! verification is `io::archive`.

use super::record::print;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, output};
use crate::engine::package as pkg;
use crate::io::archive::verify_package;
use crate::ops::store::{self as store_ctx, LOCK_WAIT};
use crate::ops::{Ctx, packages};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Verify a package (an ID as `package list` shows it, a directory or a .tar.gz)
    /// offline: digests, files, signature
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

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dir = located.dir;
    let config = Arc::new(config);
    let ctx = |key: Option<PathBuf>| {
        Ctx::new(config.clone(), &dir, state.as_deref()).with_key(key.as_deref())
    };
    match args.command {
        Sub::Create {
            version,
            services,
            key,
        } => print(packages::create(&ctx(key), version, services)),
        Sub::Verify {
            package,
            allowed_signers,
            json,
        } => {
            let path = allowed_signers.unwrap_or_else(|| store_ctx::signers_path(&dir, &config));
            let signers = match crate::io::keys::load_allowed_signers(&path) {
                Ok(s) => s,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return EXIT_USAGE;
                }
            };
            // An ID as `package list` shows it, or a path to a directory or a .tar.gz.
            let package = if !package.exists()
                && let Some(id) = package
                    .to_str()
                    .filter(|i| crate::engine::names::check(i).is_ok())
                && let Some(st) = state.as_deref()
                && st.join("packages").join(id).exists()
            {
                st.join("packages").join(id)
            } else {
                package
            };
            let (ok, lines) = match verify_package(&package, &signers) {
                Ok(m) => (
                    true,
                    vec![format!(
                        "{}: ok: {} {} — {} files match its manifest, signed by {}",
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
                    crate::out!("{l}");
                }
            }
            if ok { EXIT_OK } else { EXIT_FAILED }
        }
        Sub::Promote {
            id,
            to,
            reason,
            key,
        } => print(packages::promote(&ctx(key), &id, &to, &reason)),
        Sub::Approve { id, stage, key } => print(packages::approve(&ctx(key), &id, &stage)),
        Sub::Rollback {
            stage,
            to,
            reason,
            key,
        } => print(packages::rollback(&ctx(key), &stage, to, &reason)),
        Sub::Archive { key } => print(packages::archive(&ctx(key))),
        Sub::List { json } => {
            let Ok(store) = super::open_store(&config, &dir, state.as_deref()) else {
                return EXIT_USAGE;
            };
            let read = match store.lock_shared(LOCK_WAIT).and_then(|l| store.read(&l)) {
                Ok(r) => r,
                Err(e) => {
                    crate::err!("gander: {e}");
                    return EXIT_FAILED;
                }
            };
            let st = pkg::fold(store_ctx::records(&read));
            if json {
                output::print_json("packages", &st);
                return EXIT_OK;
            }
            for stage in &config.org.packaging.stages {
                match st.history.get(stage) {
                    None => crate::out!("{stage:<8} (empty)"),
                    Some(h) => {
                        let cur = h.last().map(|s| s.package.clone()).unwrap_or_default();
                        let prev: Vec<String> = h
                            .iter()
                            .rev()
                            .skip(1)
                            .take(3)
                            .map(|s| s.package.clone())
                            .collect();
                        crate::out!(
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
                crate::out!(
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
            if let Err(why) = crate::engine::names::check(&id) {
                crate::err!("gander: no package `{}`: {why}", id.escape_debug());
                return EXIT_USAGE;
            }
            let Some(dir) = state.as_deref().map(|s| s.join("packages").join(&id)) else {
                return EXIT_USAGE;
            };
            match std::fs::read_to_string(dir.join("manifest.json")) {
                Ok(t) => {
                    crate::out!("{t}");
                    EXIT_OK
                }
                Err(e) => {
                    crate::err!("gander: {}: {e}", dir.display());
                    EXIT_USAGE
                }
            }
        }
    }
}
