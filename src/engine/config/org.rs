//! `org-config.yaml`: modes, monitoring, approval policy, evidence policy, packaging.

use super::service::{default_error_rate, default_p95};
use super::{Duration, Mode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgConfig {
    pub org: Org,
    pub modes: Modes,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub approval: ApprovalPolicy,
    #[serde(default)]
    pub evidence: EvidencePolicy,
    #[serde(default)]
    pub packaging: Packaging,
    #[serde(default)]
    pub signing: Signing,
    /// Where the team's chain lives: a shared directory or PostgreSQL (default: the
    /// operator's own state directory).
    #[serde(default)]
    pub store: Option<StoreConfig>,
}

/// `store:` — one chain for everyone on call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A shared directory on one host (made by `gander store init DIR --group G`).
    #[serde(default)]
    pub directory: Option<String>,
    /// A libpq connection string (`host=db1,db2 dbname=gander user=gander …`) or URL.
    #[serde(default)]
    pub postgres: Option<String>,
    /// The database password by reference: `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub password: Option<String>,
    /// A PEM bundle of CAs that sign the database's certificate (TLS required when set).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The largest evidence file stored in the database, in bytes (default 64 MiB).
    #[serde(default = "default_artifact_cap")]
    pub max_artifact_bytes: u64,
}

fn default_artifact_cap() -> u64 {
    64 << 20
}

/// Where identities come from: an OpenSSH `allowed_signers` file (git's format) and
/// the operator's ed25519 key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Signing {
    /// Path, relative to the config directory unless absolute. Default:
    /// `allowed_signers` in the config directory.
    #[serde(default)]
    pub allowed_signers: Option<String>,
    /// The operator's private key. Default: `~/.ssh/id_ed25519`. `--key` and
    /// `GANDER_KEY` override it.
    #[serde(default)]
    pub key: Option<String>,
    /// Pin the ssh-agent key to sign with, by fingerprint (`SHA256:…`), when the agent
    /// holds several that allowed_signers accepts.
    #[serde(default)]
    pub agent_key: Option<String>,
    /// Revoked keys: a file of OpenSSH public keys, one per line (relative to the config
    /// directory unless absolute), as `ssh-keygen -Y verify -r` takes.
    #[serde(default)]
    pub revoked_keys: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Modes {
    pub sandbox: ModeConfig,
    pub compliant: ModeConfig,
}

