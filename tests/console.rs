//! The console without a terminal: `update()` driven by key sequences (asserting the
//! model and the commands), and every panel drawn on ratatui's TestBackend at 80×24 and
//! 160×48 with a fixed clock and fixed facts (insta snapshots under tests/snapshots/).

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gander::app::keymap::Keymap;
use gander::app::model::{Dialog, DialogAction, Model, Panel, Popup, StoreView};
use gander::app::update::{Command, Msg, update};
use gander::engine::chain::{Evidence, Record};
use gander::engine::facts::Known;
use gander::engine::ledger::{Ledger, chain_facts};
use gander::engine::live::{Component, HealthReport, Observation, Probe};
use gander::metrics::derive::Summary;
use gander::ops::packages::PackageCmd;
use gander::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::sync::Arc;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap()
}

/// One poll of a service; `scale` scales its counters (an earlier poll saw fewer).
fn obs(service: &str, ready: bool, p95_bucket: f64, scale: f64) -> Observation {
    let pass = Probe::Pass { code: 200, ms: 3 };
    Observation {
        service: service.into(),
        at: now() - chrono::Duration::seconds(((1.0 - scale) * 50.0).round() as i64),
        health: Some(HealthReport {
            live: pass.clone(),
            ready: if ready {
                pass.clone()
            } else {
                Probe::Fail { code: 503, ms: 4 }
            },
            startup: pass,
            status: Some(if ready { "healthy" } else { "degraded" }.into()),
            components: if ready {
                vec![]
            } else {
                vec![Component {
                    name: "dependency:service-b".into(),
                    status: "unhealthy".into(),
                    message: Some("service-b is not ready".into()),
                }]
            },
            detail_error: None,
        }),
        metrics: Some(Ok(Summary {
            series: 40,
            requests: Some(1000.0 * scale),
            errors: Some(3.0 * scale),
            buckets: vec![
                (0.1, 400.0 * scale),
                (p95_bucket, 990.0 * scale),
                (1.0, 1000.0 * scale),
                (f64::INFINITY, 1000.0 * scale),
            ],
            activities: Some(vec![]),
        })),
        unreachable: false,
    }
}

fn record(seq: u64, kind: &str, service: &str, data: serde_json::Value) -> Record {
    Record {
        seq,
        prev_hash: String::new(),
        promotion_id: "PRM-20261122-000001".into(),
        timestamp: "2026-11-22T09:00:00Z".into(),
        service: service.into(),
        evidence: Evidence {
            kind: kind.into(),
            data,
            signatures: vec![],
        },
        hash: String::new(),
    }
}

/// The shipped example org, live data for every service, and one open promotion of
/// service-b requested by alice; the operator is `identity`.
fn model(identity: &str) -> Model {
    let loaded = gander::io::config_dir::load_dir(Path::new("config")).unwrap();
    let config = Arc::new(loaded.config.unwrap());
    let mut m = Model::new(
        config,
        Keymap::default(),
        Theme::mono(),
        Ok(identity.into()),
        false,
        now(),
    );
    m.runbooks = gander::io::runbooks::load(Path::new("config")).0;
    for (s, ready) in [
        ("identity", true),
        ("ledger-db", true),
        ("service-a", true),
        ("service-b", true),
        ("service-c", false),
        ("notifications", true),
        ("reporting", true),
    ] {
        // Two polls 5 s apart: figures over a window, as the console shows them.
        update(&mut m, Msg::Observation(Box::new(obs(s, ready, 0.5, 0.9))));
        update(&mut m, Msg::Observation(Box::new(obs(s, ready, 0.5, 1.0))));
    }
    let recs = vec![
        record(
            1,
            "request",
            "service-b",
            serde_json::json!({"requester": "alice", "target_state": "compliant", "from_state": "compliance_ready", "expires_at": "2026-11-23T09:00:00Z"}),
        ),
        record(
            2,
            "validation",
            "service-b",
            serde_json::json!({"verdict": "awaiting_approval", "blockers": [], "gates": [
            {"gate": "dependency_check", "stage": "dependency_check", "status": "pass"},
            {"gate": "approval_check", "stage": "promotion_gate", "status": "pending"}]}),
        ),
    ];
    let ledger = Ledger::fold(&recs, &|_, _| true);
    update(
        &mut m,
        Msg::Store(Box::new(StoreView {
            ledger,
            chain: Some(Known::Known(chain_facts(2, None, 0))),
            recent: vec![
                "chain #1 service-b request by alice".into(),
                "chain #2 service-b validation by alice".into(),
            ],
            walks: vec![],
            packages: Default::default(),
            error: None,
        })),
    );
    update(&mut m, Msg::Tick(now()));
    m
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(k: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

fn press(m: &mut Model, keys: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in keys.chars() {
        out.extend(update(m, key(c)));
    }
    out
}

fn screen(m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| gander::ui::render(f, m)).unwrap();
    format!("{}", t.backend())
}

#[test]
fn two_keystrokes_show_why_service_c_is_blocked() {
    let mut m = model("bob");
    assert_eq!(m.panel, Panel::Grid);
    press(&mut m, "G");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.popup, Some(Popup::Detail("service-c".into())));
    let s = screen(&m, 80, 24);
    assert!(
        s.contains("next: sandbox -> compliance_ready: ✗ BLOCKED"),
        "{s}"
    );
    assert!(
        s.contains("dependencies_compliant: service-b is compliance_ready"),
        "{s}"
    );
    // Failing and unknown checks come before the passes.
    let s = screen(&m, 160, 48);
    let marks: Vec<char> = s
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .filter(|l| l.contains(": "))
        .filter_map(|l| l.trim_start().chars().next())
        .filter(|c| matches!(c, '✓' | '✗' | '?'))
        .collect();
    let first_pass = marks
        .iter()
        .position(|c| *c == '✓')
        .unwrap_or_else(|| panic!("no pass: {marks:?}\n{s}"));
    assert!(marks[..first_pass].contains(&'✗'), "{marks:?}\n{s}");
    assert!(
        !marks[first_pass..].contains(&'✗'),
        "a fail below a pass: {marks:?}\n{s}"
    );
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(m.popup, None);
}

#[test]
fn filter_narrows_the_grid_and_esc_clears_it() {
    let mut m = model("bob");
    press(&mut m, "/");
    press(&mut m, "serv");
    assert_eq!(m.rows().len(), 3);
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.filter, "serv");
    assert!(screen(&m, 80, 24).contains("filter: serv"));
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(m.rows().len(), 7);
}

