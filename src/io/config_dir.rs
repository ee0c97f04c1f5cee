//! Finding and reading the configuration directory.
//!
//! Precedence: `--config DIR`, then `GANDER_CONFIG`, then the platform config dir
//! (`$XDG_CONFIG_HOME/gander` on Linux), then `./config` when it holds an
//! `org-config.yaml` (running from a checkout of the repository).

use crate::engine::load::{Loaded, Source, Sources, load};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigDirError {
    #[error("no configuration found; looked in:\n{}\n  help: pass --config DIR, set GANDER_CONFIG, or create one of these (config/ in the gander repository is an example)", .searched.iter().map(|p| format!("  - {}", p.display())).collect::<Vec<_>>().join("\n"))]
    NotFound { searched: Vec<PathBuf> },
    #[error("{}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a directory\n  help: --config and GANDER_CONFIG name the directory that holds org-config.yaml", .path.display())]
    NotADir { path: PathBuf },
    #[error("{}:{line}:{column}: error: not UTF-8 text\n  help: save the file as UTF-8", .path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
}

/// Where the configuration was found and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub dir: PathBuf,
    pub how: &'static str,
}

/// Decide which directory to read. `explicit` is `--config` (clap already merged
/// `GANDER_CONFIG` into it when it was set), `from_env` tells which it was.
pub fn locate(explicit: Option<&Path>, from_env: bool) -> Result<Located, ConfigDirError> {
    if let Some(p) = explicit {
        if !p.is_dir() {
            return Err(if p.exists() {
                ConfigDirError::NotADir { path: p.into() }
            } else {
                ConfigDirError::NotFound {
                    searched: vec![p.into()],
                }
            });
        }
        let how = if from_env {
            "GANDER_CONFIG"
        } else {
            "--config"
        };
        return Ok(Located { dir: p.into(), how });
    }
    let mut searched = Vec::new();
    if let Some(d) = directories::ProjectDirs::from("", "", "gander") {
        let dir = d.config_dir().to_path_buf();
        if dir.join("org-config.yaml").is_file() {
            return Ok(Located {
                dir,
                how: "the user config directory",
            });
        }
        searched.push(dir);
    }
    let local = PathBuf::from("config");
    if local.join("org-config.yaml").is_file() {
        return Ok(Located {
            dir: local,
            how: "./config",
        });
    }
    searched.push(local);
    Err(ConfigDirError::NotFound { searched })
}

fn read(path: &Path) -> Result<Option<Source>, ConfigDirError> {
    if let Ok(md) = std::fs::metadata(path)
        && md.len() > crate::yaml::MAX_FILE as u64
    {
        return Err(ConfigDirError::Unreadable {
            path: path.into(),
            source: std::io::Error::other(format!(
                "{} bytes; a config file is at most {}",
                md.len(),
                crate::yaml::MAX_FILE
            )),
        });
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(Source::new(path.display().to_string(), text))),
            Err(e) => {
                let at = crate::diag::utf8_error_at(e.as_bytes(), e.utf8_error().valid_up_to());
                Err(ConfigDirError::NotUtf8 {
                    path: path.into(),
                    line: at.line,
                    column: at.column,
                })
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigDirError::Unreadable {
            path: path.into(),
            source,
        }),
    }
}

/// Read every file of a config directory (services sorted by file name).
pub fn read_sources(dir: &Path) -> Result<Sources, ConfigDirError> {
    let org = read(&dir.join("org-config.yaml"))?;
    let rules = read(&dir.join("policies").join("compliance_rules.yaml"))?;
    let gates = read(&dir.join("policies").join("promotion_gates.yaml"))?;
    let sdir = dir.join("services");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&sdir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml") | Some("yml")
                    )
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ConfigDirError::Unreadable { path: sdir, source });
        }
    };
    files.sort();
    let mut services = Vec::new();
    for f in files {
        if let Some(s) = read(&f)? {
            services.push(s);
        }
    }
    Ok(Sources {
        org,
        services,
        rules,
        gates,
        dir: dir.display().to_string(),
    })
}

/// Read and validate a config directory.
pub fn load_dir(dir: &Path) -> Result<Loaded, ConfigDirError> {
    Ok(load(&read_sources(dir)?))
}
