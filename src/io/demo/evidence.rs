//! Evidence for the demo's named services, in the formats real tools write (JUnit XML,
//! SARIF 2.1.0, LCOV, CycloneDX 1.5), read by the same readers as `gander evidence add`
//! and recorded in the chain by the demo operator alice (the demo command records them
//! through `ops::evidence`). Three are made to fail, so the gates have something to say:
//! notifications has a failing test, reporting an error-level SAST finding, service-c 72 % line coverage.

use std::fmt::Write as _;
use std::path::Path;
use std::path::PathBuf;

fn junit(service: &str, failing: bool) -> String {
    let n = 24;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{service}\" tests=\"{n}\" failures=\"{}\">\n<testsuite name=\"{service}\" tests=\"{n}\" failures=\"{}\">\n",
        u8::from(failing),
        u8::from(failing)
    );
    for i in 0..n {
        if failing && i == 7 {
            let _ = writeln!(
                s,
                "<testcase classname=\"{service}::api\" name=\"retries_on_timeout\" time=\"0.41\"><failure message=\"assertion failed: retries == 3\">left: 2, right: 3</failure></testcase>"
            );
        } else {
            let _ = writeln!(
                s,
                "<testcase classname=\"{service}::api\" name=\"case_{i}\" time=\"0.01\"/>"
            );
        }
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}

fn sarif(finding: bool) -> String {
    let results = if finding {
        r#"[{"ruleId":"rust/unsafe-code","level":"error","message":{"text":"unsafe block without a SAFETY comment"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/cache.rs"},"region":{"startLine":14}}}]},
            {"ruleId":"rust/unwrap","level":"warning","message":{"text":"unwrap on a Result"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/main.rs"},"region":{"startLine":88}}}]}]"#
    } else {
        "[]"
    };
    format!(
        r#"{{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[{{"tool":{{"driver":{{"name":"demo-scanner","version":"1.0.0","rules":[{{"id":"rust/unsafe-code","defaultConfiguration":{{"level":"error"}}}},{{"id":"rust/unwrap","defaultConfiguration":{{"level":"warning"}}}}]}}}},"results":{results}}}]}}"#
    )
}

fn lcov(hit: u32) -> String {
    format!(
        "TN:\nSF:src/lib.rs\nDA:1,1\nLF:60\nLH:{}\nend_of_record\nSF:src/api.rs\nLF:40\nLH:{}\nend_of_record\n",
        hit * 60 / 100,
        hit * 40 / 100
    )
}

fn cyclonedx(service: &str, version: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"metadata":{{"component":{{"type":"application","name":"{service}","version":"{version}"}}}},"components":[{{"type":"library","name":"serde","version":"1.0.219"}},{{"type":"library","name":"tokio","version":"1.47.1"}},{{"type":"library","name":"reqwest","version":"0.12.28"}}]}}"#
    )
}

/// Write each named service's CI artifacts under `STATE/ci-artifacts/{service}/`;
/// returns the files per service, for the demo to record as evidence.
pub fn write_artifacts(
    state_dir: &Path,
    config: &crate::engine::config::Config,
    services: &[&str],
) -> std::io::Result<Vec<(String, Vec<PathBuf>)>> {
    let src = state_dir.join("ci-artifacts");
    let mut out = Vec::new();
    for name in services {
        let Some(svc) = config.service(name) else {
            continue;
        };
        let dir = src.join(name);
        std::fs::create_dir_all(&dir)?;
        let version = svc
            .def
            .spec
            .version
            .clone()
            .unwrap_or_else(|| "0.0.0".into());
        let files = [
            ("junit.xml", junit(name, *name == "notifications")),
            ("scan.sarif", sarif(*name == "reporting")),
            (
                "coverage.lcov",
                lcov(if *name == "service-c" { 72 } else { 86 }),
            ),
            ("bom.cdx.json", cyclonedx(name, &version)),
        ];
        let mut paths = Vec::new();
        for (file, text) in files {
            let p = dir.join(file);
            std::fs::write(&p, text)?;
            paths.push(p);
        }
        out.push((name.to_string(), paths));
    }
    Ok(out)
}