#[test]
fn the_command_line_completes_and_opens_a_confirmed_promotion() {
    let mut m = model("bob");
    press(&mut m, ":pro");
    update(&mut m, code(KeyCode::Tab));
    assert_eq!(
        m.input,
        Some(gander::app::model::Input::Command("promote ".into()))
    );
    press(&mut m, "service-c");
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    let Some(Popup::Dialog(d)) = &m.popup else {
        panic!("{:?}", m.popup)
    };
    assert!(
        d.info[0].starts_with("service-c: sandbox -> compliance_ready"),
        "{:?}",
        d.info
    );
    // Enter goes to the confirmation; only y sends the command.
    press(&mut m, "fix");
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(
        press(&mut m, "x").is_empty(),
        "other keys do nothing at the confirmation"
    );
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::Request {
            service: "service-c".into(),
            to: "compliance_ready".into(),
            reason: "fix".into()
        }]
    );
    assert_eq!(m.popup, None);
}

#[test]
fn four_eyes_is_shown_before_the_key_is_pressed_and_nothing_is_sent() {
    let mut m = model("alice");
    press(&mut m, "4");
    assert_eq!(m.panel, Panel::Approvals);
    press(&mut m, "a");
    let Some(Popup::Dialog(d)) = m.popup.clone() else {
        panic!()
    };
    assert!(
        d.blocked
            .as_deref()
            .unwrap()
            .starts_with("four-eyes: you (alice) requested"),
        "{d:?}"
    );
    assert!(screen(&m, 80, 24).contains("✗ not allowed: four-eyes"));
    assert!(press(&mut m, "y").is_empty());
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.popup, None);
}

#[test]
fn bob_approves_with_confirmation_and_a_reject_needs_a_reason() {
    let mut m = model("bob");
    press(&mut m, "4a");
    let Some(Popup::Dialog(d)) = m.popup.clone() else {
        panic!()
    };
    assert!(d.blocked.is_none(), "{d:?}");
    assert!(
        d.info.iter().any(|l| l == "expires in 23h30m"),
        "{:?}",
        d.info
    );
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(
        press(&mut m, "y"),
        vec![Command::Vote {
            id: "PRM-20261122-000001".into(),
            approve: true,
            reason: String::new()
        }]
    );
    // Reject: Enter without a reason stays in the dialog.
    press(&mut m, "x");
    update(&mut m, code(KeyCode::Enter));
    let Some(Popup::Dialog(d)) = m.popup.clone() else {
        panic!()
    };
    assert!(!d.confirming);
    assert!(d.info.contains(&"a rejection needs a reason".to_string()));
    // Esc cancels: no command.
    assert!(update(&mut m, code(KeyCode::Esc)).is_empty());
    assert_eq!(m.popup, None);
}

#[test]
fn read_only_hides_and_refuses_every_action() {
    let loaded = gander::io::config_dir::load_dir(Path::new("config")).unwrap();
    let mut m = Model::new(
        Arc::new(loaded.config.unwrap()),
        Keymap::default(),
        Theme::mono(),
        Ok("bob".into()),
        true,
        now(),
    );
    assert!(press(&mut m, "p").is_empty());
    assert!(m.popup.is_none());
    let s = screen(&m, 120, 24);
    assert!(!s.contains("promote"), "{s}");
    assert!(s.contains("READ-ONLY"));
    press(&mut m, ":promote service-c");
    update(&mut m, code(KeyCode::Enter));
    assert!(m.popup.is_none());
}

#[test]
fn ctrl_c_quits_from_anywhere_and_q_closes_popups_first() {
    let mut m = model("bob");
    press(&mut m, "?");
    assert_eq!(m.popup, Some(Popup::Help));
    press(&mut m, "q");
    assert_eq!(m.popup, None);
    assert!(!m.quit);
    press(&mut m, "p");
    let cmds = update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(cmds, vec![Command::Quit]);
    assert!(m.quit);
}

#[test]
fn tiny_terminals_never_panic() {
    let m = model("bob");
    for (w, h) in [
        (1, 1),
        (2, 3),
        (10, 4),
        (19, 5),
        (20, 5),
        (30, 8),
        (80, 24),
        (300, 80),
    ] {
        for p in Panel::ALL {
            let mut mm = model("bob");
            mm.panel = p;
            screen(&mm, w, h);
        }
        screen(&m, w, h);
    }
}

#[test]
fn snapshots_of_every_panel() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        for p in Panel::ALL {
            let mut m = model("bob");
            m.panel = p;
            if p == Panel::Graph {
                press(&mut m, "jjjj"); // service-b
            }
            insta::assert_snapshot!(
                format!("{}_{w}x{h}", p.title().to_lowercase()),
                screen(&m, w, h)
            );
        }
        let mut m = model("bob");
        press(&mut m, "?");
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&m, w, h));
        let mut m = model("bob");
        press(&mut m, "G");
        update(&mut m, code(KeyCode::Enter));
        insta::assert_snapshot!(format!("detail_{w}x{h}"), screen(&m, w, h));
        let mut m = model("bob");
        press(&mut m, "4a");
        insta::assert_snapshot!(format!("approve_dialog_{w}x{h}"), screen(&m, w, h));
    }
}

fn walk_model(identity: &str) -> Model {
    use gander::engine::walk::{Done, Walk};
    let mut m = model(identity);
    let done = |step: &str, outcome: &str, by: &str, note: &str, seq: u64| Done {
        step: step.into(),
        outcome: outcome.into(),
        by: by.into(),
        note: note.into(),
        at: "2026-11-22T09:10:00Z".into(),
        seq,
    };
    let view = StoreView {
        ledger: m.store.ledger.clone(),
        chain: m.store.chain.clone(),
        walks: vec![Walk {
            id: "RBW-20261122-000007".into(),
            runbook: "promotion_failure".into(),
            service: "service-b".into(),
            params: [("service".to_string(), "service-b".to_string())].into(),
            started_by: "alice".into(),
            started_key: None,
            started_at: "2026-11-22T09:10:00Z".into(),
            done: vec![
                done("verify_dependencies", "pass", "alice", "", 8),
                done("check_evidence_chain", "pass", "alice", "", 9),
                done(
                    "validate_compliance_state",
                    "skipped",
                    "alice",
                    "coverage ticket INC-42",
                    10,
                ),
                done("evidence", "pass", "alice", "", 11),
                done("fixed", "yes", "alice", "", 12),
            ],
        }],
        ..StoreView::default()
    };
    update(&mut m, Msg::Store(Box::new(view)));
    press(&mut m, ":walk RBW-20261122-000007");
    update(&mut m, code(KeyCode::Enter));
    m
}

