//! The holes a hostile review found, each reproduced as the reviewer did it and now
//! refused: writers on a chain that does not verify, truncation, a demotion that left
//! its promotion open, YAML alias bombs, names that are paths, runaway commands, and
//! package verification that trusted too much.

mod common;
use common::copy_dir;
use common::org::Org;
use gander::engine::chain::{Record, parse_line};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn lines(org: &Org) -> Vec<String> {
    String::from_utf8(org.chain_bytes())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(org: &Org, ls: &[String]) {
    let mut s = ls.join("\n");
    s.push('\n');
    std::fs::write(org.chain(), s).unwrap();
}

/// Every writer refuses, exit 1, and the chain is byte for byte what it was.
fn writers_refuse(org: &Org, id: &str, why: &str) {
    let before = org.chain_bytes();
    let junit = org.path("junit.xml");
    std::fs::write(
        &junit,
        r#"<testsuite name="t" tests="1"><testcase name="a" classname="c"/></testsuite>"#,
    )
    .unwrap();
    let attempts: Vec<(&str, Vec<&str>)> = vec![
        (
            "alice",
            vec!["evidence", "add", "service-b", junit.to_str().unwrap()],
        ),
        (
            "alice",
            vec!["promote", "c1", "--to", "compliance_ready", "--offline"],
        ),
        ("bob", vec!["approve", id, "--offline"]),
        ("bob", vec!["reject", id, "--reason", "no"]),
        (
            "alice",
            vec![
                "runbook",
                "run",
                "evidence_chain_corruption",
                "--service",
                "service-b",
            ],
        ),
    ];
    for (who, args) in attempts {
        let (code, out, err) = org.run(who, &args);
        assert_eq!(code, 1, "{why}: {args:?} was not refused: {out}{err}");
        assert!(
            err.contains("the chain does not verify"),
            "{why}: {args:?}: {err}"
        );
        assert_eq!(
            org.chain_bytes(),
            before,
            "{why}: {args:?} wrote to the chain"
        );
    }
}

#[test]
fn writers_refuse_a_chain_that_does_not_verify() {
    // A signature that no longer verifies (the record's data edited, hash recomputed
    // and relinked: "history rewritten with recomputed hashes").
    let org = Org::new();
    let id = org.request();
    let mut ls = lines(&org);
    let mut recs: Vec<Record> = ls.iter().map(|l| parse_line(l).unwrap()).collect();
    recs[0].evidence.data["reason"] = "rewritten".into();
    let mut prev = gander::engine::chain::GENESIS.to_string();
    for r in recs.iter_mut() {
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        prev = r.hash.clone();
    }
    ls = recs.iter().map(|r| r.line()).collect();
    write_lines(&org, &ls);
    assert_eq!(org.verify().0, 1);
    writers_refuse(&org, &id, "rewritten history");

    // An unsigned record forged at the end, correctly hashed and linked.
    let org = Org::new();
    let id = org.request();
    let mut ls = lines(&org);
    let last = parse_line(ls.last().unwrap()).unwrap();
    let mut forged = last.clone();
    forged.seq += 1;
    forged.prev_hash = last.hash.clone();
    forged.evidence.kind = "approval".into();
    forged.evidence.data = serde_json::json!({"by": "bob", "reason": "forged"});
    forged.evidence.signatures.clear();
    forged.hash = forged.compute_hash();
    ls.push(forged.line());
    write_lines(&org, &ls);
    writers_refuse(&org, &id, "unsigned forged record");

    // An evidence file changed, and one removed, after it was recorded.
    for remove in [false, true] {
        let org = Org::new();
        let id = org.request();
        let junit = org.path("ok.xml");
        std::fs::write(
            &junit,
            r#"<testsuite name="t" tests="1"><testcase name="a" classname="c"/></testsuite>"#,
        )
        .unwrap();
        let (code, _, err) = org.run(
            "alice",
            &["evidence", "add", "service-b", junit.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{err}");
        let rec: Record = parse_line(lines(&org).last().unwrap()).unwrap();
        let copy = org
            .path("state")
            .join(rec.evidence.data["artifacts"][0]["path"].as_str().unwrap());
        if remove {
            std::fs::remove_file(&copy).unwrap();
        } else {
            std::fs::write(&copy, "<testsuite/>").unwrap();
        }
        writers_refuse(
            &org,
            &id,
            if remove {
                "artifact removed"
            } else {
                "artifact changed"
            },
        );
    }
}

#[test]
fn truncation_and_forks_are_reported_against_the_last_head_seen() {
    let org = Org::new();
    let id = org.request();
    assert_eq!(org.run("bob", &["approve", &id, "--offline"]).0, 0);
    // `gander head` prints SEQ:HASH; verify accepts it as the expected head.
    let (code, head, _) = org.run("alice", &["head"]);
    assert_eq!(code, 0);
    let head = head.trim().to_string();
    let (seq, hash) = head.split_once(':').unwrap();
    assert_eq!(hash.len(), 64);
    assert_eq!(org.verify().0, 0);
    let all = lines(&org);
    assert_eq!(seq, all.len().to_string());
    // The last two records removed: everything left verifies, but this user saw more.
    write_lines(&org, &all[..all.len() - 2]);
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "truncated: the chain ends at seq {}",
            all.len() - 2
        )),
        "{out}"
    );
    assert!(out.contains(&format!("seq {seq}")), "{out}");
    // Writers refuse it too.
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("truncated"), "{err}");
    // An auditor with the head written down, on a fresh machine (no remembered head).
    let fresh = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("state"))
        .args(["verify", "--expect-head", &head])
        .env("GANDER_HEADS_DIR", org.path("auditor-heads"))
        .output()
        .unwrap();
    assert_eq!(fresh.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&fresh.stdout).contains("truncated"));
    // Put back: verifies again, also against the written-down head.
    write_lines(&org, &all);
    let (code, out) = org.verify();
    assert_eq!(code, 0, "{out}");
    // A fork: the last record replaced by another that verifies on its own terms is
    // not possible without a key, but a rewritten tail is caught by its hash.
    let mut forked = all.clone();
    let mut r = parse_line(forked.last().unwrap()).unwrap();
    r.evidence.data["reason"] = "other".into();
    r.hash = r.compute_hash();
    *forked.last_mut().unwrap() = r.line();
    write_lines(&org, &forked);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(out.contains("forked") || out.contains("signature"), "{out}");
    // A malformed --expect-head is a usage error.
    let (code, _, err) = org.run("alice", &["verify", "--expect-head", "12:abc"]);
    assert_eq!(code, 2);
    assert!(err.contains("SEQ:HASH"), "{err}");
}

