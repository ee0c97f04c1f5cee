//! Every reader on files written by the real tools (scripts/capture-evidence-fixtures.sh),
//! passing and failing, and on malformed and hostile input.

use gander::engine::config::{Baseline, EvidenceKind, SastLevel};
use gander::evidence::{Policy, read};
use std::path::Path;

fn policy() -> Policy {
    Policy {
        service: "service-b".into(),
        version: Some("1.3.2".into()),
        sast_fail_level: SastLevel::Error,
        baseline: Baseline {
            p95_latency_ms: 500.0,
            error_rate: 0.01,
        },
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new("tests/fixtures/evidence").join(name)
}

#[test]
fn junit_from_pytest_and_nextest() {
    let r = read(&fixture("pytest-pass.junit.xml"), None, &policy()).unwrap();
    assert_eq!(
        (r.kind, r.format, r.passed),
        (EvidenceKind::Tests, "junit", true)
    );
    assert_eq!(
        r.summary,
        "3 passed, 0 failed, 0 errors, 0 skipped of 3 tests"
    );
    let r = read(&fixture("pytest-fail.junit.xml"), None, &policy()).unwrap();
    assert!(!r.passed);
    assert_eq!(
        r.summary,
        "3 passed, 2 failed, 0 errors, 0 skipped of 5 tests: tests.test_app::test_add_negative, tests.test_app.TestRatio::test_ratio_of_three"
    );
    let r = read(&fixture("nextest-pass.junit.xml"), None, &policy()).unwrap();
    assert!(r.passed, "{}", r.summary);
    let r = read(&fixture("nextest-fail.junit.xml"), None, &policy()).unwrap();
    assert!(!r.passed);
    assert!(r.summary.contains("1 failed, 0 errors"), "{}", r.summary);
    assert!(
        r.details[0].ends_with("tests::doubles_negative"),
        "{:?}",
        r.details
    );
}

#[test]
fn coverage_from_coverage_py_as_cobertura_and_lcov_agree() {
    let c = read(&fixture("coveragepy.cobertura.xml"), None, &policy()).unwrap();
    let l = read(&fixture("coveragepy.lcov"), None, &policy()).unwrap();
    assert_eq!(
        (c.kind, l.kind),
        (EvidenceKind::Coverage, EvidenceKind::Coverage)
    );
    let (cp, lp) = (c.figure.unwrap(), l.figure.unwrap());
    assert!(cp > 50.0 && cp < 100.0, "{cp}");
    assert!((cp - lp).abs() < 0.01, "cobertura {cp} vs lcov {lp}");
}

#[test]
fn sarif_from_bandit_findings_and_clean() {
    let r = read(&fixture("bandit-findings.sarif"), None, &policy()).unwrap();
    assert_eq!(r.kind, EvidenceKind::Sast);
    // bandit reports subprocess with shell=True as an error-level finding (B602).
    assert!(!r.passed, "{}", r.summary);
    assert!(
        r.summary.contains("B602") && r.summary.contains("app/__init__.py:"),
        "{}",
        r.summary
    );
    let clean = read(&fixture("bandit-clean.sarif"), None, &policy()).unwrap();
    assert!(clean.passed, "{}", clean.summary);
    assert!(
        clean.summary.starts_with("clean at level error"),
        "{}",
        clean.summary
    );
    // At a stricter level the low findings count too.
    let mut strict = policy();
    strict.sast_fail_level = SastLevel::Note;
    let r = read(&fixture("bandit-findings.sarif"), None, &strict).unwrap();
    assert!(r.figure.unwrap() >= 2.0, "{}", r.summary);
}

#[test]
fn sboms_from_cyclonedx_py_and_spdx() {
    let r = read(&fixture("cyclonedx-py-service-b.cdx.json"), None, &policy()).unwrap();
    assert_eq!((r.kind, r.format), (EvidenceKind::Sbom, "cyclonedx"));
    assert!(r.passed, "{}", r.summary);
    let r = read(&fixture("cyclonedx-py-unpinned.cdx.json"), None, &policy()).unwrap();
    assert!(!r.passed);
    assert!(
        r.summary.contains("have no version (urllib3)"),
        "{}",
        r.summary
    );
    let mut other = policy();
    other.service = "service-c".into();
    let r = read(&fixture("cyclonedx-py-service-b.cdx.json"), None, &other).unwrap();
    assert!(
        r.summary
            .contains("describes something other than the service `service-c`"),
        "{}",
        r.summary
    );
    let r = read(
        &fixture("spdx-2.3-service-b.from-schema.json"),
        None,
        &policy(),
    )
    .unwrap();
    assert_eq!(r.format, "spdx");
    assert!(!r.passed);
    assert_eq!(r.summary, "1 of 3 components have no version (openssl-sys)");
}

#[test]
fn k6_summaries_in_both_shapes() {
    let r = read(
        &fixture("k6-summary-export-pass.from-schema.json"),
        None,
        &policy(),
    )
    .unwrap();
    assert_eq!((r.kind, r.passed), (EvidenceKind::Metrics, true));
    assert_eq!(
        r.summary,
        "p95 343 ms, error rate 0.13 %, all thresholds met"
    );
    let r = read(
        &fixture("k6-handle-summary-fail.from-schema.json"),
        None,
        &policy(),
    )
    .unwrap();
    assert!(!r.passed);
    assert_eq!(
        r.summary,
        "p95 712 ms > baseline 500 ms; error rate 2.30 % > baseline 1.00 %; thresholds failed: http_req_duration p(95)<500, http_req_failed rate<0.01"
    );
}

#[test]
fn a_kind_that_disagrees_with_the_content_is_refused() {
    let e = read(
        &fixture("pytest-pass.junit.xml"),
        Some(EvidenceKind::Sast),
        &policy(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("--kind sast was given, but the file is junit (tests evidence)"),
        "{e}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn malformed_and_hostile_input_is_refused_with_file_and_position() {
    let d = tempfile::tempdir().unwrap();
    let junit = std::fs::read(fixture("pytest-fail.junit.xml")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.xml", junit[..junit.len() / 2].to_vec(), "truncated"),
        ("wrong-root.xml", b"<?xml version=\"1.0\"?><html><body/></html>".to_vec(), "XML with root <html>"),
        ("no-runs.sarif", br#"{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[]}"#.to_vec(), "SARIF with no runs"),
        ("truncated.json", br#"{"bomFormat":"CycloneDX","specVersion":"1.5","compo"#.to_vec(), "the JSON ends early"),
        ("bomb.xml", b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><testsuites><testcase name=\"&lol2;\"/></testsuites>".to_vec(), "a DOCTYPE is not allowed"),
        ("latin1.json", b"{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"caf\xe9\"}".to_vec(), "not UTF-8"),
        ("empty.xml", b"   \n".to_vec(), "the file is empty"),
        ("random.txt", b"hello world\n".to_vec(), "not a format gander reads"),
        ("lcov-cut", b"TN:\nSF:a.py\nDA:1,1\n".to_vec(), "no end_of_record"),
    ];
    for (name, bytes, needle) in cases {
        let p = write(d.path(), name, &bytes);
        let e = read(&p, None, &policy()).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with(&p.display().to_string()), "{name}: {s}");
        assert!(s.contains(needle), "{name}: {s}");
    }
}

/// JUnit counts testcases, not result elements: two `<failure>`s are one failed test, a
/// `<failure>` and an `<error>` one errored test, two `<skipped/>` one skipped test (the
/// count that used to wrap below zero), a Surefire rerun that passed is flaky. The
/// expected figures are counted by hand from the file.
#[test]
fn junit_counts_each_testcase_once() {
    let dir = tempfile::tempdir().unwrap();
    let xml = r#"<?xml version="1.0"?>
<testsuites>
  <testsuite name="s" tests="6">
    <testcase classname="c" name="two_failures"><failure message="a"/><failure message="b"/></testcase>
    <testcase classname="c" name="failure_and_error"><failure/><error/></testcase>
    <testcase classname="c" name="skipped_twice"><skipped/><skipped/></testcase>
    <testcase classname="c" name="flaky"><flakyFailure message="once"/></testcase>
    <testcase classname="c" name="fine"/>
    <testcase classname="c" name="also_fine"></testcase>
  </testsuite>
</testsuites>"#;
    let r = read(&write(dir.path(), "t.xml", xml.as_bytes()), None, &policy()).unwrap();
    assert_eq!(
        r.counts,
        vec![
            ("tests", 6),
            ("passed", 3),
            ("failed", 1),
            ("errors", 1),
            ("skipped", 1),
            ("flaky", 1)
        ]
    );
    assert!(!r.passed);
    assert!(
        r.summary.starts_with(
            "3 passed, 1 failed, 1 errors, 1 skipped, 1 flaky (passed on a rerun) of 6 tests"
        ),
        "{}",
        r.summary
    );
    // One testcase, skipped twice: 0 passed, never 18446744073709551615.
    let one =
        r#"<testsuite name="s"><testcase name="x"><skipped/><skipped/></testcase></testsuite>"#;
    let r = read(
        &write(dir.path(), "one.xml", one.as_bytes()),
        None,
        &policy(),
    )
    .unwrap();
    // ... and a run where nothing ran is not a passing run.
    assert_eq!(
        r.summary, "no test ran: 0 passed, 0 failed, 0 errors, 1 skipped of 1 tests",
        "{}",
        r.summary
    );
    assert!(!r.passed);
}

/// SARIF as §3.27.10 decides levels, with the subtle cases from other scanners' files:
/// a byte-order mark, older versions, results absent from this run, `kind` other than
/// `fail`, and a rule found by its index in an extension where ids repeat.
#[test]
fn sarif_levels_follow_the_specification() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |results: &str| {
        format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"d","rules":[{{"id":"R1","defaultConfiguration":{{"level":"note"}}}}]}},"extensions":[{{"name":"x","rules":[{{"id":"R1","defaultConfiguration":{{"level":"error"}}}}]}}]}},"results":[{results}]}}]}}"#
        )
    };
    let r =
        |name: &str, text: &str| read(&write(dir.path(), name, text.as_bytes()), None, &policy());
    // With a BOM: read.
    let bom = format!(
        "\u{feff}{}",
        doc(r#"{"ruleId":"R1","message":{"text":"m"}}"#)
    );
    let got = r("bom.sarif", &bom).unwrap();
    assert!(got.passed, "{}", got.summary); // the driver's R1 is a note
    // The same id, but the rule by index in the extension: an error.
    let ext = doc(
        r#"{"ruleId":"R1","rule":{"index":0,"toolComponent":{"index":0}},"message":{"text":"m"}}"#,
    );
    let got = r("ext.sarif", &ext).unwrap();
    assert!(
        !got.passed,
        "the extension's R1 is an error: {}",
        got.summary
    );
    // Absent from this run, and `kind: pass` without a level: not findings.
    let quiet = doc(
        r#"{"ruleId":"R1","rule":{"index":0,"toolComponent":{"index":0}},"baselineState":"absent","message":{"text":"m"}},{"ruleId":"X","kind":"pass","message":{"text":"m"}}"#,
    );
    let got = r("quiet.sarif", &quiet).unwrap();
    assert!(got.passed, "{}", got.summary);
    // SARIF 2.0.0 is refused with its version named.
    let old = doc("").replace("\"2.1.0\"", "\"2.0.0\"");
    let e = r("old.sarif", &old).unwrap_err();
    assert!(e.to_string().contains("SARIF version 2.0.0"), "{e}");
}