#[test]
fn enter_on_a_walk_in_the_runbooks_panel_opens_it() {
    let mut m = walk_model("bob");
    update(&mut m, code(KeyCode::Esc));
    assert!(m.popup.is_none());
    press(&mut m, "7");
    let s = screen(&m, 120, 40);
    assert!(
        s.contains(
            "RBW-20261122-000007  promotion_failure for service-b by alice: 4 done, 1 skipped; waits at"
        ),
        "{s}"
    );
    // The walk is the row after the runbooks: G goes to the last row.
    press(&mut m, "G");
    assert!(
        update(&mut m, code(KeyCode::Enter)).is_empty(),
        "opening records nothing"
    );
    let Some(Popup::Walk(v)) = &m.popup else {
        panic!("{:?}", m.popup)
    };
    assert_eq!(v.id, "RBW-20261122-000007");
    // On a runbook, Enter asks before it starts anything.
    update(&mut m, code(KeyCode::Esc));
    press(&mut m, "g");
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(matches!(m.popup, Some(Popup::Dialog(_))), "{:?}", m.popup);
}

#[test]
fn the_walk_view_shows_progress_and_its_keys_send_the_right_steps() {
    let mut m = walk_model("bob");
    let Some(Popup::Walk(v)) = m.popup.clone() else {
        panic!("{:?}", m.popup)
    };
    assert_eq!(v.id, "RBW-20261122-000007");
    let s = screen(&m, 80, 24);
    assert!(
        s.contains("▶ A second person agrees to retry the promotion [approval]"),
        "{s}"
    );
    assert!(
        s.contains("↷ The service's state") && s.contains("skipped by alice at"),
        "{s}"
    );
    // a: approve as bob, asked once more before it is recorded.
    assert!(press(&mut m, "a").is_empty());
    let s = screen(&m, 120, 24);
    assert!(
        s.contains("record your approval of \"A second person agrees to retry the promotion\" as bob, signed?"),
        "{s}"
    );
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::RunbookStep {
            id: "RBW-20261122-000007".into(),
            action: gander::ops::walks::StepAction::Approve,
            note: String::new()
        }]
    );
    // s: a skip needs a reason; Enter on an empty reason sends nothing.
    press(&mut m, "s");
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    press(&mut m, "flaky");
    // Enter shows what will be recorded and as whom; only `y` records.
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    let s = screen(&m, 160, 24);
    assert!(s.contains("as skipped by bob, signed? y record"), "{s}");
    assert!(press(&mut m, "x").is_empty(), "a stray key records nothing");
    // n goes back to edit the reason.
    press(&mut m, "n");
    press(&mut m, "!");
    update(&mut m, code(KeyCode::Enter));
    assert!(screen(&m, 160, 24).contains("reason: flaky!"));
    update(&mut m, code(KeyCode::Esc));
    press(&mut m, "s");
    press(&mut m, "flaky");
    update(&mut m, code(KeyCode::Enter));
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::RunbookStep {
            id: "RBW-20261122-000007".into(),
            action: gander::ops::walks::StepAction::Skip("flaky".into()),
            note: String::new()
        }]
    );
    // r asks before running anything; Esc cancels.
    press(&mut m, "r");
    assert!(update(&mut m, code(KeyCode::Esc)).is_empty());
    // Enter runs the current check and records what it found: asked first, as whom.
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    let s = screen(&m, 160, 24);
    assert!(
        s.contains("now and record what it finds as bob, signed? y run and record"),
        "{s}"
    );
    assert!(press(&mut m, "x").is_empty(), "a stray key records nothing");
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(
        press(&mut m, "y"),
        vec![Command::RunbookResume {
            id: "RBW-20261122-000007".into()
        }]
    );
    assert!(matches!(m.popup, Some(Popup::Walk(_))));
}

/// The person who started a walk cannot approve its steps: told at `a`, before any
/// question that a `y` would answer in vain.
#[test]
fn the_walk_s_starter_is_refused_an_approval_before_being_asked() {
    let mut m = walk_model("alice");
    assert!(press(&mut m, "a").is_empty());
    let s = screen(&m, 160, 40);
    assert!(s.contains("not allowed"), "{s}");
    assert!(s.contains("four-eyes"), "{s}");
    assert!(!s.contains("record your approval"), "{s}");
    assert!(press(&mut m, "y").is_empty(), "no approval recorded: {s}");
}

#[test]
fn snapshots_of_the_walk_view() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let m = walk_model("bob");
        insta::assert_snapshot!(format!("walk_{w}x{h}"), screen(&m, w, h));
    }
}

#[test]
fn enter_on_an_alert_that_names_a_runbook_asks_then_starts_a_walk_for_its_service() {
    let mut m = model("bob");
    // service-c is degraded: gander's own ServiceDegraded alert, which service_degradation
    // and promotion_failure apply to.
    press(&mut m, "5");
    let rows = m.alerts();
    assert_eq!(rows[0].name, "ServiceDegraded");
    // Enter asks first (nothing recorded), naming the other runbook that applies...
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    let Some(Popup::Dialog(d)) = &m.popup else {
        panic!("{:?}", m.popup)
    };
    assert!(
        d.info.iter().any(|l| l.contains("2 runbooks apply: ▸ ")),
        "{:?}",
        d.info
    );
    assert!(
        d.info.iter().any(|l| l.contains("signed as bob")),
        "{:?}",
        d.info
    );
    // ...Tab chooses the other one, keeping what was typed; Tab again comes back...
    let Some(Popup::Dialog(Dialog {
        action: DialogAction::StartWalk { name: first, .. },
        ..
    })) = m.popup.clone()
    else {
        panic!()
    };
    press(&mut m, "paged");
    update(&mut m, code(KeyCode::Tab));
    let Some(Popup::Dialog(d)) = &m.popup else {
        panic!("{:?}", m.popup)
    };
    let DialogAction::StartWalk { name: second, .. } = &d.action else {
        panic!()
    };
    assert_ne!(*second, first);
    assert_eq!(d.reason, "paged");
    assert!(
        screen(&m, 120, 30).contains(&format!("▸ {second} · {first}")),
        "{}",
        screen(&m, 120, 30)
    );
    update(&mut m, code(KeyCode::Tab));
    let Some(Popup::Dialog(d)) = &m.popup else {
        panic!()
    };
    assert!(matches!(&d.action, DialogAction::StartWalk { name, .. } if *name == first));
    // ...Esc records nothing...
    assert!(update(&mut m, code(KeyCode::Esc)).is_empty());
    assert!(m.popup.is_none());
    // ...and Enter, Enter, y starts it.
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    let cmds = update(&mut m, code(KeyCode::Char('y')));
    assert_eq!(cmds.len(), 1);
    let Command::RunbookStart { name, service } = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(service, "service-c");
    assert!(
        name == "promotion_failure" || name == "service_degradation",
        "{name}"
    );
    // A Prometheus runbook_url naming a runbook wins.
    m.prom_alerts = vec![gander::io::prometheus::Alert {
        labels: [
            ("alertname".to_string(), "ServiceDown".to_string()),
            ("service".to_string(), "service-a".to_string()),
        ]
        .into(),
        annotations: [(
            "runbook_url".to_string(),
            "gander://runbook/rollback_promotion".to_string(),
        )]
        .into(),
        state: "firing".into(),
        active_at: None,
        value: None,
    }];
    m.cursor[Panel::Alerts.index()] = 0;
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, code(KeyCode::Enter));
    let cmds = update(&mut m, code(KeyCode::Char('y')));
    assert_eq!(
        cmds,
        vec![Command::RunbookStart {
            name: "rollback_promotion".into(),
            service: "service-a".into()
        }]
    );
}

