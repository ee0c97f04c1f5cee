//! The `gander` binary as scripts and people use it: exit codes, text and JSON.

mod common;
use common::copy_dir;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

/// The binary with an isolated environment: no user config dir, no GANDER_CONFIG.
fn gander(home: &Path) -> Command {
    let mut c = Command::cargo_bin("gander").unwrap();
    c.env_remove("GANDER_CONFIG")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("RUST_BACKTRACE");
    c
}

fn run(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = gander(home).args(args).output().unwrap();
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn validate_passes_on_the_shipped_example_org() {
    let h = tmp();
    let (code, out, err) = run(h.path(), &["validate", "--config", "config"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("config: ok (7 services, 3 states, 8 gates, 6 runbooks; 0 warnings)"),
        "{out}"
    );
}

#[test]
fn validate_reports_every_error_with_file_line_col_and_exits_2() {
    let h = tmp();
    let dir = "tests/fixtures/invalid/bad-references";
    let (code, out, err) = run(h.path(), &["validate", "--config", dir]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(&format!(
        "{dir}/services/service-b.yaml:7:28: error: `service-b` depends on unknown service `service-d`\n  help: did you mean `service-a`?"
    )), "{err}");
    assert!(
        err.contains(&format!(
            "{dir}/services/service-b.yaml:2:9: error: duplicate service name `service-b`"
        )),
        "{err}"
    );
    assert!(err.contains("4 errors and 0 warnings"), "{err}");
}

#[test]
fn validate_json_lists_the_diagnostics() {
    let h = tmp();
    let dir = "tests/fixtures/invalid/cycles";
    let (code, out, _) = run(h.path(), &["validate", "--json", "--config", dir]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["kind"], "validate");
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 3);
    let first = &v["diagnostics"][0];
    assert_eq!(first["file"], format!("{dir}/services/service-a.yaml"));
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(7), Some(17))
    );
    assert_eq!(first["severity"], "error");
    assert_eq!(
        first["message"],
        "dependency cycle: service-a -> service-c -> service-b -> service-a"
    );
}