#[test]
fn a_completed_demotion_closes_its_promotion() {
    let org = Org::new();
    let (code, out, err) = org.run(
        "alice",
        &[
            "promote",
            "service-a",
            "--to",
            "sandbox",
            "--reason",
            "violation",
            "--offline",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is now `sandbox`"), "{out}");
    let id = out.split(':').next().unwrap().trim().to_string();
    let (_, out, _) = org.run("alice", &["promotions", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["open"].as_array().unwrap().is_empty(), "{v}");
    // It takes no approval, and service-a can be promoted again at once.
    let (code, _, err) = org.run("bob", &["approve", &id, "--offline"]);
    assert_eq!(code, 1);
    assert!(err.contains("is completed"), "{err}");
    let (code, out, err) = org.run(
        "alice",
        &[
            "promote",
            "service-a",
            "--to",
            "compliance_ready",
            "--offline",
        ],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(!err.contains("already has an open promotion"), "{err}");
    assert_eq!(org.verify().0, 0);
}

#[test]
fn a_demotion_closes_an_open_promotion_of_the_service_on_the_record() {
    // Rules where compliant services may go on to `certified` (with an approval).
    let org = Org::with(|cfg| {
        let p = cfg.join("policies/compliance_rules.yaml");
        let t = std::fs::read_to_string(&p).unwrap().replace(
            "  compliant:\n    allowed_transitions: [sandbox]",
            "  compliant:\n    allowed_transitions: [sandbox, certified]",
        ) + "";
        let t = t.replace(
            "demotions:",
            "  certified:\n    allowed_transitions: [sandbox]\n    requirements: [approved_promotion]\n    gates: [approval_check]\ndemotions:",
        );
        std::fs::write(p, t).unwrap();
    });
    let (code, out, err) = org.run(
        "alice",
        &["promote", "service-a", "--to", "certified", "--offline"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let open_id = out.split(':').next().unwrap().trim().to_string();
    let (code, out, err) = org.run(
        "bob",
        &[
            "promote",
            "service-a",
            "--to",
            "sandbox",
            "--reason",
            "CVE in prod",
            "--offline",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("{open_id} (compliant -> certified) is closed")),
        "{err}"
    );
    let recs = org.records();
    let closure = recs
        .iter()
        .find(|r| r.promotion_id == open_id && r.evidence.kind == "closure")
        .expect("a closure record");
    assert_eq!(closure.evidence.data["status"], "demoted");
    let (code, _, err) = org.run("bob", &["approve", &open_id, "--offline"]);
    assert_eq!(code, 1);
    assert!(err.contains("is demoted"), "{err}");
    assert_eq!(org.verify().0, 0);
}

/// `gander validate` on the example config with one service file replaced.
fn validate_with(service_yaml: &str, limit_bytes: Option<u64>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    copy_dir(Path::new("config"), &cfg);
    let victim = std::fs::read_dir(cfg.join("services"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, service_yaml).unwrap();
    let mut cmd = match limit_bytes {
        // The address-space limit makes "never exceeds a memory bound" a hard fact.
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--as={n}")).arg(env!("CARGO_BIN_EXE_gander"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_gander")),
    };
    let out = cmd
        .arg("--config")
        .arg(&cfg)
        .arg("validate")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn yaml_alias_bombs_are_refused_within_a_memory_bound() {
    // The reviewer's 449-byte shape, one level deeper than the one that took 1.34 GB.
    let mut bomb =
        String::from("service:\n  name: bomb\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(bomb.len() < 800);
    let (code, err) = validate_with(&bomb, Some(512 << 20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("past") && err.contains("refused"), "{err}");
    assert!(err.contains(".yaml:"), "names the file: {err}");
    // Deep nesting is refused without needing the stack or hundreds of MB.
    let deep = format!("service: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let (code, err) = validate_with(&deep, Some(512 << 20));
    assert_eq!(code, 2, "{err}");
    // Refused by the parser's own recursion limit here; gander's (64 levels) refuses
    // the shallower cases a parser would still accept.
    assert!(
        err.contains("nested more than 64 levels") || err.contains("recursion limit exceeded"),
        "{err}"
    );
    assert!(err.contains(".yaml:1:"), "names file:line:col: {err}");
    let deep = format!(
        "service: {}{}
",
        "[".repeat(100),
        "]".repeat(100)
    );
    let (code, err) = validate_with(&deep, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nested more than 64 levels"), "{err}");
    // A few honest aliases still work.
    let honest = "service:\n  name: honest\n  spec:\n    api_version: v1\n    compliance_mode: sandbox\n    dependencies:\n      runtime: &deps []\n      data: *deps\n";
    let (_, err) = validate_with(honest, None);
    assert!(!err.contains("aliases expand"), "{err}");
}

#[test]
fn names_that_are_paths_are_refused_at_load_time() {
    for bad in [".", "..", ".hidden", "a/b"] {
        let yaml = format!(
            "service:\n  name: \"{bad}\"\n  spec:\n    api_version: v1\n    compliance_mode: sandbox\n"
        );
        let (code, err) = validate_with(&yaml, None);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("is not a valid name"), "{bad}: {err}");
        assert!(err.contains(".yaml:2:"), "{bad}: file:line:col: {err}");
    }
}

/// A runbook of one command step, walked to it; returns (exit code, output, elapsed).
fn run_command_step(argv: &str, extra: &str) -> (i32, String, Duration, common::Demo) {
    let d = common::Demo::start();
    std::fs::create_dir_all(d.config.join("runbooks")).unwrap();
    std::fs::write(
        d.config.join("runbooks/runaway.yaml"),
        format!("title: Runaway\nsteps:\n  - id: cmd\n    kind: command\n    title: Run it\n    argv: {argv}\n{extra}  - id: after\n    kind: manual\n    title: After\n"),
    )
    .unwrap();
    let (code, out, err) = d.run(
        "alice",
        &["runbook", "run", "runaway", "--service", "service-a"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.split(':').next().unwrap().trim().to_string();
    let start = std::time::Instant::now();
    let (code, out, err) = d.run("alice", &["runbook", "step", &id, "--run"]);
    (code, out + &err, start.elapsed(), d)
}

fn sleeps_with(marker: &str) -> usize {
    let out = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn a_timed_out_command_and_its_children_are_stopped_and_the_walk_stops() {
    // The shell and a backgrounded grandchild both sleep well past the timeout.
    let (code, out, took, _d) = run_command_step(
        r#"[/bin/sh, -c, "sleep 41.17 & sleep 41.17"]"#,
        "    timeout: 1s\n",
    );
    assert!(
        took < Duration::from_secs(15),
        "ran {took:?} past a 1 s timeout"
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stopped at `cmd`: it ran past its timeout"),
        "{out}"
    );
    assert_eq!(sleeps_with("sleep 41.17"), 0, "a child outlived the step");
}

#[test]
fn a_failed_command_stops_the_walk_unless_it_may_fail() {
    let (code, out, _, d) = run_command_step("[/bin/false]", "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("stopped at `cmd`: it exited with 1"), "{out}");
    let (_, walks, _) = d.run("alice", &["runbook", "walks", "--json"]);
    assert!(walks.contains(r#""id": "cmd""#), "still at cmd: {walks}");
    let (code, out, _, _) = run_command_step("[/bin/false]", "    allow_failure: true\n");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("failed (it exited with 1) but may fail"),
        "{out}"
    );
    // A background child left by a command that exited at once does not outlive it.
    let (code, out, _, _) = run_command_step(r#"[/bin/sh, -c, "sleep 42.19 &"]"#, "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        sleeps_with("sleep 42.19"),
        0,
        "a background child outlived the step"
    );
}

fn package(d: &common::Demo) -> std::path::PathBuf {
    let (code, _, err) = d.run("alice", &["package", "create", "--version", "3.0.0"]);
    assert_eq!(code, 0, "{err}");
    d.state.join("packages/gg-3.0.0")
}

fn verify_pkg(d: &common::Demo, p: &Path, tmp: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(&d.config)
        .arg("--state-dir")
        .arg(&d.state)
        .args(["package", "verify"])
        .arg(p)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn package_verification_checks_sums_refuses_links_and_bounds_extraction() {
    let d = common::Demo::start();
    let good = package(&d);
    let tmp = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    assert_eq!(verify_pkg(&d, &good, tmp.path()).0, 0);
    // Garbage, and zeroed, SHA256SUMS fail as `sha256sum -c` fails them.
    for (name, text) in [
        ("garbage", "hello world\n".to_string()),
        ("zeroed", "\0".repeat(4096)),
    ] {
        let p = work.path().join(name).join("gg-3.0.0");
        copy_dir(&good, &p);
        std::fs::write(p.join("SHA256SUMS"), &text).unwrap();
        let sums = Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&p)
            .output()
            .unwrap();
        assert!(!sums.status.success(), "{name}: sha256sum passes it");
        let (code, out) = verify_pkg(&d, &p, tmp.path());
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("SHA256SUMS"), "{name}: {out}");
    }
    // A directory package whose services/x is a symlink to a folder outside.
    let p = work.path().join("linked").join("gg-3.0.0");
    copy_dir(&good, &p);
    let svc = std::fs::read_dir(p.join("services"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let outside = work.path().join("outside");
    std::fs::rename(&svc, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &svc).unwrap();
    let (code, out) = verify_pkg(&d, &p, tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("a symbolic link"), "{out}");
    // The tarball verifies and leaves nothing behind in TMPDIR.
    let tgz = d.state.join("packages/gg-3.0.0.tar.gz");
    let (code, out) = verify_pkg(&d, &tgz, tmp.path());
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left a copy in TMPDIR"
    );
    // A small tarball with a huge entry the manifest does not allow: refused before
    // it is written, and nothing left behind.
    let bomb = work.path().join("bomb.tar.gz");
    let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    ));
    for f in ["manifest.json", "manifest.json.sig", "SHA256SUMS"] {
        t.append_path_with_name(good.join(f), format!("gg-3.0.0/{f}"))
            .unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(64 << 20);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    t.append_data(
        &mut h,
        "gg-3.0.0/summary.md",
        std::io::repeat(0).take(64 << 20),
    )
    .unwrap();
    t.into_inner().unwrap().finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < (1 << 20));
    let (code, out) = verify_pkg(&d, &bomb, tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("more than the") && out.contains("refused before writing it"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left a copy in TMPDIR"
    );
}

use std::io::Read as _;

#[test]
fn a_config_file_that_is_not_utf8_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    copy_dir(Path::new("config"), &cfg);
    std::fs::write(
        cfg.join("services/service-a.yaml"),
        b"service:\n  name: caf\xe9\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(&cfg)
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("service-a.yaml:2:12: error: not UTF-8"),
        "{err}"
    );
}

#[test]
fn runbook_parameters_must_match_their_declared_pattern() {
    let d = common::Demo::start();
    let (code, _, err) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "compliance_violation",
            "--service",
            "service-a",
            "--param",
            "ticket=$(id)",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not match the parameter's pattern"),
        "{err}"
    );
    let (code, out, err) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "compliance_violation",
            "--service",
            "service-a",
            "--param",
            "ticket=INC-4242",
        ],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    // Every shipped runbook declares a pattern for each of its parameters.
    for f in std::fs::read_dir("runbooks").unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let params = text.matches("\n  - name:").count();
        let patterns = text.matches("\n    pattern:").count();
        assert_eq!(params, patterns, "{text}");
    }
}

#[test]
fn leftovers_of_a_killed_writer_are_swept_or_reported() {
    let org = Org::new();
    org.request();
    let audit = org.path("state/audit");
    // A temp file of a writer that died (no such pid), and an evidence copy no record names.
    let tmp = audit.join("promotions/.00000009-approval.json.tmp-4194301");
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    std::fs::write(&tmp, "half").unwrap();
    let stray = audit.join("services/service-b/evidence/20260101/tests/junit.xml");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, "<testsuite/>").unwrap();
    let (code, out) = org.verify();
    assert_eq!(code, 0, "a note, not a problem: {out}");
    assert!(
        // Quoted: a file name cannot add lines of its own to the report.
        out.contains("\"audit/services/service-b/evidence/20260101/tests/junit.xml\": an evidence copy no record references"),
        "{out}"
    );
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        err.contains("removed 1 temp file left by a writer that died"),
        "{err}"
    );
    assert!(!tmp.exists());
}

/// A record written by hand, as someone with a key and write access to the file would:
/// linked, hashed and signed by `key_of` as `principal`.
fn forge(org: &Org, key_of: &str, principal: &str, kind: &str, id: &str, data: serde_json::Value) {
    let mut ls = lines(org);
    let last = parse_line(ls.last().unwrap()).unwrap();
    let signers =
        gander::io::keys::load_allowed_signers(&org.path("config/allowed_signers")).unwrap();
    let signer = gander::io::keys::choose_signer(
        Some(&org.path(&format!("keys/{key_of}"))),
        None,
        None,
        &signers,
        &org.path("config/allowed_signers"),
        chrono::Utc::now(),
    )
    .unwrap();
    let mut r = last.clone();
    r.seq += 1;
    r.prev_hash = last.hash.clone();
    r.promotion_id = id.into();
    r.evidence.kind = kind.into();
    r.evidence.data = data;
    r.evidence.signatures.clear();
    let sig = signer.sign(r.signed_form().as_bytes()).unwrap();
    r.evidence
        .signatures
        .push(gander::engine::chain::Signature {
            principal: principal.into(),
            sshsig: sig,
            key: Some(signer.fingerprint.clone()),
        });
    r.hash = r.compute_hash();
    ls.push(r.line());
    write_lines(org, &ls);
}

#[test]
fn a_record_that_names_another_actor_than_its_signer_is_refused() {
    // alice forges a request "by bob" and approves it herself (the reviewer's 1a).
    let org = Org::new();
    org.request();
    let data = serde_json::json!({"requester": "bob", "service": "c1", "target_state": "compliance_ready", "from_state": "sandbox", "reason": "forged", "expires_at": "2099-01-01T00:00:00Z"});
    forge(
        &org,
        "alice",
        "alice",
        "request",
        "PRM-20991231-000099",
        data,
    );
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("says `bob` acted but is signed by `alice`"),
        "{out}"
    );
    let (code, _, err) = org.run("alice", &["approve", "PRM-20991231-000099", "--offline"]);
    assert_eq!(code, 1, "{err}");
    // An approval "by bob" signed by alice (1b).
    let org = Org::new();
    let id = org.request();
    forge(
        &org,
        "alice",
        "alice",
        "approval",
        &id,
        serde_json::json!({"by": "bob", "reason": "x"}),
    );
    assert_eq!(org.verify().0, 1);
}

#[test]
fn only_the_canonical_form_of_a_record_is_accepted() {
    let org = Org::new();
    org.request();
    let mut ls = lines(&org);
    ls[0] = ls[0].replacen(
        "{\"evidence\":{",
        "{\"approved_by\":\"bob\",\"evidence\":{",
        1,
    );
    write_lines(&org, &ls);
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not in the canonical form"), "{out}");
}

#[test]
fn records_run_together_are_corruption_not_a_torn_write() {
    let org = Org::new();
    let id = org.request();
    assert_eq!(org.run("bob", &["approve", &id, "--offline"]).0, 0);
    let all = lines(&org);
    let n = all.len();
    // The last three records with their newlines removed.
    let text = all[..n - 3].join("\n") + "\n" + &all[n - 3..].join("");
    std::fs::write(org.chain(), &text).unwrap();
    // A user who never saw this chain (no remembered head) still cannot append.
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("state"))
        .args(["promote", "c1", "--to", "compliance_ready", "--offline"])
        .env("GANDER_KEY", org.path("keys/bob"))
        .env("GANDER_HEADS_DIR", org.path("fresh-heads"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without their newlines"));
    assert_eq!(
        std::fs::read_to_string(org.chain()).unwrap(),
        text,
        "nothing was cut"
    );
}

#[test]
fn a_symlinked_chain_is_refused() {
    let org = Org::new();
    let id = org.request();
    assert_eq!(org.run("bob", &["approve", &id, "--offline"]).0, 0);
    let elsewhere = org.path("evil.jsonl");
    let all = lines(&org);
    std::fs::write(&elsewhere, all[..2].join("\n") + "\n").unwrap();
    std::fs::remove_file(org.chain()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, org.chain()).unwrap();
    let (code, out) = org.verify();
    assert_ne!(code, 0, "{out}");
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn anchors_cost_what_they_hold() {
    // Many aliases of a many-node anchor, and a long scalar under nested anchors: both
    // refused within 512 MB (the reviewer's shapes, smaller).
    let mut many = String::from("service:\n  name: x\n  a: &a [");
    many.push_str(&vec!["a"; 2000].join(","));
    many.push_str("]\n  b:\n");
    for _ in 0..20_000 {
        many.push_str("   - *a\n");
    }
    let (code, err) = validate_with(&many, Some(512 << 20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("past") && err.contains("refused"), "{err}");
    let nested = format!(
        "service: {}\"{}\"{}\n",
        (0..40).map(|i| format!("&a{i} [")).collect::<String>(),
        "A".repeat(2 << 20),
        "]".repeat(40)
    );
    let (code, err) = validate_with(&nested, Some(512 << 20));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn a_tarball_with_a_repeated_entry_or_an_unsigned_manifest_is_refused_before_extraction() {
    let d = common::Demo::start();
    let good = package(&d);
    let tmp = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let build =
        |name: &str, f: &dyn Fn(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>)| {
            let p = work.path().join(name);
            let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
                std::fs::File::create(&p).unwrap(),
                flate2::Compression::default(),
            ));
            f(&mut t);
            t.into_inner().unwrap().finish().unwrap();
            p
        };
    let meta = |t: &mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>| {
        for f in ["manifest.json", "manifest.json.sig", "SHA256SUMS"] {
            t.append_path_with_name(good.join(f), format!("gg-3.0.0/{f}"))
                .unwrap();
        }
    };
    // The real files, then summary.md again with other bytes.
    let dup = build("dup.tar.gz", &|t| {
        meta(t);
        t.append_dir_all("gg-3.0.0", &good).unwrap();
    });
    let (code, out) = verify_pkg(&d, &dup, tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("comes twice"), "{out}");
    // A manifest whose signature does not hold: nothing else is written.
    let forged = work.path().join("manifest.json");
    std::fs::write(
        &forged,
        std::fs::read_to_string(good.join("manifest.json"))
            .unwrap()
            .replace("3.0.0", "6.6.6"),
    )
    .unwrap();
    let unsigned = build("unsigned.tar.gz", &|t| {
        t.append_path_with_name(&forged, "gg-3.0.0/manifest.json")
            .unwrap();
        t.append_path_with_name(good.join("manifest.json.sig"), "gg-3.0.0/manifest.json.sig")
            .unwrap();
        t.append_path_with_name(good.join("summary.md"), "gg-3.0.0/summary.md")
            .unwrap();
    });
    let (code, out) = verify_pkg(&d, &unsigned, tmp.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused before extracting the rest"), "{out}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn what_a_chain_record_says_cannot_repaint_the_terminal() {
    let org = Org::new();
    org.request();
    let mut ls = lines(&org);
    let mut r = parse_line(&ls[0]).unwrap();
    r.evidence.signatures[0].principal = "alice\u{1b}[2K\u{1b}[1A ok".into();
    ls[0] = r.line();
    write_lines(&org, &ls);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(!out.contains('\u{1b}'), "raw escape in: {out:?}");
    assert!(out.contains("\\u{1b}[2K"), "{out}");
}

#[test]
fn one_key_under_two_names_is_one_person() {
    // The reviewer's bypass: alice's key listed again as "alice2", an approver.
    let org = Org::with(|cfg| {
        let p = cfg.join("org-config.yaml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("sre: [alice, bob]", "sre: [alice, alice2, bob]");
        std::fs::write(p, t).unwrap();
    });
    let signers = org.path("config/allowed_signers");
    let text = std::fs::read_to_string(&signers).unwrap();
    let alice_line = text
        .lines()
        .find(|l| l.starts_with("alice "))
        .unwrap()
        .to_string();
    std::fs::write(
        &signers,
        format!("{text}{}\n", alice_line.replacen("alice ", "alice2 ", 1)),
    )
    .unwrap();
    // validate names both lines.
    let (code, _, err) = org.run("alice", &["validate"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is listed again under another principal (first on line"),
        "{err}"
    );
    // And whatever name the key signs as, it cannot approve its own request.
    let id = org.request();
    let before = org.chain_bytes();
    let (code, _, err) = org.run("alice", &["approve", &id, "--offline"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("four-eyes"), "{err}");
    assert_eq!(org.chain_bytes(), before);
}

#[test]
fn a_key_past_its_valid_before_cannot_sign() {
    let org = Org::new();
    let signers = org.path("config/allowed_signers");
    let text = std::fs::read_to_string(&signers).unwrap().replacen(
        "alice ",
        "alice valid-before=\"20200101\" ",
        1,
    );
    std::fs::write(&signers, text).unwrap();
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not accepted by"), "{err}");
    assert!(org.chain_bytes().is_empty());
}

/// The second reviewer's bypass: alice's key listed again as `alice2` (an approver), an
/// approval "by alice2" signed with alice's key, and the recorded `key` field removed.
/// People are counted by the key the signature proves, not by that field.
#[test]
fn the_recorded_key_field_is_not_what_counts() {
    let org = Org::with(|cfg| {
        let p = cfg.join("org-config.yaml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("sre: [alice, bob]", "sre: [alice, alice2, bob]");
        std::fs::write(p, t).unwrap();
    });
    let signers = org.path("config/allowed_signers");
    let text = std::fs::read_to_string(&signers).unwrap();
    let alice_line = text
        .lines()
        .find(|l| l.starts_with("alice "))
        .unwrap()
        .to_string();
    std::fs::write(
        &signers,
        format!("{text}{}\n", alice_line.replacen("alice ", "alice2 ", 1)),
    )
    .unwrap();
    let id = org.request();
    forge(
        &org,
        "alice",
        "alice2",
        "approval",
        &id,
        serde_json::json!({"by": "alice2", "reason": ""}),
    );
    let mut ls = lines(&org);
    let mut r = parse_line(ls.last().unwrap()).unwrap();
    r.evidence.signatures[0].key = None;
    r.hash = r.compute_hash();
    *ls.last_mut().unwrap() = r.line();
    write_lines(&org, &ls);
    // Re-checking the promotion: alice2's approval is alice's own key, so it does not count.
    let (_, out, err) = org.run(
        "bob",
        &["promote", "service-b", "--to", "compliant", "--offline"],
    );
    assert!(!out.contains("is now `compliant`"), "{out}{err}");
    let (_, out, _) = org.run("bob", &["promotions", "--json"]);
    assert!(out.contains("the requester's own"), "{out}");
    // The listing counts as the gate counts.
    let (_, out, _) = org.run("bob", &["promotions"]);
    assert!(
        out.contains("approvals 0/1 (alice2: not counted, the requester's own"),
        "{out}"
    );
}

#[test]
fn a_backdated_record_fails_verification() {
    let org = Org::new();
    org.request();
    let mut ls = lines(&org);
    let last = parse_line(ls.last().unwrap()).unwrap();
    let mut r = last.clone();
    r.seq += 1;
    r.prev_hash = last.hash.clone();
    r.timestamp = "2020-01-01T00:00:00Z".into();
    r.evidence.kind = "note".into();
    r.evidence.signatures.clear();
    r.hash = r.compute_hash();
    ls.push(r.line());
    write_lines(&org, &ls);
    let (code, out) = org.verify();
    assert_eq!(code, 1);
    assert!(out.contains("backdated"), "{out}");
}

#[test]
fn a_revoked_key_cannot_sign_and_its_signatures_fail() {
    let org = Org::new();
    org.request();
    assert_eq!(org.verify().0, 0);
    std::fs::copy(org.path("keys/alice.pub"), org.path("config/revoked_keys")).unwrap();
    let cfg = org.path("config/org-config.yaml");
    let t = std::fs::read_to_string(&cfg).unwrap();
    let t = t.replacen("signing:\n", "signing:\n  revoked_keys: revoked_keys\n", 1);
    let t = if t.contains("revoked_keys") {
        t
    } else {
        format!("{t}signing:\n  revoked_keys: revoked_keys\n")
    };
    std::fs::write(&cfg, t).unwrap();
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is revoked"), "{out}");
    let (code, _, err) = org.run(
        "alice",
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert_ne!(code, 0, "{err}");
}

#[test]
fn a_transition_without_an_approval_is_refused_though_every_signature_verifies() {
    // The team reviewer's finding: alice, an enrolled operator, appends a transition
    // signed with her own key; every hash and signature is good.
    let org = Org::new();
    let id = org.request();
    forge(
        &org,
        "alice",
        "alice",
        "transition",
        &id,
        serde_json::json!({"from": "compliance_ready", "to": "compliant", "approvals": ["bob"]}),
    );
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("without a signed approval by anyone but its requester alice"),
        "{out}"
    );
    writers_refuse(&org, &id, "without a signed approval");
    // A state change with no request at all.
    let org = Org::new();
    org.request();
    forge(
        &org,
        "alice",
        "alice",
        "transition",
        "-",
        serde_json::json!({"from": "sandbox", "to": "compliance_ready", "approvals": []}),
    );
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("with no request on record"), "{out}");
}

#[test]
fn an_artifact_path_outside_the_store_is_a_problem_and_never_followed() {
    let org = Org::new();
    org.request();
    let outside = org.path("outside.txt");
    std::fs::write(&outside, "not evidence\n").unwrap();
    let sha = gander::engine::chain::sha256_hex(&std::fs::read(&outside).unwrap());
    forge(
        &org,
        "alice",
        "alice",
        "evidence",
        "-",
        serde_json::json!({"evidence_kind": "tests", "artifacts": [{"path": "../outside.txt", "sha256": sha}], "passed": true}),
    );
    let (code, out) = org.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("artifact path ../outside.txt leaves the store"),
        "{out}"
    );
}