#[test]
fn the_packages_panel_promotes_approves_and_rolls_back_through_confirmed_dialogs() {
    use gander::engine::package::{Snapshot, Stages};
    let mut m = model("bob");
    let mut st = Stages::default();
    st.packages.insert(
        "gg-1.0.0".into(),
        ("1.0.0".into(), vec!["service-a".into()]),
    );
    st.history.insert(
        "staging".into(),
        vec![Snapshot {
            package: "gg-1.0.0".into(),
            since: "2026-11-22T09:00:00Z".into(),
            by: "alice".into(),
            seq: 9,
            reason: String::new(),
        }],
    );
    st.requests
        .insert(("gg-1.0.0".into(), "prod".into()), ("alice".into(), vec![]));
    m.store.packages = st;
    press(&mut m, "8");
    assert_eq!(m.panel, Panel::Packages);
    // p: the next stage after staging is prod.
    press(&mut m, "p");
    let Some(Popup::Dialog(d)) = m.popup.clone() else {
        panic!("{:?}", m.popup)
    };
    assert!(
        d.info[0] == "gg-1.0.0 -> prod" && d.info[1].contains("needs an approval"),
        "{:?}",
        d.info
    );
    update(&mut m, code(KeyCode::Esc));
    // a: bob approves alice's request, after confirming.
    press(&mut m, "a");
    update(&mut m, code(KeyCode::Enter));
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::Package(PackageCmd::Approve {
            id: "gg-1.0.0".into(),
            stage: "prod".into(),
        })]
    );
    // :rollback needs a reason.
    press(&mut m, ":rollback staging");
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, code(KeyCode::Enter));
    let Some(Popup::Dialog(d)) = m.popup.clone() else {
        panic!()
    };
    assert!(!d.confirming);
    press(&mut m, "bad build");
    update(&mut m, code(KeyCode::Enter));
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::Package(PackageCmd::Rollback {
            stage: "staging".into(),
            to: None,
            reason: "bad build".into(),
        })]
    );
    // Alice cannot approve her own request: shown before any key.
    let mut m2 = model("alice");
    m2.store.packages = m.store.packages.clone();
    press(&mut m2, "8a");
    let Some(Popup::Dialog(d)) = m2.popup.clone() else {
        panic!()
    };
    assert_eq!(
        d.blocked.as_deref(),
        Some("four-eyes: you (alice) requested gg-1.0.0 and cannot approve it")
    );
}

/// A value with terminal escapes (a reason, a note, a label) is drawn as visible
/// Control Pictures: nothing that reaches the terminal can move the cursor or recolour.
#[test]
fn control_characters_in_values_never_reach_the_terminal() {
    let mut m = model("bob");
    m.push_log("warn", "evil\u{1b}[2J\u{1b}]0;owned\u{7}\rreason");
    press(&mut m, "6");
    let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
    t.draw(|f| gander::ui::render(f, &m)).unwrap();
    let cells: String = t
        .backend()
        .buffer()
        .content
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        !cells.chars().any(char::is_control),
        "a control character reached the buffer"
    );
    assert!(
        cells.contains("evil␛[2J"),
        "the escape is shown, not hidden:\n{}",
        t.backend()
    );
}

#[test]
fn a_paging_alert_marks_its_row_the_header_and_the_alerts_tab() {
    let mut m = model("bob");
    let alert =
        |name: &str, service: &str, severity: &str, state: &str| gander::io::prometheus::Alert {
            labels: [
                ("alertname".to_string(), name.to_string()),
                ("service".to_string(), service.to_string()),
                ("severity".to_string(), severity.to_string()),
            ]
            .into(),
            annotations: Default::default(),
            state: state.into(),
            active_at: None,
            value: None,
        };
    m.prom_alerts = vec![
        alert("ErrorRateHigh", "notifications", "page", "firing"),
        // Pending its `for:` duration: not paging yet, so not on the row.
        alert("LatencyHigh", "service-a", "page", "pending"),
    ];
    m.refresh();
    let s = screen(&m, 80, 24);
    let row = s.lines().find(|l| l.contains("notifications")).unwrap();
    assert!(row.contains("✗ page ErrorRateHigh"), "{s}");
    let row = s.lines().find(|l| l.contains("service-a")).unwrap();
    assert!(!row.contains("LatencyHigh"), "{s}");
    let header = s.lines().next().unwrap();
    assert!(header.contains("✗ 1 page 1 ticket"), "{header}");
    // The identity is never cut at 80 columns.
    assert!(
        header.trim_matches('"').trim_end().ends_with("as bob"),
        "{header}"
    );
    // Two fire (the page, and gander's own ticket for service-c); one is pending.
    assert!(s.lines().nth(1).unwrap().contains("Alert (2!)"), "{s}");
}

#[test]
fn an_outcome_says_whether_anything_was_recorded() {
    use gander::app::update::Outcome;
    use gander::ops::Said;
    let mut m = model("bob");
    let title = |m: &Model| match &m.popup {
        Some(Popup::Message { title, .. }) => title.clone(),
        other => panic!("{other:?}"),
    };
    // A request recorded as blocked is not "refused": it is on the chain.
    let said = Said {
        out: vec!["PRM-1: open but blocked".into()],
        code: 1,
        subject: Some("PRM-1".into()),
        recorded: Some((5, 6)),
        ..Said::default()
    };
    update(
        &mut m,
        Msg::Done {
            what: "promote service-c -> compliance_ready".into(),
            kind: Outcome::Promotion,
            said,
        },
    );
    assert_eq!(
        title(&m),
        "promote service-c -> compliance_ready: recorded (chain #5–6), not done"
    );
    // A refusal before anything was written.
    let said = Said {
        err: vec!["four-eyes".into()],
        code: 1,
        ..Said::default()
    };
    update(
        &mut m,
        Msg::Done {
            what: "approve PRM-1".into(),
            kind: Outcome::Promotion,
            said,
        },
    );
    assert_eq!(title(&m), "approve PRM-1: nothing recorded");
}

