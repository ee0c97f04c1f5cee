//! `gander verify` on 100,000 records: hashes and links alone, and with every SSHSIG
//! signature checked; and opening a chain as `status` and the console do (read the
//! file, parse, verify), with a remembered verified prefix and without, at 1,000 and
//! 100,000 records, and for a view (`status`, the console) from this user's remembered
//! fold and read whole. Run: `cargo bench --bench chain_verify` (criterion prints records
//! per second as elements/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gander::engine::chain::{Evidence, GENESIS, Record, Signature, check_links};
use gander::engine::facts::Facts;
use gander::engine::identity::{AllowedSigners, sign};
use gander::io::store::{ChainRead, Store, verify, verify_cached};
use gander::ops::store as store_ctx;
use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

fn key(dir: &std::path::Path, who: &str) -> (ssh_key::PrivateKey, String) {
    let key = dir.join(who);
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let private = ssh_key::PrivateKey::read_openssh_file(&key).unwrap();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (private, format!("{who} {public}"))
}

/// A chain of `n` records as promotions leave them: alice requests, validates and
/// completes; bob approves (four-eyes holds, so every record is justified).
fn chain(n: usize) -> (Vec<(usize, Record)>, AllowedSigners) {
    let dir = tempfile::tempdir().unwrap();
    let (alice, a) = key(dir.path(), "alice");
    let (bob, b) = key(dir.path(), "bob");
    let signers = AllowedSigners::parse(&format!("{a}{b}"));
    let mut out = Vec::with_capacity(n);
    let mut prev = GENESIS.to_string();
    for i in 0..n {
        let (kind, data, who) = match i % 5 {
            0 => (
                "request",
                serde_json::json!({"requester": "alice", "from_state": "compliance_ready", "target_state": "compliant", "reason": "routine"}),
                "alice",
            ),
            1 | 3 => (
                "validation",
                serde_json::json!({"verdict": "ready", "blockers": []}),
                "alice",
            ),
            2 => (
                "approval",
                serde_json::json!({"by": "bob", "reason": "looked"}),
                "bob",
            ),
            _ => (
                "transition",
                serde_json::json!({"from": "compliance_ready", "to": "compliant"}),
                "alice",
            ),
        };
        let mut r = Record {
            seq: i as u64 + 1,
            prev_hash: prev.clone(),
            promotion_id: format!("PRM-20261122-{:06}", i / 5 + 1),
            timestamp: "2026-11-22T02:00:00Z".into(),
            // 200 services whatever the length, so the figures differ by records alone.
            service: format!("svc-{:04}", (i / 5) % 200),
            evidence: Evidence {
                kind: kind.into(),
                data,
                signatures: vec![],
            },
            hash: String::new(),
        };
        let private = if who == "bob" { &bob } else { &alice };
        let sig = sign(private, r.signed_form().as_bytes()).unwrap();
        r.evidence.signatures.push(Signature {
            principal: who.into(),
            sshsig: sig,
            key: None,
        });
        r.hash = r.compute_hash();
        prev = r.hash.clone();
        out.push((i + 1, r));
    }
    (out, signers)
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 100_000 } else { 1_000 };
    let (records, signers) = chain(n);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let read = ChainRead {
        records,
        ..ChainRead::default()
    };
    let mut g = c.benchmark_group(format!("verify {n} records"));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("hashes and links", |b| {
        b.iter(|| black_box(check_links(black_box(&read.records)).len()))
    });
    g.bench_function("hashes, links and ed25519 signatures", |b| {
        b.iter(|| {
            let r = verify(&store, black_box(&read), Some(&signers));
            assert!(r.ok());
            black_box(r.records)
        })
    });
    g.finish();

    // Opening a chain file: read, parse, verify. Cached: a previous read verified it
    // all, so only links and hashes are checked again; full: every signature too.
    let heads = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this process reads the environment.
    unsafe { std::env::set_var("GANDER_HEADS_DIR", heads.path()) };
    let sizes: &[usize] = if full { &[1_000, 100_000] } else { &[1_000] };
    for &n in sizes {
        let (records, signers) = chain(n);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::create_dir_all(store.chain_path().parent().unwrap()).unwrap();
        let text: String = records.iter().map(|(_, r)| r.line() + "\n").collect();
        std::fs::write(store.chain_path(), text).unwrap();
        let sources =
            gander::io::config_dir::read_sources(std::path::Path::new("tests/fixtures/store-org"))
                .unwrap();
        let config = gander::engine::load::load(&sources).config.unwrap();
        let view = || {
            let mut facts = Facts::from_config(&config, chrono::Utc::now());
            let v = store_ctx::open_view(&config, &store, Some(&signers), &mut facts).unwrap();
            assert!(format!("{:?}", facts.chain).contains("problem: None"));
            v.read
        };
        let open = |cached: bool| {
            let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
            let read = store.read(&lock).unwrap();
            let r = if cached {
                verify_cached(&store, &read, Some(&signers))
            } else {
                verify(&store, &read, Some(&signers))
            };
            assert!(r.ok());
            r.cached
        };
        // Warm the remembered prefix.
        open(true);
        let mut g = c.benchmark_group(format!("open a {n}-record chain"));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_function("with the verified prefix remembered", |b| {
            b.iter(|| assert_eq!(black_box(open(true)), n))
        });
        g.bench_function("full verification", |b| b.iter(|| black_box(open(false))));
        // As `status` and the console open it: verified and folded (ledger, walks,
        // packages, authority). With this user's fold remembered, the file is hashed and
        // only the records after the folded bytes are parsed (`status` then needs only
        // the fold's facts, the console its whole history); without it, everything is
        // parsed and folded (signatures cached).
        view();
        g.bench_function("status, chain unchanged since the fold", |b| {
            b.iter(|| {
                let mut facts = Facts::from_config(&config, chrono::Utc::now());
                store_ctx::open_facts(&config, &store, Some(&signers), &mut facts).unwrap();
                black_box(facts.chain)
            })
        });
        g.bench_function("console view, chain unchanged since the fold", |b| {
            b.iter(|| assert_eq!(black_box(view()), 0))
        });
        g.bench_function("view, read whole", |b| {
            b.iter(|| {
                gander::io::heads::forget_fold(&store);
                assert_eq!(black_box(view()), n)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
