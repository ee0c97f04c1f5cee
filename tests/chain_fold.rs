//! The remembered fold (issue 17): a view of the chain (`status`, the console) reads,
//! verifies and folds only the records after the prefix this user folded before, while
//! the file still starts with exactly those bytes. It must give the view a whole read
//! gives, and it must never stand over a chain that changed: attacked here by editing,
//! cutting and extending the chain, by damaging the fold, and by changing the rules.

mod common;
use common::org::Org;
use gander::engine::chain::parse_line;
use gander::engine::config::Config;
use gander::engine::facts::Facts;
use gander::engine::folded::Folded;
use gander::io::store::Store;
use gander::ops::store as store_ctx;

fn config(org: &Org, edit: impl FnOnce(&str) -> String) -> Config {
    let mut sources = gander::io::config_dir::read_sources(&org.path("config")).unwrap();
    let o = sources.org.as_mut().unwrap();
    o.text = edit(&o.text);
    gander::engine::load::load(&sources).config.unwrap()
}

/// An org with a request, evidence, an approval and a walk, as real commands wrote them.
fn busy_org() -> (Org, String) {
    let org = Org::new();
    let id = org.request();
    for (who, args) in [
        ("alice", vec!["evidence", "add", "service-b", &org.junit()]),
        (
            "bob",
            vec!["approve", &id, "--reason", "looked", "--offline"],
        ),
    ] {
        let (code, out, err) = org.run(who, &args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    (org, id)
}

/// `status` as bob sees it, without its first line (which holds the time).
fn status(org: &Org) -> String {
    let (_, out, err) = org.run("bob", &["status", "--offline"]);
    let body = out.split_once('\n').map_or("", |x| x.1);
    format!("{body}{err}")
}

#[test]
fn a_fold_extended_at_any_record_is_the_fold_of_the_whole_chain() {
    let (org, _) = busy_org();
    let cfg = config(&org, str::to_string);
    let records: Vec<(usize, _)> = org
        .records()
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect();
    assert!(records.len() >= 3);
    let signed = |_: &gander::engine::chain::Record, _: &str| true;
    let mut whole = Folded::default();
    whole.extend(&cfg, &records, &signed);
    assert_eq!(whole.ledger.records as usize, records.len());
    for k in 0..=records.len() {
        let mut f = Folded::default();
        f.extend(&cfg, &records[..k], &signed);
        f.extend(&cfg, &records[k..], &signed);
        assert_eq!(f, whole, "split after {k} records");
    }
}

#[test]
fn a_view_from_the_remembered_fold_is_the_view_of_a_whole_read() {
    let (org, _) = busy_org();
    status(&org); // remembers the fold
    let (code, out, err) = org.run("alice", &["evidence", "add", "service-b", &org.junit()]);
    assert_eq!(code, 0, "{out}{err}");
    let n = org.records().len();

    // SAFETY: the only test in this binary that sets it; set before it reads the chain.
    unsafe { std::env::set_var("GANDER_HEADS_DIR", org.path("heads")) };
    let cfg = config(&org, str::to_string);
    let store = Store::open(&org.path("state")).unwrap();
    let (_, signers) = store_ctx::load_signers(&org.path("config"), &cfg);
    let signers = signers.unwrap();
    let mut facts = Facts::from_config(&cfg, chrono::Utc::now());
    let view = store_ctx::open_view(&cfg, &store, Some(&signers), &mut facts).unwrap();
    assert_eq!(
        view.read, 1,
        "only the record since the last status is read"
    );

    // A whole read, verified and folded from the first record, gives the same view.
    let lock = store
        .lock_shared(std::time::Duration::from_secs(5))
        .unwrap();
    let read = store.read(&lock).unwrap();
    drop(lock);
    let mut whole_facts = Facts::from_config(&cfg, chrono::Utc::now());
    let whole = store_ctx::apply(&cfg, &store, &read, Some(&signers), &mut whole_facts);
    assert_eq!(whole.read, n);
    assert_eq!(view.folded, whole.folded);
    assert_eq!(
        format!("{:?}", facts.chain),
        format!("{:?}", whole_facts.chain)
    );
    assert!(format!("{:?}", whole_facts.chain).contains(&format!("records: {n},")));

    // Nothing new: nothing read. Other approval rules (four-eyes off), or another
    // allowed_signers: the fold is not used, everything is read again.
    let mut f = Facts::from_config(&cfg, chrono::Utc::now());
    assert_eq!(
        store_ctx::open_view(&cfg, &store, Some(&signers), &mut f)
            .unwrap()
            .read,
        0
    );
    // `status` takes its facts from the same fold, extended by what was added since.
    let (code, out, err) = org.run("alice", &["evidence", "add", "service-b", &org.junit()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut quick = Facts::from_config(&cfg, chrono::Utc::now());
    let torn = store_ctx::open_facts(&cfg, &store, Some(&signers), &mut quick).unwrap();
    assert_eq!(torn, None);
    let remembered = gander::io::heads::load_quick(&store).unwrap();
    assert_eq!(
        remembered.last.unwrap().1.seq as usize,
        n + 1,
        "the fold was extended"
    );
    assert!(format!("{:?}", quick.chain).contains(&format!("records: {},", n + 1)));
    let n = n + 1;
    assert_eq!(
        store_ctx::open_view(&cfg, &store, Some(&signers), &mut f)
            .unwrap()
            .read,
        0
    );
    let lax = config(&org, |t| t.replace("four_eyes: true", "four_eyes: false"));
    assert_ne!(
        gander::engine::authority::rules_digest(&lax),
        gander::engine::authority::rules_digest(&cfg)
    );
    assert_eq!(
        store_ctx::open_view(&lax, &store, Some(&signers), &mut f)
            .unwrap()
            .read,
        n
    );
    let text = std::fs::read_to_string(org.path("config/allowed_signers")).unwrap();
    let fewer = gander::engine::identity::AllowedSigners::parse(
        &text
            .lines()
            .filter(|l| !l.starts_with("bob "))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    assert_ne!(fewer.digest(), signers.digest());
    assert_eq!(
        store_ctx::open_view(&cfg, &store, Some(&fewer), &mut f)
            .unwrap()
            .read,
        n
    );
}

fn fold_file(org: &Org) -> std::path::PathBuf {
    std::fs::read_dir(org.path("heads"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".folded.msgpack"))
        .expect("status remembers a fold")
}

#[test]
fn a_byte_changed_inside_the_folded_prefix_is_reported_not_folded_over() {
    let (org, _) = busy_org();
    let clean = status(&org);
    fold_file(&org);
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    let edited = text.replacen("release 1.3.2", "release 1.3.3", 1);
    assert_eq!(edited.len(), text.len());
    std::fs::write(org.chain(), &edited).unwrap();
    let after = status(&org);
    assert!(after.contains("was altered"), "{after}");
    assert!(!clean.contains("was altered"), "{clean}");
}

#[test]
fn a_chain_cut_below_the_fold_is_reported() {
    let (org, _) = busy_org();
    status(&org);
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    let keep: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(org.chain(), keep).unwrap();
    let after = status(&org);
    assert!(after.contains("truncated"), "{after}");
}

#[test]
fn a_damaged_fold_is_not_used_and_the_view_is_the_same() {
    let (org, _) = busy_org();
    let before = status(&org);
    let f = fold_file(&org);
    for junk in [
        &b"\x00\x01garbage"[..],
        b"",
        &std::fs::read(&f).unwrap()[..40],
    ] {
        std::fs::write(&f, junk).unwrap();
        assert_eq!(status(&org), before);
    }
    // Read whole again, the fold is remembered afresh.
    assert!(std::fs::read(&f).unwrap().len() > 40);
}

#[test]
fn a_record_appended_after_the_fold_with_a_borrowed_signature_is_reported() {
    let (org, _) = busy_org();
    status(&org);
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    let last = parse_line(text.lines().last().unwrap()).unwrap();
    // bob's signature of the approval, on a new approval that links properly.
    let mut forged = last.clone();
    forged.seq += 1;
    forged.prev_hash = last.hash.clone();
    forged.evidence.data["reason"] = "approved twice".into();
    forged.hash = forged.compute_hash();
    std::fs::write(org.chain(), format!("{text}{}\n", forged.line())).unwrap();
    let after = status(&org);
    assert!(after.contains("signature of `bob`"), "{after}");
}

/// A write through a shared mapping of the chain can leave its length and times as
/// they were (the review that found it kept a page dirty across a reader's visit): a
/// view never takes a file's times as proof that its bytes are the ones folded.
#[cfg(unix)]
#[test]
fn an_edit_through_a_shared_mapping_is_noticed() {
    use std::os::fd::AsRawFd;
    let (org, _) = busy_org();
    let clean = status(&org);
    let text = String::from_utf8(org.chain_bytes()).unwrap();
    let at = text.find("release 1.3.2").unwrap() + "release 1.3.".len();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(org.chain())
        .unwrap();
    let len = text.len();
    // SAFETY: a shared mapping of a file this test owns, written within its length.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED);
    let bytes = map as *mut u8;
    // Dirty the page with the byte it holds (the file's times move once), let a view
    // fold the chain, then change the byte through the still-dirty page.
    // SAFETY: `at` is within the mapping.
    unsafe { *bytes.add(at) = b'2' };
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(status(&org), clean);
    let before = std::fs::metadata(org.chain()).unwrap();
    unsafe { *bytes.add(at) = b'9' };
    let after_meta = std::fs::metadata(org.chain()).unwrap();
    let after = status(&org);
    // SAFETY: the mapping made above, unmapped once.
    unsafe { libc::munmap(map, len) };
    assert!(
        after.contains("was altered"),
        "times {:?} -> {:?}: {after}",
        before.modified().ok(),
        after_meta.modified().ok()
    );
}

#[test]
fn what_the_chain_does_not_justify_is_found_whatever_the_fold_was_split_at() {
    use gander::engine::chain::{Evidence, Record};
    let org = Org::new();
    let cfg = config(&org, str::to_string);
    let rec = |seq: u64, id: &str, kind: &str, data: serde_json::Value| Record {
        seq,
        prev_hash: String::new(),
        promotion_id: id.into(),
        timestamp: "2026-12-04T10:00:00Z".into(),
        service: "service-b".into(),
        evidence: Evidence {
            kind: kind.into(),
            data,
            signatures: vec![],
        },
        hash: String::new(),
    };
    let ask = serde_json::json!({"requester": "alice", "target_state": "compliant"});
    let done = serde_json::json!({"to": "compliant"});
    let records: Vec<(usize, Record)> = [
        rec(1, "P1", "request", ask.clone()),
        rec(2, "P1", "approval", serde_json::json!({"by": "bob"})),
        rec(3, "P1", "transition", done.clone()),
        rec(4, "P1", "transition", done.clone()),
        rec(5, "P1", "request", ask.clone()),
        rec(6, "P2", "transition", done.clone()),
        rec(7, "P3", "request", ask.clone()),
        rec(8, "P3", "approval", serde_json::json!({"by": "alice"})),
        rec(9, "P3", "transition", done.clone()),
        rec(10, "P4", "request", ask),
        rec(
            11,
            "P4",
            "closure",
            serde_json::json!({"status": "expired"}),
        ),
        rec(12, "P4", "transition", done),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, r)| (i + 1, r))
    .collect();
    let signed = |r: &Record, who: &str| r.evidence.data["by"] == who;
    let mut whole = Folded::default();
    whole.extend(&cfg, &records, &signed);
    let found: Vec<(u64, &str)> = whole
        .unjustified
        .iter()
        .map(|(_, seq, m)| (*seq, m.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (4, "completes P1, which was already closed"),
            (5, "a second request with the ID P1"),
            (
                6,
                "changes service-b's state with no request on record (P2)"
            ),
            (
                9,
                "completes P3 without a signed approval by anyone but its requester alice"
            ),
            (12, "completes P4, which was already closed"),
        ]
    );
    for k in 0..=records.len() {
        let mut f = Folded::default();
        f.extend(&cfg, &records[..k], &signed);
        f.extend(&cfg, &records[k..], &signed);
        assert_eq!(f.unjustified, whole.unjustified, "split after {k}");
        assert_eq!(f, whole, "split after {k}");
    }
}

/// Every artifact the chain names is hashed again on every view, wherever it lives: a
/// package's manifest (outside `audit/services`), an evidence file whose state another
/// file's name imitates, evidence reached through a symbolic link.
#[test]
fn every_artifact_is_checked_again_on_every_view() {
    let org = Org::with(|cfg| {
        let p = cfg.join("org-config.yaml");
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("packaging: {stages: [dev, prod], release_criteria: [services_compliant, evidence_chain_valid]}\n");
        std::fs::write(p, text).unwrap();
    });
    let id = org.request();
    for (who, args) in [
        ("alice", vec!["evidence", "add", "service-b", &org.junit()]),
        (
            "bob",
            vec!["approve", &id, "--reason", "looked", "--offline"],
        ),
        ("alice", vec!["package", "create", "--version", "1.0.0"]),
    ] {
        let (code, out, err) = org.run(who, &args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let clean = status(&org);
    assert!(!clean.contains("does not verify"), "{clean}");

    // A package manifest, one byte added.
    let manifest = org.path("state/packages/gg-1.0.0/manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    let mut bad = good.clone();
    bad.push(b' ');
    std::fs::write(&manifest, &bad).unwrap();
    let after = status(&org);
    assert!(after.contains("manifest.json changed"), "{after}");
    std::fs::write(&manifest, &good).unwrap();
    assert_eq!(status(&org), clean);

    // An evidence file changed, next to a file whose name holds the line a listing of
    // file states would have shown for it.
    let services = org.path("state/audit/services");
    let evidence = gander::io::store::files_under(&services).files[0].clone();
    let decoy = services.join(format!("x\n{}\t0\ny", evidence.display()));
    std::fs::create_dir_all(decoy.parent().unwrap()).unwrap();
    std::fs::write(&decoy, "").unwrap();
    let good = std::fs::read(&evidence).unwrap();
    let mut bad = good.clone();
    let at = bad.iter().position(|b| *b == b'a').unwrap();
    bad[at] = b'b';
    std::fs::write(&evidence, &bad).unwrap();
    let after = status(&org);
    assert!(after.contains("changed: sha256"), "{after}");
    std::fs::write(&evidence, &good).unwrap();
    std::fs::remove_dir_all(services.join("x\n")).unwrap();
    assert_eq!(status(&org), clean);

    // The evidence directory moved and reached through a symbolic link.
    #[cfg(unix)]
    {
        let moved = org.path("state/audit/services-real");
        std::fs::rename(&services, &moved).unwrap();
        std::os::unix::fs::symlink(&moved, &services).unwrap();
        let after = status(&org);
        assert!(after.contains("symbolic link"), "{after}");
    }
}

/// A chain this user saw records of and that is now gone is cut short, not "no chain
/// yet": every view says so.
#[test]
fn a_deleted_chain_is_reported_not_taken_for_a_new_store() {
    let (org, _) = busy_org();
    status(&org);
    std::fs::remove_file(org.chain()).unwrap();
    let after = status(&org);
    assert!(
        after.contains("does not verify") && after.contains("truncated"),
        "{after}"
    );
}

/// Without allowed_signers nothing on the chain can be verified: status says so rather
/// than showing a chain nobody checked.
#[test]
fn a_missing_allowed_signers_is_said() {
    let (org, _) = busy_org();
    std::fs::rename(
        org.path("config/allowed_signers"),
        org.path("config/allowed_signers.bak"),
    )
    .unwrap();
    let after = status(&org);
    assert!(after.contains("cannot be verified"), "{after}");
    assert!(after.contains("allowed_signers"), "{after}");
}

/// Someone who can write to the store but not run as the user: a FIFO in place of an
/// artifact or of the chain must not hang every reader (and the lock it holds), and a
/// sparse gigabyte after the last record is not a harmless torn write.
#[cfg(unix)]
#[test]
fn a_fifo_or_a_huge_tail_is_reported_not_waited_on() {
    let (org, _) = busy_org();
    status(&org);
    let fifo = |p: &std::path::Path| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    let services = org.path("state/audit/services");
    let evidence = gander::io::store::files_under(&services).files[0].clone();
    let kept = std::fs::read(&evidence).unwrap();
    std::fs::remove_file(&evidence).unwrap();
    fifo(&evidence);
    let after = status(&org);
    assert!(after.contains("not a regular file"), "{after}");
    assert_eq!(org.verify().0, 1);
    std::fs::remove_file(&evidence).unwrap();
    std::fs::write(&evidence, kept).unwrap();

    let chain = org.chain_bytes();
    std::fs::remove_file(org.chain()).unwrap();
    fifo(&org.chain());
    let after = status(&org);
    assert!(after.contains("not a regular file"), "{after}");
    std::fs::remove_file(org.chain()).unwrap();
    std::fs::write(org.chain(), &chain).unwrap();

    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(org.chain())
        .unwrap();
    f.set_len(chain.len() as u64 + (64 << 20)).unwrap();
    let after = status(&org);
    assert!(after.contains("not a torn write"), "{after}");
}

/// Every kind of evidence survives the fold's round trip (an empty `counts` was left
/// out when written and then refused when read, so SARIF or k6 evidence turned the fold
/// off for good).
#[test]
fn a_fold_with_every_kind_of_evidence_reads_back_as_written() {
    use gander::engine::chain::{Evidence, Record};
    let org = Org::new();
    let cfg = config(&org, str::to_string);
    let records: Vec<(usize, Record)> = ["sast", "tests", "coverage", "sbom", "metrics"]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                i + 1,
                Record {
                    seq: i as u64 + 1,
                    prev_hash: String::new(),
                    promotion_id: String::new(),
                    timestamp: "2026-12-04T10:00:00Z".into(),
                    service: "service-b".into(),
                    evidence: Evidence {
                        kind: "evidence".into(),
                        data: serde_json::json!({"evidence_kind": k, "passed": true, "summary": "ok", "counts": {}}),
                        signatures: vec![],
                    },
                    hash: String::new(),
                },
            )
        })
        .collect();
    let mut f = Folded::default();
    f.extend(&cfg, &records, &|_, _| true);
    assert_eq!(f.ledger.evidence["service-b"].len(), records.len());
    let bytes = rmp_serde::to_vec_named(&f).unwrap();
    let back: Folded = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(back, f);
}

/// A crash mid-append leaves a torn last line: `status` says so (it is not part of the
/// chain), and the view is otherwise the chain's.
#[test]
fn a_torn_last_record_is_noted_by_status() {
    let (org, _) = busy_org();
    let clean = status(&org);
    let mut bytes = org.chain_bytes();
    bytes.extend_from_slice(br#"{"seq":9,"prev_hash":"#);
    std::fs::write(org.chain(), &bytes).unwrap();
    let after = status(&org);
    assert!(after.contains("torn record at line"), "{after}");
    assert!(!after.contains("does not verify"), "{after}");
    assert!(after.starts_with(&clean), "{after}");
}
