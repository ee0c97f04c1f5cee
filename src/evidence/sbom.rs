//! SBOMs: CycloneDX JSON 1.4–1.6 and SPDX JSON 2.2/2.3, each checked against its
//! specification's JSON Schema, then held to the rules the `sbom_valid` check states: it
//! describes the service (and its version), and every component has a version.

use super::json::at;
use super::{Policy, ReadError, Reading, schema};
use crate::engine::config::EvidenceKind;
use serde_json::Value;

/// Schema violations reported in a verdict's details, at most.
const MAX_VIOLATIONS: usize = 50;

fn schema_check(
    spec: schema::Spec,
    v: &Value,
    file: &str,
) -> Result<(schema::Spec, Vec<schema::Violation>), ReadError> {
    schema::check(spec, v, MAX_VIOLATIONS)
        .map(|found| (spec, found))
        .map_err(|e| at(file, "-", e))
}

fn sbom_verdict(
    format: &'static str,
    (spec, violations): (schema::Spec, Vec<schema::Violation>),
    names_service: bool,
    policy: &Policy,
    total: usize,
    unversioned: Vec<String>,
    version_of_service: Option<String>,
) -> Reading {
    let mut problems = Vec::new();
    if let Some(first) = violations.first() {
        // The validator stops counting at MAX_VIOLATIONS.
        let n = violations.len();
        problems.push(format!(
            "not valid {}: {}{} schema violation{}, first at {first}",
            spec.name(),
            n,
            if n >= MAX_VIOLATIONS { " or more" } else { "" },
            if n == 1 { "" } else { "s" },
        ));
    }
    if !names_service {
        problems.push(format!(
            "describes something other than the service `{}`",
            policy.service
        ));
    }
    if let (Some(want), Some(got)) = (&policy.version, &version_of_service) {
        if want != got {
            problems.push(format!(
                "names {} version {got}, the service is {want}",
                policy.service
            ));
        }
    }
    if names_service && version_of_service.is_none() {
        problems.push(format!("gives no version for {}", policy.service));
    }
    if !unversioned.is_empty() {
        problems.push(format!(
            "{} of {total} components have no version ({})",
            unversioned.len(),
            unversioned
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Reading {
        counts: Vec::new(),
        kind: EvidenceKind::Sbom,
        format,
        passed: problems.is_empty(),
        summary: if problems.is_empty() {
            format!(
                "{}, all versioned; names {} {}",
                crate::diag::count(total, "component", "components"),
                policy.service,
                version_of_service.unwrap_or_default()
            )
        } else {
            problems.join("; ")
        },
        figure: Some(total as f64),
        details: violations
            .iter()
            .map(|v| format!("schema: {v}"))
            .chain(unversioned)
            .collect(),
    }
}

/// CycloneDX JSON 1.4–1.6.
pub(super) fn cyclonedx(v: &Value, file: &str, policy: &Policy) -> Result<Reading, ReadError> {
    let spec = match v.get("specVersion").and_then(|s| s.as_str()).unwrap_or("") {
        "1.4" => schema::Spec::CycloneDx14,
        "1.5" => schema::Spec::CycloneDx15,
        "1.6" => schema::Spec::CycloneDx16,
        other => {
            return Err(at(
                file,
                "specVersion",
                format!("CycloneDX specVersion `{other}`; gander reads 1.4 to 1.6"),
            ));
        }
    };
    let checked = schema_check(spec, v, file)?;
    // Every component, nested ones (`components[].components`) included: a library
    // inside another is still shipped, and still needs a version.
    // (Borrowed, not copied: a million components are walked without a second tree.)
    let mut comps: Vec<&Value> = Vec::new();
    let mut stack: Vec<&Value> = v
        .get("components")
        .and_then(|c| c.as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    while let Some(c) = stack.pop() {
        if comps.len() > 1_000_000 {
            return Err(at(file, "components", "more than a million components"));
        }
        if let Some(inner) = c.get("components").and_then(|x| x.as_array()) {
            stack.extend(inner.iter());
        }
        comps.push(c);
    }
    comps.reverse();
    let meta = v.get("metadata").and_then(|m| m.get("component"));
    let name_of = |c: &Value| c.get("name").and_then(|n| n.as_str()).map(str::to_string);
    let version_of = |c: &Value| {
        c.get("version")
            .and_then(|n| n.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    // The SBOM is of what `metadata.component` names: a service-a SBOM that lists a
    // service-b client library is not service-b's. Without `metadata.component`, a
    // top-level component of that name stands for it.
    let svc = match meta {
        Some(m) => Some(m).filter(|m| name_of(m).as_deref() == Some(policy.service.as_str())),
        None => v
            .get("components")
            .and_then(|c| c.as_array())
            .and_then(|top| {
                top.iter()
                    .find(|c| name_of(c).as_deref() == Some(policy.service.as_str()))
            }),
    };
    let unversioned: Vec<String> = comps
        .iter()
        .filter(|c| version_of(c).is_none())
        .map(|c| name_of(c).unwrap_or_else(|| "unnamed".into()))
        .collect();
    Ok(sbom_verdict(
        "cyclonedx",
        checked,
        svc.is_some(),
        policy,
        comps.len(),
        unversioned,
        svc.and_then(version_of),
    ))
}

/// SPDX JSON 2.3.
pub(super) fn spdx(v: &Value, file: &str, policy: &Policy) -> Result<Reading, ReadError> {
    let ver = v.get("spdxVersion").and_then(|s| s.as_str()).unwrap_or("");
    let spec = match ver {
        "SPDX-2.2" => schema::Spec::Spdx22,
        "SPDX-2.3" => schema::Spec::Spdx23,
        _ => {
            return Err(at(
                file,
                "spdxVersion",
                format!("`{ver}`; gander reads SPDX 2.2 and 2.3 JSON"),
            ));
        }
    };
    let checked = schema_check(spec, v, file)?;
    let pkgs = v
        .get("packages")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let name_of = |c: &Value| c.get("name").and_then(|n| n.as_str()).map(str::to_string);
    let version_of = |c: &Value| {
        c.get("versionInfo")
            .and_then(|n| n.as_str())
            .filter(|s| !s.is_empty() && *s != "NOASSERTION")
            .map(str::to_string)
    };
    // The document describes some packages (`documentDescribes`, or the document's own
    // DESCRIBES relationships); the service must be one of those, not any package listed.
    let mut described: Vec<&str> = v
        .get("documentDescribes")
        .and_then(|d| d.as_array())
        .map(|d| d.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let doc_id = v
        .get("SPDXID")
        .and_then(|x| x.as_str())
        .unwrap_or("SPDXRef-DOCUMENT");
    for r in v
        .get("relationships")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let field = |k: &str| r.get(k).and_then(|x| x.as_str());
        if field("spdxElementId") == Some(doc_id) && field("relationshipType") == Some("DESCRIBES")
        {
            described.extend(field("relatedSpdxElement"));
        }
    }
    let svc = pkgs.iter().find(|c| {
        name_of(c).as_deref() == Some(policy.service.as_str())
            && c.get("SPDXID")
                .and_then(|x| x.as_str())
                .is_some_and(|id| described.contains(&id))
    });
    let unversioned: Vec<String> = pkgs
        .iter()
        .filter(|c| version_of(c).is_none())
        .map(|c| name_of(c).unwrap_or_else(|| "unnamed".into()))
        .collect();
    Ok(sbom_verdict(
        "spdx",
        checked,
        svc.is_some(),
        policy,
        pkgs.len(),
        unversioned,
        svc.and_then(version_of),
    ))
}
