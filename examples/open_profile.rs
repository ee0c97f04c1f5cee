use gander::engine::chain::{Evidence, GENESIS, Record, Signature};
use gander::engine::identity::{AllowedSigners, sign};
use gander::io::store::{Store, verify_cached};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
    let private = ssh_key::PrivateKey::read_openssh_file(&key).unwrap();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let signers = AllowedSigners::parse(&format!("alice {public}"));
    let mut prev = GENESIS.to_string();
    let mut text = String::new();
    for i in 0..n {
        let mut r = Record { seq: i as u64 + 1, prev_hash: prev.clone(), promotion_id: format!("PRM-20261122-{:06}", i / 5 + 1), timestamp: "2026-11-22T02:00:00Z".into(), service: format!("svc-{:04}", i % 1000),
            evidence: Evidence { kind: ["request","validation","approval","validation","transition"][i % 5].into(), data: serde_json::json!({"by": "alice", "reason": "routine", "to": "compliant", "from": "compliance_ready"}), signatures: vec![] }, hash: String::new() };
        let sig = sign(&private, r.signed_form().as_bytes()).unwrap();
        r.evidence.signatures.push(Signature { principal: "alice".into(), sshsig: sig, key: None });
        r.hash = r.compute_hash();
        prev = r.hash.clone();
        text.push_str(&r.line()); text.push('\n');
    }
    let heads = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("GANDER_HEADS_DIR", heads.path()) };
    let sd = tempfile::tempdir().unwrap();
    let store = Store::open(sd.path()).unwrap();
    std::fs::write(store.chain_path(), &text).unwrap();
    eprintln!("file {} MB", text.len() / 1_000_000);
    for round in 0..3 {
        let t = Instant::now();
        let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
        let b = std::fs::read(store.chain_path()).unwrap();
        let t_read = t.elapsed();
        use sha2::Digest; let d = sha2::Sha256::digest(&b); std::hint::black_box(d);
        let t_sha = t.elapsed();
        let read = store.read(&lock).unwrap();
        let t_parse = t.elapsed();
        let r = verify_cached(&store, &read, Some(&signers));
        let t_ver = t.elapsed();
        let recs: Vec<Record> = read.records.iter().map(|(_, r)| r.clone()).collect();
        let t_clone = t.elapsed();
        let l = gander::engine::ledger::Ledger::fold(&recs, &|_, _| true);
        let t_fold = t.elapsed();
        let w = gander::engine::walk::fold(&recs); let p = gander::engine::package::fold(&recs);
        std::hint::black_box((&l, &w, &p));
        let t_all = t.elapsed();
        eprintln!("round {round}: read {:?} sha {:?} store.read {:?} verify {:?} (cached {}) clone {:?} ledger {:?} walks+pkgs {:?}", t_read, t_sha - t_read, t_parse - t_sha, t_ver - t_parse, r.cached, t_clone - t_ver, t_fold - t_clone, t_all - t_fold);
    }
}
