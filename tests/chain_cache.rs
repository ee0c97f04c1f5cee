//! The remembered verification (issue 17): a read checks again only the signatures
//! after a prefix this user verified, and only while that prefix provably is the same
//! one. Attacked here as a reviewer would: rewrite history, change who is trusted,
//! change an evidence file and set its date back.

mod common;
use common::org::Org;
use gander::engine::chain::{Record, parse_line};
use gander::engine::identity::AllowedSigners;
use gander::io::store::{Store, verify_cached};
use std::time::Duration;

/// `status` reads (and remembers the verification); every writer then refuses.
fn refused_after_a_cached_read(org: &Org, id: &str, why: &str) {
    let before = org.chain_bytes();
    let (code, out, err) = org.run("bob", &["approve", id, "--reason", "ok", "--offline"]);
    assert_eq!(code, 1, "{why}: approve was not refused: {out}{err}");
    assert!(err.contains("the chain does not verify"), "{why}: {err}");
    let (code, out, err) = org.run("bob", &["evidence", "add", "service-b", &org.junit()]);
    assert_eq!(code, 1, "{why}: evidence add was not refused: {out}{err}");
    assert_eq!(org.chain_bytes(), before, "{why}: the chain was written");
    assert_eq!(org.verify().0, 1, "{why}: verify passed");
}

