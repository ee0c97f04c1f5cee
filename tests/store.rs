//! The promotion store through the real binary: four-eyes approvals signed with real
//! OpenSSH keys, interop with `ssh-keygen -Y` and `jq | sha256sum`, bad input that
//! writes nothing, tampering named by `gander verify`, concurrent writers, and crashes.

mod common;
use common::org::Org;

use gander::engine::authority::Vote;
use gander::engine::chain::{Record, parse_line};
use gander::engine::identity::AllowedSigners;

use std::process::{Command, Stdio};
use std::time::Duration;

fn kinds(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.evidence.kind.as_str()).collect()
}

#[test]
fn one_identity_requests_another_approves_and_the_state_changes() {
    let org = Org::new();
    let id = org.request();
    assert!(id.starts_with("PRM-") && id.ends_with("-000001"), "{id}");
    assert_eq!(kinds(&org.records()), ["request", "validation"]);
    // Four-eyes: alice cannot approve her own request, and nothing is written.
    let before = org.chain_bytes();
    let (code, _, err) = org.run("alice", &["approve", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("four-eyes: alice requested"), "{err}");
    assert_eq!(org.chain_bytes(), before);
    // Bob approves: one approval is enough here, so the transition is recorded.
    let (code, out, err) = org.run("bob", &["approve", &id, "--reason", "evidence reviewed"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("service-b is now `compliant` (compliance_ready -> compliant)"),
        "{out}"
    );
    let recs = org.records();
    assert_eq!(
        kinds(&recs),
        [
            "request",
            "validation",
            "approval",
            "validation",
            "transition"
        ]
    );
    assert_eq!(recs[0].evidence.data["requester"], "alice");
    assert_eq!(recs[0].evidence.data["target_state"], "compliant");
    assert_eq!(
        recs[0].evidence.data["dependencies"]["required"],
        serde_json::json!(["service-a"])
    );
    assert_eq!(recs[2].evidence.signatures[0].principal, "bob");
    assert_eq!(
        recs[4].evidence.data["approvals"],
        serde_json::json!(["bob"])
    );
    // The audit layout of seed 003 holds a copy of each record.
    let day = recs[0].timestamp[..10].replace('-', "");
    let base = org.path(&format!("state/audit/promotions/service-b/{day}"));
    assert!(base.join("request/00000001-request.json").is_file());
    assert!(base.join("validation/00000002-validation.json").is_file());
    assert!(base.join("approval/00000003-approval.json").is_file());
    // gander verify agrees; status reads the new state from the chain.
    let (code, out) = org.verify();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 5 records"), "{out}");
    let (_, out, _) = org.run("bob", &["status", "--json", "--offline"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "service-b")
        .unwrap();
    assert_eq!(b["state"], "compliant");
    // And the promotion list shows it completed.
    let (_, out, _) = org.run("bob", &["promotions", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["recent"][0]["status"], "completed");
    assert_eq!(v["recent"][0]["approvals"][0]["signed"], true);
}

#[test]
fn records_verify_with_ssh_keygen_and_hash_with_jq_and_sha256sum() {
    let org = Org::new();
    let id = org.request();
    org.run("bob", &["approve", &id]);
    let signers = org.path("config/allowed_signers");
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        // jq -cS 'del(.hash)' | tr -d '\n' | sha256sum == hash
        let script = format!(
            "sed -n {n}p '{}' | jq -cS 'del(.hash)' | tr -d '\\n' | sha256sum | cut -d' ' -f1",
            org.chain().display()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh, jq, sha256sum");
        let rec = parse_line(line).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            rec.hash,
            "line {n}"
        );
        // ssh-keygen -Y verify on the signed form jq produces.
        let msg = org.path("msg");
        let sig = org.path("sig");
        let script = format!(
            "sed -n {n}p '{}' | jq -cS 'del(.hash) | .evidence.signatures = []' | tr -d '\\n' > '{}'; sed -n {n}p '{}' | jq -r '.evidence.signatures[0].sshsig' > '{}'",
            org.chain().display(),
            msg.display(),
            org.chain().display(),
            sig.display()
        );
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(&script)
                .status()
                .unwrap()
                .success()
        );
        let principal = &rec.evidence.signatures[0].principal;
        let out = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "gander", "-f"])
            .arg(&signers)
            .args(["-I", principal, "-s"])
            .arg(&sig)
            .stdin(std::fs::File::open(&msg).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "line {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("Good \"gander\" signature for {principal}"))
        );
    }
}

