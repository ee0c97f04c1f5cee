//! The README's command table gives each command's exit codes; this runs the binary into
//! each of them. For every row, the codes the row lists are exactly the codes its
//! scenarios below produce, so the table cannot promise a code that never happens or
//! leave one out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{Demo, copy_dir};

/// The README's command table: first cell -> the exit codes listed.
fn readme_rows() -> Vec<(String, BTreeSet<i32>)> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("| command | what it does | exit code |")
        .unwrap();
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let first = cells[0].trim_start_matches("| ").to_string();
            let last = cells.last().unwrap().trim_end_matches(" |");
            let codes = last
                .split(", ")
                .filter_map(|part| part.split_whitespace().next()?.parse().ok())
                .collect();
            (first, codes)
        })
        .collect()
}

struct Run<'a> {
    demo: &'a Demo,
    seen: BTreeMap<&'static str, BTreeSet<i32>>,
    log: Vec<String>,
}

impl Run<'_> {
    /// Run `args` as `who` (a demo operator, or "" for no key at all) against the demo
    /// org and note the exit code under the README row that contains `row`.
    fn case(
        &mut self,
        row: &'static str,
        who: &str,
        args: &[&str],
        env: &[(&str, &Path)],
    ) -> (i32, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gander"));
        if !args.contains(&"--config") {
            c.arg("--config").arg(&self.demo.config);
        }
        if !args.contains(&"--state-dir") {
            c.arg("--state-dir").arg(&self.demo.state);
        }
        c.args(args)
            .env("GANDER_HEADS_DIR", self.demo.state.join("heads"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("GANDER_STORE")
            .env_remove("GANDER_CONFIG");
        if !who.is_empty() {
            c.env("GANDER_KEY", self.demo.state.join("keys").join(who));
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.log.push(format!(
            "{code} <- {who} {args:?}: {}",
            text.lines().last().unwrap_or("")
        ));
        self.seen.entry(row).or_default().insert(code);
        (code, text)
    }
}

fn first_id(text: &str, prefix: &str) -> String {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} ID in: {text}"))
        .to_string()
}

#[test]
fn every_exit_code_in_the_readme_happens_and_no_other() {
    let demo = Demo::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| -> PathBuf { tmp.path().join(p) };
    let s = |p: &Path| p.display().to_string();
    let bad_config = s(Path::new("tests/fixtures/invalid/bad-values"));
    let mut r = Run {
        demo: &demo,
        seen: BTreeMap::new(),
        log: Vec::new(),
    };

    r.case("gander validate", "alice", &["validate"], &[]);
    r.case(
        "gander validate",
        "alice",
        &["--config", &bad_config, "validate"],
        &[],
    );
    r.case("gander order", "alice", &["order"], &[]);
    r.case(
        "gander order",
        "alice",
        &["--config", &bad_config, "order"],
        &[],
    );
    r.case("gander status", "alice", &["status"], &[]);
    r.case(
        "gander status",
        "alice",
        &["--config", &bad_config, "status"],
        &[],
    );

    const DRY: &str = "gander promote SERVICE --to STATE --dry-run";
    r.case(
        DRY,
        "alice",
        &["promote", "service-b", "--to", "compliant", "--dry-run"],
        &[],
    );
    r.case(
        DRY,
        "alice",
        &["promote", "service-c", "--to", "compliant", "--dry-run"],
        &[],
    );
    r.case(
        DRY,
        "alice",
        &["promote", "nosuch", "--to", "compliant", "--dry-run"],
        &[],
    );

    const PROMOTE: &str = "gander promote SERVICE --to STATE [--reason";
    let (code, text) = r.case(
        PROMOTE,
        "alice",
        &["promote", "service-b", "--to", "compliant", "--reason", "r"],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let prm = first_id(&text, "PRM-");
    r.case(
        PROMOTE,
        "alice",
        &["promote", "identity", "--to", "compliant", "--reason", "r"],
        &[],
    );
    r.case(
        PROMOTE,
        "alice",
        &["promote", "nosuch", "--to", "compliant", "--reason", "r"],
        &[],
    );

    r.case("gander approve", "alice", &["approve", &prm], &[]);
    let (code, _) = r.case("gander approve", "bob", &["approve", &prm], &[]);
    assert_eq!(code, 0);
    // `order` reads states from the store, like `status`: service-b moved.
    let (_, text) = r.case("gander order", "alice", &["order", "--json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b = doc["order"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "service-b")
        .unwrap();
    assert_eq!(b["state"], "compliant", "{text}");
    r.case("gander approve", "bob", &["approve", "garbage"], &[]);

    let (_, text) = r.case(
        PROMOTE,
        "alice",
        &["promote", "reporting", "--to", "compliant", "--reason", "r"],
        &[],
    );
    let blocked = first_id(&text, "PRM-");
    r.case(
        "gander reject",
        "bob",
        &["reject", &blocked, "--reason", "not now"],
        &[],
    );
    r.case(
        "gander reject",
        "bob",
        &["reject", &blocked, "--reason", "again"],
        &[],
    );
    r.case(
        "gander reject",
        "bob",
        &["reject", "garbage", "--reason", "x"],
        &[],
    );

    r.case("gander promotions", "alice", &["promotions"], &[]);
    r.case("gander verify", "alice", &["verify"], &[]);
    r.case("gander whoami", "alice", &["whoami"], &[]);
    r.case(
        "gander whoami",
        "",
        &["whoami"],
        &[("GANDER_KEY", &t("no-such-key")), ("HOME", tmp.path())],
    );
    r.case("gander head", "alice", &["head"], &[]);

    let junit = std::fs::canonicalize("tests/fixtures/evidence/pytest-pass.junit.xml").unwrap();
    let not_evidence = t("notes.txt");
    std::fs::write(&not_evidence, "just words\n").unwrap();
    r.case(
        "gander evidence add",
        "alice",
        &["evidence", "add", "service-b", &s(&junit)],
        &[],
    );
    r.case(
        "gander evidence add",
        "alice",
        &["evidence", "add", "service-b", &s(&not_evidence)],
        &[],
    );
    r.case(
        "gander evidence list",
        "alice",
        &["evidence", "list", "service-b"],
        &[],
    );

    // A runbook whose check always fails: p95 can never be below 0 ms.
    std::fs::create_dir_all(demo.config.join("runbooks")).unwrap();
    std::fs::write(
        demo.config.join("runbooks/never_fast.yaml"),
        "title: Never fast\napplies_to: {services: [\"*\"]}\nsteps:\n  - {id: p95, kind: check, title: p95 below 0 ms, check: promql, args: {query: x, below: \"0\", own: p95_ms}}\n",
    )
    .unwrap();
    r.case("gander runbook list", "alice", &["runbook", "list"], &[]);
    r.case(
        "gander runbook list",
        "alice",
        &["runbook", "show", "service_degradation"],
        &[],
    );
    r.case(
        "gander runbook run",
        "alice",
        &[
            "runbook",
            "run",
            "blackout_window",
            "--service",
            "service-a",
        ],
        &[],
    );
    let (_, text) = r.case(
        "gander runbook run",
        "alice",
        &["runbook", "run", "never_fast", "--service", "service-a"],
        &[],
    );
    let walk = first_id(&text, "RBW-");
    r.case("gander runbook resume", "alice", &["runbook", "walks"], &[]);
    r.case(
        "gander runbook resume",
        "alice",
        &["runbook", "resume", &walk],
        &[],
    );
    r.case(
        "gander runbook resume",
        "alice",
        &["runbook", "step", "RBW-nosuch", "--confirm"],
        &[],
    );

    let (code, text) = r.case(
        "gander package create",
        "alice",
        &["package", "create"],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let pkg = first_id(&text, "gg-");
    r.case(
        "gander package create",
        "alice",
        &["package", "create", "--services", "service-b"],
        &[],
    );
    let count = |text: &str, after: &str| -> String {
        let end = text
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} in {text}"));
        text[..end].rsplit(' ').next().unwrap().to_string()
    };
    let created = count(&text, " files in its signed manifest");
    let (_, text) = r.case(
        "gander package verify",
        "alice",
        &["package", "verify", &pkg],
        &[],
    );
    assert_eq!(
        count(&text, " files match its manifest"),
        created,
        "create and verify count the same files"
    );
    r.case(
        "gander package verify",
        "alice",
        &["package", "verify", &s(&t("no-such-package"))],
        &[],
    );
    const STAGES: &str = "gander package promote";
    r.case(STAGES, "alice", &["package", "list"], &[]);
    r.case(
        STAGES,
        "alice",
        &["package", "promote", &pkg, "--to", "nosuch"],
        &[],
    );
    r.case(
        STAGES,
        "alice",
        &["package", "promote", "gg-nosuch", "--to", "staging"],
        &[],
    );
    r.case(
        STAGES,
        "alice",
        &["package", "promote", &pkg, "--to", "prod"],
        &[],
    );

    let group = t("team");
    r.case(
        "gander store init",
        "alice",
        &["store", "init", &s(&group), "--group", "root"],
        &[],
    );
    r.case(
        "gander store init",
        "alice",
        &["store", "init", &s(&group), "--group", "no-such-group-here"],
        &[],
    );
    const STORE: &str = "gander store status";
    r.case(STORE, "alice", &["store", "status"], &[]);
    r.case(
        STORE,
        "alice",
        &["store", "export", &s(&t("no/such/dir/x.jsonl"))],
        &[],
    );
    r.case(STORE, "alice", &["store", "import", &s(&t("x.jsonl"))], &[]);
    r.case(
        STORE,
        "alice",
        &[
            "--store",
            "postgres://gander@127.0.0.1:1/gander?connect_timeout=2",
            "store",
            "status",
        ],
        &[],
    );

    // A new org, with alice's key as the operator's; then again into the same dir; then
    // with no key anywhere (no agent, an empty home).
    let alice_pub = demo.state.join("keys/alice.pub");
    let bob_pub = demo.state.join("keys/bob.pub");
    let home = t("home");
    std::fs::create_dir_all(&home).unwrap();
    let new_org = s(&t("new-org"));
    // The new org's directory by --config (the positional DIR is the other way).
    let init = [
        "--config",
        new_org.as_str(),
        "init",
        "--org",
        "Acme",
        "--services",
        "api",
        "--name",
        "alice",
        "--key",
        &s(&alice_pub),
    ];
    r.case("gander init", "", &init, &[("HOME", &home)]);
    r.case("gander init", "", &init, &[("HOME", &home)]);
    r.case(
        "gander init",
        "",
        &["--config", &s(&t("keyless-org")), "init", "--org", "Acme"],
        &[("HOME", &home)],
    );
    // The demo's store belongs to the demo org: Acme's verify refuses it.
    let (code, text) = r.case("gander verify", "", &["--config", &new_org, "verify"], &[]);
    assert!(
        code == 2 && text.contains("holds the chain of org `Demo Fleet`"),
        "{text}"
    );
    // DIR and --config both given, and different: which one was meant is not guessed.
    let (code, text) = r.case(
        "gander init",
        "",
        &[
            "--config",
            &s(&t("one")),
            "init",
            &s(&t("two")),
            "--key",
            &s(&alice_pub),
        ],
        &[("HOME", &home)],
    );
    assert!(code == 2 && text.contains("two directories"), "{text}");
    assert!(!t("one").exists() && !t("two").exists());

    let copy = t("config-copy");
    copy_dir(&demo.config, &copy);
    let c = s(&copy);
    let carol = t("carol");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "carol", "-f"])
            .arg(&carol)
            .status()
            .unwrap()
            .success()
    );
    r.case(
        "gander enrol",
        "",
        &[
            "--config",
            &c,
            "enrol",
            "carol",
            &s(&carol.with_extension("pub")),
        ],
        &[],
    );
    r.case(
        "gander enrol",
        "",
        &["--config", &c, "enrol", "mallory", &s(&bob_pub)],
        &[],
    );
    r.case(
        "gander enrol",
        "",
        &["--config", &c, "enrol", "dave", &s(&t("no-such.pub"))],
        &[],
    );

    r.case("gander completions", "", &["completions", "bash"], &[]);
    r.case("gander completions", "", &["man"], &[]);

    let page = std::fs::canonicalize("tests/fixtures/metrics/node_exporter.prom").unwrap();
    let bad_page = t("bad.prom");
    std::fs::write(&bad_page, "m 1\n<html>502</html>\n").unwrap();
    r.case("gander scrape", "", &["scrape", &s(&page)], &[]);
    r.case("gander scrape", "", &["scrape", &s(&bad_page)], &[]);
    r.case(
        "gander scrape",
        "",
        &["scrape", &s(&t("no-such.prom"))],
        &[],
    );
    r.case(
        "gander scrape",
        "",
        &["scrape", "http://127.0.0.1:1/metrics"],
        &[],
    );

    // A broken copy of the chain fails verify; the fleet gone makes status exit 3.
    let state_copy = t("state-copy");
    copy_dir(&demo.state, &state_copy);
    let chain = state_copy.join("audit/chain.jsonl");
    let text = std::fs::read_to_string(&chain).unwrap();
    std::fs::write(&chain, text.replacen("service-b", "service-x", 1)).unwrap();
    r.case(
        "gander verify",
        "alice",
        &["--state-dir", &s(&state_copy), "verify"],
        &[("GANDER_HEADS_DIR", &t("heads"))],
    );
    let config_copy = t("config-dead");
    copy_dir(&demo.config, &config_copy);
    let log = std::mem::take(&mut r.log);
    let mut seen = std::mem::take(&mut r.seen);
    drop(demo);
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .args([
            "--config",
            &s(&config_copy),
            "--state-dir",
            &s(&state_copy),
            "status",
        ])
        .env("GANDER_HEADS_DIR", t("heads"))
        .output()
        .unwrap();
    seen.entry("gander status")
        .or_default()
        .insert(out.status.code().unwrap_or(-1));

    // The console and the demo need a terminal; tests/pty.rs runs them to exit 0.
    let needs_terminal = ["`gander`", "`gander demo"];
    let mut wrong = Vec::new();
    for (first, listed) in readme_rows() {
        if needs_terminal.iter().any(|n| first.starts_with(n)) {
            continue;
        }
        let keys: Vec<&&str> = seen.keys().filter(|k| first.contains(**k)).collect();
        assert_eq!(
            keys.len(),
            1,
            "README row {first} matches scenarios {keys:?}"
        );
        let got = &seen[*keys[0]];
        if got != &listed {
            wrong.push(format!(
                "{first}: README lists {listed:?}, the scenarios gave {got:?}"
            ));
        }
    }
    eprintln!("{}", log.join("\n"));
    assert!(wrong.is_empty(), "{wrong:#?}\nruns:\n{}", log.join("\n"));
}
