use gander::engine::chain::{Evidence, GENESIS, Record, Signature};
use gander::engine::identity::{AllowedSigners, sign};
use gander::io::store::{Store, verify_cached};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let private = ssh_key::PrivateKey::read_openssh_file(&key).unwrap();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let key2 = dir.path().join("k2");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key2)
            .status()
            .unwrap()
            .success()
    );
    let private2 = ssh_key::PrivateKey::read_openssh_file(&key2).unwrap();
    let public2 = std::fs::read_to_string(key2.with_extension("pub")).unwrap();
    let signers = AllowedSigners::parse(&format!("alice {public}bob {public2}"));
    let mut prev = GENESIS.to_string();
    let mut text = String::new();
    for i in 0..n {
        let mut r = Record {
            seq: i as u64 + 1,
            prev_hash: prev.clone(),
            promotion_id: format!("PRM-20261122-{:06}", i / 5 + 1),
            timestamp: "2026-11-22T02:00:00Z".into(),
            service: format!("svc-{:04}", (i / 5) % 1000),
            evidence: Evidence {
                kind: [
                    "request",
                    "validation",
                    "approval",
                    "validation",
                    "transition",
                ][i % 5]
                    .into(),
                data: match i % 5 {
                    0 => {
                        serde_json::json!({"requester": "alice", "from_state": "compliance_ready", "target_state": "compliant"})
                    }
                    2 => serde_json::json!({"by": "bob", "reason": "ok"}),
                    4 => serde_json::json!({"from": "compliance_ready", "to": "compliant"}),
                    _ => serde_json::json!({"verdict": "ready"}),
                },
                signatures: vec![],
            },
            hash: String::new(),
        };
        let sig = sign(
            if i % 5 == 2 { &private2 } else { &private },
            r.signed_form().as_bytes(),
        )
        .unwrap();
        r.evidence.signatures.push(Signature {
            principal: if i % 5 == 2 {
                "bob".into()
            } else {
                "alice".into()
            },
            sshsig: sig,
            key: None,
        });
        r.hash = r.compute_hash();
        prev = r.hash.clone();
        text.push_str(&r.line());
        text.push('\n');
    }
    let heads = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("GANDER_HEADS_DIR", heads.path()) };
    let sd = tempfile::tempdir().unwrap();
    let store = Store::open(sd.path()).unwrap();
    std::fs::write(store.chain_path(), &text).unwrap();
    eprintln!("file {} MB", text.len() / 1_000_000);
    let sources =
        gander::io::config_dir::read_sources(std::path::Path::new("tests/fixtures/store-org"))
            .unwrap();
    let config = gander::engine::load::load(&sources).config.unwrap();
    let mut facts = gander::engine::facts::Facts::from_config(&config, chrono::Utc::now());
    let v = gander::ops::store::open_view(&config, &store, Some(&signers), &mut facts).unwrap();
    eprintln!("first view read {} chain {:?}", v.read, facts.chain);
    {
        let f = gander::io::heads::load_folded(&store).unwrap().folded;
        macro_rules! part {
            ($name:expr, $v:expr, $t:ty) => {{
                let bytes = rmp_serde::to_vec_named(&$v).unwrap();
                let t = Instant::now();
                let back: $t = rmp_serde::from_slice(&bytes).unwrap();
                std::hint::black_box(back);
                eprintln!(
                    "{}: {} KB, decode {:?}",
                    $name,
                    bytes.len() / 1000,
                    t.elapsed()
                );
            }};
        }
        part!(
            "promotions",
            f.ledger.promotions,
            Vec<gander::engine::ledger::Promotion>
        );
        part!("states", f.ledger.states, std::collections::BTreeMap<String, gander::engine::ledger::ServiceState>);
        part!("tally", f.tally, gander::engine::authority::Tally);
        part!("walks", f.walks, Vec<gander::engine::walk::Walk>);
    }
    for round in 0..3 {
        let t = Instant::now();
        let b = std::fs::read(store.chain_path()).unwrap();
        let t_read = t.elapsed();
        use sha2::Digest;
        let d = sha2::Sha256::digest(&b);
        std::hint::black_box(d);
        let t_sha = t.elapsed();
        let f = gander::io::heads::load_folded(&store).unwrap();
        let t_dec = t.elapsed();
        let fs = gander::io::store::files_state(&store);
        let t_files = t.elapsed();
        let v = gander::ops::store::open_view(&config, &store, Some(&signers), &mut facts).unwrap();
        let t_view = t.elapsed();
        eprintln!(
            "round {round}: read {:?} sha {:?} decode {:?} files {:?} view {:?} (read {}, {} promotions, {})",
            t_read,
            t_sha - t_read,
            t_dec - t_sha,
            t_files - t_dec,
            t_view - t_files,
            v.read,
            f.folded.ledger.promotions.len(),
            fs.len()
        );
    }
}
