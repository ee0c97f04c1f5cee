//! Evidence readers' throughput: JUnit (streaming XML) and SARIF (JSON) in MB/s.
//! Run: `cargo bench --bench evidence_parse`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gander::engine::config::{Baseline, SastLevel};
use gander::evidence::{Policy, read};
use std::hint::black_box;
use std::io::Write;

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let cases = if full { 100_000 } else { 1_000 };
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("big.junit.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&junit).unwrap());
    writeln!(
        f,
        "<?xml version=\"1.0\"?><testsuites><testsuite name=\"s\">"
    )
    .unwrap();
    for i in 0..cases {
        if i % 1000 == 1 {
            writeln!(f, "<testcase classname=\"crate::mod\" name=\"t{i}\" time=\"0.01\"><failure message=\"x\">assert failed</failure></testcase>").unwrap();
        } else {
            writeln!(f, "<testcase classname=\"crate::mod\" name=\"t{i}\" time=\"0.01\"><system-out>ok</system-out></testcase>").unwrap();
        }
    }
    writeln!(f, "</testsuite></testsuites>").unwrap();
    drop(f);
    let sarif = dir.path().join("big.sarif");
    let results: Vec<serde_json::Value> = (0..cases / 4)
        .map(|i| serde_json::json!({
            "ruleId": format!("R{}", i % 50), "level": if i % 100 == 0 { "error" } else { "warning" },
            "message": {"text": "something suspicious happens in this function"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("src/file{}.rs", i % 300)}, "region": {"startLine": i % 900 + 1}}}]
        }))
        .collect();
    let doc = serde_json::json!({"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "bench", "rules": []}}, "results": results}]});
    std::fs::write(&sarif, serde_json::to_vec(&doc).unwrap()).unwrap();
    let policy = Policy {
        service: "s".into(),
        version: None,
        sast_fail_level: SastLevel::Error,
        baseline: Baseline::default(),
    };
    for (name, path) in [("junit", &junit), ("sarif", &sarif)] {
        let mut g = c.benchmark_group(format!("read {name}"));
        g.throughput(Throughput::Bytes(std::fs::metadata(path).unwrap().len()));
        g.sample_size(10);
        g.bench_function("gander", |b| {
            b.iter(|| black_box(read(path, None, &policy).unwrap().figure))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
