//! The team store against the file store in the same run: append latency (p50, p99) of
//! `evidence add` through the one writer, and verify throughput (the PostgreSQL figure
//! includes pulling the whole chain into a fresh bastion copy). Starts its own
//! PostgreSQL (Debian's server, as the tests do).
//!
//! Run: `cargo bench --bench team_store` (200 appends each; `GANDER_BENCH_N` to change).
//! Under `cargo test` it runs 3 appends each, as a smoke test.

#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

use gander::ops::{Ctx, Said, evidence};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("GANDER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 200 } else { 3 });
    let db = pg::Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("alice");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(dir.path().join("pw"), pg::PASSWORD).unwrap();
    let mut configs = Vec::new();
    for label in ["file", "postgres"] {
        let cfg = dir.path().join(format!("config-{label}"));
        copy_dir(Path::new("tests/fixtures/store-org"), &cfg);
        std::fs::write(cfg.join("allowed_signers"), format!("alice {public}")).unwrap();
        if label == "postgres" {
            let p = cfg.join("org-config.yaml");
            let mut s = std::fs::read_to_string(&p).unwrap();
            s.push_str(&format!(
                "store:\n  postgres: \"host=127.0.0.1 port={} dbname=gander user=gander\"\n  password: file:{}\n",
                db.port,
                dir.path().join("pw").display()
            ));
            std::fs::write(p, s).unwrap();
        }
        let config = gander::io::config_dir::load_dir(&cfg)
            .unwrap()
            .config
            .expect("the fixture loads");
        configs.push((label, cfg, Arc::new(config)));
    }
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    println!("team_store: {n} appends each (evidence add, one JUnit file), then verify");
    for (label, cfg, config) in &configs {
        let state = dir.path().join(format!("state-{label}"));
        let ctx = Ctx::new(config.clone(), cfg, Some(&state)).with_key(Some(&key));
        let mut lat = Vec::with_capacity(n);
        for i in 0..n {
            let f = files.join(format!("{label}-{i}.xml"));
            std::fs::write(
                &f,
                format!(
                    "<testsuite tests=\"1\"><testcase classname=\"c\" name=\"t{i}\"/></testsuite>\n"
                ),
            )
            .unwrap();
            let t = Instant::now();
            let mut said = Said::default();
            evidence::add(&ctx, "service-a", &[f], None, &mut said).expect("recorded");
            lat.push(t.elapsed());
        }
        let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
        // Verify: the file store as it is; PostgreSQL from a bastion that has never
        // seen the chain (pull everything, artifacts too, then verify).
        let fresh = dir.path().join(format!("fresh-{label}"));
        let t = Instant::now();
        let opened = gander::ops::store::open_read(
            config,
            cfg,
            Some(if *label == "file" { &state } else { &fresh }),
        )
        .unwrap();
        assert!(opened.stale.is_none(), "{:?}", opened.stale);
        let st = opened.store;
        let read = st
            .lock_shared(Duration::from_secs(5))
            .and_then(|l| st.read(&l))
            .unwrap();
        let (_, signers) = gander::ops::store::load_signers(cfg, config);
        let report = gander::io::store::verify(&st, &read, signers.as_ref().ok());
        let took = t.elapsed();
        assert!(report.ok(), "{:?}", report.problems.first());
        println!(
            "  {label:8}  append p50 {:>7.2} ms  p99 {:>7.2} ms   verify {} records in {:>7.2} ms ({:.0} records/s)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            report.records,
            took.as_secs_f64() * 1e3,
            report.records as f64 / took.as_secs_f64()
        );
    }
}
