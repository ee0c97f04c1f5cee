//! Runbooks: the built-in ones (compiled in from `runbooks/`), overridden or extended by
//! `CONFIG/runbooks/*.yaml`.

use crate::engine::diag::Diagnostic;
use crate::engine::load::Source;
use crate::engine::runbook::{self, Named};
use std::path::Path;

const BUILTIN: [(&str, &str); 6] = [
    (
        "blackout_window",
        include_str!("../../runbooks/blackout_window.yaml"),
    ),
    (
        "compliance_violation",
        include_str!("../../runbooks/compliance_violation.yaml"),
    ),
    (
        "evidence_chain_corruption",
        include_str!("../../runbooks/evidence_chain_corruption.yaml"),
    ),
    (
        "promotion_failure",
        include_str!("../../runbooks/promotion_failure.yaml"),
    ),
    (
        "rollback_promotion",
        include_str!("../../runbooks/rollback_promotion.yaml"),
    ),
    (
        "service_degradation",
        include_str!("../../runbooks/service_degradation.yaml"),
    ),
];

/// Every runbook: user files first, built-ins for the names they do not cover.
pub fn load(config_dir: &Path) -> (Vec<Named>, Vec<Diagnostic>) {
    let mut sources = Vec::new();
    let dir = config_dir.join("runbooks");
    let mut user: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
            })
            .collect();
        files.sort();
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                user.push(
                    f.file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string(),
                );
                sources.push(Source::new(f.display().to_string(), text));
            }
        }
    }
    for (name, text) in BUILTIN {
        if !user.iter().any(|u| u == name) {
            sources.push(Source::new(
                format!("<built-in runbooks/{name}.yaml>"),
                text,
            ));
        }
    }
    runbook::load(&sources)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_runbooks_are_valid() {
        let (rbs, diags) = super::load(std::path::Path::new("/nonexistent"));
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(shown.is_empty(), "{}", shown.join("\n"));
        assert_eq!(rbs.len(), 6);
        let names: Vec<&str> = rbs.iter().map(|r| r.name.as_str()).collect();
        assert!(names.contains(&"promotion_failure") && names.contains(&"compliance_violation"));
    }
}