/// Suppressions as the SARIF SDK decides them (`Result.TryIsSuppressed`): a result is
/// suppressed when it has at least one suppression and none under review or rejected.
#[test]
fn sarif_suppressions_follow_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (r#"[{"kind":"inSource"}]"#, true),
        (r#"[{"kind":"external","status":"accepted"}]"#, true),
        (r#"[]"#, false),
        (r#"[{"kind":"external","status":"underReview"}]"#, false),
        (
            r#"[{"kind":"inSource","status":"accepted"},{"kind":"external","status":"rejected"}]"#,
            false,
        ),
    ];
    for (suppressions, suppressed) in cases {
        let text = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"d"}}}},"results":[{{"ruleId":"R1","level":"error","message":{{"text":"m"}},"suppressions":{suppressions}}}]}}]}}"#
        );
        let got = read(
            &write(dir.path(), "s.sarif", text.as_bytes()),
            None,
            &policy(),
        )
        .unwrap();
        assert_eq!(got.passed, suppressed, "{suppressions}: {}", got.summary);
        assert_eq!(
            got.summary.contains("1 suppressed"),
            suppressed,
            "{suppressions}: {}",
            got.summary
        );
    }
}

/// Nested CycloneDX components are counted and held to the "every component
/// versioned" rule like the top-level ones.
#[test]
fn nested_cyclonedx_components_count() {
    let dir = tempfile::tempdir().unwrap();
    let bom = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
      "metadata":{"component":{"type":"application","name":"service-b","version":"1.3.2"}},
      "components":[{"type":"library","name":"outer","version":"1.0","components":[{"type":"library","name":"inner"}]}]}"#;
    let r = read(
        &write(dir.path(), "bom.cdx.json", bom.as_bytes()),
        None,
        &policy(),
    )
    .unwrap();
    assert!(!r.passed, "{}", r.summary);
    assert!(
        r.summary
            .contains("1 of 2 components have no version (inner)"),
        "{}",
        r.summary
    );
}