impl Modes {
    pub fn get(&self, mode: Mode) -> &ModeConfig {
        match mode {
            Mode::Sandbox => &self.sandbox,
            Mode::Compliant => &self.compliant,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModeConfig {
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub retention: Retention,
    /// Alerting thresholds for services running in this mode; a service's own
    /// `baseline` is what its promotion must meet.
    #[serde(default)]
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default)]
    pub replicas: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retention {
    #[serde(default = "default_evidence_retention")]
    pub evidence: Duration,
    #[serde(default = "default_log_retention")]
    pub logs: Duration,
}

fn default_evidence_retention() -> Duration {
    Duration(90 * 86_400)
}
fn default_log_retention() -> Duration {
    Duration(30 * 86_400)
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            evidence: default_evidence_retention(),
            logs: default_log_retention(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thresholds {
    #[serde(default = "default_p95")]
    pub p95_latency_ms: f64,
    #[serde(default = "default_error_rate")]
    pub error_rate: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            p95_latency_ms: default_p95(),
            error_rate: default_error_rate(),
        }
    }
}

/// Credentials for a source, by reference only: `env:NAME` or `file:PATH`. The secret
/// itself never goes in the config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub basic_user: Option<String>,
    #[serde(default)]
    pub basic_password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Monitoring {
    #[serde(default)]
    pub prometheus_url: Option<String>,
    /// Alertmanager's URL: the console lists its silences and silences an alert (`S`).
    #[serde(default)]
    pub alertmanager_url: Option<String>,
    /// How to authenticate to Prometheus (secrets by reference).
    #[serde(default)]
    pub prometheus_auth: Option<AuthConfig>,
    /// A PEM bundle of CAs to trust in addition to the built-in roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default = "default_poll")]
    pub poll_interval: Duration,
    #[serde(default = "default_timeout")]
    pub request_timeout: Duration,
    /// The label that names a service in Prometheus (`service`, `job`, `app`…); `$label`
    /// in the queries stands for it. Default: the preset's (`service`; `job` for
    /// `opentelemetry`).
    #[serde(default)]
    pub service_label: Option<String>,
    /// The PromQL gander reads the fleet with: a preset, and any query replaced.
    #[serde(default)]
    pub queries: Queries,
    /// Above this many services, with Prometheus configured, gander reads the fleet
    /// through Prometheus and polls directly only the services a person is looking at.
    #[serde(default = "default_direct_poll_limit")]
    pub direct_poll_limit: usize,
    /// A one-shot command (`status`, `promote`, `approve`, a walk's check) scrapes a
    /// service's metrics twice this far apart and decides on the difference: one scrape
    /// only has counts since the service started. `0s`: one scrape, whose figures are
    /// shown as "since start" and are unknown to the gates.
    #[serde(default = "default_window")]
    pub window: Duration,
}

fn default_window() -> Duration {
    Duration(2)
}

fn default_direct_poll_limit() -> usize {
    200
}

/// Query templates: `$label` is replaced by the service label. Each returns one series
/// per service (p95 in seconds, error ratio 0–1, `up` 0/1, activities with `kind`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queries {
    /// `gander` (the names the demo fleet and gander's own metrics use) or
    /// `opentelemetry` (the HTTP semantic conventions as Prometheus names them).
    #[serde(default)]
    pub preset: Preset,
    #[serde(default)]
    pub p95_seconds: Option<String>,
    #[serde(default)]
    pub error_ratio: Option<String>,
    #[serde(default)]
    pub up: Option<String>,
    #[serde(default)]
    pub activities: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Gander,
    Opentelemetry,
}

impl Preset {
    pub fn label(self) -> &'static str {
        match self {
            Preset::Gander => "service",
            Preset::Opentelemetry => "job",
        }
    }

    /// (p95 seconds, error ratio, up, activities), with `$label` unreplaced.
    pub fn templates(self) -> [&'static str; 4] {
        const UP: &str = "max by ($label) (up)";
        const ACTIVITIES: &str = "max by ($label, kind) (gander_activity) > 0";
        match self {
            Preset::Gander => [
                "histogram_quantile(0.95, sum by ($label, le) (rate(http_request_duration_seconds_bucket[1m])))",
                "sum by ($label) (rate(http_requests_total{code=~\"5..\"}[1m])) / sum by ($label) (rate(http_requests_total[1m]))",
                UP,
                ACTIVITIES,
            ],
            Preset::Opentelemetry => [
                "histogram_quantile(0.95, sum by ($label, le) (rate(http_server_request_duration_seconds_bucket[1m])))",
                "sum by ($label) (rate(http_server_request_duration_seconds_count{http_response_status_code=~\"5..\"}[1m])) / sum by ($label) (rate(http_server_request_duration_seconds_count[1m]))",
                UP,
                ACTIVITIES,
            ],
        }
    }
}

/// The fleet queries, resolved: the label and each PromQL text to run.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetQueries {
    pub label: String,
    pub p95_seconds: String,
    pub error_ratio: String,
    pub up: String,
    pub activities: String,
}

impl Monitoring {
    /// The label naming a service in Prometheus.
    pub fn service_label(&self) -> &str {
        self.service_label
            .as_deref()
            .unwrap_or(self.queries.preset.label())
    }

    /// Each query: the org's own, else the preset's; `$label` replaced.
    pub fn fleet_queries(&self) -> FleetQueries {
        let label = self.service_label().to_string();
        let [p, e, u, a] = self.queries.preset.templates();
        let q = &self.queries;
        let fill = |own: &Option<String>, preset: &str| {
            own.as_deref().unwrap_or(preset).replace("$label", &label)
        };
        FleetQueries {
            p95_seconds: fill(&q.p95_seconds, p),
            error_ratio: fill(&q.error_ratio, e),
            up: fill(&q.up, u),
            activities: fill(&q.activities, a),
            label,
        }
    }
}

