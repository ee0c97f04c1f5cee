//! The SBOM readers against the specifications' own examples, copied unmodified from
//! github.com/CycloneDX/specification (`tools/src/test/resources/1.x/`, the files its
//! own test suite calls valid and invalid) and github.com/spdx/spdx-spec
//! (`examples/`). What each file should give is decided by the specification's authors
//! (by the file's name) or by `jq` over the file, never by gander.

use gander::engine::config::{Baseline, SastLevel};
use gander::evidence::schema::{Spec, check};
use gander::evidence::{Policy, read};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(version: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new("tests/fixtures/cyclonedx-spec").join(version))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    files.sort();
    files
}

fn spec_of(version: &str) -> Spec {
    match version {
        "1.4" => Spec::CycloneDx14,
        "1.5" => Spec::CycloneDx15,
        _ => Spec::CycloneDx16,
    }
}

fn doc(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn policy() -> Policy {
    Policy {
        service: "service-b".into(),
        version: None,
        sast_fail_level: SastLevel::Error,
        baseline: Baseline {
            p95_latency_ms: 500.0,
            error_rate: 0.01,
        },
    }
}

/// `jq` over a file: the expected figure comes from outside gander.
fn jq(filter: &str, path: &Path) -> u64 {
    let out = Command::new("jq")
        .args(["-r", filter])
        .arg(path)
        .output()
        .expect("jq (scripts/test.sh installs it)");
    assert!(out.status.success(), "jq {filter} {}", path.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_cyclonedx_specifications_valid_examples_pass_and_its_invalid_ones_are_refused() {
    let mut seen = (0, 0);
    for v in ["1.4", "1.5", "1.6"] {
        for f in corpus(v) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let found = check(spec_of(v), &doc(&f), 10).unwrap();
            let r = read(&f, None, &policy()).unwrap();
            if name.starts_with("valid-") {
                seen.0 += 1;
                assert_eq!(found, vec![], "{v}/{name} is valid by the specification");
                assert!(
                    !r.summary.contains("not valid"),
                    "{v}/{name}: {}",
                    r.summary
                );
            } else {
                seen.1 += 1;
                assert!(
                    !found.is_empty(),
                    "{v}/{name} is invalid by the specification"
                );
                // The verdict fails and names the specification and a JSON path.
                assert!(!r.passed);
                let want = format!("not valid CycloneDX {v}: ");
                assert!(r.summary.contains(&want), "{v}/{name}: {}", r.summary);
                assert!(r.summary.contains(" at /"), "{v}/{name}: {}", r.summary);
                assert!(r.details.iter().any(|d| d.starts_with("schema: /")));
            }
        }
    }
    assert_eq!(seen, (110, 69), "(valid, invalid) examples in the corpus");
}

#[test]
fn the_schema_error_names_the_place_and_the_reason() {
    let f = Path::new("tests/fixtures/cyclonedx-spec/1.6/invalid-license-id-1.6.json");
    let found = check(Spec::CycloneDx16, &doc(f), 10).unwrap();
    assert_eq!(found[0].path, "/components/0/licenses/0/license/id");
    assert!(
        found[0].message.starts_with("\"Apache-2\" is not one of"),
        "{}",
        found[0].message
    );
    let f = Path::new("tests/fixtures/cyclonedx-spec/1.5/invalid-hash-alg-1.5.json");
    let r = read(f, None, &policy()).unwrap();
    assert!(
        r.summary.starts_with(
            "not valid CycloneDX 1.5: 1 schema violation, first at /components/0/hashes/0/alg: \"FOO\" is not one of"
        ),
        "{}",
        r.summary
    );
}

/// Components are counted as `jq` counts them, nested ones included, and every one
/// without a version is named.
#[test]
fn cyclonedx_component_counts_agree_with_jq() {
    let mut nested = 0;
    for v in ["1.4", "1.5", "1.6"] {
        for f in corpus(v) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("valid-") {
                continue;
            }
            let r = read(&f, None, &policy()).unwrap();
            let all = jq("[.components[]? | recurse(.components[]?)] | length", &f);
            let top = jq("[.components[]?] | length", &f);
            nested += all - top;
            assert_eq!(r.figure, Some(all as f64), "{v}/{name}");
            let unversioned = jq(
                "[.components[]? | recurse(.components[]?) | select((.version // \"\") == \"\")] | length",
                &f,
            );
            assert_eq!(
                r.details.len() as u64,
                unversioned,
                "{v}/{name}: {:?}",
                r.details
            );
        }
    }
    assert!(nested > 0, "the corpus has nested components");
}

fn spdx_example(version: &str) -> PathBuf {
    PathBuf::from(format!(
        "tests/fixtures/spdx-spec/SPDXJSONExample-v{version}.spdx.json"
    ))
}

#[test]
fn the_spdx_specifications_examples_are_valid_and_counted_as_jq_counts() {
    for v in ["2.2", "2.3"] {
        let f = spdx_example(v);
        let spec = if v == "2.2" {
            Spec::Spdx22
        } else {
            Spec::Spdx23
        };
        assert_eq!(check(spec, &doc(&f), 10).unwrap(), vec![], "{v}");
        let r = read(&f, None, &policy()).unwrap();
        assert_eq!(r.figure, Some(jq(".packages | length", &f) as f64));
        assert!(!r.summary.contains("not valid"), "{}", r.summary);
    }
}

/// The official example, broken in the ways the specification forbids.
#[test]
fn a_broken_spdx_document_fails_naming_the_path() {
    let f = spdx_example("2.3");
    type Case = (&'static str, fn(&mut Value), &'static str);
    let cases: [Case; 4] = [
        (
            "no SPDXID",
            |d| {
                d.as_object_mut().unwrap().remove("SPDXID");
            },
            "/: \"SPDXID\" is a required property",
        ),
        (
            "an unknown checksum algorithm",
            |d| d["packages"][0]["checksums"][0]["algorithm"] = "CRC32".into(),
            "/packages/0/checksums/0/algorithm: \"CRC32\" is not one of",
        ),
        (
            "a package without a name",
            |d| {
                d["packages"][1].as_object_mut().unwrap().remove("name");
            },
            "/packages/1: \"name\" is a required property",
        ),
        (
            "a relationship the specification does not define",
            |d| d["relationships"][0]["relationshipType"] = "LOVES".into(),
            "/relationships/0/relationshipType: \"LOVES\" is not one of",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, break_it, want) in cases {
        let mut d = doc(&f);
        break_it(&mut d);
        let path = dir.path().join("broken.spdx.json");
        std::fs::write(&path, serde_json::to_vec(&d).unwrap()).unwrap();
        let r = read(&path, None, &policy()).unwrap();
        assert!(!r.passed, "{what}");
        assert!(
            r.summary.contains(&format!(
                "not valid SPDX 2.3: 1 schema violation, first at {want}"
            )),
            "{what}: {}",
            r.summary
        );
    }
}
