//! Fuzz-style property tests for every reader of untrusted input: metrics pages, YAML
//! config (and the whole load pipeline), chain lines, evidence files, package tarballs
//! and allowed_signers. Arbitrary bytes and mutations of real files (bit flips, cuts,
//! splices, repeats) never panic, and each input is read within a generous bound per
//! byte (a quadratic or exponential path would blow through it).
//!
//! CI runs a modest number of cases; run longer with
//! `PROPTEST_CASES=20000 cargo test --release --test fuzz_readers`.

use proptest::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A read that would take longer than this for its size is a bug, not a slow machine:
/// 2 s plus 200 µs per byte (a debug build reads megabytes per second).
fn bound(len: usize) -> Duration {
    Duration::from_secs(2) + Duration::from_micros(200 * len as u64)
}

fn timed<T>(len: usize, what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took <= bound(len), "{what}: {len} bytes took {took:?}");
    out
}

/// A real file, mutated: bytes flipped, a piece cut out, a piece repeated, spliced.
fn mutated(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let n = seed.len().max(1);
    (
        prop::collection::vec((0..n, any::<u8>()), 0..8),
        0..n,
        0..n,
        0..4usize,
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(move |(flips, a, b, repeat, splice)| {
            let mut v = seed.to_vec();
            for (i, x) in flips {
                if i < v.len() {
                    v[i] ^= x;
                }
            }
            let (lo, hi) = (a.min(b), a.max(b));
            if hi <= v.len() {
                let piece = v[lo..hi].to_vec();
                match repeat {
                    0 => {
                        v.drain(lo..hi);
                    }
                    1 => {
                        for _ in 0..3 {
                            v.splice(lo..lo, piece.iter().copied());
                        }
                    }
                    2 => {
                        v.splice(lo..lo, splice.iter().copied());
                    }
                    _ => v.truncate(lo),
                }
            }
            v
        })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const METRICS: &[u8] = include_bytes!("fixtures/metrics/prometheus.prom");
const OPENMETRICS: &[u8] = include_bytes!("fixtures/metrics/python_client.openmetrics");
const SERVICE: &[u8] = include_bytes!("../config/services/service-b.yaml");
const ORG: &[u8] = include_bytes!("../config/org-config.yaml");
const JUNIT: &[u8] = include_bytes!("fixtures/evidence/nextest-fail.junit.xml");
const SARIF: &[u8] = include_bytes!("fixtures/evidence/bandit-findings.sarif");
const CDX: &[u8] = include_bytes!("fixtures/evidence/cyclonedx-py-service-b.cdx.json");
const LCOV: &[u8] = include_bytes!("fixtures/evidence/coveragepy.lcov");
const SIGNERS: &[u8] = b"# operators\nalice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0qpgyXKbK4jDr5vLnCjJOvUHL9bAC5rTjGRvWDXZ5\nbob,carol namespaces=\"gander\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnX1Ru4E6oP4dn1gNCSH7y1AJ5DkB3dLx2eK9gdE+u5\n";

fn chain_line() -> Vec<u8> {
    br#"{"seq":1,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","promotion_id":"PRM-20261123-000001","timestamp":"2026-11-23T10:00:00Z","service":"service-b","evidence":{"type":"request","data":{"requester":"alice","target_state":"compliant"},"signatures":[{"principal":"alice","sshsig":"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"}]},"hash":"ab"}"#.to_vec()
}

fn load_with_service(service: &str) {
    use gander::engine::load::{Source, Sources, load};
    let sources = Sources {
        org: Some(Source::new("org-config.yaml", text(ORG))),
        services: vec![Source::new("services/x.yaml", service.to_string())],
        rules: None,
        gates: None,
        dir: "config".into(),
    };
    let _ = load(&sources);
}

fn read_evidence(bytes: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let policy = gander::evidence::Policy {
        service: "service-b".into(),
        version: Some("1.3.2".into()),
        sast_fail_level: gander::engine::config::SastLevel::Error,
        baseline: Default::default(),
    };
    let _ = gander::evidence::read(&p, None, &policy);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    #[test]
    fn metrics_pages_never_panic(b in prop_oneof![mutated(METRICS), mutated(OPENMETRICS), prop::collection::vec(any::<u8>(), 0..512)]) {
        let t = text(&b);
        timed(b.len(), "metrics", || { let _ = gander::metrics::text::parse(&t, None); });
        timed(b.len(), "openmetrics", || {
            let _ = gander::metrics::text::parse(&t, Some(gander::metrics::text::Format::OpenMetrics));
        });
    }

    #[test]
    fn yaml_and_the_config_pipeline_never_panic(b in prop_oneof![mutated(SERVICE), prop::collection::vec(any::<u8>(), 0..512)]) {
        let t = text(&b);
        timed(b.len(), "yaml", || { let _ = gander::yaml::parse("x.yaml", &t); });
        timed(b.len() + ORG.len(), "load", || load_with_service(&t));
    }

    #[test]
    fn chain_lines_never_panic(b in prop_oneof![mutated(Box::leak(chain_line().into_boxed_slice())), prop::collection::vec(any::<u8>(), 0..512)]) {
        let t = text(&b);
        timed(b.len(), "chain line", || { let _ = gander::engine::chain::parse_line(&t); });
    }

    #[test]
    fn evidence_files_never_panic(
        (b, name) in prop_oneof![
            mutated(JUNIT).prop_map(|b| (b, "junit.xml")),
            mutated(SARIF).prop_map(|b| (b, "scan.sarif")),
            mutated(CDX).prop_map(|b| (b, "bom.cdx.json")),
            mutated(LCOV).prop_map(|b| (b, "coverage.lcov")),
            prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| (b, "unknown.bin")),
        ]
    ) {
        timed(b.len(), name, || read_evidence(&b, name));
    }

    #[test]
    fn allowed_signers_never_panic(b in prop_oneof![mutated(SIGNERS), prop::collection::vec(any::<u8>(), 0..512)]) {
        let t = text(&b);
        timed(b.len(), "allowed_signers", || { let _ = gander::engine::identity::AllowedSigners::parse(&t); });
    }
}

/// A small real package tarball: what the mutations start from.
fn tarball() -> Vec<u8> {
    let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let manifest = br#"{"schema":"gander.package/v1","id":"gg-1","version":"1","created_at":"","created_by":"alice","org":"o","services":[],"files":[{"path":"summary.md","sha256":"00","size":5}]}"#;
    for (name, data) in [
        ("gg-1/manifest.json", &manifest[..]),
        ("gg-1/SHA256SUMS", b"00  summary.md\n"),
        ("gg-1/summary.md", b"hello"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(32), ..ProptestConfig::default() })]

    #[test]
    fn tarballs_never_panic_nor_write_outside(b in prop_oneof![mutated(Box::leak(tarball().into_boxed_slice())), prop::collection::vec(any::<u8>(), 0..1024)]) {
        let work = tempfile::tempdir().unwrap();
        let tgz = work.path().join("p.tar.gz");
        std::fs::write(&tgz, &b).unwrap();
        let into = work.path().join("into");
        std::fs::create_dir_all(&into).unwrap();
        timed(b.len(), "tarball", || { let _ = gander::io::archive::extract_safely(&tgz, &into, None); });
        // Nothing beside `into` and the tarball itself.
        let names: Vec<String> = std::fs::read_dir(work.path()).unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        prop_assert!(names.iter().all(|n| n == "p.tar.gz" || n == "into"), "{names:?}");
        prop_assert!(!Path::new("/tmp/gander-fuzz-escape").exists());
    }
}