fn default_poll() -> Duration {
    Duration(15)
}
fn default_timeout() -> Duration {
    Duration(3)
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            prometheus_url: None,
            alertmanager_url: None,
            prometheus_auth: None,
            ca_file: None,
            poll_interval: default_poll(),
            request_timeout: default_timeout(),
            service_label: None,
            queries: Queries::default(),
            direct_poll_limit: default_direct_poll_limit(),
            window: default_window(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    #[serde(default = "default_required")]
    pub required_approvals: u32,
    /// The requester can never approve their own promotion.
    #[serde(default = "default_true")]
    pub four_eyes: bool,
    /// An approval older than this no longer counts.
    #[serde(default = "default_expiry")]
    pub expiry: Duration,
    /// Time a service must spend in its current state before it may become compliant.
    #[serde(default)]
    pub soak_time: Duration,
    /// Named groups of approvers, referenced as `group:NAME`.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Approvers for services that name none.
    #[serde(default)]
    pub default_approvers: Vec<String>,
}

fn default_required() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_expiry() -> Duration {
    Duration(72 * 3600)
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            required_approvals: default_required(),
            four_eyes: true,
            expiry: default_expiry(),
            soak_time: Duration(0),
            groups: BTreeMap::new(),
            default_approvers: Vec::new(),
        }
    }
}

/// The kinds of evidence the seed collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Sast,
    Tests,
    Coverage,
    Sbom,
    Metrics,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Sast => "sast",
            EvidenceKind::Tests => "tests",
            EvidenceKind::Coverage => "coverage",
            EvidenceKind::Sbom => "sbom",
            EvidenceKind::Metrics => "metrics",
        }
    }
}

/// SARIF result levels, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SastLevel {
    Note,
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidencePolicy {
    /// Evidence older than this is stale and does not pass a gate.
    #[serde(default = "default_max_age")]
    pub max_age: Duration,
    /// Line coverage, in percent, that `test_coverage_threshold` requires.
    #[serde(default = "default_coverage")]
    pub coverage_threshold: f64,
    /// A SAST finding at or above this level fails `sast_clean`.
    #[serde(default = "default_sast_level")]
    pub sast_fail_level: SastLevel,
    /// Kinds that `evidence_collected` requires.
    #[serde(default = "default_required_kinds")]
    pub required: Vec<EvidenceKind>,
}

fn default_max_age() -> Duration {
    Duration(7 * 86_400)
}
fn default_coverage() -> f64 {
    80.0
}
fn default_sast_level() -> SastLevel {
    SastLevel::Error
}
fn default_required_kinds() -> Vec<EvidenceKind> {
    vec![
        EvidenceKind::Sast,
        EvidenceKind::Tests,
        EvidenceKind::Coverage,
        EvidenceKind::Sbom,
    ]
}

impl Default for EvidencePolicy {
    fn default() -> Self {
        EvidencePolicy {
            max_age: default_max_age(),
            coverage_threshold: default_coverage(),
            sast_fail_level: default_sast_level(),
            required: default_required_kinds(),
        }
    }
}

/// Golden Goose packaging rules (seed 003 §3.5, seed 000).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Packaging {
    #[serde(default = "default_stages")]
    pub stages: Vec<String>,
    /// Stages whose promotions need an approval.
    #[serde(default)]
    pub require_approval_for: Vec<String>,
    #[serde(default = "default_keep")]
    pub keep_per_stage: u32,
    #[serde(default = "default_criteria")]
    pub release_criteria: Vec<ReleaseCriterion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseCriterion {
    ServicesCompliant,
    DependenciesIncluded,
    EvidenceChainValid,
    SbomPresent,
    SastClean,
    EvidenceFresh,
}

fn default_stages() -> Vec<String> {
    vec!["dev".into(), "staging".into(), "prod".into()]
}
fn default_keep() -> u32 {
    5
}
fn default_criteria() -> Vec<ReleaseCriterion> {
    use ReleaseCriterion::*;
    vec![
        ServicesCompliant,
        DependenciesIncluded,
        EvidenceChainValid,
        SbomPresent,
        SastClean,
        EvidenceFresh,
    ]
}

impl Default for Packaging {
    fn default() -> Self {
        Packaging {
            stages: default_stages(),
            require_approval_for: Vec::new(),
            keep_per_stage: default_keep(),
            release_criteria: default_criteria(),
        }
    }
}
