//! The inputs gates decide on: plain values that io fills from real sources (the
//! promotion store, evidence files, pollers) and hands to the engine. The engine never
//! fetches anything itself.
//!
//! "Unknown" is a value, not an absence: a gate whose input is unknown is not passed.

use super::config::{Config, EvidenceKind};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// A fact that is either known or unknown for a stated reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "known", content = "value", rename_all = "snake_case")]
pub enum Known<T> {
    #[serde(rename = "yes")]
    Known(T),
    /// Why it is not known ("no evidence source configured", "probe timed out").
    #[serde(rename = "no")]
    Unknown(String),
}

impl<T> Known<T> {
    pub fn unknown(why: impl Into<String>) -> Self {
        Known::Unknown(why.into())
    }

    pub fn as_ref(&self) -> Known<&T> {
        match self {
            Known::Known(v) => Known::Known(v),
            Known::Unknown(w) => Known::Unknown(w.clone()),
        }
    }
}

/// What one evidence artifact said, as decided by its reader.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EvidenceVerdict {
    pub passed: bool,
    /// Key figures in a sentence: "2 errors: rust/unsafe-code in src/x.rs:14".
    pub summary: String,
    /// The file it came from.
    pub file: String,
    pub collected_at: DateTime<Utc>,
    /// The headline number where there is one (coverage percent).
    pub figure: Option<f64>,
    /// Every key figure by name, as recorded (JUnit: tests, passed, failed, errors,
    /// skipped, flaky).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub counts: serde_json::Map<String, serde_json::Value>,
}

/// Latency and error rate observed for a service (live metrics or a load test).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performance {
    pub p95_ms: f64,
    /// A fraction: 0.01 is 1 %.
    pub error_rate: f64,
    pub source: String,
    pub observed_at: DateTime<Utc>,
}

/// Activities during which a service must not change mode (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    LoadTest,
    Backup,
    SecurityScan,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::LoadTest => "load test",
            ActivityKind::Backup => "backup",
            ActivityKind::SecurityScan => "security scan",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub kind: ActivityKind,
    pub started_at: DateTime<Utc>,
    /// When it is expected to end; `None` while it runs with no known end.
    pub until: Option<DateTime<Utc>>,
}

impl Activity {
    pub fn running_at(&self, now: DateTime<Utc>) -> bool {
        self.started_at <= now && self.until.is_none_or(|u| now < u)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub by: String,
    pub at: DateTime<Utc>,
    /// Signed with a key that `allowed_signers` maps to `by`.
    pub signed: bool,
    /// The key that signed it, when recorded (people are counted by key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// The open promotion request for a service, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub requester: String,
    /// The key that signed the request, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_key: Option<String>,
    pub to: String,
    pub approvals: Vec<Approval>,
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainFacts {
    pub records: u64,
    /// The first problem found, if any ("record 12: prev_hash does not match").
    pub problem: Option<String>,
    /// Records whose signature did not verify against `allowed_signers`.
    pub unverified_signatures: u64,
}

/// Live health: the readiness probe and a readable summary ("down 12s: connection
/// refused").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub ready: bool,
    pub summary: String,
}

/// Everything known about one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceFacts {
    /// When the service entered its current state.
    pub state_since: Known<DateTime<Utc>>,
    /// The newest verdict per kind; a kind that is absent has no evidence on file.
    pub evidence: Known<BTreeMap<EvidenceKind, EvidenceVerdict>>,
    pub performance: Known<Performance>,
    pub activities: Known<Vec<Activity>>,
    /// The open promotion request; `Known(None)` when nobody has asked yet.
    pub request: Known<Option<Request>>,
    pub health: Known<Health>,
}

impl ServiceFacts {
    /// Nothing known yet: what a configuration alone tells.
    pub fn unknown() -> Self {
        ServiceFacts {
            state_since: Known::unknown("no promotion history (no state store)"),
            evidence: Known::unknown("no evidence source configured"),
            performance: Known::unknown("not polled (no live data)"),
            activities: Known::unknown("not polled (no live data)"),
            request: Known::Known(None),
            health: Known::unknown("not polled (no live data)"),
        }
    }
}

/// All inputs of one evaluation, at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub now: DateTime<Utc>,
    /// Each service's current compliance state.
    pub states: BTreeMap<String, String>,
    pub services: BTreeMap<String, ServiceFacts>,
    pub chain: Known<ChainFacts>,
}

impl Facts {
    /// Facts from configuration alone: states from the service files, the rest unknown.
    pub fn from_config(config: &Config, now: DateTime<Utc>) -> Self {
        Facts {
            now,
            states: config
                .services
                .iter()
                .map(|s| (s.name().to_string(), s.state().to_string()))
                .collect(),
            services: config
                .services
                .iter()
                .map(|s| (s.name().to_string(), ServiceFacts::unknown()))
                .collect(),
            chain: Known::unknown("no evidence chain (no state store)"),
        }
    }

    pub fn service(&self, name: &str) -> ServiceFacts {
        self.services
            .get(name)
            .cloned()
            .unwrap_or_else(ServiceFacts::unknown)
    }
}