/// The holes a hostile review found: each input below was once recorded as passing.
#[test]
fn inputs_that_once_passed_and_must_not() {
    let dir = tempfile::tempdir().unwrap();
    let r =
        |name: &str, text: &str| read(&write(dir.path(), name, text.as_bytes()), None, &policy());
    let refused = |name: &str, text: &str, want: &str| {
        let e = r(name, text).unwrap_err().to_string();
        assert!(e.contains(want), "{name}: {e}");
    };
    let failed = |name: &str, text: &str, want: &str| {
        let got = r(name, text).unwrap();
        assert!(!got.passed, "{name}: {}", got.summary);
        assert!(got.summary.contains(want), "{name}: {}", got.summary);
    };
    // LCOV: a wrapped sum, more lines hit than exist, and records of both kinds.
    refused(
        "overflow.info",
        "SF:a\nLF:18446744073709551615\nLH:0\nend_of_record\nSF:b\nLF:2\nLH:2\nend_of_record\n",
        "overflow",
    );
    refused(
        "lh.info",
        "SF:a\nLF:2\nLH:10\nend_of_record\n",
        "more hit than exist",
    );
    let mixed = format!(
        "SF:a\nLF:10\nLH:10\nend_of_record\nSF:b\n{}end_of_record\n",
        (1..=11).map(|i| format!("DA:{i},0\n")).collect::<String>()
    );
    let got = r("mixed.info", &mixed).unwrap();
    assert!(got.summary.contains("(10 of 21 lines"), "{}", got.summary);
    // Cobertura: impossible rates, and a file cut after its root tag.
    refused(
        "rate.xml",
        r#"<coverage line-rate="5"></coverage>"#,
        "impossible",
    );
    refused(
        "inf.xml",
        r#"<coverage line-rate="inf"></coverage>"#,
        "impossible",
    );
    refused(
        "more.xml",
        r#"<coverage lines-covered="20" lines-valid="10" line-rate="1"></coverage>"#,
        "impossible",
    );
    refused(
        "cut.xml",
        r#"<coverage line-rate="0.95"><packages>"#,
        "truncated",
    );
    // JUnit: nothing ran; a suite-level error; a testcase inside a testcase.
    failed(
        "skipped.xml",
        r#"<testsuite><testcase name="a"><skipped/></testcase><testcase name="b"><skipped/></testcase></testsuite>"#,
        "no test ran",
    );
    failed(
        "suite.xml",
        r#"<testsuite><error message="collection failed"/><testcase name="a"/></testsuite>"#,
        "outside any testcase",
    );
    refused(
        "nested.xml",
        r#"<testsuite><testcase name="a"><testcase name="b"/><failure/></testcase></testsuite>"#,
        "inside a <testcase>",
    );
    // SARIF: values the schema does not allow; a scan that did not complete.
    let sarif = |results: &str, extra: &str| {
        format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"d"}}}}{extra}{results}}}]}}"#
        )
    };
    let one = |field: &str| {
        sarif(
            &format!(r#","results":[{{"ruleId":"R","message":{{"text":"m"}},{field}}}]"#),
            "",
        )
    };
    refused(
        "upper.sarif",
        &one(r#""level":"ERROR""#),
        "SARIF 2.1.0 allows",
    );
    refused("kind.sarif", &one(r#""kind":"FAIL""#), "SARIF 2.1.0 allows");
    refused(
        "status.sarif",
        &one(r#""level":"error","suppressions":[{"kind":"external","status":"Rejected"}]"#),
        "SARIF 2.1.0 allows",
    );
    failed(
        "noresults.sarif",
        &sarif("", ""),
        "the scan did not complete",
    );
    failed(
        "crashed.sarif",
        &sarif(
            r#","results":[]"#,
            r#","invocations":[{"executionSuccessful":false}]"#,
        ),
        "executionSuccessful: false",
    );
    // An SBOM of another service that lists this one as a library.
    failed(
        "other.cdx.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"type":"application","name":"service-a","version":"2.0.0"}},"components":[{"type":"library","name":"service-b","version":"1.3.2"}]}"#,
        "describes something other than the service `service-b`",
    );
    // k6 without an error rate: unknown, so refused rather than read as 0 %.
    refused(
        "k6.json",
        r#"{"metrics":{"http_req_duration":{"p(95)":100}}}"#,
        "no error rate",
    );
}
