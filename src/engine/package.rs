//! Golden Goose packages: the release criteria (pure), the manifest, and the stage
//! history a chain of package records adds up to.

use super::config::{Config, EvidenceKind, ReleaseCriterion};
use super::facts::{Facts, Known};
use super::resolver::DepGraph;
use super::state_machine::StateMachine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "gander.package/v1";

/// Record types of packages.
pub mod kind {
    pub const CREATED: &str = "package_created";
    pub const REQUEST: &str = "package_request";
    pub const APPROVAL: &str = "package_approval";
    pub const STAGE: &str = "package_stage";
    pub const ROLLBACK: &str = "package_rollback";
    pub const ARCHIVED: &str = "package_archived";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the package root, `/`-separated, never `..` or absolute.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub name: String,
    pub version: String,
    pub state: String,
    /// Paths (in `files`) of this service's artifacts.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub id: String,
    pub version: String,
    pub created_at: String,
    pub created_by: String,
    pub org: String,
    pub services: Vec<ServiceEntry>,
    pub files: Vec<FileEntry>,
}

/// Is a manifest path safe to join to a directory?
pub fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// One failed criterion, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub service: String,
    pub criterion: String,
    pub reason: String,
}

/// Check the org's release criteria for `services` (already released: `released`).
pub fn criteria(
    config: &Config,
    graph: &DepGraph,
    facts: &Facts,
    services: &[String],
    released: &[String],
) -> Vec<Failure> {
    let sm = StateMachine::new(&config.rules);
    let mut out = Vec::new();
    let max_age = config.org.evidence.max_age.secs() as i64;
    let fail = |out: &mut Vec<Failure>, s: &str, c: &str, r: String| {
        out.push(Failure {
            service: s.into(),
            criterion: c.into(),
            reason: r,
        })
    };
    for s in services {
        let state = facts.states.get(s).cloned().unwrap_or_default();
        let ev = facts
            .services
            .get(s)
            .map(|f| f.evidence.clone())
            .unwrap_or(Known::unknown("no facts"));
        let evidence = match &ev {
            Known::Known(m) => m.clone(),
            Known::Unknown(_) => BTreeMap::new(),
        };
        for c in &config.org.packaging.release_criteria {
            match c {
                ReleaseCriterion::ServicesCompliant if !sm.is_compliant(&state) => {
                    fail(
                        &mut out,
                        s,
                        "services_compliant",
                        format!("{s} is `{state}`, not compliant"),
                    );
                }
                ReleaseCriterion::DependenciesIncluded => {
                    for (d, _) in graph.direct(s) {
                        if !services.iter().any(|x| x == d) && !released.iter().any(|x| x == d) {
                            fail(
                                &mut out,
                                s,
                                "dependencies_included",
                                format!(
                                    "{s} depends on {d}, which is neither in this package nor released"
                                ),
                            );
                        }
                    }
                }
                ReleaseCriterion::SbomPresent => match evidence.get(&EvidenceKind::Sbom) {
                    None => fail(
                        &mut out,
                        s,
                        "sbom_present",
                        format!("{s} has no SBOM on file"),
                    ),
                    Some(v) if !v.passed => fail(
                        &mut out,
                        s,
                        "sbom_present",
                        format!("{s}'s SBOM: {}", v.summary),
                    ),
                    _ => {}
                },
                ReleaseCriterion::SastClean => match evidence.get(&EvidenceKind::Sast) {
                    None => fail(
                        &mut out,
                        s,
                        "sast_clean",
                        format!("{s} has no SAST evidence"),
                    ),
                    Some(v) if !v.passed => {
                        fail(&mut out, s, "sast_clean", format!("{s}: {}", v.summary))
                    }
                    _ => {}
                },
                ReleaseCriterion::EvidenceFresh => {
                    for (k, v) in &evidence {
                        if (facts.now - v.collected_at).num_seconds() > max_age {
                            fail(
                                &mut out,
                                s,
                                "evidence_fresh",
                                format!(
                                    "{s}'s {} evidence is older than {}",
                                    k.as_str(),
                                    config.org.evidence.max_age
                                ),
                            );
                        }
                    }
                }
                ReleaseCriterion::EvidenceChainValid => {
                    if let Known::Known(c) = &facts.chain {
                        if let Some(p) = &c.problem {
                            fail(&mut out, s, "evidence_chain_valid", p.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out.dedup();
    out
}

/// What a stage holds now and held before.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub package: String,
    pub since: String,
    pub by: String,
    pub seq: u64,
    pub reason: String,
}

/// The requester's key and each approver's key of one stage request.
pub type RequestKeys = (Option<String>, Vec<Option<String>>);

#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Stages {
    /// Stage -> snapshots, oldest first; the last is current.
    pub history: BTreeMap<String, Vec<Snapshot>>,
    /// Packages created: id -> (version, services).
    pub packages: BTreeMap<String, (String, Vec<String>)>,
    /// Open requests: (package, stage) -> (requester, approvals).
    pub requests: BTreeMap<(String, String), (String, Vec<String>)>,
    /// The keys behind `requests`: (requester's key, each approver's key), so a person is
    /// counted by key, never by name.
    pub request_keys: BTreeMap<(String, String), RequestKeys>,
    pub archived: Vec<String>,
}

impl Stages {
    pub fn current(&self, stage: &str) -> Option<&Snapshot> {
        self.history.get(stage).and_then(|h| h.last())
    }

    /// Every service some stage currently runs.
    pub fn released(&self) -> Vec<String> {
        let mut out = Vec::new();
        for h in self.history.values() {
            if let Some(s) = h.last() {
                if let Some((_, svcs)) = self.packages.get(&s.package) {
                    out.extend(svcs.iter().cloned());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn text(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

pub fn fold<'r>(records: impl IntoIterator<Item = &'r super::chain::Record>) -> Stages {
    let mut st = Stages::default();
    st.extend(records);
    st
}

impl Stages {
    /// Fold more records, the ones after those already folded.
    pub fn extend<'r>(&mut self, records: impl IntoIterator<Item = &'r super::chain::Record>) {
        extend(self, records)
    }
}

fn extend<'r>(st: &mut Stages, records: impl IntoIterator<Item = &'r super::chain::Record>) {
    for r in records {
        let d = &r.evidence.data;
        let by = r
            .evidence
            .signatures
            .first()
            .map(|s| s.principal.clone())
            .unwrap_or_default();
        match r.evidence.kind.as_str() {
            kind::CREATED => {
                let svcs = d
                    .get("services")
                    .and_then(|s| s.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                st.packages
                    .insert(r.promotion_id.clone(), (text(d, "version"), svcs));
            }
            kind::REQUEST => {
                let k = (r.promotion_id.clone(), text(d, "stage"));
                st.request_keys
                    .insert(k.clone(), (r.signer_key(), Vec::new()));
                st.requests.insert(k, (by, Vec::new()));
            }
            kind::APPROVAL => {
                let k = (r.promotion_id.clone(), text(d, "stage"));
                if let Some(req) = st.requests.get_mut(&k) {
                    req.1.push(by);
                }
                if let Some(req) = st.request_keys.get_mut(&k) {
                    req.1.push(r.signer_key());
                }
            }
            kind::STAGE | kind::ROLLBACK => {
                let stage = text(d, "stage");
                st.requests.remove(&(r.promotion_id.clone(), stage.clone()));
                st.request_keys
                    .remove(&(r.promotion_id.clone(), stage.clone()));
                st.history.entry(stage).or_default().push(Snapshot {
                    package: r.promotion_id.clone(),
                    since: r.timestamp.clone(),
                    by,
                    seq: r.seq,
                    reason: text(d, "reason"),
                });
            }
            kind::ARCHIVED => st.archived.push(r.promotion_id.clone()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_path;

    #[test]
    fn paths_that_escape_are_unsafe() {
        assert!(safe_path("services/a/sbom/bom.json"));
        for p in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\\b",
            "",
        ] {
            assert!(!safe_path(p), "{p}");
        }
    }
}
