//! The use cases: the one road from an intention (a key press in the console, a command
//! line) to the chain. The CLI and the console call the same function here and render
//! its outcome in their own way; neither calls the other.
//!
//! Every use case takes a [`Ctx`] (config, where the store and the key are, the clock)
//! and returns what it has to say ([`Said`]: lines for the operator and an exit code)
//! or, where a front end needs to act on the result, a typed outcome. Who may do what is
//! decided by `engine::authority`, never here.

pub mod evidence;
pub mod live;
pub mod packages;
pub mod promotions;
pub mod store;
pub mod walks;

use crate::engine::config::Config;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Exit codes (PRODUCT.md): 0 ok, 1 a check or gate failed (or a refusal), 2 bad usage
/// or bad config, 3 a source could not be reached.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

/// Where the time comes from. Writers read it once per operation; tests fix it instead
/// of sleeping past an expiry or a soak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// What every use case is given: the org, where its store and the operator's key are,
/// and the clock.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub config_dir: PathBuf,
    /// The state directory holding the store (`None`: nothing can be recorded).
    pub state: Option<PathBuf>,
    /// `--key` (else `GANDER_KEY`, `signing.key`, `~/.ssh/id_ed25519`).
    pub key: Option<PathBuf>,
    pub clock: Clock,
}

impl Ctx {
    pub fn new(config: Arc<Config>, config_dir: &Path, state: Option<&Path>) -> Ctx {
        Ctx {
            config,
            config_dir: config_dir.to_path_buf(),
            state: state.map(Path::to_path_buf),
            key: None,
            clock: Clock::System,
        }
    }

    pub fn with_key(mut self, key: Option<&Path>) -> Ctx {
        self.key = key.map(Path::to_path_buf);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Ctx {
        self.clock = clock;
        self
    }

    pub fn state(&self) -> Option<&Path> {
        self.state.as_deref()
    }

    pub fn key(&self) -> Option<&Path> {
        self.key.as_deref()
    }
}

/// Why a use case recorded nothing.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum OpsError {
    /// Bad input: an unknown ID, a missing argument, no identity (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The rules say no: four-eyes, not an approver, closed, a failing criterion (exit 1).
    #[error("{0}")]
    Refused(String),
    /// The store could not be read or written (exit 1).
    #[error("{0}")]
    Store(String),
    /// A source could not be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
}

impl OpsError {
    pub fn code(&self) -> i32 {
        match self {
            OpsError::Usage(_) => EXIT_USAGE,
            OpsError::Refused(_) | OpsError::Store(_) => EXIT_FAILED,
            OpsError::Unreachable(_) => EXIT_UNREACHABLE,
        }
    }
}

/// What a use case says: lines for stdout, lines for stderr (notes, warnings, the
/// refusal), an exit code, and what it did in a form a front end can act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Said {
    pub out: Vec<String>,
    pub err: Vec<String>,
    pub code: i32,
    /// The record it is about, when there is one (a promotion, a walk, a package).
    pub subject: Option<String>,
    /// What it wrote to the chain (first and last seq), if anything: an outcome that is
    /// not "ok" may still have been recorded (a request recorded as blocked).
    pub recorded: Option<(u64, u64)>,
}

impl Said {
    pub fn fail(mut self, code: i32, msg: impl Into<String>) -> Said {
        self.err.push(msg.into());
        self.code = code;
        self
    }

    /// End with a typed error: its message on stderr, its exit code.
    pub fn error(self, e: OpsError) -> Said {
        let code = e.code();
        self.fail(code, e.to_string())
    }

    pub fn with_code(mut self, code: i32) -> Said {
        self.code = code;
        self
    }

    pub fn ok(&self) -> bool {
        self.code == EXIT_OK
    }
}
