//! The configuration model: `org-config.yaml`, `services/*.yaml` and the two policy
//! files. Plain serde structs; loading and cross-file checks live in `load`.

use super::policy::{GatesFile, RulesFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A span of time written as `30s`, `15m`, `24h` or `7d` (or a combination such as
/// `1h30m`). Stored as whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub u64);

impl Duration {
    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let mut total: u64 = 0;
        let mut num = String::new();
        let mut saw_unit = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return None,
            };
            let n: u64 = num.parse().ok()?;
            total = total.checked_add(n.checked_mul(unit)?)?;
            num.clear();
            saw_unit = true;
        }
        if !num.is_empty() || !saw_unit {
            return None;
        }
        Some(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// The largest exact unit, or a combination (`90m` is shown as `1h30m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a duration such as `30s`, `15m`, `24h` or `7d`, found `{s}`"
            ))
        })
    }
}

/// The two modes of seed 003's service template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Sandbox,
    Compliant,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Compliant => "compliant",
        }
    }
}

// ---------------------------------------------------------------- services/*.yaml

/// One `services/*.yaml` file: the seed 003 template under `service:`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceFile {
    pub service: Service,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub spec: Spec,
    /// People or teams who own the service (shown in the console, paged by runbooks).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Who may approve this service's promotions: names or `group:NAME`. Empty means
    /// the org's `approval.default_approvers`.
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default)]
    pub endpoints: Option<Endpoints>,
    #[serde(default)]
    pub baseline: Baseline,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub api_version: String,
    pub compliance_mode: Mode,
    /// The state in the compliance state machine. When absent it is the mode's name
    /// (`sandbox` or `compliant`). The promotion store (later) overrides it.
    #[serde(default)]
    pub compliance_state: Option<String>,
    /// The version of the service's build, carried into packages.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub dependencies: Dependencies,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dependencies {
    #[serde(default)]
    pub runtime: Vec<String>,
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub security: Vec<String>,
}

/// The kind of a dependency edge, as in the seed template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepKind {
    Runtime,
    Data,
    Security,
}

impl DepKind {
    pub const ALL: [DepKind; 3] = [DepKind::Runtime, DepKind::Data, DepKind::Security];

    pub fn as_str(self) -> &'static str {
        match self {
            DepKind::Runtime => "runtime",
            DepKind::Data => "data",
            DepKind::Security => "security",
        }
    }
}

impl Dependencies {
    pub fn of(&self, kind: DepKind) -> &[String] {
        match kind {
            DepKind::Runtime => &self.runtime,
            DepKind::Data => &self.data,
            DepKind::Security => &self.security,
        }
    }

    /// Every dependency with its kind, in file order (runtime, data, security).
    pub fn all(&self) -> impl Iterator<Item = (DepKind, &str)> {
        DepKind::ALL
            .into_iter()
            .flat_map(move |k| self.of(k).iter().map(move |n| (k, n.as_str())))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    /// e.g. `http://127.0.0.1:8081`; probe paths are joined to it.
    pub health_base_url: String,
    #[serde(default)]
    pub probes: Probes,
    /// The service's Prometheus text page. Absent: `{health_base_url}/metrics`.
    #[serde(default)]
    pub metrics_url: Option<String>,
}

/// Probe paths (seed 004). Some frameworks serve `/health/started` instead of
/// `/health/startup`, so every path is configurable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probes {
    #[serde(default = "default_live")]
    pub live: String,
    #[serde(default = "default_ready")]
    pub ready: String,
    #[serde(default = "default_startup")]
    pub startup: String,
    #[serde(default = "default_health")]
    pub health: String,
}

fn default_live() -> String {
    "/health/live".into()
}
fn default_ready() -> String {
    "/health/ready".into()
}
fn default_startup() -> String {
    "/health/startup".into()
}
fn default_health() -> String {
    "/health".into()
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            live: default_live(),
            ready: default_ready(),
            startup: default_startup(),
            health: default_health(),
        }
    }
}

/// The performance baseline a service must meet (seed 004: p95 < 500 ms, errors < 1 %).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    #[serde(default = "default_p95")]
    pub p95_latency_ms: f64,
    /// A fraction: 0.01 is 1 %.
    #[serde(default = "default_error_rate")]
    pub error_rate: f64,
}

fn default_p95() -> f64 {
    500.0
}
fn default_error_rate() -> f64 {
    0.01
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            p95_latency_ms: default_p95(),
            error_rate: default_error_rate(),
        }
    }
}

// ---------------------------------------------------------------- org-config.yaml

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
            prometheus_auth: None,
            ca_file: None,
            poll_interval: default_poll(),
            request_timeout: default_timeout(),
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

// ---------------------------------------------------------------- the whole config

/// A service as loaded: its definition plus where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedService {
    #[serde(flatten)]
    pub def: Service,
    /// The file it was read from, for messages.
    pub file: String,
}

impl LoadedService {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The service's state in the compliance state machine, from config.
    pub fn state(&self) -> &str {
        self.def
            .spec
            .compliance_state
            .as_deref()
            .unwrap_or(self.def.spec.compliance_mode.as_str())
    }
}

/// A validated configuration: every reference resolves, every state and gate exists.
#[derive(Debug, Clone)]
pub struct Config {
    pub org: OrgConfig,
    /// Sorted by name.
    pub services: Vec<LoadedService>,
    pub rules: RulesFile,
    pub gates: GatesFile,
}

impl Config {
    pub fn service(&self, name: &str) -> Option<&LoadedService> {
        self.services
            .binary_search_by(|s| s.name().cmp(name))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The approvers of a service with groups expanded, sorted and deduplicated.
    pub fn approvers_of(&self, service: &Service) -> Vec<String> {
        let list = if service.approvers.is_empty() {
            &self.org.approval.default_approvers
        } else {
            &service.approvers
        };
        let mut out: Vec<String> = Vec::new();
        for a in list {
            match a.strip_prefix("group:") {
                Some(g) => out.extend(
                    self.org
                        .approval
                        .groups
                        .get(g)
                        .into_iter()
                        .flatten()
                        .cloned(),
                ),
                None => out.push(a.clone()),
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Duration::parse("15s"), Some(Duration(15)));
        assert_eq!(Duration::parse("24h"), Some(Duration(86_400)));
        assert_eq!(Duration::parse("1h30m"), Some(Duration(5400)));
        assert_eq!(Duration::parse("7d"), Some(Duration(604_800)));
        assert_eq!(Duration::parse("15"), None, "a bare number has no unit");
        assert_eq!(Duration::parse("5 minutes"), None);
        assert_eq!(Duration::parse(""), None);
        assert_eq!(Duration(5400).to_string(), "1h30m");
        assert_eq!(Duration(0).to_string(), "0s");
        assert_eq!(Duration(604_800).to_string(), "7d");
    }

    #[test]
    fn dependencies_iterate_with_their_kind() {
        let d = Dependencies {
            runtime: vec!["a".into()],
            data: vec!["b".into()],
            security: vec!["c".into()],
        };
        let all: Vec<_> = d.all().collect();
        assert_eq!(
            all,
            vec![
                (DepKind::Runtime, "a"),
                (DepKind::Data, "b"),
                (DepKind::Security, "c")
            ]
        );
    }
}
