//! The policy files: `policies/compliance_rules.yaml` (the state machine) and
//! `policies/promotion_gates.yaml` (gates and the seed 003 §3.4 policy rules).
//! Both ship compiled in and a config directory may override either.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The built-in policy files, used when a config directory has none.
pub const DEFAULT_RULES: &str = include_str!("../../config/policies/compliance_rules.yaml");
pub const DEFAULT_GATES: &str = include_str!("../../config/policies/promotion_gates.yaml");

/// Every check the engine knows how to decide. Policy files name these; an unknown
/// name is a validation error with the closest match. The seed's spellings
/// (`sast_results_clean`, `all_dependencies_compliant`) are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    AllTestsPassing,
    #[serde(alias = "sast_results_clean")]
    SastClean,
    #[serde(alias = "all_dependencies_compliant")]
    DependenciesCompliant,
    ApprovedPromotion,
    EvidenceCollected,
    TestCoverageThreshold,
    PerformanceBaselineMet,
    EvidenceChainValid,
    SignaturesVerified,
    SbomValid,
    NoBlackout,
    SoakTimeElapsed,
    /// The service's live and readiness probes pass (seed 004).
    ServiceHealthy,
}

impl Check {
    pub const ALL: [Check; 13] = [
        Check::AllTestsPassing,
        Check::SastClean,
        Check::DependenciesCompliant,
        Check::ApprovedPromotion,
        Check::EvidenceCollected,
        Check::TestCoverageThreshold,
        Check::PerformanceBaselineMet,
        Check::EvidenceChainValid,
        Check::SignaturesVerified,
        Check::SbomValid,
        Check::NoBlackout,
        Check::SoakTimeElapsed,
        Check::ServiceHealthy,
    ];

    /// Look a check up by name, accepting the seed's spellings too.
    pub fn from_name(name: &str) -> Option<Check> {
        match name {
            "sast_results_clean" => Some(Check::SastClean),
            "all_dependencies_compliant" => Some(Check::DependenciesCompliant),
            _ => Check::ALL.into_iter().find(|c| c.as_str() == name),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Check::AllTestsPassing => "all_tests_passing",
            Check::SastClean => "sast_clean",
            Check::DependenciesCompliant => "dependencies_compliant",
            Check::ApprovedPromotion => "approved_promotion",
            Check::EvidenceCollected => "evidence_collected",
            Check::TestCoverageThreshold => "test_coverage_threshold",
            Check::PerformanceBaselineMet => "performance_baseline_met",
            Check::EvidenceChainValid => "evidence_chain_valid",
            Check::SignaturesVerified => "signatures_verified",
            Check::SbomValid => "sbom_valid",
            Check::NoBlackout => "no_blackout",
            Check::SoakTimeElapsed => "soak_time_elapsed",
            Check::ServiceHealthy => "service_healthy",
        }
    }
}

/// A check named in a policy file. It always loads, so that one misspelt name does not
/// hide the file's other problems; validation reports names that are not checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRef {
    pub name: String,
    pub check: Option<Check>,
}

impl CheckRef {
    pub fn known(refs: &[CheckRef]) -> impl Iterator<Item = Check> + '_ {
        refs.iter().filter_map(|r| r.check)
    }
}

impl From<Check> for CheckRef {
    fn from(c: Check) -> Self {
        CheckRef {
            name: c.as_str().to_string(),
            check: Some(c),
        }
    }
}

impl Serialize for CheckRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for CheckRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let check = Check::from_name(&name);
        Ok(CheckRef { name, check })
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `compliance_rules.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesFile {
    /// The state a new service starts in.
    #[serde(default = "default_initial")]
    pub initial_state: String,
    /// States that count as compliant for `dependencies_compliant`.
    #[serde(default = "default_compliant_states")]
    pub compliant_states: Vec<String>,
    /// The states, in the order they are listed (promotion order for display).
    pub states: BTreeMap<String, StateDef>,
    /// Transitions that are demotions: they are never held by gates (taking a
    /// non-compliant service out of `compliant` must always be possible).
    #[serde(default)]
    pub demotions: Vec<Demotion>,
}

fn default_initial() -> String {
    "sandbox".into()
}
fn default_compliant_states() -> Vec<String> {
    vec!["compliant".into()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateDef {
    #[serde(default)]
    pub allowed_transitions: Vec<String>,
    /// What entering this state requires (seed 003 §3.2).
    #[serde(default)]
    pub requirements: Vec<CheckRef>,
    /// Gates from `promotion_gates.yaml` that a promotion into this state must pass.
    #[serde(default)]
    pub gates: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Demotion {
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// `promotion_gates.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatesFile {
    pub gates: BTreeMap<String, GateDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateType {
    /// Must pass; an unknown input holds the promotion.
    Blocking,
    /// Passes when enough people approve.
    Manual,
    /// Shown, never holds a promotion.
    Advisory,
}

/// The CI/CD stages of seed 003 §3.1, where a gate sits in the pipeline view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    SpecValidation,
    DependencyCheck,
    Build,
    Test,
    ComplianceScan,
    EvidenceCollection,
    PromotionGate,
    Deployment,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateDef {
    #[serde(rename = "type")]
    pub kind: GateType,
    pub checks: Vec<CheckRef>,
    pub stage: Stage,
    #[serde(default)]
    pub description: Option<String>,
}
