//! Every `--json` document validates against its schema in `docs/schemas/KIND.json`,
//! run through the binary on the demo fleet, and every schema there is exercised. The
//! schemas are what scripts are written against; the README's "JSON output" names them.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::Demo;

const BASE: &str = "https://gander.invalid/schemas/";

/// Serves `docs/schemas/NAME.json` for `https://gander.invalid/schemas/NAME.json`.
struct Docs;

impl jsonschema::Retrieve for Docs {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix(BASE)
            .ok_or_else(|| format!("{} is not a gander schema", uri.as_str()))?;
        let text = std::fs::read_to_string(Path::new("docs/schemas").join(name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn schema(kind: &str) -> jsonschema::Validator {
    let path = Path::new("docs/schemas").join(format!("{kind}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no schema for kind `{kind}` ({}): {e}", path.display()));
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["$id"], format!("{BASE}{kind}.json"), "{}", path.display());
    jsonschema::options()
        .with_retriever(Docs)
        .should_validate_formats(true)
        .build(&s)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The document's violations of its own kind's schema.
fn violations(doc: &Value) -> Vec<String> {
    let kind = doc["kind"].as_str().expect("every document has a kind");
    schema(kind)
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_json_document_matches_its_schema() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    // Something in every list: an open promotion, a walk.
    let (code, out, err) = demo.run(
        "alice",
        &["promote", "service-b", "--to", "compliant", "--reason", "r"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let fixture = std::fs::canonicalize("tests/fixtures/metrics/python_client.openmetrics")
        .unwrap()
        .display()
        .to_string();
    let missing = dir.path().join("no-such-package").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate"],
        vec!["order"],
        vec!["status"],
        vec!["status", "--offline"],
        vec!["promote", "service-c", "--to", "compliant", "--dry-run"],
        vec!["promote", "identity", "--to", "compliant", "--dry-run"],
        vec!["promotions"],
        vec!["verify"],
        vec!["whoami"],
        vec!["head"],
        vec!["evidence", "list", "service-b"],
        vec!["scrape", &fixture],
        vec!["runbook", "list"],
        vec!["runbook", "show", "service_degradation"],
        vec![
            "runbook",
            "run",
            "service_degradation",
            "--service",
            "service-b",
        ],
        vec!["runbook", "walks"],
        vec!["package", "list"],
        vec!["package", "verify", &missing],
        // Last: it forgets what this user saw of the demo's store.
        vec!["head", "--forget"],
    ];
    let mut kinds = BTreeSet::new();
    for args in commands {
        let mut with_json = args.clone();
        with_json.push("--json");
        let (_, out, err) = demo.run("alice", &with_json);
        let doc: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("gander {args:?} --json is not JSON ({e}): {out}{err}"));
        assert_eq!(doc["version"], 1, "{args:?}");
        let found = violations(&doc);
        assert!(found.is_empty(), "gander {args:?} --json: {found:#?}");
        kinds.insert(doc["kind"].as_str().unwrap().to_string());
    }
    // Every schema is exercised, and the README names each kind.
    let mut schemas = BTreeSet::new();
    for e in std::fs::read_dir("docs/schemas").unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if let Some(kind) = name.strip_suffix(".json") {
            if kind != "common" {
                schemas.insert(kind.to_string());
            }
        }
    }
    assert_eq!(kinds, schemas, "kinds printed vs schemas in docs/schemas");
    let readme = std::fs::read_to_string("README.md").unwrap();
    for kind in &schemas {
        assert!(
            readme.contains(&format!("`docs/schemas/{kind}.json`")),
            "the README's JSON section names docs/schemas/{kind}.json"
        );
    }
}

/// The schemas are strict where scripts depend on them: a wrong verdict, a missing
/// field, a status outside the five are each caught.
#[test]
fn the_schemas_refuse_what_scripts_would_misread() {
    let plan = serde_json::json!({
        "version": 1, "kind": "promotion_plan", "evaluated_at": "2026-11-23T21:09:55Z",
        "service": "service-b", "from": "compliance_ready", "to": "compliant",
        "verdict": "ready", "demotion": null, "refusal": null, "first_step": null,
        "requirements": [{"check": "approved_promotion", "status": "pass", "reason": "ok"}],
        "gates": [{"gate": "g", "type": "blocking", "stage": "s", "status": "pass", "checks": []}],
        "blockers": []
    });
    assert_eq!(violations(&plan), Vec::<String>::new());
    let mut bad = plan.clone();
    bad["verdict"] = "maybe".into();
    assert_eq!(violations(&bad).len(), 1);
    let mut bad = plan.clone();
    bad["requirements"][0]["status"] = "ok".into();
    assert_eq!(violations(&bad).len(), 1);
    let mut bad = plan.clone();
    bad.as_object_mut().unwrap().remove("blockers");
    assert_eq!(violations(&bad).len(), 1);
    let mut bad = plan;
    bad["version"] = 2.into();
    assert_eq!(violations(&bad).len(), 1);
}