#[test]
fn order_prints_dependencies_first() {
    let h = tmp();
    let (code, out, err) = run(h.path(), &["order", "--config", "config"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let pos = |s: &str| {
        lines
            .iter()
            .position(|l| l.split_whitespace().nth(1) == Some(s))
            .unwrap_or_else(|| panic!("{s} not in\n{out}"))
    };
    assert!(pos("service-a") < pos("service-b"));
    assert!(pos("service-b") < pos("service-c"));
    assert!(out.contains("service-c      sandbox           identity (security), ledger-db (data), service-a (runtime), service-b (runtime)"), "{out}");
}

#[test]
fn order_json_is_documented_shape() {
    let h = tmp();
    let (code, out, _) = run(h.path(), &["order", "--json", "--config", "config"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let order = v["order"].as_array().unwrap();
    let names: Vec<&str> = order
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "identity",
            "ledger-db",
            "service-a",
            "reporting",
            "service-b",
            "notifications",
            "service-c"
        ]
    );
    assert_eq!(order[0]["position"], 1);
    assert_eq!(order[4]["depends_on"][0]["service"], "service-a");
    assert_eq!(order[4]["depends_on"][0]["kind"], "runtime");
    assert_eq!(order[4]["state"], "compliance_ready");
}

#[test]
fn order_on_a_cyclic_config_names_the_cycle_and_exits_2() {
    let h = tmp();
    let (code, out, err) = run(
        h.path(),
        &["order", "--config", "tests/fixtures/invalid/cycles"],
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("dependency cycle: service-x -> service-y -> service-x"),
        "{err}"
    );
    assert!(
        err.contains("dependency cycle: service-z -> service-z"),
        "{err}"
    );
}

#[test]
fn promote_dry_run_explains_a_refusal_and_the_first_step() {
    let h = tmp();
    let (code, out, err) = run(
        h.path(),
        &[
            "promote",
            "service-c",
            "--to",
            "compliant",
            "--dry-run",
            "--offline",
            "--config",
            "config",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("Verdict: REFUSED by the state machine"),
        "{out}"
    );
    assert!(
        out.contains("promote step by step: sandbox -> compliance_ready -> compliant"),
        "{out}"
    );
    assert!(
        out.contains("First step: sandbox -> compliance_ready"),
        "{out}"
    );
    assert!(
        out.contains(
            "[FAIL]    dependencies_compliant: service-b is compliance_ready (needs compliant)"
        ),
        "{out}"
    );
    assert!(
        out.contains("[FAIL]    sast_clean: no sast evidence on file"),
        "{out}"
    );
}

#[test]
fn promote_dry_run_json_carries_every_gate() {
    let h = tmp();
    let (code, out, _) = run(
        h.path(),
        &[
            "--config",
            "config",
            "promote",
            "service-b",
            "--to",
            "compliant",
            "--dry-run",
            "--json",
            "--offline",
        ],
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "promotion_plan");
    assert_eq!(v["service"], "service-b");
    assert_eq!(v["from"], "compliance_ready");
    assert_eq!(v["verdict"], "blocked");
    let gates: Vec<&str> = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(
        gates,
        [
            "dependency_check",
            "evidence_collection",
            "evidence_validation",
            "audit_trail",
            "blackout",
            "soak_time",
            "readiness",
            "approval_check"
        ]
    );
    let dep = &v["gates"][0]["checks"][0];
    assert_eq!(
        (dep["check"].as_str(), dep["status"].as_str()),
        (Some("dependencies_compliant"), Some("pass"))
    );
    assert_eq!(v["gates"][7]["status"], "pending");
    assert!(v["first_step"].is_null());
}

#[test]
fn promote_without_an_identity_is_refused_and_writes_nothing() {
    let h = tmp();
    let state = tmp();
    let (code, out, err) = run(
        h.path(),
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "promote",
            "service-b",
            "--to",
            "compliant",
            "--config",
            "config",
        ],
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("config/allowed_signers: No such file or directory"),
        "{err}"
    );
    assert!(
        err.contains("help: create it in git's allowed_signers format"),
        "{err}"
    );
    assert!(!state.path().join("audit/chain.jsonl").exists());
}

#[test]
fn unknown_service_or_state_is_bad_usage_with_a_suggestion() {
    let h = tmp();
    let (code, _, err) = run(
        h.path(),
        &[
            "promote",
            "service-x",
            "--to",
            "compliant",
            "--dry-run",
            "--offline",
            "--config",
            "config",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no service `service-x`"), "{err}");
    assert!(err.contains("did you mean `service-a`?"), "{err}");
    let (code, _, err) = run(
        h.path(),
        &[
            "promote",
            "service-b",
            "--to",
            "complaint",
            "--dry-run",
            "--offline",
            "--config",
            "config",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `compliant`?"), "{err}");
}

#[test]
fn status_shows_each_service_and_what_blocks_it() {
    let h = tmp();
    let (code, out, err) = run(h.path(), &["status", "--offline", "--config", "config"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("service-c      sandbox           -> compliance_ready: blocked"),
        "{out}"
    );
    assert!(
        out.contains("service-a      compliant         none (top of the state machine)"),
        "{out}"
    );
    let (_, out, _) = run(
        h.path(),
        &[
            "status",
            "--json",
            "--offline",
            "--service",
            "service-c",
            "--config",
            "config",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = &v["services"].as_array().unwrap()[0];
    assert_eq!(s["service"], "service-c");
    assert_eq!(s["next"]["to"], "compliance_ready");
    assert_eq!(s["next"]["verdict"], "blocked");
    assert_eq!(
        s["upstream"],
        serde_json::json!(["identity", "ledger-db", "service-a", "service-b"])
    );
}

#[test]
fn config_comes_from_the_flag_before_or_after_the_subcommand_or_the_environment() {
    let h = tmp();
    for args in [
        vec!["--config", "config", "validate"],
        vec!["validate", "--config", "config"],
    ] {
        let (code, out, _) = run(h.path(), &args);
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("[found via --config]"), "{out}");
    }
    let out = gander(h.path())
        .env("GANDER_CONFIG", "config")
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[found via GANDER_CONFIG]"));
    // The flag wins over the environment.
    let out = gander(h.path())
        .env("GANDER_CONFIG", "tests/fixtures/invalid/cycles")
        .args(["validate", "--config", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_user_config_dir_is_found_and_a_missing_config_lists_where_it_looked() {
    let h = tmp();
    let work = tmp();
    // Nothing anywhere: exit 2, naming the places searched.
    let out = gander(h.path())
        .current_dir(work.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no configuration found"), "{err}");
    assert!(
        err.contains(&h.path().join(".config/gander").display().to_string()),
        "{err}"
    );
    // A config in $XDG_CONFIG_HOME/gander is picked up.
    let user = h.path().join(".config/gander");
    copy_dir(Path::new("config"), &user);
    let out = gander(h.path())
        .current_dir(work.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("[found via the user config directory]"));
}

#[test]
fn a_missing_config_directory_is_bad_usage() {
    let h = tmp();
    let (code, _, err) = run(h.path(), &["order", "--config", "/nonexistent/gander"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/gander"), "{err}");
}

#[test]
fn help_and_version_work_everywhere() {
    let h = tmp();
    let (code, out, _) = run(h.path(), &["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("gander {}", env!("CARGO_PKG_VERSION")));
    for cmd in ["validate", "order", "status", "promote"] {
        let (code, out, _) = run(h.path(), &[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}");
        assert!(out.contains("--config <DIR>"), "{cmd}: {out}");
    }
    let (code, _, err) = run(h.path(), &["promote", "service-b"]);
    assert_eq!(code, 2, "missing --to is bad usage");
    assert!(err.contains("--to <STATE>"), "{err}");
    let (code, _, _) = run(h.path(), &["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn the_console_without_a_terminal_says_what_to_use_instead() {
    let h = tmp();
    let (code, out, err) = run(h.path(), &["--config", "config"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("the console needs a terminal; for scripts use `gander status --json`"),
        "{err}"
    );
}

/// A blast radius of thousands is counted, not listed name by name: `status --json`
/// names the first 100 by name with the whole count, and the text the first few.
#[test]
fn a_wide_blast_radius_is_counted_and_its_first_names_listed() {
    let home = tmp();
    let cfg = home.path().join("config");
    std::fs::create_dir_all(cfg.join("services")).unwrap();
    std::fs::write(
        cfg.join("org-config.yaml"),
        "org: {name: Wide}\nmodes: {sandbox: {}, compliant: {}}\n",
    )
    .unwrap();
    let svc = |name: &str, deps: &str| {
        std::fs::write(
            cfg.join("services").join(format!("{name}.yaml")),
            format!("service:\n  name: {name}\n  spec:\n    api_version: v1\n    compliance_mode: sandbox\n    dependencies:\n      runtime: [{deps}]\n"),
        )
        .unwrap();
    };
    svc("root", "");
    // 150 services on root, one more on top of the first of them.
    for i in 0..150 {
        svc(&format!("s{i:03}"), "root");
    }
    svc("top", "s000");
    let c = cfg.to_str().unwrap();
    let (code, out, err) = run(
        home.path(),
        &["--config", c, "status", "--json", "--offline"],
    );
    assert!(code == 0 || code == 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let of = |name: &str| {
        doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()
            .clone()
    };
    let root = of("root");
    assert_eq!(root["downstream_total"], 151);
    let named: Vec<&str> = root["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(named.len(), 100);
    assert_eq!(named[..3], ["s000", "s001", "s002"]);
    let top = of("top");
    assert_eq!(top["upstream"], serde_json::json!(["root", "s000"]));
    assert_eq!(top["upstream_total"], 2);
    let (_, text, _) = run(home.path(), &["--config", c, "status", "--offline"]);
    assert!(text.contains("needed by s000, s001"), "{text}");
    assert!(text.contains(" and 143 more"), "{text}");
}