#[test]
fn a_fleet_that_stopped_answering_is_not_shown_as_live() {
    let mut m = model("bob");
    assert!(screen(&m, 120, 30).contains("│ live │"));
    // Ten minutes on, every service is polled and none answers: polled is not live.
    let later = m.now + chrono::Duration::minutes(10);
    update(&mut m, Msg::Tick(later));
    for s in [
        "identity",
        "ledger-db",
        "service-a",
        "service-b",
        "service-c",
        "notifications",
        "reporting",
    ] {
        update(
            &mut m,
            Msg::Observation(Box::new(Observation {
                service: s.into(),
                at: later,
                health: Some(HealthReport {
                    live: Probe::Error {
                        error: "connection refused".into(),
                    },
                    ready: Probe::Error {
                        error: "connection refused".into(),
                    },
                    startup: Probe::Error {
                        error: "connection refused".into(),
                    },
                    status: None,
                    components: vec![],
                    detail_error: None,
                }),
                metrics: None,
                unreachable: true,
            })),
        );
    }
    let s = screen(&m, 120, 30);
    let header = s.lines().next().unwrap();
    assert!(
        header.contains("stale 10m") && !header.contains("│ live │"),
        "{header}"
    );
    // Its last figures are still shown, marked stale: `~` and dim, never as if live.
    let row = s.lines().find(|l| l.contains("service-a")).unwrap();
    assert!(row.contains("~473ms") && row.contains("~0.3%"), "{row}");
}

/// A service that stops giving figures shows its last ones marked stale (`~`, dim);
/// one that never gave any shows `?` (the drill-in says why), never a blank that could
/// read as zero.
#[test]
fn a_service_without_figures_shows_unknown_not_a_number() {
    let mut m = model("bob");
    let now = m.now;
    // A known service whose metrics page fails: the figures are gone, shown as `?`.
    update(
        &mut m,
        Msg::Observation(Box::new(Observation {
            service: "service-a".into(),
            at: now,
            health: None,
            metrics: Some(Err("HTTP 404".into())),
            unreachable: false,
        })),
    );
    m.refresh_live();
    let s = screen(&m, 120, 30);
    let row = s.lines().find(|l| l.contains("service-a")).unwrap();
    // Its last figures, marked stale; nothing decides on them.
    assert!(row.contains("~473ms") && row.contains("~0.3%"), "{row}");
    assert_eq!(m.board.services["service-a"].p95_ms, None);
    // A service that never gave a figure: `?`.
    m.board.services.get_mut("service-a").unwrap().last_figures = None;
    let s = screen(&m, 120, 30);
    let row = s.lines().find(|l| l.contains("service-a")).unwrap();
    assert!(row.contains(" ? "), "{row}");
    assert!(!row.contains("ms"), "{row}");
}

#[test]
fn the_pipeline_shows_deploy_only_once_it_happened_and_ages_under_a_minute() {
    let mut m = model("bob");
    let p = &mut m.store.ledger.promotions[0];
    assert_eq!(p.status, gander::engine::ledger::PromotionStatus::Open);
    p.requested_at = m.now - chrono::Duration::seconds(20);
    p.validation = Some(serde_json::json!({"gates": [
        {"gate": "approval_check", "stage": "promotion_gate", "status": "pending"},
        {"gate": "rollout", "stage": "deployment", "status": "pass"}
    ]}));
    press(&mut m, "3");
    let s = screen(&m, 160, 48);
    assert!(s.contains("· 20s ago"), "{s}");
    assert!(
        s.contains("gate …  deploy ·"),
        "an open promotion has not deployed:\n{s}"
    );
}

#[test]
fn walk_takes_a_unique_part_of_an_id_and_says_when_none_matches() {
    let mut m = walk_model("bob");
    m.popup = None;
    press(&mut m, ":walk 000007");
    update(&mut m, code(KeyCode::Enter));
    assert!(
        matches!(&m.popup, Some(Popup::Walk(v)) if v.id == "RBW-20261122-000007"),
        "{:?}",
        m.popup
    );
    m.popup = None;
    press(&mut m, ":walk RBW-1999");
    update(&mut m, code(KeyCode::Enter));
    let Some(Popup::Message { title, .. }) = &m.popup else {
        panic!("{:?}", m.popup)
    };
    assert_eq!(title, "no walk `RBW-1999`");
}

