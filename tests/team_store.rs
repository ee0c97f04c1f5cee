//! The team store in a real PostgreSQL (Debian's server, started by the test): two
//! bastions (two state dirs) on one database, four-eyes across them, concurrent writers
//! that never fork the chain, a server killed mid-run, a commit lost on the wire, a
//! database edited behind gander's back, and an export that auditors verify with jq,
//! sha256sum and ssh-keygen.

mod common;

use common::org::Org;
use common::pg::{PASSWORD, Pg};
use gander::engine::chain::{Record, parse_line};
use gander::engine::ledger::{Ledger, PromotionStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The store-org fixture pointed at the database through org-config.
fn team_org(pg: &Pg) -> Org {
    let port = pg.port;
    Org::with(move |cfg| {
        let p = cfg.join("org-config.yaml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(&format!(
            "store:\n  postgres: \"host=127.0.0.1 port={port} dbname=gander user=gander connect_timeout=3\"\n  password: env:GANDER_PG_PASSWORD\n"
        ));
        std::fs::write(p, s).unwrap();
    })
}

/// Run gander on `bastion` (its own state dir and remembered heads) as `who`.
fn run(org: &Org, bastion: &str, who: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path(&format!("bastion-{bastion}")))
        .args(args)
        .env_remove("GANDER_CONFIG")
        .env_remove("GANDER_STORE")
        .env("GANDER_PG_PASSWORD", PASSWORD)
        .env("GANDER_HEADS_DIR", org.path(&format!("heads-{bastion}")))
        .env("GANDER_KEY", org.path(&format!("keys/{who}")))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// alice requests service-b -> compliant on bastion A; the promotion's ID.
fn request_on_a(org: &Org) -> String {
    let (code, out, err) = run(
        org,
        "a",
        "alice",
        &["promote", "service-b", "--to", "compliant", "--reason", "r"],
    );
    assert_eq!(code, 0, "{out}{err}");
    out.split(':').next().unwrap().trim().to_string()
}

fn records_of(text: &str) -> Vec<Record> {
    text.lines().map(|l| parse_line(l).unwrap()).collect()
}