#[test]
fn a_second_read_checks_only_new_signatures_and_the_same_prefix_only() {
    let org = Org::new();
    let id = org.request();
    let (code, _, err) = org.run("alice", &["evidence", "add", "service-b", &org.junit()]);
    assert_eq!(code, 0, "{err}");
    // A read remembers what it verified, in the user's own heads directory.
    org.run("bob", &["status"]);
    let remembered: Vec<_> = std::fs::read_dir(org.path("heads"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".verified.json"))
        .collect();
    assert_eq!(remembered.len(), 1, "a verified prefix is remembered");

    // Through the library: the second read skips every record verified before.
    // SAFETY: the only test in this binary that sets it; set before any thread reads it.
    unsafe { std::env::set_var("GANDER_HEADS_DIR", org.path("heads")) };
    let store = Store::open(&org.path("state")).unwrap();
    let signers = AllowedSigners::parse(
        &std::fs::read_to_string(org.path("config/allowed_signers")).unwrap(),
    );
    let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    let n = read.records.len();
    let r = verify_cached(&store, &read, Some(&signers));
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.cached, n, "every record was verified before");
    assert_eq!(r.signatures_checked, 0);

    // allowed_signers changed (bob's line dropped): nothing is taken from before.
    let fewer = AllowedSigners::parse(
        &std::fs::read_to_string(org.path("config/allowed_signers"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("bob "))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let r = verify_cached(&store, &read, Some(&fewer));
    assert_eq!(r.cached, 0, "other signers: a full verification");
    assert!(r.signatures_checked >= n);

    // A new record: only its signature is checked.
    let (code, _, err) = org.run("bob", &["approve", &id, "--reason", "ok", "--offline"]);
    assert_eq!(code, 0, "{err}");
    let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    // The approval's own writer remembered the prefix before it; the read that
    // follows checks what came after.
    let r = verify_cached(&store, &read, Some(&signers));
    assert!(r.ok(), "{:?}", r.problems);
    assert!(r.cached >= n, "{} of {}", r.cached, read.records.len());
    assert_eq!(
        r.cached + r.signatures_checked,
        read.records.len(),
        "one signature per record here"
    );

    // The file now starts with exactly the bytes verified: the next read takes them
    // as they are (no canonical-form check, hash or link for them again)...
    let n = read.records.len();
    let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    assert_eq!(read.trusted, n, "the whole file was verified before");
    // ...but never for `gander verify`, which reads everything again.
    assert_eq!(store.read_full(&lock).unwrap().trusted, 0);
    drop(lock);
    let r = verify_cached(&store, &read, Some(&signers));
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!((r.cached, r.signatures_checked), (n, 0));

    // A forged record after it must still link to it.
    let good = org.chain_bytes();
    let text = String::from_utf8(good.clone()).unwrap();
    let mut forged = parse_line(text.lines().last().unwrap()).unwrap();
    forged.seq += 1;
    forged.prev_hash = "0".repeat(64);
    forged.hash = forged.compute_hash();
    std::fs::write(org.chain(), format!("{text}{}\n", forged.line())).unwrap();
    let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    assert_eq!(read.trusted, n);
    let r = verify_cached(&store, &read, Some(&signers));
    assert!(
        r.problems
            .iter()
            .any(|p| p.message.contains("prev_hash does not link")),
        "{:?}",
        r.problems
    );

    // One byte changed inside the verified bytes (same length): nothing is trusted,
    // and the edit is found.
    let edited = text.replacen("release 1.3.2", "release 1.3.3", 1);
    assert_eq!(edited.len(), text.len());
    assert_ne!(edited, text);
    std::fs::write(org.chain(), &edited).unwrap();
    let lock = store.lock_shared(Duration::from_secs(5)).unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    assert_eq!(read.trusted, 0, "a changed byte: nothing taken from before");
    let r = verify_cached(&store, &read, Some(&signers));
    assert!(
        r.problems.iter().any(|p| p.message.contains("was altered")),
        "{:?}",
        r.problems
    );
    assert_eq!(r.cached, 0);
    std::fs::write(org.chain(), &good).unwrap();
}

#[test]
fn a_remembered_prefix_does_not_survive_a_change_of_who_is_trusted() {
    let org = Org::new();
    let id = org.request();
    org.run("bob", &["status"]);
    // alice is no longer trusted: her request's signature no longer counts.
    let signers = std::fs::read_to_string(org.path("config/allowed_signers")).unwrap();
    let without: String = signers
        .lines()
        .filter(|l| !l.starts_with("alice "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(org.path("config/allowed_signers"), without).unwrap();
    refused_after_a_cached_read(&org, &id, "alice's key removed from allowed_signers");
}

#[test]
fn a_remembered_prefix_does_not_survive_rewritten_history() {
    let org = Org::new();
    let id = org.request();
    org.run("bob", &["status"]);
    // The first record's data edited, every hash recomputed and relinked.
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    let mut recs: Vec<Record> = text.lines().map(|l| parse_line(l).unwrap()).collect();
    recs[0].evidence.data["reason"] = "rewritten".into();
    let mut prev = gander::engine::chain::GENESIS.to_string();
    for r in recs.iter_mut() {
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        prev = r.hash.clone();
    }
    let mut out: String = recs.iter().map(|r| r.line() + "\n").collect();
    std::fs::write(org.chain(), &out).unwrap();
    refused_after_a_cached_read(&org, &id, "history rewritten with recomputed hashes");

    // The same edit without recomputing: the links fail before any cache is consulted.
    let org = Org::new();
    let id = org.request();
    org.run("bob", &["status"]);
    out =
        String::from_utf8(org.chain_bytes())
            .unwrap()
            .replacen("release 1.3.2", "release 6.6.6", 1);
    std::fs::write(org.chain(), &out).unwrap();
    refused_after_a_cached_read(&org, &id, "a record edited in place");
}

#[test]
fn a_remembered_prefix_does_not_survive_an_evidence_file_rewritten_and_redated() {
    let org = Org::new();
    let id = org.request();
    let (code, _, err) = org.run("alice", &["evidence", "add", "service-b", &org.junit()]);
    assert_eq!(code, 0, "{err}");
    org.run("bob", &["status"]);
    let rec: Record = parse_line(
        String::from_utf8(org.chain_bytes())
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let copy = org
        .path("state")
        .join(rec.evidence.data["artifacts"][0]["path"].as_str().unwrap());
    let before = std::fs::metadata(&copy).unwrap();
    // Same length, then its modification time set back to what it was.
    let old = std::fs::read(&copy).unwrap();
    let mut forged = old.clone();
    let at = forged.iter().position(|b| *b == b'a').unwrap();
    forged[at] = b'b';
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&copy, &forged).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    assert_eq!(
        std::fs::metadata(&copy).unwrap().modified().unwrap(),
        before.modified().unwrap()
    );
    refused_after_a_cached_read(&org, &id, "evidence file rewritten, same length and date");
}