/// `S` on a Prometheus alert: a dialog that shows the exact matchers, the length and who
/// creates it; a comment is required; only `y` sends; the silence then marks the row and
/// stops it counting as paging. gander's own alerts are not in Alertmanager.
#[test]
fn silencing_an_alert_asks_first_and_sends_its_exact_matchers() {
    let mut m = model("bob");
    let mut cfg = (*m.config).clone();
    cfg.org.monitoring.alertmanager_url = Some("http://127.0.0.1:9093".into());
    m.config = Arc::new(cfg);
    let labels: std::collections::BTreeMap<String, String> = [
        ("alertname", "ErrorRateHigh"),
        ("service", "notifications"),
        ("severity", "page"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    m.prom_alerts = vec![gander::io::prometheus::Alert {
        labels: labels.clone(),
        annotations: Default::default(),
        state: "firing".into(),
        active_at: None,
        value: None,
    }];
    m.refresh();
    press(&mut m, "5");
    let row = m
        .alerts()
        .iter()
        .position(|a| a.name == "ErrorRateHigh")
        .unwrap();
    m.cursor[gander::app::model::Panel::Alerts.index()] = row;
    assert!(press(&mut m, "S").is_empty());
    let s = screen(&m, 160, 40);
    assert!(s.contains("silence ErrorRateHigh"), "{s}");
    for m in [
        r#"alertname="ErrorRateHigh""#,
        r#"service="notifications""#,
        r#"severity="page""#,
    ] {
        assert!(s.contains(m), "{s}");
    }
    assert!(s.contains("created by bob"), "{s}");
    // No comment: not sent.
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(screen(&m, 160, 40).contains("a silence needs a comment"));
    press(&mut m, "30m rolling back PRM-1");
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(screen(&m, 160, 40).contains("Create this silence in Alertmanager?"));
    let cmds = press(&mut m, "y");
    assert_eq!(
        cmds,
        vec![Command::Silence {
            alert: "ErrorRateHigh".into(),
            matchers: gander::io::alertmanager::matchers_for(&labels),
            minutes: 30,
            created_by: "bob".into(),
            comment: "rolling back PRM-1".into(),
        }]
    );
    // Alertmanager's silence list comes back: the row says so and nothing pages.
    let silence: gander::io::alertmanager::Silence = serde_json::from_value(serde_json::json!({
        "id": "abc", "matchers": gander::io::alertmanager::matchers_for(&labels),
        "startsAt": "2026-11-23T10:00:00Z", "endsAt": "2026-11-23T10:30:00Z",
        "createdBy": "bob", "comment": "rolling back PRM-1", "status": {"state": "active"}
    }))
    .unwrap();
    update(&mut m, Msg::Silences(Ok(vec![silence])));
    m.refresh();
    let s = screen(&m, 120, 30);
    assert!(s.contains("(silenced until 10:30 by bob)"), "{s}");
    assert!(s.contains("Silences in Alertmanager: 1"), "{s}");
    assert!(m.firing().iter().all(|a| a.name != "ErrorRateHigh"));
    // gander's own alert (service-c's readiness ticket) cannot be silenced there.
    let own = m
        .alerts()
        .iter()
        .position(|a| a.source == "gander")
        .unwrap();
    m.cursor[gander::app::model::Panel::Alerts.index()] = own;
    press(&mut m, "S");
    assert!(screen(&m, 120, 30).contains("not one in Alertmanager"));
    update(&mut m, code(KeyCode::Esc));
    // Alertmanager down: said on the panel.
    update(&mut m, Msg::Silences(Err("connection refused".into())));
    assert!(screen(&m, 120, 30).contains("✗ Alertmanager unreachable: connection refused"));
}

/// The Log shows the newest entry (the transition that just happened), unless the
/// operator moved up to read an older one; then it stays where they are.
#[test]
fn the_log_follows_the_newest_entry_unless_scrolled() {
    let mut m = model("bob");
    for i in 0..60 {
        m.push_log("info", format!("event {i}"));
    }
    press(&mut m, "6");
    let s = screen(&m, 80, 24);
    assert!(s.contains("event 59"), "{s}");
    // Up a few: reading event 5x; a new entry does not move the view.
    press(&mut m, "kkk");
    let at = m.cursor();
    m.push_log("warn", "event 60");
    assert_eq!(m.cursor(), at);
    assert!(!screen(&m, 80, 24).contains("event 60"));
    // Back to the bottom: following again.
    press(&mut m, "G");
    m.push_log("warn", "event 61");
    assert!(screen(&m, 80, 24).contains("event 61"));
}

/// Below 80×24 the grid says the terminal is too small rather than show cut figures;
/// the identity and the way out stay on screen.
#[test]
fn below_80x24_the_grid_says_so_instead_of_cutting_numbers() {
    let m = model("bob");
    let s = screen(&m, 60, 20);
    assert!(s.contains("terminal 60×20: the grid needs 80×24"), "{s}");
    assert!(!s.contains("P95"), "{s}");
    assert!(s.lines().next().unwrap().contains("as bob"), "{s}");
    assert!(screen(&m, 80, 24).contains("P95"));
}

#[test]
fn alerts_say_since_when_and_dependents_sit_under_their_upstream_cause() {
    let mut m = model("bob");
    let alert = |name: &str, service: &str, severity: &str, mins: i64| {
        let at = now() - chrono::Duration::minutes(mins);
        gander::io::prometheus::Alert {
            labels: [
                ("alertname".to_string(), name.to_string()),
                ("service".to_string(), service.to_string()),
                ("severity".to_string(), severity.to_string()),
            ]
            .into(),
            annotations: Default::default(),
            state: "firing".into(),
            active_at: Some(at.to_rfc3339()),
            value: None,
        }
    };
    // reporting is listed first on purpose: it neither depends on service-b nor is
    // upstream of it, so it stays a root.
    m.prom_alerts = vec![
        alert("ErrorRateHigh", "reporting", "ticket", 1),
        alert("ErrorRateHigh", "notifications", "page", 2),
        alert("ServiceDown", "service-b", "page", 5),
    ];
    m.refresh();
    let rows = m.alerts();
    let order: Vec<(&str, &str, Option<&str>)> = rows
        .iter()
        .map(|a| (a.name.as_str(), a.service.as_str(), a.cause.as_deref()))
        .collect();
    let b = order.iter().position(|r| r.1 == "service-b").unwrap();
    let n = order.iter().position(|r| r.1 == "notifications").unwrap();
    let c = order.iter().position(|r| r.1 == "service-c").unwrap();
    assert!(b < n && b < c, "{order:?}");
    assert_eq!(order[n].2, Some("service-b"), "{order:?}");
    assert_eq!(order[c].2, Some("service-b"), "{order:?}");
    assert_eq!(
        order.iter().find(|r| r.1 == "reporting").unwrap().2,
        None,
        "{order:?}"
    );
    // Everything between service-b's row and the next root is caused by service-b.
    let next_root = order[b + 1..]
        .iter()
        .position(|r| r.2.is_none())
        .map_or(order.len(), |k| b + 1 + k);
    assert!(n < next_root && c < next_root, "{order:?}");

    press(&mut m, "5");
    let s = screen(&m, 120, 24);
    assert!(s.contains("SINCE"), "{s}");
    let row = s.lines().find(|l| l.contains("ServiceDown")).unwrap();
    assert!(row.contains("5m"), "{row}");
    let row = s.lines().find(|l| l.contains("notifications")).unwrap();
    assert!(row.contains("└ ErrorRateHigh"), "{row}");
    assert!(
        row.contains("2m") && row.contains("likely service-b"),
        "{row}"
    );

    // gander's own alert (service-c not ready) counts from when it was first seen.
    let later = now() + chrono::Duration::minutes(3);
    update(&mut m, Msg::Tick(later));
    m.refresh();
    let s = screen(&m, 120, 24);
    let row = s
        .lines()
        .find(|l| l.contains("service-c") && l.contains("gander"))
        .unwrap();
    assert!(row.contains("3m"), "{row}");
}

#[test]
fn slash_in_the_log_searches_it_and_esc_shows_everything_again() {
    let mut m = model("bob");
    for i in 0..60 {
        m.push_log(
            if i % 10 == 3 { "error" } else { "info" },
            format!(
                "event {i} {}",
                if i % 10 == 3 {
                    "ledger-db timeout"
                } else {
                    "ok"
                }
            ),
        );
    }
    press(&mut m, "6/");
    press(&mut m, "TIMEOUT");
    update(&mut m, code(KeyCode::Enter));
    let s = screen(&m, 80, 24);
    assert!(s.contains("search \"TIMEOUT\": 6 of"), "{s}");
    // Only the matching lines, the newest selected.
    assert!(
        s.contains("event 53 ledger-db") && s.contains("event 3 ledger-db"),
        "{s}"
    );
    assert!(!s.contains("event 52"), "{s}");
    assert_eq!(m.row_count(), 6);
    assert_eq!(m.cursor(), 5);
    // A matching entry arrives: followed; the grid's filter is untouched.
    m.push_log("error", "event 60 ledger-db timeout");
    assert_eq!(m.cursor(), 6);
    assert!(m.filter.is_empty());
    press(&mut m, "1");
    assert_eq!(
        m.rows().len(),
        7,
        "the grid is not filtered by the Log's search"
    );
    press(&mut m, "6");
    update(&mut m, code(KeyCode::Esc));
    let s = screen(&m, 80, 24);
    assert!(!s.contains("search \""), "{s}");
    assert!(s.contains("event 59 ok"), "{s}");
}

#[test]
fn slash_in_the_drill_in_finds_a_line_below_the_fold() {
    let mut m = model("bob");
    press(&mut m, "G");
    update(&mut m, code(KeyCode::Enter));
    let s = screen(&m, 80, 24);
    assert!(
        !s.contains("downstream (blast"),
        "below the fold at first: {s}"
    );
    press(&mut m, "/blast");
    let s = screen(&m, 80, 24);
    assert!(
        s.contains("/blast▏"),
        "what is typed shows in the title: {s}"
    );
    update(&mut m, code(KeyCode::Enter));
    assert!(m.popup_scroll > 0, "Enter jumps to the match");
    let s = screen(&m, 80, 24);
    assert!(s.contains("downstream (blast"), "{s}");
    assert!(s.contains("/blast: 1 match (n/N)"), "{s}");
    // Still the drill-in; Esc ends the search first, then closes.
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(m.popup, Some(Popup::Detail("service-c".into())));
    assert!(!screen(&m, 80, 24).contains("/blast"));
    update(&mut m, code(KeyCode::Esc));
    assert_eq!(m.popup, None);
}

#[test]
fn a_dialog_longer_than_the_screen_scrolls_and_keeps_its_prompt() {
    let mut m = model("alice");
    press(&mut m, "Gp");
    let tall = screen(&m, 80, 40);
    assert!(tall.contains("Enter to continue"), "{tall}");
    assert!(
        !tall.contains("PgUp/PgDn: rows"),
        "it all fits at 40 rows: {tall}"
    );
    let s = screen(&m, 80, 12);
    assert!(
        s.contains("Enter to continue"),
        "the prompt is never cut: {s}"
    );
    assert!(s.contains("↑/↓ PgUp/PgDn: rows 1–"), "{s}");
    let first = s.clone();
    update(&mut m, code(KeyCode::Down));
    update(&mut m, code(KeyCode::Down));
    let s = screen(&m, 80, 12);
    assert!(s.contains("↑/↓ PgUp/PgDn: rows 3–"), "{s}");
    assert_ne!(s, first);
    // Letters still go to the reason, not to scrolling.
    press(&mut m, "jk");
    assert!(screen(&m, 80, 12).contains("reason: jk"));
}

/// A long reason wraps over many rows; the confirmation under it is still drawn (it
/// was cut, and `y` recorded what the screen did not ask), and typing past the limit
/// says so. A long outcome keeps its close line and scrolls.
#[test]
fn a_long_reason_never_hides_the_confirmation_and_a_long_outcome_scrolls() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut m = model("alice");
        press(&mut m, "Gp");
        let words = "the release train was held for the payment provider's change window ";
        press(&mut m, &words.repeat(4));
        let s = screen(&m, w, h);
        assert!(s.contains("at most 200 characters"), "{s}");
        update(&mut m, code(KeyCode::Enter));
        let s = screen(&m, w, h);
        assert!(s.contains("Record and sign this?"), "{w}x{h}: {s}");
    }
    let mut m = model("alice");
    let lines: Vec<String> = (1..=30)
        .map(|i| format!("blocker {i}: evidence_collected: tests evidence is missing and the coverage report is older than the policy allows"))
        .collect();
    update(
        &mut m,
        Msg::Done {
            what: "promote notifications -> compliance_ready".into(),
            kind: gander::app::update::Outcome::Promotion,
            said: gander::ops::Said {
                out: lines,
                code: 1,
                subject: Some("PRM-1".into()),
                recorded: Some((29, 30)),
                ..Default::default()
            },
        },
    );
    let s = screen(&m, 80, 24);
    assert!(s.contains("rows 1–"), "a long outcome says it scrolls: {s}");
    update(&mut m, code(KeyCode::Char('G')));
    let s = screen(&m, 80, 24);
    assert!(s.contains("Enter or Esc to close"), "{s}");
    assert!(s.contains("blocker 30"), "{s}");
}

