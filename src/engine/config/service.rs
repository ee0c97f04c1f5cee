//! `services/*.yaml`: the seed 003 service template plus endpoints, probes, owners and
//! the performance baseline.

use super::Mode;
use serde::{Deserialize, Serialize};

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

pub(super) fn default_p95() -> f64 {
    500.0
}
pub(super) fn default_error_rate() -> f64 {
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
