//! The real binary in a pseudo-terminal, its screen read by a terminal emulator (vt100):
//! `gander demo`, the two-keystroke answer, a filter, help, a promotion requested by
//! alice and approved by bob from a second console, quitting with the terminal restored,
//! and a dropped session (SIGHUP) in the middle of a dialog that records nothing.

mod common;

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Screen {
    parser: vt100::Parser,
    raw: Vec<u8>,
}

struct Pty {
    screen: Arc<Mutex<Screen>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
}

impl Pty {
    fn spawn(args: &[&str], cols: u16, rows: u16, env: &[(&str, &str)]) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gander"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(Screen {
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(rows).unwrap(),
                std::num::NonZeroU16::new(cols).unwrap(),
                0,
            ),
            raw: Vec::new(),
        }));
        let s = screen.clone();
        std::thread::spawn(move || {
            let _master = pair.master; // keep the pty open while reading
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut g = s.lock().unwrap();
                g.parser.process(&buf[..n]);
                g.raw.extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            screen,
            writer,
            child,
        }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().parser.screen().contents()
    }

    fn wait_for(&self, what: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let t = self.text();
            if t.contains(what) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what:?}; the screen is:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send keys one by one, as a person types (an Esc followed at once by a letter
    /// would read as Alt+letter).
    fn keys(&mut self, s: &str) {
        for b in s.bytes() {
            self.writer.write_all(&[b]).unwrap();
            self.writer.flush().unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn esc(&mut self) {
        self.keys("\x1b");
        std::thread::sleep(Duration::from_millis(120));
    }

    fn wait_exit(&mut self, limit: Duration) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Let the reader thread drain the last bytes.
                std::thread::sleep(Duration::from_millis(200));
                return s.exit_code();
            }
            assert!(
                start.elapsed() < limit,
                "gander did not exit; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The terminal is as it was: alternate screen left, cursor shown.
    fn assert_restored(&self) {
        let g = self.screen.lock().unwrap();
        assert!(
            !g.parser.screen().alternate_screen(),
            "still on the alternate screen"
        );
        assert!(
            !g.parser.screen().hide_cursor(),
            "the cursor is still hidden"
        );
        let raw = String::from_utf8_lossy(&g.raw);
        let enter = raw
            .find("\x1b[?1049h")
            .expect("entered the alternate screen");
        let leave = raw.rfind("\x1b[?1049l").expect("left the alternate screen");
        assert!(leave > enter);
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn demo_dir(state: &Path) -> PathBuf {
    let start = Instant::now();
    loop {
        if let Some(d) = std::fs::read_dir(state.join("demo"))
            .ok()
            .and_then(|mut r| r.next())
            .and_then(|e| e.ok())
        {
            if d.path().join("config/allowed_signers").exists() {
                return d.path();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the demo wrote no config"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_newcomer_finds_why_requests_approves_as_a_second_identity_and_quits_cleanly() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let mut alice = Pty::spawn(
        &["--state-dir", st, "demo", "--steady", "--keep"],
        100,
        30,
        &[],
    );
    alice.wait_for("SERVICE", Duration::from_secs(15));
    alice.wait_for("live", Duration::from_secs(15));
    // Why is service-c blocked? G, Enter.
    alice.keys("G\r");
    let s = alice.wait_for("BLOCKED", Duration::from_secs(20));
    assert!(s.contains("service-c"), "{s}");
    assert!(
        s.contains("dependencies_compliant: service-b is compliance_ready"),
        "{s}"
    );
    alice.esc();
    // Filter.
    alice.keys("/notif\r");
    let s = alice.wait_for("filter: notif", Duration::from_secs(20));
    assert!(!s.contains("ledger-db"), "{s}");
    alice.esc();
    alice.wait_for("ledger-db", Duration::from_secs(20));
    // Help.
    alice.keys("?");
    alice.wait_for("Keys (remap in", Duration::from_secs(20));
    alice.esc();
    // Request service-b -> compliant as alice (cursor on service-b: the 5th row).
    alice.keys("gjjjjp");
    alice.wait_for("promote service-b -> compliant", Duration::from_secs(20));
    alice.keys("release 1.3.2\r");
    alice.wait_for("Record and sign this?", Duration::from_secs(20));
    alice.keys("y");
    alice.wait_for("awaiting approval: needs 1 from", Duration::from_secs(30));
    alice.keys("\r");

    // Bob, in a second console on the same fleet and store.
    let dir = demo_dir(state.path());
    let cfg = dir.join("config");
    let key = dir.join("keys/bob");
    let mut bob = Pty::spawn(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--state-dir",
            dir.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        100,
        30,
        &[],
    );
    bob.wait_for("as bob", Duration::from_secs(15));
    bob.keys("4");
    bob.wait_for("may approve: bob", Duration::from_secs(30));
    bob.keys("a");
    bob.wait_for(
        "you (bob) may approve; four-eyes on",
        Duration::from_secs(5),
    );
    bob.keys("\r");
    bob.wait_for("Record and sign this?", Duration::from_secs(20));
    bob.keys("y");
    bob.wait_for("service-b is now `compliant`", Duration::from_secs(30));
    bob.keys("\rq");
    assert_eq!(bob.wait_exit(Duration::from_secs(30)), 0);
    bob.assert_restored();

    // Alice's console sees the store change; then she quits.
    alice.keys("3");
    alice.wait_for("completed", Duration::from_secs(30));
    alice.keys("q");
    assert_eq!(alice.wait_exit(Duration::from_secs(30)), 0);
    alice.assert_restored();

    // The chain verifies.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--state-dir",
            dir.to_str().unwrap(),
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok: 33 records"),
        "28 evidence records of the demo, then 5 for the promotion"
    );
}

#[test]
fn a_dropped_session_mid_dialog_records_nothing_and_restores_the_terminal() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let mut c = Pty::spawn(
        &["--state-dir", st, "demo", "--steady", "--keep"],
        80,
        24,
        &[("NO_COLOR", "1")],
    );
    c.wait_for("SERVICE", Duration::from_secs(15));
    let dir = demo_dir(state.path());
    let chain = || std::fs::read_to_string(dir.join("audit/chain.jsonl")).unwrap_or_default();
    let before = chain();
    c.keys("Gp");
    c.wait_for("promote service-c", Duration::from_secs(20));
    c.keys("half typed\r");
    c.wait_for("Record and sign this?", Duration::from_secs(20));
    let pid = c.child.process_id().unwrap() as i32;
    // SAFETY: signalling our own child, as sshd does when the connection drops.
    unsafe {
        libc::kill(pid, libc::SIGHUP);
    }
    assert_eq!(c.wait_exit(Duration::from_secs(30)), 0);
    c.assert_restored();
    let after = chain();
    assert_eq!(after, before, "nothing may be recorded");
    assert!(!after.contains("\"type\":\"request\""));
}

/// Wait until the demo has made its directory under `state` (the fleet is starting).
fn demo_dir_appears(state: &Path) {
    let start = Instant::now();
    while std::fs::read_dir(state.join("demo")).map_or(true, |mut d| d.next().is_none()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no demo directory"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What a demo left under `state/demo` after it stopped.
fn left_behind(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("demo"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A dropped session removes the demo's directory, whether the hangup comes while the
/// console runs or while the fleet is still starting.
#[test]
fn a_dropped_demo_session_leaves_no_directory_behind() {
    for early in [false, true] {
        let state = tempfile::tempdir().unwrap();
        let st = state.path().to_str().unwrap();
        let mut c = Pty::spawn(&["--state-dir", st, "demo", "--steady"], 100, 30, &[]);
        if early {
            // As soon as its directory exists: the fleet is starting, nothing is drawn.
            demo_dir_appears(state.path());
        } else {
            c.wait_for("SERVICE", Duration::from_secs(30));
        }
        let pid = c.child.process_id().unwrap() as i32;
        // SAFETY: signalling our own child, as sshd does when the connection drops.
        unsafe {
            libc::kill(pid, libc::SIGHUP);
        }
        assert_eq!(c.wait_exit(Duration::from_secs(30)), 0, "early: {early}");
        let left = left_behind(state.path());
        assert!(left.is_empty(), "early: {early}: left behind {left:?}");
    }
}

/// tmux kill-session closes the terminal itself: the hangup comes, and every later
/// write to the terminal fails. The demo still removes its directory (keys included),
/// right after start as well as later.
#[test]
fn a_closed_terminal_leaves_no_demo_directory_behind() {
    for wait_ms in [0u64, 50, 3000] {
        let state = tempfile::tempdir().unwrap();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gander"));
        cmd.args(["--state-dir", state.path().to_str().unwrap(), "demo"]);
        cmd.env("TERM", "xterm-256color");
        let mut child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        demo_dir_appears(state.path());
        std::thread::sleep(Duration::from_millis(wait_ms));
        drop(pair.master);
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "still running after its terminal closed ({wait_ms} ms)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = left_behind(state.path());
        assert!(left.is_empty(), "after {wait_ms} ms: left behind {left:?}");
    }
}

#[test]
fn at_80x24_under_no_color_the_grid_fits_and_says_everything_in_words() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let mut c = Pty::spawn(
        &["--state-dir", st, "demo", "--steady", "--keep"],
        80,
        24,
        &[("NO_COLOR", "1")],
    );
    let s = c.wait_for("✓ up", Duration::from_secs(15));
    for name in [
        "identity",
        "ledger-db",
        "service-a",
        "service-b",
        "service-c",
        "notifications",
        "reporting",
    ] {
        assert!(s.contains(name), "{name} missing at 80x24:\n{s}");
    }
    assert!(s.contains("blocked"), "{s}");
    // No colour escapes at all (SGR colour codes 30-37, 38;5, 90-97).
    let raw = String::from_utf8_lossy(&c.screen.lock().unwrap().raw).to_string();
    for code in [
        "\x1b[31m",
        "\x1b[32m",
        "\x1b[33m",
        "\x1b[36m",
        "\x1b[38;5",
        "\x1b[91m",
    ] {
        assert!(
            !raw.contains(code),
            "a colour escape {code:?} under NO_COLOR"
        );
    }
    c.keys("q");
    assert_eq!(c.wait_exit(Duration::from_secs(30)), 0);
    c.assert_restored();
}

/// Issue 7's "done when": walk promotion_failure for service-b in the console, drop the
/// SSH session in the middle, reconnect, resume at the right step, finish with a second
/// person's approval, and the chain verifies.
#[test]
fn a_runbook_walk_survives_a_dropped_session_and_finishes_with_a_second_person() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let mut a = Pty::spawn(
        &["--state-dir", st, "demo", "--steady", "--keep"],
        110,
        32,
        &[],
    );
    a.wait_for("SERVICE", Duration::from_secs(30));
    a.keys(":runbook promotion_failure service-b\r");
    // Asked first: nothing is recorded until y.
    a.wait_for(
        "start runbook promotion_failure for service-b",
        Duration::from_secs(10),
    );
    a.keys("\r");
    a.wait_for("Record and sign this?", Duration::from_secs(10));
    a.keys("y");
    let s = a.wait_for("Is the cause fixed? [decision]", Duration::from_secs(30));
    let id = s
        .split("walk ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(id.starts_with("RBW-"), "{s}");
    // The link drops while the decision is on screen.
    // SAFETY: signalling our own child, as sshd does.
    unsafe {
        libc::kill(a.child.process_id().unwrap() as i32, libc::SIGHUP);
    }
    assert_eq!(a.wait_exit(Duration::from_secs(30)), 0);
    a.assert_restored();
    // Reconnect (as alice, a console on the same fleet and store) and resume.
    let dir = demo_dir(state.path());
    let (cfg, d) = (dir.join("config"), dir.to_str().unwrap().to_string());
    let console = |who: &str| {
        let key = dir.join("keys").join(who);
        Pty::spawn(
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--state-dir",
                &d,
                "--key",
                key.to_str().unwrap(),
            ],
            110,
            32,
            &[],
        )
    };
    let mut a2 = console("alice");
    a2.wait_for("as alice", Duration::from_secs(30));
    a2.keys(&format!(":walk {id}\r"));
    let s = a2.wait_for("now: Is the cause fixed?", Duration::from_secs(30));
    assert!(
        s.contains("✓ Evidence on file and fresh [check] — pass by alice"),
        "{s}"
    );
    // y answers, and a second y records it.
    a2.keys("y");
    a2.wait_for(
        "record the answer YES to \"Is the cause fixed?\" as alice, signed?",
        Duration::from_secs(10),
    );
    a2.keys("y");
    a2.wait_for("now: A second person agrees", Duration::from_secs(30));
    // Alice started it: `a` tells her at once that she cannot approve it.
    a2.keys("a");
    a2.wait_for(
        "four-eyes: alice started this walk",
        Duration::from_secs(30),
    );
    a2.esc();
    a2.keys("q");
    assert_eq!(a2.wait_exit(Duration::from_secs(30)), 0);
    // Bob finishes it.
    let mut b = console("bob");
    b.wait_for("as bob", Duration::from_secs(30));
    b.keys(&format!(":walk {id}\r"));
    b.wait_for("now: A second person agrees", Duration::from_secs(30));
    b.keys("ay");
    b.wait_for("✓ finished", Duration::from_secs(30));
    b.esc();
    b.keys("q");
    assert_eq!(b.wait_exit(Duration::from_secs(30)), 0);
    b.assert_restored();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--state-dir",
            &d,
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (code, walks) = {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "--state-dir",
                &d,
                "runbook",
                "walks",
            ])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    assert_eq!(code, Some(0));
    assert!(
        walks.contains(&format!(
            "{id}  promotion_failure for service-b  started by alice  6 steps done, finished"
        )),
        "{walks}"
    );
}

#[test]
fn two_consoles_on_two_bastions_see_each_others_writes_through_postgresql() {
    use common::pg::{PASSWORD, Pg};
    let pg = Pg::start();
    let port = pg.port;
    let org = common::org::Org::with(move |cfg| {
        let p = cfg.join("org-config.yaml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(&format!(
            "store:\n  postgres: \"host=127.0.0.1 port={port} dbname=gander user=gander\"\n  password: env:GANDER_PG_PASSWORD\n"
        ));
        std::fs::write(p, s).unwrap();
    });
    let cfg = org.path("config");
    let console = |who: &str, bastion: &str| {
        let state = org.path(&format!("bastion-{bastion}"));
        let heads = org.path(&format!("heads-{bastion}"));
        let key = org.path(&format!("keys/{who}"));
        Pty::spawn(
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
            100,
            30,
            &[
                ("GANDER_PG_PASSWORD", PASSWORD),
                ("GANDER_HEADS_DIR", heads.to_str().unwrap()),
            ],
        )
    };
    let mut alice = console("alice", "a");
    let mut bob = console("bob", "b");
    alice.wait_for("as alice", Duration::from_secs(15));
    bob.wait_for("as bob", Duration::from_secs(15));
    bob.keys("4");
    bob.wait_for("no promotion waits for approval", Duration::from_secs(5));

    // Alice requests from a shell on bastion A; bob's console on B shows it without a
    // key press: the database's notification is the only way it can learn of it (the
    // console reads its own copy, which only a notification brings up to date).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
        .args(["--config", cfg.to_str().unwrap(), "--state-dir"])
        .arg(org.path("bastion-a"))
        .args(["promote", "service-b", "--to", "compliant", "--reason", "r"])
        .env("GANDER_PG_PASSWORD", PASSWORD)
        .env("GANDER_HEADS_DIR", org.path("heads-a"))
        .env("GANDER_KEY", org.path("keys/alice"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asked = Instant::now();
    bob.wait_for("may approve: bob", Duration::from_secs(10));
    eprintln!(
        "bob's console showed alice's request after {:?}",
        asked.elapsed()
    );

    // Bob approves in his console; alice's console on A shows it completed.
    bob.keys("a");
    bob.wait_for(
        "you (bob) may approve; four-eyes on",
        Duration::from_secs(5),
    );
    bob.keys("\r");
    bob.wait_for("Record and sign this?", Duration::from_secs(20));
    bob.keys("y");
    bob.wait_for("service-b is now `compliant`", Duration::from_secs(30));
    let approved = Instant::now();
    alice.keys("3");
    alice.wait_for("completed", Duration::from_secs(10));
    eprintln!(
        "alice's console showed bob's approval after {:?}",
        approved.elapsed()
    );
    // The database goes down: the header says so, and the chain shown is the copy.
    bob.keys("\r");
    pg.kill();
    let s = bob.wait_for("STORE DOWN", Duration::from_secs(10));
    assert!(s.contains("copy ✓ 5"), "{s}");
    pg.ctl_start();
    let start = Instant::now();
    while bob.text().contains("STORE DOWN") {
        assert!(start.elapsed() < Duration::from_secs(15), "{}", bob.text());
        std::thread::sleep(Duration::from_millis(100));
    }
    bob.keys("q");
    alice.keys("q");
    assert_eq!(bob.wait_exit(Duration::from_secs(30)), 0);
    assert_eq!(alice.wait_exit(Duration::from_secs(30)), 0);
}

/// On call, through a real terminal: a paging alert from a real Prometheus is silenced
/// in a real Alertmanager from the console (`5`, `S`, a comment, `y`); the silence is
/// Alertmanager's, made by the operator, and the console marks the alert silenced.
#[test]
fn a_paging_alert_is_silenced_in_alertmanager_from_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let (_am, am_url) = common::start_alertmanager(tmp.path());
    let (_prom, prom_url) = common::start_prometheus_with_rules(
        tmp.path(),
        "groups:\n- name: g\n  rules:\n  - alert: ErrorRateHigh\n    expr: vector(1)\n    labels: {service: service-b, severity: page}\n    annotations: {summary: service-b errors over 5 %}\n",
    );
    let st = tmp.path().join("state");
    let mut c = Pty::spawn(
        &[
            "--state-dir",
            st.to_str().unwrap(),
            "demo",
            "--steady",
            "--prometheus-url",
            &prom_url,
            "--alertmanager-url",
            &am_url,
        ],
        120,
        36,
        &[],
    );
    c.wait_for("SERVICE", Duration::from_secs(30));
    c.keys("5");
    c.wait_for("ErrorRateHigh", Duration::from_secs(30));
    c.wait_for("Silences in Alertmanager: 0", Duration::from_secs(10));
    // On a loaded machine gander's own alerts may fire too (a slow demo service), and
    // an upstream one lists ErrorRateHigh under it: find its row, as a person would.
    c.keys("g");
    let mut found = false;
    for _ in 0..8 {
        c.keys("S");
        let s = c.wait_for(" silence ", Duration::from_secs(10));
        if s.contains(" silence ErrorRateHigh ") {
            found = true;
            break;
        }
        c.esc();
        c.keys("j");
    }
    assert!(found, "no ErrorRateHigh row to silence:\n{}", c.text());
    c.wait_for("comment (required)", Duration::from_secs(10));
    c.keys("45m investigating the deploy\r");
    c.wait_for(
        "Create this silence in Alertmanager?",
        Duration::from_secs(10),
    );
    c.keys("y");
    c.wait_for("silence ErrorRateHigh: silenced", Duration::from_secs(20));
    c.keys("\r");
    let s = c.wait_for("(silenced until", Duration::from_secs(20));
    assert!(s.contains("Silences in Alertmanager: 1"), "{s}");
    // Alertmanager has it, as made.
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("{am_url}/api/v2/silences")])
        .output()
        .expect("curl (scripts/test.sh installs it)");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v[0];
    assert_eq!(s["createdBy"], "alice", "{v}");
    assert_eq!(s["comment"], "investigating the deploy", "{v}");
    let starts = chrono::DateTime::parse_from_rfc3339(s["startsAt"].as_str().unwrap()).unwrap();
    let ends = chrono::DateTime::parse_from_rfc3339(s["endsAt"].as_str().unwrap()).unwrap();
    assert!(((ends - starts).num_minutes() - 45).abs() <= 1, "{v}");
    let matchers: Vec<String> = s["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}={}",
                m["name"].as_str().unwrap(),
                m["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        matchers,
        [
            "alertname=ErrorRateHigh",
            "service=service-b",
            "severity=page"
        ],
        "{v}"
    );
    c.keys("q");
    assert_eq!(c.wait_exit(Duration::from_secs(20)), 0);
}

/// A service goes down at 3 a.m.: its paging alert is on the Alerts panel; Enter on it
/// offers the runbook for the service, records nothing until `y`, then opens the walk,
/// whose first check has run against the live service.
#[test]
fn a_paging_alert_opens_its_runbook_walk_only_after_a_yes() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let mut c = Pty::spawn(
        &[
            "--state-dir",
            st,
            "demo",
            "--steady",
            "--keep",
            "--fault",
            "service-c=down",
        ],
        120,
        36,
        &[],
    );
    c.wait_for("SERVICE", Duration::from_secs(30));
    let dir = demo_dir(state.path());
    let chain = || std::fs::read_to_string(dir.join("audit/chain.jsonl")).unwrap_or_default();
    c.keys("5");
    c.wait_for("SEVERITY SOURCE", Duration::from_secs(30));
    c.wait_for("ServiceDown", Duration::from_secs(30));
    c.keys("g");
    let mut found = false;
    // gander's own alerts come and go on a loaded machine: find the row, as a person would.
    for _ in 0..6 {
        c.keys("\r");
        let s = c.wait_for("┌", Duration::from_secs(10));
        if s.contains("runbook service_degradation for service-c") {
            found = true;
            break;
        }
        c.esc();
        c.keys("j");
    }
    assert!(found, "no runbook offered for service-c:\n{}", c.text());
    let before = chain();
    assert!(!before.contains("runbook_start"), "nothing before a yes");
    c.keys("paged at 03:00\r");
    c.wait_for("Record and sign this?", Duration::from_secs(10));
    assert_eq!(chain(), before, "nothing recorded before y");
    c.keys("y");
    c.wait_for("walk RBW-", Duration::from_secs(30));
    let s = c.wait_for(
        "✗ Health and its components [check] — fail by alice",
        Duration::from_secs(30),
    );
    assert!(s.contains("now: Health and its components"), "{s}");
    let after = chain();
    assert!(
        after.contains("\"runbook_start\"") && after.contains("service_degradation"),
        "{after}"
    );
    c.esc();
    c.keys("q");
    assert_eq!(c.wait_exit(Duration::from_secs(30)), 0);
    c.assert_restored();
}