/// The README's auditor recipe over every line: the hash with jq and sha256sum, the
/// signature with ssh-keygen at the record's time.
fn auditor_recipe(chain: &Path, allowed_signers: &Path) {
    let script = r#"
set -euo pipefail
n=$(wc -l < "$1")
for i in $(seq 1 "$n"); do
  want=$(sed -n "${i}p" "$1" | jq -r .hash)
  got=$(sed -n "${i}p" "$1" | jq -cS 'del(.hash)' | tr -d '\n' | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "line $i: hash $got, recorded $want"; exit 1; }
  sed -n "${i}p" "$1" | jq -cS 'del(.hash) | .evidence.signatures = []' | tr -d '\n' > "$3/msg"
  sed -n "${i}p" "$1" | jq -r '.evidence.signatures[0].sshsig' > "$3/msg.sig"
  at=$(sed -n "${i}p" "$1" | jq -r .timestamp | tr -d ':-' | sed 's/T//')
  who=$(sed -n "${i}p" "$1" | jq -r '.evidence.signatures[0].principal')
  ssh-keygen -Y verify -n gander -f "$2" -Overify-time="$at" -I "$who" -s "$3/msg.sig" < "$3/msg" > /dev/null
done
echo "$n ok"
"#;
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("recipe")
        .arg(chain)
        .arg(allowed_signers)
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the auditor recipe fails: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn junit(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(
        &p,
        format!(
            "<testsuite name=\"s\" tests=\"1\" failures=\"0\"><testcase classname=\"c\" name=\"{name}\"/></testsuite>\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn two_bastions_share_one_chain_and_four_eyes_holds_across_them() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let (code, out, err) = run(
        &org,
        "a",
        "alice",
        &[
            "promote",
            "service-b",
            "--to",
            "compliant",
            "--reason",
            "release 2",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.split(':').next().unwrap().trim().to_string();
    assert!(id.starts_with("PRM-"), "{out}");

    // Bastion B, which never ran a command before, sees alice's request.
    let (code, out, err) = run(&org, "b", "bob", &["promotions"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id) && out.contains("by alice"), "{out}");

    // Alice cannot approve her own request from the other bastion either.
    let (code, _, err) = run(&org, "b", "alice", &["approve", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("four-eyes"), "{err}");

    let (code, out, err) = run(&org, "b", "bob", &["approve", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("now `compliant`"), "{out}");

    // Back on A: the promotion is done, and both copies verify.
    let (_, out, _) = run(&org, "a", "alice", &["status"]);
    let line = out.lines().find(|l| l.contains("service-b")).unwrap();
    assert!(
        line.contains("compliant") && !line.contains("ready"),
        "{out}"
    );
    for b in ["a", "b"] {
        let (code, out, err) = run(&org, b, "alice", &["verify"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(": ok: "), "{out}");
    }

    // The export is the chain in the file format, byte for byte B's copy, and the
    // README's recipe verifies it with standard tools.
    let file = org.path("export.jsonl");
    let (code, _, err) = run(
        &org,
        "a",
        "alice",
        &["store", "export", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let exported = std::fs::read(&file).unwrap();
    let copy_dir = std::fs::read_dir(org.path("bastion-b/stores"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        exported,
        std::fs::read(copy_dir.join("audit/chain.jsonl")).unwrap()
    );
    auditor_recipe(&file, &org.path("config/allowed_signers"));
}

#[test]
fn evidence_files_travel_through_the_database_and_an_import_moves_a_file_chain() {
    let pg = Pg::start();
    // A file chain first, made by the ordinary per-user store.
    let solo = Org::new();
    let files = tempfile::tempdir().unwrap();
    let f = junit(files.path(), "import-me");
    let (code, out, err) = solo.run(
        "alice",
        &["evidence", "add", "service-b", f.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    solo.request();

    let org = team_org(&pg);
    // The team org must trust the same keys to verify the imported signatures.
    std::fs::copy(
        solo.path("config/allowed_signers"),
        org.path("config/allowed_signers"),
    )
    .unwrap();
    for who in ["alice", "bob"] {
        std::fs::copy(
            solo.path(&format!("keys/{who}")),
            org.path(&format!("keys/{who}")),
        )
        .unwrap();
    }
    let chain = solo.chain();
    let (code, out, err) = run(
        &org,
        "a",
        "alice",
        &["store", "import", chain.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("imported") && out.contains("(1 evidence files)"),
        "{out}"
    );
    // A second import into a database that holds a chain is refused.
    let (code, _, err) = run(
        &org,
        "a",
        "alice",
        &["store", "import", chain.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already holds"), "{err}");

    // Bastion B has never seen the file: it comes from the database, and verifies.
    let (code, out, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 artifacts match"), "{out}");
    let (code, out, _) = run(&org, "b", "bob", &["evidence", "list", "service-b"]);
    assert_eq!(code, 0);
    assert!(out.contains("import-me") || out.contains("tests"), "{out}");
    // Evidence added on B is stored once by digest, even when added twice.
    let g = junit(files.path(), "from-b");
    for _ in 0..2 {
        let (code, out, err) = run(
            &org,
            "b",
            "bob",
            &["evidence", "add", "service-a", g.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let sha = gander::engine::chain::sha256_hex(&std::fs::read(&g).unwrap());
    assert_eq!(
        pg.psql(
            "gander",
            &format!("SELECT count(*) FROM gander_artifacts WHERE sha256 = '{sha}'")
        )
        .trim(),
        "1"
    );
    // --artifacts writes them in the audit layout for the auditor.
    let out_dir = org.path("audit-export");
    let (code, _, err) = run(
        &org,
        "a",
        "alice",
        &[
            "store",
            "export",
            org.path("x.jsonl").to_str().unwrap(),
            "--artifacts",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let recs = records_of(&std::fs::read_to_string(org.path("x.jsonl")).unwrap());
    for r in &recs {
        for a in r.evidence.data["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let p = out_dir.join(a["path"].as_str().unwrap());
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(
                gander::engine::chain::sha256_hex(&bytes),
                a["sha256"].as_str().unwrap()
            );
        }
    }
}

/// What one worker did: (op, exit code, the unique thing it recorded).
type Outcome = (String, i32, String);

#[test]
fn four_writers_on_two_bastions_never_fork_and_every_operation_lands_once() {
    let pg = Pg::start();
    let org = std::sync::Arc::new(team_org(&pg));
    let files = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let ops_each: usize = std::env::var("GANDER_TEAM_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (org, files) = (org.clone(), files.clone());
            std::thread::spawn(move || {
                let bastion = if w % 2 == 0 { "a" } else { "b" };
                let who = if w < 2 { "alice" } else { "bob" };
                let mut done: Vec<Outcome> = Vec::new();
                for i in 0..ops_each {
                    match i % 3 {
                        0 => {
                            let name = format!("w{w}-{i}");
                            let f = junit(files.path(), &name);
                            let (c, _, e) = run(
                                &org,
                                bastion,
                                who,
                                &["evidence", "add", "service-a", f.to_str().unwrap()],
                            );
                            assert!(c == 0 || e.contains("locked") || e.contains("first"), "{e}");
                            let sha =
                                gander::engine::chain::sha256_hex(&std::fs::read(&f).unwrap());
                            done.push(("evidence".into(), c, sha));
                        }
                        1 => {
                            let (svc, to) = [
                                ("service-b", "compliant"),
                                ("c1", "compliance_ready"),
                                ("c2", "compliance_ready"),
                            ][(i / 3) % 3];
                            let (c, o, _) = run(
                                &org,
                                bastion,
                                who,
                                &["promote", svc, "--to", to, "--reason", &format!("w{w}-{i}")],
                            );
                            let id = if c == 0 {
                                o.split(':').next().unwrap_or("").trim().to_string()
                            } else {
                                String::new()
                            };
                            done.push(("request".into(), c, id));
                        }
                        _ => {
                            let (_, o, _) = run(&org, bastion, who, &["promotions", "--json"]);
                            let open: Vec<String> = serde_json::from_str::<serde_json::Value>(&o)
                                .ok()
                                .and_then(|v| v.get("open").cloned())
                                .and_then(|v| v.as_array().cloned())
                                .unwrap_or_default()
                                .iter()
                                .filter_map(|p| {
                                    p.get("id").and_then(|x| x.as_str()).map(String::from)
                                })
                                .collect();
                            if let Some(id) = open.first() {
                                let (c, _, _) = run(&org, bastion, who, &["approve", id]);
                                done.push(("approve".into(), c, id.clone()));
                            }
                        }
                    }
                }
                done
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = workers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();

    let (code, out, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let file = org.path("all.jsonl");
    let (code, _, err) = run(
        &org,
        "a",
        "alice",
        &["store", "export", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let recs = records_of(&std::fs::read_to_string(&file).unwrap());
    // Sequence without gaps or repeats: one chain, never forked.
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
    }
    // Every evidence add that said yes is on the chain exactly once; none that said no.
    let mut on_chain: BTreeMap<String, usize> = BTreeMap::new();
    for r in recs.iter().filter(|r| r.evidence.kind == "evidence") {
        let sha = r.evidence.data["artifacts"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_string();
        *on_chain.entry(sha).or_default() += 1;
    }
    let said_yes: BTreeSet<String> = outcomes
        .iter()
        .filter(|(op, c, _)| op == "evidence" && *c == 0)
        .map(|(_, _, s)| s.clone())
        .collect();
    assert!(!said_yes.is_empty());
    assert_eq!(on_chain.keys().cloned().collect::<BTreeSet<_>>(), said_yes);
    assert!(
        on_chain.values().all(|n| *n == 1),
        "an evidence file recorded twice"
    );
    // Every request that said yes opened exactly one promotion; at most one open per
    // service at any time.
    let ledger = Ledger::fold(&recs, &|_, _| true);
    let requested: BTreeSet<String> = outcomes
        .iter()
        .filter(|(op, c, _)| op == "request" && *c == 0)
        .map(|(_, _, id)| id.clone())
        .collect();
    let ids: BTreeSet<String> = ledger.promotions.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, requested);
    let mut by_service: BTreeMap<&str, Vec<&gander::engine::ledger::Promotion>> = BTreeMap::new();
    for p in &ledger.promotions {
        by_service.entry(p.service.as_str()).or_default().push(p);
    }
    for (svc, ps) in by_service {
        for pair in ps.windows(2) {
            let (p, q) = (pair[0], pair[1]);
            assert_ne!(
                p.status,
                PromotionStatus::Open,
                "{svc}: {} still open when {} opened",
                p.id,
                q.id
            );
            assert!(
                p.records.last() < q.records.first(),
                "{svc}: {} and {} overlap",
                p.id,
                q.id
            );
        }
    }
    // Approvals that said yes are on the chain once each.
    let approvals = recs
        .iter()
        .filter(|r| r.evidence.kind == "approval")
        .count();
    let approved = outcomes
        .iter()
        .filter(|(op, c, _)| op == "approve" && *c == 0)
        .count();
    assert_eq!(approvals, approved);
}

#[test]
fn the_server_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let files = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    let add = |name: &str| {
        let f = junit(files.path(), name);
        let (c, o, e) = run(
            &org,
            "a",
            "alice",
            &["evidence", "add", "service-a", f.to_str().unwrap()],
        );
        (
            c,
            o,
            e,
            gander::engine::chain::sha256_hex(&std::fs::read(&f).unwrap()),
        )
    };
    for i in 0..5 {
        let (c, o, e, sha) = add(&format!("before-{i}"));
        assert_eq!(c, 0, "{o}{e}");
        outcomes.push((c, sha));
    }
    // The server dies as in a crash; writes while it is down.
    pg.kill();
    for i in 0..3 {
        let (c, o, e, sha) = add(&format!("down-{i}"));
        assert_eq!(c, 3, "a write with the database down exits 3: {o}{e}");
        assert!(
            e.contains("unreachable") && e.contains("nothing recorded"),
            "{e}"
        );
        outcomes.push((c, sha));
    }
    // Reads go on from this bastion's copy, and say how old it is.
    let (code, out, err) = run(&org, "a", "alice", &["promotions"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("showing this bastion's copy"), "{err}");
    // verify cannot vouch for the database it cannot reach.
    let (code, _, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 3, "{err}");

    pg.ctl_start();
    for i in 0..3 {
        let (c, o, e, sha) = add(&format!("after-{i}"));
        assert_eq!(c, 0, "{o}{e}");
        outcomes.push((c, sha));
    }
    let (code, out, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    let recs = records_of(&pg.psql("gander", "SELECT line FROM gander_records ORDER BY seq"));
    let shas: Vec<String> = recs
        .iter()
        .map(|r| {
            r.evidence.data["artifacts"][0]["sha256"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let yes: Vec<String> = outcomes
        .iter()
        .filter(|(c, _)| *c == 0)
        .map(|(_, s)| s.clone())
        .collect();
    assert_eq!(
        shas, yes,
        "exactly the writes that said yes, in order, once each"
    );
}

#[test]
fn a_commit_lost_on_the_wire_is_settled_by_the_record_hash_never_written_twice() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let files = tempfile::tempdir().unwrap();
    for i in 0..4 {
        let f = junit(files.path(), &format!("lost-{i}"));
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(org.path("config"))
            .arg("--state-dir")
            .arg(org.path("bastion-a"))
            .args(["evidence", "add", "service-a"])
            .arg(&f)
            .env("GANDER_PG_PASSWORD", PASSWORD)
            .env("GANDER_HEADS_DIR", org.path("heads-a"))
            .env("GANDER_KEY", org.path("keys/alice"))
            .env("GANDER_PG_FAULT", "lose-commit")
            .output()
            .unwrap();
        let code = out.status.code().unwrap();
        let sha = gander::engine::chain::sha256_hex(&std::fs::read(&f).unwrap());
        let n: usize = pg
            .psql(
                "gander",
                &format!("SELECT count(*) FROM gander_records WHERE line LIKE '%{sha}%'"),
            )
            .trim()
            .parse()
            .unwrap();
        // Whatever the wire did, the answer matches the database: yes and there once,
        // or no and not there.
        match code {
            0 => assert_eq!(n, 1, "said recorded"),
            1 => assert_eq!(
                n,
                0,
                "said not recorded: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            other => panic!("exit {other}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    let (code, out, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_database_edited_behind_gander_is_caught_by_every_bastion() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let id = {
        let (code, out, err) = run(
            &org,
            "a",
            "alice",
            &["promote", "service-b", "--to", "compliant", "--reason", "r"],
        );
        assert_eq!(code, 0, "{out}{err}");
        out.split(':').next().unwrap().trim().to_string()
    };
    let (code, _, err) = run(
        &org,
        "b",
        "bob",
        &["reject", &id, "--reason", "not tonight"],
    );
    assert_eq!(code, 0, "{err}");
    // The table refuses edits, deletes and truncation, even from its owner...
    for sql in [
        "UPDATE gander_records SET line = line WHERE seq = 1",
        "DELETE FROM gander_records WHERE seq = 2",
        "TRUNCATE gander_records",
    ] {
        let out = pg.psql("gander", sql);
        assert!(out.contains("append-only"), "{sql}: {out}");
    }
    // ...and when a superuser turns the guard off and rewrites history, every bastion
    // that held the chain says so and records nothing.
    let out = pg.psql(
        "gander",
        "ALTER TABLE gander_records DISABLE TRIGGER USER; \
         UPDATE gander_records SET line = replace(line, 'not tonight', 'fine by me') WHERE line LIKE '%not tonight%';",
    );
    assert!(out.contains("UPDATE 1"), "{out}");
    // A, which never pulled the rejection, refuses to take it; B, which holds the
    // genuine one, reports the database's line as differing from its copy.
    let (code, out, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("seq 3 is not valid: its hash does not match"),
        "{out}{err}"
    );
    let (code, out, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAILED")
            && out.contains("seq 3")
            && out.contains("differs from this bastion's copy"),
        "{out}{err}"
    );
    let (code, _, err) = run(
        &org,
        "b",
        "bob",
        &["promote", "c1", "--to", "compliance_ready", "--reason", "x"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("nothing recorded") || err.contains("not valid"),
        "{err}"
    );
    // A truncated database is noticed by a bastion that saw more.
    pg.psql(
        "gander",
        "DELETE FROM gander_records WHERE seq = (SELECT max(seq) FROM gander_records)",
    );
    let (code, _, err) = run(&org, "b", "bob", &["verify"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not hold seq"), "{err}");
}

#[test]
fn a_primary_failover_with_a_multi_host_connection_string_reaches_the_new_primary() {
    let primary = Pg::start();
    let standby = primary.standby();
    let (p1, p2) = (primary.port, standby.port);
    let org = Org::with(move |cfg| {
        let p = cfg.join("org-config.yaml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(&format!(
            "store:\n  postgres: \"host=127.0.0.1,127.0.0.1 port={p1},{p2} dbname=gander user=gander target_session_attrs=read-write connect_timeout=3\"\n  password: env:GANDER_PG_PASSWORD\n"
        ));
        std::fs::write(p, s).unwrap();
    });
    let id = request_on_a(&org);
    // Wait until the standby has replayed the request (replication is asynchronous).
    let want = primary.psql("gander", "SELECT count(*) FROM gander_records");
    let start = std::time::Instant::now();
    while standby.psql("gander", "SELECT count(*) FROM gander_records") != want {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the standby never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The primary dies; the standby is promoted; the same connection string finds it.
    primary.kill();
    standby.promote();
    let (code, out, err) = run(&org, "b", "bob", &["approve", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("now `compliant`"), "{out}");
    let (code, out, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn tls_to_the_database_is_checked_against_the_configured_ca() {
    let pg = Pg::start_tls();
    let port = pg.port;
    let with_ca = |ca: std::path::PathBuf| {
        Org::with(move |cfg| {
            let p = cfg.join("org-config.yaml");
            let mut s = std::fs::read_to_string(&p).unwrap();
            s.push_str(&format!(
                "store:\n  postgres: \"host=127.0.0.1 port={port} dbname=gander user=gander\"\n  password: env:GANDER_PG_PASSWORD\n  ca_file: {}\n",
                ca.display()
            ));
            std::fs::write(p, s).unwrap();
        })
    };
    // The right CA: connected over TLS (the server's log has no plain connection to
    // refuse, and pg_stat_ssl shows it), and a write lands.
    let org = with_ca(pg.data_dir().join("ca.pem"));
    request_on_a(&org);
    let (code, out, err) = run(&org, "a", "alice", &["store", "status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("database: answers"), "{out}");
    // Another CA: the server is not trusted; nothing recorded, exit 3, and why.
    let org = with_ca(pg.data_dir().join("other-ca.pem"));
    let (code, out, err) = run(
        &org,
        "a",
        "alice",
        &["promote", "service-b", "--to", "compliant", "--reason", "r"],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("nothing recorded") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}

/// A record after the database's last one, linked and hashed, signed by `key` as
/// `principal` (or unsigned), as an insider with the database password could write it.
fn forged_row(
    pg: &Pg,
    org: &Org,
    key: Option<&str>,
    kind: &str,
    id: &str,
    data: serde_json::Value,
) -> String {
    let last = parse_line(
        pg.psql(
            "gander",
            "SELECT line FROM gander_records ORDER BY seq DESC LIMIT 1",
        )
        .trim(),
    )
    .unwrap();
    let mut r = last.clone();
    r.seq += 1;
    r.prev_hash = last.hash.clone();
    r.promotion_id = id.into();
    r.evidence.kind = kind.into();
    r.evidence.data = data;
    r.evidence.signatures.clear();
    if let Some(who) = key {
        let signers =
            gander::io::keys::load_allowed_signers(&org.path("config/allowed_signers")).unwrap();
        let s = gander::io::keys::choose_signer(
            Some(&org.path(&format!("keys/{who}"))),
            None,
            None,
            &signers,
            &org.path("config/allowed_signers"),
            chrono::Utc::now(),
        )
        .unwrap();
        let sig = s.sign(r.signed_form().as_bytes()).unwrap();
        r.evidence
            .signatures
            .push(gander::engine::chain::Signature {
                principal: who.into(),
                sshsig: sig,
                key: Some(s.fingerprint.clone()),
            });
    }
    r.hash = r.compute_hash();
    let line = r.line().replace('\'', "''");
    let out = pg.psql(
        "gander",
        &format!(
            "INSERT INTO gander_records (seq, hash, prev_hash, line) VALUES ({}, '{}', '{}', '{line}')",
            r.seq, r.hash, r.prev_hash
        ),
    );
    assert!(out.contains("INSERT 0 1"), "{out}");
    r.hash
}

#[test]
fn rows_that_do_not_verify_never_enter_a_bastions_copy() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let id = request_on_a(&org);
    // An insider completes it with an unsigned transition (the trigger links it fine).
    forged_row(
        &pg,
        &org,
        None,
        "transition",
        &id,
        serde_json::json!({"from": "compliance_ready", "to": "compliant", "approvals": []}),
    );
    // A bastion that never saw the chain does not take it, and says why, loudly.
    let (code, out, err) = run(&org, "c", "bob", &["promotions"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("does not verify: record is not signed"),
        "{err}"
    );
    assert!(err.contains("no copy of the team's chain yet"), "{err}");
    assert!(!out.contains("completed"), "{out}");
    // A bastion that holds a copy goes on showing it, and says why it is old.
    let (code, out, err) = run(&org, "a", "bob", &["promotions"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("does not verify") && out.contains(&id),
        "{out}{err}"
    );
    let (code, _, err) = run(&org, "c", "bob", &["verify"]);
    assert_eq!(code, 1, "{err}");
    // Writers refuse to add to it.
    let (code, _, err) = run(&org, "a", "bob", &["approve", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_signed_transition_without_an_approval_is_refused_by_every_bastion() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let id = request_on_a(&org);
    forged_row(
        &pg,
        &org,
        Some("alice"),
        "transition",
        &id,
        serde_json::json!({"from": "compliance_ready", "to": "compliant", "approvals": ["bob"]}),
    );
    for b in ["a", "fresh"] {
        let (code, out, err) = run(&org, b, "bob", &["verify"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            out.contains("without a signed approval by anyone but its requester"),
            "{out}{err}"
        );
    }
    let (code, _, err) = run(&org, "b", "bob", &["approve", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_row_whose_columns_disagree_with_its_record_is_caught() {
    let pg = Pg::start();
    let org = team_org(&pg);
    request_on_a(&org);
    let out = pg.psql(
        "gander",
        "ALTER TABLE gander_records DISABLE TRIGGER USER; UPDATE gander_records SET hash = repeat('d', 64) WHERE seq = 1",
    );
    assert!(out.contains("UPDATE 1"), "{out}");
    let (code, out, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("columns that differ from its record"),
        "{out}{err}"
    );
    // The evidence tables refuse edits too (schema v2).
    let out = pg.psql("gander", "TRUNCATE gander_artifact_chunks");
    assert!(out.contains("evidence files are kept"), "{out}");
    assert_eq!(
        pg.psql("gander", "SELECT max(version) FROM gander_schema")
            .trim(),
        gander::io::pg::SCHEMA_VERSION.to_string()
    );
}

#[test]
fn a_database_made_by_an_older_gander_is_migrated_on_first_use() {
    let pg = Pg::start();
    // Schema version 1 as the first release made it.
    assert!(
        pg.psql("postgres", "CREATE DATABASE old")
            .contains("CREATE DATABASE")
    );
    let v1 = std::fs::read_to_string("src/io/pg/schema_v1.sql").unwrap();
    let out = pg.psql(
        "old",
        &format!(
            "CREATE TABLE gander_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now()); {v1} INSERT INTO gander_schema (version) VALUES (1);"
        ),
    );
    assert!(!out.contains("ERROR"), "{out}");
    let port = pg.port;
    let org = Org::with(move |cfg| {
        let p = cfg.join("org-config.yaml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(&format!(
            "store:\n  postgres: \"host=127.0.0.1 port={port} dbname=old user=gander\"\n  password: env:GANDER_PG_PASSWORD\n"
        ));
        std::fs::write(p, s).unwrap();
    });
    request_on_a(&org);
    let versions = pg.psql(
        "old",
        "SELECT string_agg(version::text, ',' ORDER BY version) FROM gander_schema",
    );
    assert_eq!(versions.trim(), "1,2,3");
    // v2's guard is in place on the migrated database.
    assert!(
        pg.psql("old", "TRUNCATE gander_artifact_chunks")
            .contains("evidence files are kept")
    );
}

#[test]
fn an_approval_whose_commit_reply_is_lost_still_completes_the_promotion() {
    let pg = Pg::start();
    let org = team_org(&pg);
    let id = request_on_a(&org);
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("bastion-b"))
        .args(["approve", &id])
        .env("GANDER_PG_PASSWORD", PASSWORD)
        .env("GANDER_HEADS_DIR", org.path("heads-b"))
        .env("GANDER_KEY", org.path("keys/bob"))
        .env("GANDER_PG_FAULT", "lose-commit")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let count = |kind: &str| -> usize {
        pg.psql(
            "gander",
            &format!("SELECT count(*) FROM gander_records WHERE line LIKE '%\"type\":\"{kind}\"%'"),
        )
        .trim()
        .parse()
        .unwrap()
    };
    match out.status.code() {
        // The usual case: the COMMIT was sent, so it happened; both batches land once,
        // and the operator is told how the first was settled.
        Some(0) => {
            assert!(stdout.contains("now `compliant`"), "{stdout}{stderr}");
            assert!(
                stderr.contains("lost at COMMIT; the database holds the record"),
                "{stderr}"
            );
            assert_eq!((count("approval"), count("transition")), (1, 1));
        }
        // The COMMIT never left: nothing, and said so.
        _ => {
            assert!(stderr.contains("does not hold the record"), "{stderr}");
            assert_eq!(count("approval"), 0);
        }
    }
    let (code, out, err) = run(&org, "a", "alice", &["verify"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_password_on_the_command_line_is_refused_and_never_logged() {
    let org = Org::new();
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("state"))
        .args([
            "--store",
            "postgres://gander:hunter2@127.0.0.1:1/gander",
            "promotions",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds a password"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let log = std::fs::read_to_string(org.path("state/logs/gander.log")).unwrap();
    assert!(log.contains("gander:***@127.0.0.1"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
}

#[test]
fn a_truncated_database_is_noticed_from_a_new_state_dir_by_a_user_who_saw_more() {
    let pg = Pg::start();
    let org = team_org(&pg);
    request_on_a(&org);
    let out = pg.psql(
        "gander",
        "ALTER TABLE gander_records DISABLE TRIGGER USER; DELETE FROM gander_records WHERE seq = (SELECT max(seq) FROM gander_records)",
    );
    assert!(out.contains("DELETE 1"), "{out}");
    // The same user (same remembered heads), a brand-new state dir: the head is the
    // database's, not the copy's path's, so the missing record is still noticed.
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("bastion-new"))
        .arg("verify")
        .env("GANDER_PG_PASSWORD", PASSWORD)
        .env("GANDER_HEADS_DIR", org.path("heads-a"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("truncated"), "{text}");
}