#[test]
fn a_walk_longer_than_the_screen_keeps_the_current_step_and_its_keys_in_view() {
    let mut m = walk_model("bob");
    let s = screen(&m, 80, 13);
    assert!(s.contains("▶ A second person agrees"), "{s}");
    assert!(s.contains("a approve"), "the keys are never cut: {s}");
    assert!(s.contains("↑/↓: rows"), "{s}");
    // ↑ scrolls the steps back to the title.
    for _ in 0..10 {
        update(&mut m, code(KeyCode::Up));
        screen(&m, 80, 13);
    }
    let s = screen(&m, 80, 13);
    assert!(s.contains("↑/↓: rows 1–"), "{s}");
    assert!(s.contains("a approve"), "{s}");
    assert!(matches!(m.popup, Some(Popup::Walk(_))));
}

#[test]
fn at_scale_the_grid_is_filled_from_prometheus_figures() {
    let loaded = gander::io::config_dir::load_dir(Path::new("config")).unwrap();
    let mut m = Model::new(
        Arc::new(loaded.config.unwrap()),
        Keymap::default(),
        Theme::mono(),
        Ok("bob".into()),
        false,
        now(),
    );
    let mut per = std::collections::BTreeMap::new();
    per.insert(
        "service-a".to_string(),
        gander::engine::live::PromFacts {
            up: Some(true),
            p95_ms: Some(123.0),
            error_rate: Some(0.004),
            activities: Some(vec![]),
            range: Some("1m".into()),
        },
    );
    per.insert(
        "service-b".to_string(),
        gander::engine::live::PromFacts {
            up: Some(false),
            ..Default::default()
        },
    );
    update(&mut m, Msg::PromFigures(Box::new((per, vec![]))));
    update(&mut m, Msg::Tick(now()));
    let s = screen(&m, 100, 24);
    let row = s.lines().find(|l| l.contains("service-a")).unwrap();
    assert!(
        row.contains("up") && row.contains("123ms") && row.contains("0.4%"),
        "{row}"
    );
    let row = s.lines().find(|l| l.contains("service-b")).unwrap();
    assert!(row.contains("down"), "{row}");
    // A service Prometheus does not know is unknown, not up.
    let row = s.lines().find(|l| l.contains("ledger-db")).unwrap();
    assert!(!row.contains("✓ up"), "{row}");
}

