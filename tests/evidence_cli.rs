//! `gander evidence` through the binary: a failing JUnit file turns all_tests_passing
//! red with the failing test and the file, a passing one turns it green, the chain holds
//! both by digest, and a batch with one unreadable file records nothing.

mod common;
use common::copy_dir;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Org {
    dir: tempfile::TempDir,
}

impl Org {
    fn new() -> Org {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        copy_dir(Path::new("config"), &cfg);
        let key = dir.path().join("alice");
        assert!(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&key)
                .status()
                .unwrap()
                .success()
        );
        let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let mut p = pubkey.split_whitespace();
        std::fs::write(
            cfg.join("allowed_signers"),
            format!("alice {} {}\n", p.next().unwrap(), p.next().unwrap()),
        )
        .unwrap();
        Org { dir }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(self.dir.path().join("config"))
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(args)
            .env("GANDER_KEY", self.dir.path().join("alice"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

const FIX: &str = "tests/fixtures/evidence";

#[test]
fn a_failing_junit_turns_the_gate_red_and_a_passing_one_green() {
    let org = Org::new();
    let dry = [
        "promote",
        "service-c",
        "--to",
        "compliance_ready",
        "--dry-run",
        "--offline",
    ];
    let (_, out, _) = org.run(&dry);
    assert!(
        out.contains("[FAIL]    all_tests_passing: no tests evidence on file"),
        "{out}"
    );

    let (code, out, err) = org.run(&[
        "evidence",
        "add",
        "service-c",
        &format!("{FIX}/nextest-fail.junit.xml"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("✗ tests/fixtures/evidence/nextest-fail.junit.xml (tests junit): 1 passed, 1 failed, 0 errors, 0 skipped of 2 tests"), "{out}");
    let (code, out, _) = org.run(&dry);
    assert_eq!(code, 1);
    let day = chrono::Utc::now().format("%Y%m%d");
    assert!(
        out.contains(&format!(
            "[FAIL]    all_tests_passing: 1 passed, 1 failed, 0 errors, 0 skipped of 2 tests: svc::tests::doubles_negative (audit/services/service-c/evidence/{day}/tests/nextest-fail.junit.xml)"
        )),
        "{out}"
    );
    // The literal command of the issue names it too (service-b is already there, so
    // the transition is refused, but the requirement is still shown).
    org.run(&[
        "evidence",
        "add",
        "service-b",
        &format!("{FIX}/pytest-fail.junit.xml"),
    ]);
    let (_, out, _) = org.run(&[
        "promote",
        "service-b",
        "--to",
        "compliance_ready",
        "--dry-run",
        "--offline",
    ]);
    assert!(out.contains("[FAIL]    all_tests_passing: 3 passed, 2 failed, 0 errors, 0 skipped of 5 tests: tests.test_app::test_add_negative"), "{out}");

    let (code, _, err) = org.run(&[
        "evidence",
        "add",
        "service-c",
        &format!("{FIX}/nextest-pass.junit.xml"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = org.run(&dry);
    assert!(
        out.contains(
            "[pass]    all_tests_passing: 2 passed, 0 failed, 0 errors, 0 skipped of 2 tests"
        ),
        "{out}"
    );

    // Both are in the chain by digest, and the copies match.
    let chain = std::fs::read_to_string(org.state().join("audit/chain.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = chain
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ev: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["evidence"]["type"] == "evidence" && r["service"] == "service-c")
        .collect();
    assert_eq!(ev.len(), 2);
    for r in ev {
        let a = &r["evidence"]["data"]["artifacts"][0];
        let bytes = std::fs::read(org.state().join(a["path"].as_str().unwrap())).unwrap();
        assert_eq!(
            gander::engine::chain::sha256_hex(&bytes),
            a["sha256"].as_str().unwrap()
        );
    }
    let (code, out, _) = org.run(&["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 artifacts match"), "{out}");
    let (_, out, _) = org.run(&["evidence", "list", "service-c", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["evidence"][0]["newest"], true);
    assert_eq!(v["evidence"][0]["passed"], true);
    assert_eq!(v["evidence"][1]["newest"], false);
}

#[test]
fn one_unreadable_file_refuses_the_batch() {
    let org = Org::new();
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("report.xml");
    std::fs::write(&bad, "<testsuites><testcase name=\"x\">").unwrap();
    let (code, out, err) = org.run(&[
        "evidence",
        "add",
        "service-b",
        &format!("{FIX}/bandit-clean.sarif"),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("refused: {}: byte", bad.display())),
        "{err}"
    );
    assert!(err.contains("nothing recorded"), "{err}");
    assert!(!org.state().join("audit/chain.jsonl").exists());
    assert!(!org.state().join("audit/services").exists());
    let (code, _, err) = org.run(&[
        "evidence",
        "add",
        "service-b",
        "--kind",
        "sbom",
        &format!("{FIX}/bandit-clean.sarif"),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--kind sbom was given, but the file is sarif"),
        "{err}"
    );
}

#[test]
fn evidence_list_gives_the_gates_verdict_for_coverage_below_the_threshold() {
    // The file's own figures are fine as a report; the org asks for 80 %.
    let org = Org::new();
    let d = tempfile::tempdir().unwrap();
    let lcov = d.path().join("half.lcov");
    std::fs::write(
        &lcov,
        "SF:a.py\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n",
    )
    .unwrap();
    let (code, out, err) = org.run(&["evidence", "add", "service-c", lcov.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = org.run(&["evidence", "list", "service-c"]);
    let line = out.lines().find(|l| l.contains("coverage")).unwrap();
    assert!(
        line.contains("✗") && line.contains("below the 80 % threshold"),
        "{out}"
    );
    let (_, out, _) = org.run(&["evidence", "list", "service-c", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["evidence"][0]["passed"], false);
    // And the gate agrees.
    let (_, out, _) = org.run(&[
        "promote",
        "service-c",
        "--to",
        "compliance_ready",
        "--dry-run",
        "--offline",
    ]);
    assert!(out.contains("50.0 % < threshold 80 %"), "{out}");
}
