//! Runbook walks through the binary against the demo fleet: live checks (one failing),
//! a skip with a reason, a branch, an approval by a second identity, resume after a
//! kill, and command steps that take hostile parameters literally, stop at their
//! timeout and keep bounded output. Everything ends in a chain that verifies.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::Demo;

fn demo() -> Demo {
    Demo::start()
}

trait Walks {
    fn walk_id(out: &str) -> String;
    fn verify(&self);
    fn walk(&self, id: &str) -> serde_json::Value;
}

impl Walks for Demo {
    fn walk_id(out: &str) -> String {
        out.split(':').next().unwrap().trim().to_string()
    }

    fn verify(&self) {
        self.verify_chain();
    }

    fn walk(&self, id: &str) -> serde_json::Value {
        let (_, out, _) = self.run("alice", &["runbook", "walks", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["walks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
            .unwrap()
            .clone()
    }
}

#[test]
fn promotion_failure_walked_with_a_failing_check_a_skip_a_branch_and_a_second_approver() {
    let d = demo();
    // service-c: its dependency service-b is not compliant, so verify_dependencies fails.
    let (code, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "promotion_failure",
            "--service",
            "service-c",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ verify_dependencies: Every upstream service is compliant — fail: service-b is compliance_ready"), "{out}");
    let id = Demo::walk_id(&out);
    // Resume re-runs the failing check (still failing): it does not move on.
    let (code, out, _) = d.run("alice", &["runbook", "resume", &id]);
    assert_eq!(code, 1, "{out}");
    // Skipping needs a reason.
    let (code, _, err) = d.run("alice", &["runbook", "step", &id, "--skip"]);
    assert_eq!(code, 2);
    assert!(err.contains("skipping a step needs --reason"), "{err}");
    let (code, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "step",
            &id,
            "--skip",
            "--reason",
            "service-b is being promoted right now",
        ],
    );
    assert!(
        out.contains("verify_dependencies skipped by alice"),
        "{out}"
    );
    // The next checks run live; service-c's coverage is 72 %: validate_compliance_state fails.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✓ check_evidence_chain"), "{out}");
    assert!(out.contains("✗ validate_compliance_state"), "{out}");
    d.run(
        "alice",
        &[
            "runbook",
            "step",
            &id,
            "--skip",
            "--reason",
            "coverage ticket INC-42 open",
        ],
    );
    // evidence passes (all four kinds on file), then the decision: branch to escalate.
    let (code, out, _) = d.run("alice", &["runbook", "resume", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("next step `fixed` (decision)"), "{out}");
    let (code, out, _) = d.run("alice", &["runbook", "step", &id, "--answer", "no"]);
    assert_eq!(code, 0);
    assert!(out.contains("next step `escalate` (manual)"), "{out}");
    let (_, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "step",
            &id,
            "--confirm",
            "--note",
            "paged team-demo",
        ],
    );
    assert!(out.contains("finished"), "{out}");
    let w = d.walk(&id);
    let steps: Vec<(&str, &str)> = w["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("verify_dependencies", "fail"),
            ("verify_dependencies", "fail"),
            ("verify_dependencies", "skipped"),
            ("check_evidence_chain", "pass"),
            ("validate_compliance_state", "fail"),
            ("validate_compliance_state", "skipped"),
            ("evidence", "pass"),
            ("fixed", "no"),
            ("escalate", "confirmed"),
        ]
    );
    // service-b passes every check; the yes branch needs a second person's approval.
    let (code, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "promotion_failure",
            "--service",
            "service-b",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let id = Demo::walk_id(&out);
    d.run("alice", &["runbook", "step", &id, "--answer", "yes"]);
    let (code, _, err) = d.run("alice", &["runbook", "step", &id, "--approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("four-eyes: alice started this walk"), "{err}");
    let (code, out, _) = d.run("bob", &["runbook", "step", &id, "--approve"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("approve_retry approved by bob") && out.contains("finished"),
        "{out}"
    );
    // A finished walk takes nothing more.
    let (code, _, _) = d.run("bob", &["runbook", "step", &id, "--confirm"]);
    assert_eq!(code, 1);
    d.verify();
}

#[test]
fn a_killed_walk_resumes_from_the_right_step_and_the_chain_verifies() {
    let d = demo();
    let (_, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "blackout_window",
            "--service",
            "service-a",
        ],
    );
    let id = Demo::walk_id(&out);
    // Kill `resume` at random moments (SIGKILL and SIGHUP), again and again.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for n in 0..12 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut c = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(&d.config)
            .arg("--state-dir")
            .arg(&d.state)
            .args(["runbook", "resume", &id])
            .env("GANDER_KEY", d.state.join("keys/alice"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(seed % 40_000));
        let sig = if n % 2 == 0 {
            libc::SIGKILL
        } else {
            libc::SIGHUP
        };
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(c.id() as i32, sig);
        }
        let _ = c.wait();
        d.verify();
    }
    // The walk is where it should be: waiting at the decision (the check passed).
    let (code, out, _) = d.run("alice", &["runbook", "resume", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("next step `running` (decision)"), "{out}");
    let (_, out, _) = d.run("alice", &["runbook", "step", &id, "--answer", "no"]);
    assert!(
        out.contains("✓ recheck") || out.contains("✗ recheck"),
        "{out}"
    );
    d.verify();
}

#[test]
fn command_steps_take_parameters_literally_stop_at_the_timeout_and_bound_output() {
    let d = demo();
    let rb = r#"title: Command safety
parameters:
  - name: target
steps:
  - id: echo
    kind: command
    title: Print the target as one argument
    argv: [printf, "[%s]", "{target}"]
  - id: hang
    kind: command
    title: Hang
    argv: [sleep, "30"]
    timeout: 1s
  - id: flood
    kind: command
    title: Lots of output
    argv: [head, -c, "5000000", /dev/zero]
"#;
    std::fs::create_dir_all(d.config.join("runbooks")).unwrap();
    std::fs::write(d.config.join("runbooks/command_safety.yaml"), rb).unwrap();
    // Control characters are refused outright (they could redraw what the person
    // confirming sees); everything else reaches the command as one literal argument.
    for bad in ["x\u{1b}[2Jfake", "line\nnext"] {
        let (code, _, err) = d.run(
            "alice",
            &[
                "runbook",
                "run",
                "command_safety",
                "--service",
                "service-a",
                "--param",
                &format!("target={bad}"),
            ],
        );
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("holds control characters"), "{err}");
        assert!(
            !err.contains('\u{1b}'),
            "the refusal printed the raw escape: {err:?}"
        );
    }
    let hostile = "x; rm -rf / $(touch /tmp/gander-pwned) `id` \"quoted\" 'single'";
    let (code, out, err) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "command_safety",
            "--service",
            "service-a",
            "--param",
            &format!("target={hostile}"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("will run: printf '[%s]'"), "{out}");
    let id = Demo::walk_id(&out);
    let (code, out, _) = d.run("alice", &["runbook", "step", &id, "--run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("[{hostile}]")),
        "the value reached printf as one literal argument:\n{out}"
    );
    assert!(!std::path::Path::new("/tmp/gander-pwned").exists());
    let start = std::time::Instant::now();
    let (code, out, _) = d.run("alice", &["runbook", "step", &id, "--run"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the 30 s command ran past its 1 s timeout"
    );
    assert!(out.contains("[stopped at the 1s timeout]"), "{out}");
    // A timed-out command stops the walk like a failing check: it stays current.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("stopped at `hang`"), "{out}");
    let (code, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "step",
            &id,
            "--skip",
            "--reason",
            "known to hang",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = d.run("alice", &["runbook", "step", &id, "--run"]);
    assert!(
        out.contains("more bytes not kept]"),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
    let chain = std::fs::read_to_string(d.state.join("audit/chain.jsonl")).unwrap();
    let last: Vec<serde_json::Value> = chain
        .lines()
        .rev()
        .take(4)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(last[0]["evidence"]["data"]["output_bytes"], 5_000_000);
    assert_eq!(last[1]["evidence"]["data"]["outcome"], "skipped");
    assert_eq!(last[2]["evidence"]["data"]["timed_out"], true);
    assert_eq!(last[2]["evidence"]["data"]["outcome"], "timeout");
    assert_eq!(last[3]["evidence"]["data"]["argv"][2], hostile);
    d.verify();
}

/// Every shipped runbook walked to its end against the demo fleet, answering each step
/// as it comes: failing checks skipped with a reason, manual steps confirmed, decisions
/// answered yes, approvals given by bob, commands run.
#[test]
fn every_shipped_runbook_can_be_walked_to_its_end() {
    let d = demo();
    let (_, out, _) = d.run("alice", &["runbook", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<String> = v["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 6);
    for name in names {
        let (_, out, err) = d.run(
            "alice",
            &["runbook", "run", &name, "--service", "service-b"],
        );
        let id = Demo::walk_id(&out);
        assert!(id.starts_with("RBW-"), "{name}: {out}{err}");
        let mut ran: Vec<String> = Vec::new();
        for _ in 0..20 {
            let w = d.walk(&id);
            let cur = &w["current"];
            if cur.is_null() {
                break;
            }
            let step = cur["id"].as_str().unwrap().to_string();
            let (who, args): (&str, Vec<&str>) = match cur["kind"].as_str().unwrap() {
                "check" => (
                    "alice",
                    vec!["--skip", "--reason", "not applicable in the demo"],
                ),
                "manual" => ("alice", vec!["--confirm", "--note", "done"]),
                "decision" => ("alice", vec!["--answer", "yes"]),
                "approval" => ("bob", vec!["--approve"]),
                // A command that failed stops the walk; the operator skips it with a reason.
                "command" if ran.contains(&step) => (
                    "alice",
                    vec!["--skip", "--reason", "failed in the demo (no backup there)"],
                ),
                "command" => ("alice", vec!["--run"]),
                k => panic!("{k}"),
            };
            ran.push(step.clone());
            let mut full = vec!["runbook", "step", &id];
            full.extend(args);
            let (code, out, err) = d.run(who, &full);
            assert!(code == 0 || code == 1, "{name} {step}: {out}{err}");
        }
        let w = d.walk(&id);
        assert!(w["current"].is_null(), "{name} did not finish: {w}");
    }
    d.verify();
}

#[test]
fn run_with_json_reports_the_outcome_as_data() {
    let d = demo();
    let (code, out, _) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "rollback_promotion",
            "--service",
            "service-a",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "outcome");
    assert_eq!(v["code"], 0);
    let lines: Vec<&str> = v["out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines[0].ends_with("walking rollback_promotion for service-a"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("next step `agree` (approval)")),
        "{lines:?}"
    );
}

/// Unknown is unknown: without Prometheus the latency step decides on gander's own scrape
/// (and says so); a step with no figure to decide on is recorded as `unknown` (`?`),
/// never a pass or a fail, and the walk stops there.
#[test]
fn a_check_without_data_is_unknown_and_the_latency_step_uses_gander_s_own_figure() {
    let d = demo();
    let (code, out, err) = d.run(
        "alice",
        &[
            "runbook",
            "run",
            "service_degradation",
            "--service",
            "service-a",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("✓ latency: p95 latency under 500 ms — p95 ")
            && out.contains(
                " ms (must be below 500 ms; from gander's own scrape of http://127.0.0.1:"
            ),
        "{out}"
    );
    let rb = "title: Blind\napplies_to: {services: [\"*\"]}\nsteps:\n  - id: errors\n    kind: check\n    title: error rate\n    check: promql\n    args: {query: 'sum(rate(x[5m]))', below: \"0.01\"}\n  - id: after\n    kind: manual\n    title: After\n";
    std::fs::create_dir_all(d.config.join("runbooks")).unwrap();
    std::fs::write(d.config.join("runbooks/blind.yaml"), rb).unwrap();
    let (code, out, err) = d.run(
        "alice",
        &["runbook", "run", "blind", "--service", "service-a"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("? errors: error rate — no monitoring.prometheus_url configured"),
        "{out}"
    );
    assert!(out.contains("no data to decide on"), "{out}");
    let id = Demo::walk_id(&out);
    let w = d.walk(&id);
    assert_eq!(w["done"][0]["outcome"], "unknown", "{w}");
    assert_eq!(
        w["current"]["id"], "errors",
        "the walk stays at the undecided step: {w}"
    );
    // A figure name the checks do not know is a config error, at its line.
    let bad = rb.replace("below: \"0.01\"}", "below: \"0.01\", own: p99}");
    std::fs::write(d.config.join("runbooks/blind.yaml"), bad).unwrap();
    let (code, out, err) = d.run("alice", &["validate"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("unknown own figure `p99`"),
        "{out}{err}"
    );
}