#[test]
fn a_poll_recomputes_its_service_alone_and_agrees_with_a_full_recompute() {
    let mut m = model("bob");
    update(&mut m, Msg::Tick(now()));
    let before = m.statuses.clone();
    // service-a turns slow (p95 in the 1 s bucket, over its 500 ms baseline) and
    // service-c recovers; a later poll of each, 5 s on.
    let at = now() + chrono::Duration::seconds(5);
    let later = |s: &str, ready: bool, bucket: f64| {
        let mut o = obs(s, ready, bucket, 1.1);
        o.at = at;
        o
    };
    update(
        &mut m,
        Msg::Observation(Box::new(later("service-a", true, 2.0))),
    );
    update(
        &mut m,
        Msg::Observation(Box::new(later("service-c", true, 0.5))),
    );
    assert_eq!(m.live_changed.len(), 2);
    update(&mut m, Msg::Tick(at));
    assert!(m.live_changed.is_empty(), "the tick took them");
    let incremental = m.statuses.clone();
    m.refresh();
    assert_eq!(
        incremental, m.statuses,
        "incremental and full recompute agree"
    );
    let next_of = |v: &[gander::engine::plan::ServiceStatus], s: &str| {
        let st = v.iter().find(|x| x.service == s).unwrap();
        serde_json::to_string(&st.next).unwrap()
    };
    assert_ne!(
        next_of(&before, "service-c"),
        next_of(&incremental, "service-c"),
        "service-c's verdict moved with its health"
    );
    assert_eq!(
        next_of(&before, "ledger-db"),
        next_of(&incremental, "ledger-db")
    );
}

/// Each source says how long it has been down, in seconds under a minute: Prometheus
/// here. The header is drawn again each second while it shows seconds.
#[test]
fn a_source_that_is_down_says_since_when_and_ticks() {
    let mut m = model("bob");
    let t0 = m.now;
    update(&mut m, Msg::PromError(Some("connection refused".into())));
    update(&mut m, Msg::Tick(t0 + chrono::Duration::seconds(42)));
    let header = screen(&m, 160, 30).lines().next().unwrap().to_string();
    assert!(header.contains("PROMETHEUS DOWN 42s"), "{header}");
    m.dirty = false;
    update(&mut m, Msg::Tick(t0 + chrono::Duration::seconds(43)));
    assert!(m.dirty, "seconds on screen: drawn again");
    let header = screen(&m, 160, 30).lines().next().unwrap().to_string();
    assert!(header.contains("PROMETHEUS DOWN 43s"), "{header}");
    // Answering again: the word goes, and a steady grid is not drawn each second.
    update(&mut m, Msg::PromError(None));
    let header = screen(&m, 160, 30).lines().next().unwrap().to_string();
    assert!(!header.contains("PROMETHEUS"), "{header}");
}

/// The first line of a screen that contains `what`.
fn line_with(s: &str, what: &str) -> String {
    s.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no `{what}` in:\n{s}"))
        .to_string()
}

/// A model after typing `:text` and Enter.
fn after_command(identity: &str, text: &str) -> Model {
    let mut m = model(identity);
    press(&mut m, ":");
    press(&mut m, text);
    update(&mut m, code(KeyCode::Enter));
    m
}

/// The Approvals panel counts approvals only for transitions that need them, and never
/// names the requester or who already approved as someone to ask.
#[test]
fn approvals_say_when_none_is_needed_and_whom_to_ask() {
    let mut m = model("bob");
    press(&mut m, "4");
    let p = m.store.ledger.promotions[0].clone();
    let s = screen(&m, 160, 48);
    assert!(s.contains("0/2 approvals"), "{s}");
    let asks = line_with(&s, "may approve:");
    assert!(asks.contains("may approve: bob, dana"), "{asks}");
    assert!(!asks.contains(&format!("{},", p.requester)), "{asks}");
    // Once dana approved, she is not asked again.
    m.store.ledger.promotions[0]
        .approvals
        .push(gander::engine::ledger::Vote {
            by: "dana".into(),
            key: None,
            at: m.now,
            reason: "ok".into(),
            signed: true,
            seq: 3,
        });
    let s = screen(&m, 160, 48);
    assert!(s.contains("1/2 approvals"), "{s}");
    let asks = line_with(&s, "may approve:");
    assert!(asks.contains("may approve: bob (four-eyes"), "{asks}");
    // To a state that needs no approval: said so, and nobody is asked.
    let to = ["sandbox", "compliance_ready"]
        .into_iter()
        .find(|t| !gander::engine::authority::needs_approval(&m.config, t))
        .expect("a state without approval");
    m.store.ledger.promotions[0].to = to.into();
    let s = screen(&m, 160, 48);
    assert!(s.contains("no approval needed"), "{s}");
    assert!(!s.contains("may approve:"), "{s}");
}

/// The command line says what it could not do, where it is seen: an unknown service or
/// promotion, a runbook that does not exist, a command without its argument.
#[test]
fn the_command_line_says_what_it_could_not_do() {
    let run = |text: &str| {
        let m = after_command("alice", text);
        let Some(Popup::Message { title, lines }) = m.popup.clone() else {
            panic!(":{text}: {:?}", m.popup)
        };
        format!("{title}: {}", lines.join(" "))
    };
    assert!(run("promote servce-b").contains("no service `servce-b`"));
    assert!(
        run("promote servce-b").contains("service-b"),
        "a suggestion"
    );
    assert!(run("approve PRM-x").contains("no promotion `PRM-x`"));
    assert!(run("runbook nosuch identity").contains("no runbook `nosuch`"));
    assert!(run("reject").contains("usage: :reject PRM-ID"));
    assert!(run("walk").contains("usage: :walk"));
    assert!(run("rollback").contains("usage: :rollback STAGE"));
}

/// At 60 columns the header keeps who is acting, READ-ONLY and the fleet's counts
/// whole (a cut `✓…` would hide what is down); other parts give way.
#[test]
fn a_narrow_header_keeps_identity_read_only_and_counts() {
    let mut m = model("alice");
    m.read_only = true;
    let s = screen(&m, 60, 20);
    let header = s.lines().next().unwrap();
    for want in ["as alice", "READ-ONLY", "✓6 !1 ✗0", "✗ 1 ticket"] {
        assert!(header.contains(want), "{want}: {header}");
    }
    // A chain that does not verify stays on a narrow header (shortened), one that
    // verifies may make room.
    m.store.chain = Some(gander::engine::facts::Known::Known(
        gander::engine::ledger::chain_facts(
            28,
            Some("line 5: hash does not match the record's content: the record was altered".into()),
            0,
        ),
    ));
    for width in [60, 80] {
        let s = screen(&m, width, 20);
        let header = s.lines().next().unwrap();
        assert!(header.contains("chain ✗"), "{width}: {header}");
        assert!(header.contains("as alice"), "{width}: {header}");
    }
}

/// A runbook started by hand for a service it is not written for says so in its dialog;
/// one that applies does not.
#[test]
fn a_runbook_for_a_service_it_does_not_apply_to_says_so() {
    let info = |text: &str| {
        let m = after_command("alice", text);
        let Some(Popup::Dialog(d)) = m.popup.clone() else {
            panic!(":{text}: {:?}", m.popup)
        };
        d.info.join("\n")
    };
    let not = info("runbook compliance_violation identity");
    assert!(
        not.contains("note: compliance_violation does not list identity"),
        "{not}"
    );
    let fits = info("runbook blackout_window identity");
    assert!(!fits.contains("note:"), "{fits}");
}