#[test]
fn a_signature_made_by_ssh_keygen_is_accepted_and_a_wrong_one_is_not() {
    let org = Org::new();
    org.request();
    let rec = &org.records()[0];
    let msg = org.path("signed-form");
    std::fs::write(&msg, rec.signed_form()).unwrap();
    let ok = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-q", "-n", "gander", "-f"])
        .arg(org.path("keys/bob"))
        .arg(&msg)
        .status()
        .unwrap();
    assert!(ok.success());
    let sig = std::fs::read_to_string(msg.with_extension("sig")).unwrap();
    let signers = AllowedSigners::parse(
        &std::fs::read_to_string(org.path("config/allowed_signers")).unwrap(),
    );
    let now = chrono::Utc::now();
    signers
        .verify("bob", rec.signed_form().as_bytes(), &sig, now)
        .unwrap();
    // The same signature does not make alice of bob, nor sign other content.
    let e = signers
        .verify("alice", rec.signed_form().as_bytes(), &sig, now)
        .unwrap_err();
    assert!(e.contains("is not allowed to sign as `alice`"), "{e}");
    let e = signers
        .verify("bob", b"other content", &sig, now)
        .unwrap_err();
    assert!(e.starts_with("signature does not verify"), "{e}");
    // Another namespace (git's) is refused.
    std::fs::remove_file(msg.with_extension("sig")).unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-q", "-n", "git", "-f"])
        .arg(org.path("keys/bob"))
        .arg(&msg)
        .status()
        .unwrap();
    assert!(signed.success());
    let git_sig = std::fs::read_to_string(msg.with_extension("sig")).unwrap();
    let e = signers
        .verify("bob", rec.signed_form().as_bytes(), &git_sig, now)
        .unwrap_err();
    assert_eq!(e, "signature is for namespace `git`, not `gander`");
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let org = Org::new();
    let id = org.request();
    let before = org.chain_bytes();
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "bob",
            vec!["approve", "PRM-20990101-000009"],
            2,
            "no promotion `PRM-20990101-000009`",
        ),
        ("mallory", vec!["approve", &id], 2, "is not accepted by"),
        ("bob", vec!["reject", &id], 2, "a rejection needs a reason"),
        (
            "alice",
            vec!["promote", "service-b", "--to", "sandbox"],
            1,
            "already has an open promotion",
        ),
        (
            "alice",
            vec!["promote", "c1", "--to", "compliant"],
            1,
            "nothing recorded: the state machine refuses",
        ),
    ];
    for (who, args, want, needle) in cases {
        let (code, out, err) = org.run(who, &args);
        assert_eq!(code, want, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(org.chain_bytes(), before, "{args:?} wrote to the chain");
    }
    // A key path that does not exist.
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("state"))
        .args(["approve", &id, "--key", "/nonexistent/id_ed25519"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read the signing key /nonexistent/id_ed25519")
    );
    assert_eq!(org.chain_bytes(), before);
    // Approving twice.
    assert_eq!(org.run("bob", &["approve", &id]).0, 0);
    let (code, _, err) = org.run("bob", &["approve", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("is completed"), "{err}");
}

#[test]
fn an_expired_promotion_is_closed_with_its_reason() {
    let org = Org::new();
    let id = org.request();
    // Bob approves a day and a minute later (expiry 24h): the use case runs in-process
    // with its clock set there, instead of a test sleeping past the expiry.
    let config = gander::io::config_dir::load_dir(&org.path("config"))
        .unwrap()
        .config
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::minutes(1);
    let state = org.path("state");
    let ctx = gander::ops::Ctx::new(
        std::sync::Arc::new(config.clone()),
        &org.path("config"),
        Some(&state),
    )
    .with_key(Some(&org.path("keys/bob")))
    .with_clock(gander::ops::Clock::Fixed(later));
    let live = gander::engine::facts::Facts::from_config(&config, later);
    let said = gander::ops::promotions::cast(&ctx, live.clone(), &id, "", Vote::Approve);
    assert_eq!(said.code, 1, "{said:?}");
    let err = said.err.join("\n");
    assert!(
        err.contains(&format!("{id} expired and is closed")),
        "{err}"
    );
    assert!(err.contains("is expired (not completed before"), "{err}");
    let recs = org.records();
    assert_eq!(recs.last().unwrap().evidence.kind, "closure");
    assert_eq!(recs.last().unwrap().evidence.data["status"], "expired");
    assert_eq!(org.verify().0, 0);
    // A minute before the expiry the same approval is taken and completes it.
    let org = Org::new();
    let id = org.request();
    let sooner = chrono::Utc::now() + chrono::Duration::hours(24) - chrono::Duration::minutes(1);
    let ctx = ctx.with_clock(gander::ops::Clock::Fixed(sooner));
    let ctx = gander::ops::Ctx {
        config_dir: org.path("config"),
        state: Some(org.path("state")),
        key: Some(org.path("keys/bob")),
        ..ctx
    };
    let said = gander::ops::promotions::cast(&ctx, live, &id, "", Vote::Approve);
    assert_eq!(said.code, 0, "{said:?}");
    assert!(
        said.out.iter().any(|l| l.contains("approved by bob")),
        "{said:?}"
    );
}

#[test]
fn a_rejection_needs_a_reason_and_closes_the_promotion() {
    let org = Org::new();
    let id = org.request();
    let (code, out, err) = org.run(
        "bob",
        &["reject", &id, "--reason", "p95 regressed in staging"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rejected by bob: p95 regressed in staging"));
    let (_, out, _) = org.run("bob", &["promotions", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["recent"][0]["status"], "rejected");
    assert_eq!(v["recent"][0]["closed_reason"], "p95 regressed in staging");
    // The service is free for a new request.
    let id2 = org.request();
    assert_ne!(id, id2);
}

/// Tamper with a copy of a good chain in each way; verify names the first bad record.
#[test]
fn tampering_is_named_by_verify() {
    let org = Org::new();
    let id = org.request();
    org.run("bob", &["approve", &id]);
    let good = String::from_utf8(org.chain_bytes()).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert_eq!(lines.len(), 5);
    let write = |ls: &[String]| {
        let mut s = ls.join("\n");
        s.push('\n');
        std::fs::write(org.chain(), s).unwrap();
    };
    let own: Vec<String> = lines.iter().map(|s| s.to_string()).collect();

    // Flip one byte inside a record's data.
    let mut t = own.clone();
    t[2] = t[2].replacen("\"by\":\"bob\"", "\"by\":\"bib\"", 1);
    write(&t);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(
        out.contains("FAILED: first bad record at line 3 (seq 3): hash does not match"),
        "{out}"
    );

    // Delete a line.
    let mut t = own.clone();
    t.remove(1);
    write(&t);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(
        out.contains("line 2 (seq 3): sequence gap: expected seq 2, found 3"),
        "{out}"
    );

    // Reorder two lines.
    let mut t = own.clone();
    t.swap(3, 4);
    write(&t);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(out.contains("first bad record at line 4 (seq 5)"), "{out}");

    // Swap a signature: bob's approval carrying alice's signature from another record.
    let mut recs: Vec<Record> = own.iter().map(|l| parse_line(l).unwrap()).collect();
    recs[2].evidence.signatures[0] = recs[0].evidence.signatures[0].clone();
    recs[2].hash = recs[2].compute_hash(); // a careful forger fixes the hash…
    for i in 3..recs.len() {
        recs[i].prev_hash = recs[i - 1].hash.clone(); // …and the links
        recs[i].hash = recs[i].compute_hash();
    }
    write(&recs.iter().map(|r| r.line()).collect::<Vec<_>>());
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "first bad record at line 3 (seq 3): signature of `alice`: signature does not verify"
        ),
        "{out}"
    );

    // Restored: ok again.
    std::fs::write(org.chain(), &good).unwrap();
    assert_eq!(org.verify().0, 0);
    // And nothing can be appended to a broken chain.
    let mut t = own.clone();
    t[0] = t[0].replacen("release 1.3.2", "release 9.9.9", 1);
    write(&t);
    let (code, _, err) = org.run("alice", &["promote", "c1", "--to", "compliance_ready"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nothing recorded: the chain does not verify (first problem: line 1"),
        "{err}"
    );
}

#[test]
fn concurrent_writers_lose_nothing_and_never_double_open() {
    let org = Org::new();
    // Three processes at once, each cycling its own service 30 times
    // (sandbox -> compliance_ready -> sandbox …), all appending to one chain.
    let mut children = Vec::new();
    for (i, svc) in ["c1", "c2", "c3"].iter().enumerate() {
        let who = if i % 2 == 0 { "alice" } else { "bob" };
        let script = format!(
            "ok=0; for n in $(seq 30); do if [ $((n % 2)) = 1 ]; then to=compliance_ready; else to=sandbox; fi; \"$0\" \"$@\" promote {svc} --to $to --offline --key {} >/dev/null 2>&1 && ok=$((ok+1)); done; echo $ok",
            org.path(&format!("keys/{who}")).display()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(org.path("config"))
            .arg("--state-dir")
            .arg(org.path("state"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        children.push(child);
    }
    // Meanwhile two people race to open the same promotion, ten times each.
    let racers: Vec<_> = ["alice", "bob"]
        .iter()
        .map(|who| {
            let mut c = org.cmd(
                who,
                &["promote", "service-b", "--to", "compliant", "--offline"],
            );
            c.stdout(Stdio::null()).stderr(Stdio::null());
            (0..10).map(|_| c.spawn().unwrap()).collect::<Vec<_>>()
        })
        .collect();
    for r in racers {
        for mut c in r {
            c.wait().unwrap();
        }
    }
    let mut succeeded = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        succeeded += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap();
    }
    assert_eq!(succeeded, 90, "every cycling operation succeeds");
    let recs = org.records();
    // Sequence is contiguous and the chain verifies.
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
    }
    let (code, out) = org.verify();
    assert_eq!(code, 0, "{out}");
    // Every successful operation is present once: 90 requests for c1..c3, each completed.
    let requests = |svc: &str| {
        recs.iter()
            .filter(|r| r.service == svc && r.evidence.kind == "request")
            .count()
    };
    assert_eq!(requests("c1") + requests("c2") + requests("c3"), 90);
    let completions = recs
        .iter()
        .filter(|r| r.service.starts_with('c') && r.evidence.kind == "transition")
        .count();
    assert_eq!(completions, 90);
    // Twenty racers, one open promotion for service-b.
    assert_eq!(requests("service-b"), 1);
}

#[test]
fn a_crash_mid_append_leaves_a_verifiable_chain_and_the_torn_tail_is_kept() {
    let org = Org::new();
    let id = org.request();
    let good = org.chain_bytes();
    // What a crash mid-append leaves: part of a line, no newline.
    let mut torn = good.clone();
    torn.extend_from_slice(br#"{"evidence":{"data":{"by":"bob","reason":""},"signatures":[{"principal":"bob","sshsig":"-----BEGIN SSH SIG"#);
    std::fs::write(org.chain(), &torn).unwrap();
    let (code, out) = org.verify();
    assert_eq!(code, 0, "a torn tail is not a broken chain: {out}");
    assert!(out.contains("note: torn last line"), "{out}");
    // The next writer moves it aside, says so, and appends after the last good record.
    let (code, _, err) = org.run("bob", &["approve", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("the chain ended in a torn record"), "{err}");
    let moved: Vec<_> = std::fs::read_dir(org.path("state/audit/torn"))
        .unwrap()
        .collect();
    assert_eq!(moved.len(), 1);
    let kept = std::fs::read(moved[0].as_ref().unwrap().path()).unwrap();
    assert!(kept.starts_with(br#"{"evidence":{"data":{"by":"bob""#));
    assert!(org.chain_bytes().starts_with(&good));
    assert_eq!(org.verify().0, 0);

    // Real crashes: SIGKILL writers at random moments, again and again.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for n in 0..25 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let to = if n % 2 == 0 {
            "compliance_ready"
        } else {
            "sandbox"
        };
        let mut child = org
            .cmd("alice", &["promote", "c1", "--to", to, "--offline"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(seed % 15_000));
        let _ = child.kill();
        let _ = child.wait();
        let (code, out) = org.verify();
        assert_eq!(code, 0, "after kill {n}: {out}");
    }
    // A later writer still works, and no record was lost or half-kept.
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c2", "--to", "compliance_ready", "--offline"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(org.verify().0, 0);
}

/// Artifacts referenced by digest (what evidence records carry) are re-hashed by verify.
#[test]
fn verify_rehashes_artifacts_referenced_by_digest() {
    use gander::engine::chain::sha256_hex;
    use gander::io::store::{Draft, Store, verify};
    let org = Org::new();
    let state = org.path("state");
    let store = Store::open(&state).unwrap();
    std::fs::create_dir_all(state.join("audit/services/service-b/evidence")).unwrap();
    let rel = "audit/services/service-b/evidence/report.sarif";
    std::fs::write(state.join(rel), b"{\"version\":\"2.1.0\",\"runs\":[]}").unwrap();
    let signers =
        gander::io::keys::load_allowed_signers(&org.path("config/allowed_signers")).unwrap();
    let signer = gander::io::keys::choose_signer(
        Some(&org.path("keys/alice")),
        None,
        None,
        &signers,
        &org.path("config/allowed_signers"),
        chrono::Utc::now(),
    )
    .unwrap();
    let lock = store.lock_exclusive(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    let digest = sha256_hex(&std::fs::read(state.join(rel)).unwrap());
    store
        .append(
            &lock,
            &read,
            vec![Draft {
                promotion_id: "-".into(),
                service: "service-b".into(),
                kind: "evidence".into(),
                data: serde_json::json!({"artifacts": [{"path": rel, "sha256": digest}]}),
            }],
            &signer,
            chrono::Utc::now(),
        )
        .unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    let report = verify(&store, &read, Some(&signers));
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.artifacts_checked, 1);
    std::fs::write(state.join(rel), b"{\"version\":\"2.1.0\",\"runs\":[{}]}").unwrap();
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("seq 1: artifact {rel} changed: sha256")),
        "{out}"
    );
}

#[test]
fn an_unknown_promotion_id_suggests_the_open_one() {
    let org = Org::new();
    let closed = org.request();
    assert_eq!(
        org.run("bob", &["reject", &closed, "--reason", "not tonight"])
            .0,
        0
    );
    let open = org.request();
    // A slip of one digit on the closed one's ID: the open promotion is what a vote is for.
    let mut typo = closed.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == '9' { '8' } else { '9' });
    let (code, _, err) = org.run("bob", &["approve", &typo]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&open), "{err}");
}
