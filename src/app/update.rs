//! `update(&mut Model, Msg) -> Vec<Command>`: the only place the console's state
//! changes. Pure: io runs the commands and answers with messages.

use super::keymap::Action;
use super::model::{
    Dialog, DialogAction, Input, Model, Panel, Popup, Sort, StoreView, WalkInput, WalkView,
};
use crate::engine::authority::{self, Vote};
use crate::engine::live::Observation;
use crate::io::prometheus::Alert;
use crate::ops::Said;
use crate::ops::packages::PackageCmd;
use crate::ops::walks::StepAction;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    Observation(Box<Observation>),
    Store(Box<StoreView>),
    PromAlerts(Vec<Alert>),
    /// Prometheus could not be read (unreachable, auth refused, TLS): shown, not dropped.
    PromError(Option<String>),
    Tick(DateTime<Utc>),
    /// An action's outcome.
    Done {
        what: String,
        kind: Outcome,
        said: Said,
    },
}

/// Which kind of use case an outcome comes from: a walk's outcome opens the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Promotion,
    Walk,
    Package,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    Request {
        service: String,
        to: String,
        reason: String,
    },
    Vote {
        id: String,
        approve: bool,
        reason: String,
    },
    /// Read the store again now (after an action).
    ReloadStore,
    /// A package use case (`ops::packages`), run in-process like votes and walks.
    Package(PackageCmd),
    RunbookStart {
        name: String,
        service: String,
    },
    RunbookResume {
        id: String,
    },
    RunbookStep {
        id: String,
        action: StepAction,
        note: String,
    },
}

/// The `:` commands, for completion and help.
pub const COMMANDS: [&str; 14] = [
    "grid",
    "graph",
    "pipeline",
    "approvals",
    "alerts",
    "log",
    "runbooks",
    "packages",
    "help",
    "promote",
    "approve",
    "reject",
    "sort",
    "quit",
];

/// `:runbook NAME SERVICE` and `:walk ID` are completed too.
pub const WALK_COMMANDS: [&str; 2] = ["runbook", "walk"];

pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => key(m, k),
        Msg::Resize => {
            m.dirty = true;
            Vec::new()
        }
        Msg::Observation(o) => {
            let before = m.board.services.get(&o.service).map(|l| l.health);
            m.board.apply(&o);
            let after = m.board.services.get(&o.service).map(|l| l.health);
            if before.is_some() && before != after {
                let cell = m
                    .board
                    .services
                    .get(&o.service)
                    .map(|l| l.cell(o.at))
                    .unwrap_or_default();
                let level = if cell.starts_with("up") {
                    "info"
                } else {
                    "warn"
                };
                m.push_log(level, format!("{}: {cell}", o.service));
            }
            m.last_poll = Some(o.at);
            m.stale = true;
            Vec::new()
        }
        Msg::Store(s) => {
            if let Some(e) = &s.error {
                m.push_log("warn", format!("store: {e}"));
            }
            let new: Vec<String> = s
                .recent
                .iter()
                .filter(|r| !m.store.recent.contains(r))
                .cloned()
                .collect();
            for r in new {
                m.push_log("audit", r);
            }
            m.store = *s;
            m.stale = true;
            Vec::new()
        }
        Msg::PromAlerts(a) => {
            if a != m.prom_alerts {
                m.prom_alerts = a;
                m.stale = true;
            }
            Vec::new()
        }
        Msg::Tick(now) => {
            // The clock shows minutes: redraw when the minute or the facts changed.
            let minute_changed =
                now.format("%H:%M").to_string() != m.now.format("%H:%M").to_string();
            m.now = now;
            if m.stale {
                m.refresh();
            } else if minute_changed {
                m.dirty = true;
            }
            clamp(m);
            Vec::new()
        }
        Msg::PromError(e) => {
            if e != m.prom_error {
                if let Some(e) = &e {
                    m.push_log("warn", format!("prometheus: {e}"));
                } else if m.prom_error.is_some() {
                    m.push_log("info", "prometheus: answering again");
                }
                m.prom_error = e;
                m.dirty = true;
            }
            Vec::new()
        }
        Msg::Done {
            what,
            kind: Outcome::Walk,
            said,
        } => {
            m.busy = None;
            for l in said.out.iter().chain(said.err.iter()) {
                m.push_log(
                    if said.code == 0 { "audit" } else { "warn" },
                    format!("{what}: {l}"),
                );
            }
            let mut lines = said.out.clone();
            lines.extend(said.err.iter().cloned());
            // The walk it is about (a new walk's id comes with its outcome).
            let id = match &m.popup {
                Some(Popup::Walk(v)) => Some(v.id.clone()),
                _ => said.subject.clone(),
            };
            m.popup = Some(match id {
                Some(id) => Popup::Walk(WalkView {
                    id,
                    typing: None,
                    said: lines,
                }),
                None => Popup::Message {
                    title: format!("{what}: refused"),
                    lines,
                },
            });
            m.dirty = true;
            vec![Command::ReloadStore]
        }
        Msg::Done { what, said, .. } => {
            m.busy = None;
            let ok = said.code == 0;
            for l in &said.out {
                m.push_log("audit", format!("{what}: {l}"));
            }
            for l in &said.err {
                m.push_log(if ok { "info" } else { "error" }, format!("{what}: {l}"));
            }
            let mut lines = said.out.clone();
            lines.extend(said.err.iter().cloned());
            m.popup = Some(Popup::Message {
                title: format!("{what}: {}", if ok { "done" } else { "refused" }),
                lines,
            });
            m.dirty = true;
            vec![Command::ReloadStore]
        }
    }
}

fn clamp(m: &mut Model) {
    let n = m.row_count();
    let i = m.panel.index();
    if m.cursor[i] >= n {
        m.cursor[i] = n.saturating_sub(1);
    }
}

fn key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
    m.dirty = true;
    // Ctrl-C always quits, whatever is open (nothing half-done is ever written).
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        m.quit = true;
        return vec![Command::Quit];
    }
    if let Some(p) = m.popup.clone() {
        return popup_key(m, p, k);
    }
    if let Some(input) = m.input.clone() {
        return input_key(m, input, k);
    }
    let Some(a) = m.keymap.action(&k) else {
        return Vec::new();
    };
    action(m, a)
}

pub fn action(m: &mut Model, a: Action) -> Vec<Command> {
    if a.writes() && m.read_only {
        m.push_log("info", "read-only: actions are disabled");
        return Vec::new();
    }
    let n = m.row_count();
    let i = m.panel.index();
    match a {
        Action::Quit => {
            m.quit = true;
            return vec![Command::Quit];
        }
        Action::NextPanel => m.panel = Panel::ALL[(i + 1) % Panel::ALL.len()],
        Action::PrevPanel => m.panel = Panel::ALL[(i + Panel::ALL.len() - 1) % Panel::ALL.len()],
        Action::Down => m.cursor[i] = (m.cursor[i] + 1).min(n.saturating_sub(1)),
        Action::Up => m.cursor[i] = m.cursor[i].saturating_sub(1),
        Action::Top => m.cursor[i] = 0,
        Action::Bottom => m.cursor[i] = n.saturating_sub(1),
        Action::PageDown => m.cursor[i] = (m.cursor[i] + 10).min(n.saturating_sub(1)),
        Action::PageUp => m.cursor[i] = m.cursor[i].saturating_sub(10),
        Action::Open if m.panel == Panel::Runbooks => {
            let service = m
                .rows()
                .get(m.cursor[Panel::Grid.index()])
                .map(|s| s.service.clone());
            match (m.runbooks.get(m.cursor()).map(|b| b.name.clone()), service) {
                (Some(_), _) if m.read_only => {
                    m.push_log("info", "read-only: actions are disabled")
                }
                (Some(name), Some(service)) => {
                    m.busy = Some(format!("runbook {name} for {service}"));
                    return vec![Command::RunbookStart { name, service }];
                }
                _ => {}
            }
        }
        Action::Open if m.panel == Panel::Alerts => {
            // An alert that names a runbook (its runbook_url, or a runbook's applies_to)
            // opens a walk of it for the alert's service; otherwise the service's detail.
            let Some(a) = m.alerts().get(m.cursor()).cloned() else {
                return Vec::new();
            };
            let by_url = a.runbook.as_deref().and_then(|u| {
                let name = u
                    .trim_end_matches(['/', ' '])
                    .rsplit('/')
                    .next()
                    .unwrap_or(u)
                    .trim_end_matches(".yaml");
                m.runbooks.iter().find(|b| b.name == name)
            });
            let book = by_url.or_else(|| {
                m.runbooks
                    .iter()
                    .find(|b| b.runbook.applies(None, Some(&a.name)))
            });
            match (book.map(|b| b.name.clone()), a.service.is_empty()) {
                (Some(name), false) if !m.read_only => {
                    m.busy = Some(format!("runbook {name} for {}", a.service));
                    return vec![Command::RunbookStart {
                        name,
                        service: a.service.clone(),
                    }];
                }
                _ if !a.service.is_empty() => m.popup = Some(Popup::Detail(a.service.clone())),
                _ => {}
            }
        }
        Action::Open => {
            if let Some(s) = m.selected_service() {
                m.popup = Some(Popup::Detail(s));
            }
        }
        Action::Back => {
            if !m.filter.is_empty() {
                m.filter.clear();
            }
        }
        Action::Filter => m.input = Some(Input::Filter(m.filter.clone())),
        Action::CommandLine => m.input = Some(Input::Command(String::new())),
        Action::Help => m.popup = Some(Popup::Help),
        Action::Sort => {
            m.sort = match m.sort {
                Sort::Order => Sort::Name,
                Sort::Name => Sort::Health,
                Sort::Health => Sort::Order,
            }
        }
        Action::Promote if m.panel == Panel::Packages => package_promote(m),
        Action::Approve if m.panel == Panel::Packages => package_approve(m),
        Action::Promote => {
            if let Some(s) = m.selected_service() {
                open_promote(m, &s, None);
            }
        }
        Action::Approve | Action::Reject => {
            let id = match m.panel {
                Panel::Approvals => m.open_promotions().get(m.cursor()).map(|p| p.id.clone()),
                Panel::Pipeline => m.pipeline().get(m.cursor()).map(|p| p.id.clone()),
                _ => m
                    .selected_service()
                    .and_then(|s| m.store.ledger.open_for(&s).map(|p| p.id.clone())),
            };
            match id {
                Some(id) => open_vote(m, &id, a == Action::Approve),
                None => m.push_log(
                    "info",
                    "no open promotion here to approve or reject (see the Approvals panel)",
                ),
            }
        }
        Action::Grid => m.panel = Panel::Grid,
        Action::Graph => m.panel = Panel::Graph,
        Action::Pipeline => m.panel = Panel::Pipeline,
        Action::Approvals => m.panel = Panel::Approvals,
        Action::Alerts => m.panel = Panel::Alerts,
        Action::Log => m.panel = Panel::Log,
        Action::Runbooks => m.panel = Panel::Runbooks,
        Action::Packages => m.panel = Panel::Packages,
    }
    clamp(m);
    Vec::new()
}

fn open_promote(m: &mut Model, service: &str, to: Option<&str>) {
    let Some(st) = m.statuses.iter().find(|s| s.service == service) else {
        m.push_log("error", format!("no service `{service}`"));
        return;
    };
    let sm = crate::engine::state_machine::StateMachine::new(&m.config.rules);
    let to = match to {
        Some(t) => t.to_string(),
        None => match sm.promotions_from(&st.state).first() {
            Some(t) => t.to_string(),
            None => {
                m.push_log("info", format!("{service} is `{}`: the only way on is a demotion (:promote {service} STATE)", st.state));
                return;
            }
        },
    };
    let mut info = vec![format!("{service}: {} -> {to}", st.state)];
    if let Some(p) = st.next.as_ref().filter(|p| p.to == to) {
        info.push(format!("now: {}", p.verdict.as_str()));
        info.extend(p.blockers.iter().take(6).map(|b| format!("  {b}")));
    }
    let blocked = match &m.identity {
        Ok(me) => {
            info.push(format!("recorded and signed as {me}"));
            None
        }
        Err(e) => Some(format!("no identity: {e}")),
    };
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Promote {
            service: service.to_string(),
            to,
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

/// The package under the cursor in the Packages panel.
fn selected_package(m: &Model) -> Option<String> {
    m.store.packages.packages.keys().nth(m.cursor()).cloned()
}

fn package_dialog(m: &mut Model, cmd: PackageCmd, info: Vec<String>, needs_reason: bool) {
    let blocked = m
        .identity
        .as_ref()
        .err()
        .map(|e| format!("no identity: {e}"));
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Package { cmd, needs_reason },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

/// Promote the selected package to the stage after the furthest one that runs it.
fn package_promote(m: &mut Model) {
    let Some(id) = selected_package(m) else {
        return;
    };
    let stages = m.config.org.packaging.stages.clone();
    let st = &m.store.packages;
    let furthest = stages
        .iter()
        .rposition(|s| st.current(s).is_some_and(|c| c.package == id));
    let next = match furthest {
        None => stages.first().cloned(),
        Some(i) => stages.get(i + 1).cloned(),
    };
    let Some(to) = next else {
        m.push_log("info", format!("{id} already runs in the last stage"));
        return;
    };
    let mut info = vec![format!("{id} -> {to}")];
    if m.config.org.packaging.require_approval_for.contains(&to) {
        info.push(format!(
            "`{to}` needs an approval by someone other than you"
        ));
    }
    info.push("the release criteria and the package's digests are checked again".into());
    package_dialog(
        m,
        PackageCmd::Promote {
            id,
            to,
            reason: String::new(),
        },
        info,
        false,
    );
}

/// Approve the selected package's pending request.
fn package_approve(m: &mut Model) {
    let Some(id) = selected_package(m) else {
        return;
    };
    let pending: Vec<(String, String)> = m
        .store
        .packages
        .requests
        .iter()
        .filter(|((p, _), _)| *p == id)
        .map(|((_, s), (r, _))| (s.clone(), r.clone()))
        .collect();
    let Some((stage, requester)) = pending.into_iter().next() else {
        m.push_log(
            "info",
            format!("{id} has no promotion waiting for approval"),
        );
        return;
    };
    let info = vec![format!("{id} -> {stage}, requested by {requester}")];
    let refusal = match &m.identity {
        Ok(me) => authority::may_approve_stage(&id, &requester, me).err(),
        Err(_) => None,
    };
    package_dialog(m, PackageCmd::Approve { id, stage }, info, false);
    if let (Some(r), Some(Popup::Dialog(d))) = (refusal, m.popup.as_mut()) {
        d.blocked = Some(r.to_you());
    }
}

fn open_vote(m: &mut Model, id: &str, approve: bool) {
    let Some(p) = m.store.ledger.get(id).cloned() else {
        m.push_log("error", format!("no promotion `{id}`"));
        return;
    };
    let verb = if approve { "approve" } else { "reject" };
    let mut info = vec![
        format!("{}: {} {} -> {}", p.id, p.service, p.from, p.to),
        format!(
            "requested by {} at {}",
            p.requester,
            p.requested_at.format("%Y-%m-%d %H:%M UTC")
        ),
    ];
    if let Some(e) = p.expires_at {
        let left = (e - m.now).num_minutes();
        info.push(if left > 0 {
            format!(
                "expires in {}",
                crate::engine::config::Duration(left as u64 * 60)
            )
        } else {
            "expired".to_string()
        });
    }
    let need = m.config.org.approval.required_approvals;
    info.push(format!(
        "approvals {}/{need}: {}",
        p.approvals.iter().filter(|v| v.signed).count(),
        if p.approvals.is_empty() {
            "none yet".to_string()
        } else {
            p.approvals
                .iter()
                .map(|v| v.by.clone())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let vote = if approve { Vote::Approve } else { Vote::Reject };
    let blocked = match &m.identity {
        Err(e) => Some(format!("no identity: {e}")),
        Ok(me) => match authority::may_vote(&m.config, &p, me, vote) {
            Err(r) => Some(r.to_you()),
            Ok(()) => {
                info.push(format!(
                    "you ({me}) may {verb}; four-eyes {}",
                    if m.config.org.approval.four_eyes {
                        "on"
                    } else {
                        "off"
                    }
                ));
                None
            }
        },
    };
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Vote {
            id: id.to_string(),
            approve,
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

fn popup_key(m: &mut Model, p: Popup, k: KeyEvent) -> Vec<Command> {
    match p {
        Popup::Help | Popup::Detail(_) | Popup::Message { .. } => {
            // Esc, Enter, q or ? close it; the other keys are ignored.
            if matches!(
                k.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?')
            ) {
                m.popup = None;
            }
            Vec::new()
        }
        Popup::Walk(v) => walk_key(m, v, k),
        Popup::Dialog(mut d) => {
            if k.code == KeyCode::Esc {
                m.popup = None;
                m.push_log("info", "cancelled; nothing recorded");
                return Vec::new();
            }
            if d.blocked.is_some() {
                if matches!(k.code, KeyCode::Enter | KeyCode::Char('q')) {
                    m.popup = None;
                }
                return Vec::new();
            }
            if d.confirming {
                return match k.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        m.popup = None;
                        let (what, cmd) = match &d.action {
                            DialogAction::Promote { service, to } => (
                                format!("promote {service} -> {to}"),
                                Command::Request {
                                    service: service.clone(),
                                    to: to.clone(),
                                    reason: d.reason.clone(),
                                },
                            ),
                            DialogAction::Vote { id, approve } => (
                                format!("{} {id}", if *approve { "approve" } else { "reject" }),
                                Command::Vote {
                                    id: id.clone(),
                                    approve: *approve,
                                    reason: d.reason.clone(),
                                },
                            ),
                            DialogAction::Package { cmd, .. } => {
                                let cmd = cmd.clone().with_reason(&d.reason);
                                (cmd.describe(), Command::Package(cmd))
                            }
                        };
                        m.busy = Some(what);
                        vec![cmd]
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') => {
                        d.confirming = false;
                        m.popup = Some(Popup::Dialog(d));
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
            }
            match k.code {
                KeyCode::Enter => {
                    let needs_reason = matches!(
                        d.action,
                        DialogAction::Vote { approve: false, .. }
                            | DialogAction::Package {
                                needs_reason: true,
                                ..
                            }
                    );
                    if needs_reason && d.reason.trim().is_empty() {
                        d.info.retain(|l| l != "a rejection needs a reason");
                        d.info.push("a rejection needs a reason".into());
                    } else {
                        d.confirming = true;
                    }
                }
                KeyCode::Backspace => {
                    d.reason.pop();
                }
                KeyCode::Char(c)
                    if !k.modifiers.contains(KeyModifiers::CONTROL)
                        && d.reason.chars().count() < 200 =>
                {
                    d.reason.push(c);
                }
                _ => {}
            }
            m.popup = Some(Popup::Dialog(d));
            Vec::new()
        }
    }
}

fn walk_key(m: &mut Model, mut v: WalkView, k: KeyEvent) -> Vec<Command> {
    if let Some((what, mut text)) = v.typing.take() {
        match (what, k.code) {
            (_, KeyCode::Esc) => {}
            (WalkInput::ConfirmRun, KeyCode::Char('y')) => {
                m.busy = Some(format!("runbook step {}", v.id));
                let cmd = Command::RunbookStep {
                    id: v.id.clone(),
                    action: StepAction::Run,
                    note: String::new(),
                };
                m.popup = Some(Popup::Walk(v));
                return vec![cmd];
            }
            (WalkInput::ConfirmRun, _) => {}
            (_, KeyCode::Enter) => {
                let (action, note) = match what {
                    WalkInput::SkipReason if text.trim().is_empty() => {
                        v.typing = Some((what, text));
                        m.popup = Some(Popup::Walk(v));
                        return Vec::new();
                    }
                    WalkInput::SkipReason => (StepAction::Skip(text.clone()), String::new()),
                    _ => (StepAction::Confirm, text.clone()),
                };
                m.busy = Some(format!("runbook step {}", v.id));
                let cmd = Command::RunbookStep {
                    id: v.id.clone(),
                    action,
                    note,
                };
                m.popup = Some(Popup::Walk(v));
                return vec![cmd];
            }
            (_, KeyCode::Backspace) => {
                text.pop();
                v.typing = Some((what, text));
            }
            (_, KeyCode::Char(c)) if text.chars().count() < 200 => {
                text.push(c);
                v.typing = Some((what, text));
            }
            _ => v.typing = Some((what, text)),
        }
        m.popup = Some(Popup::Walk(v));
        return Vec::new();
    }
    let write = |m: &mut Model, v: WalkView, action: StepAction| {
        if m.read_only {
            m.push_log("info", "read-only: actions are disabled");
            m.popup = Some(Popup::Walk(v));
            return Vec::new();
        }
        m.busy = Some(format!("runbook step {}", v.id));
        let cmd = Command::RunbookStep {
            id: v.id.clone(),
            action,
            note: String::new(),
        };
        m.popup = Some(Popup::Walk(v));
        vec![cmd]
    };
    match k.code {
        KeyCode::Esc | KeyCode::Char('q') => {
            m.popup = None;
            Vec::new()
        }
        KeyCode::Enter if !m.read_only => {
            m.busy = Some(format!("runbook resume {}", v.id));
            let cmd = Command::RunbookResume { id: v.id.clone() };
            m.popup = Some(Popup::Walk(v));
            vec![cmd]
        }
        KeyCode::Char('c') if !m.read_only => {
            v.typing = Some((WalkInput::Note, String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        KeyCode::Char('s') if !m.read_only => {
            v.typing = Some((WalkInput::SkipReason, String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        KeyCode::Char('r') if !m.read_only => {
            v.typing = Some((WalkInput::ConfirmRun, String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        KeyCode::Char('y') => write(m, v, StepAction::Answer(true)),
        KeyCode::Char('n') => write(m, v, StepAction::Answer(false)),
        KeyCode::Char('a') => write(m, v, StepAction::Approve),
        _ => {
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
    }
}

fn input_key(m: &mut Model, input: Input, k: KeyEvent) -> Vec<Command> {
    let (mut text, is_filter) = match input {
        Input::Filter(t) => (t, true),
        Input::Command(t) => (t, false),
    };
    match k.code {
        KeyCode::Esc => {
            m.input = None;
            if is_filter {
                m.filter.clear();
            }
            clamp(m);
            return Vec::new();
        }
        KeyCode::Enter => {
            m.input = None;
            if is_filter {
                m.filter = text;
                let i = m.panel.index();
                m.cursor[i] = 0;
                clamp(m);
                return Vec::new();
            }
            return run_command(m, &text);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Tab if !is_filter => text = complete(m, &text),
        KeyCode::Char(c) => text.push(c),
        _ => {}
    }
    if is_filter {
        m.filter = text.clone();
        let i = m.panel.index();
        m.cursor[i] = 0;
        m.input = Some(Input::Filter(text));
    } else {
        m.input = Some(Input::Command(text));
    }
    clamp(m);
    Vec::new()
}

/// Candidates for the word being typed: commands first, then services or IDs.
pub fn completions(m: &Model, text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let ends_with_space = text.ends_with(' ');
    let (done, partial) = if ends_with_space || words.is_empty() {
        (words.as_slice(), "")
    } else {
        (&words[..words.len() - 1], words[words.len() - 1])
    };
    let pool: Vec<String> = match done.first().copied() {
        None => COMMANDS
            .iter()
            .chain(WALK_COMMANDS.iter())
            .map(|s| s.to_string())
            .collect(),
        Some("runbook") if done.len() == 1 => m.runbooks.iter().map(|b| b.name.clone()).collect(),
        Some("runbook") if done.len() == 2 => {
            m.statuses.iter().map(|s| s.service.clone()).collect()
        }
        Some("walk") if done.len() == 1 => m.store.walks.iter().map(|w| w.id.clone()).collect(),
        Some("promote") if done.len() == 1 => {
            m.statuses.iter().map(|s| s.service.clone()).collect()
        }
        Some("promote") if done.len() == 2 => m.config.rules.states.keys().cloned().collect(),
        Some("approve") | Some("reject") if done.len() == 1 => {
            m.open_promotions().iter().map(|p| p.id.clone()).collect()
        }
        _ => Vec::new(),
    };
    pool.into_iter()
        .filter(|c| c.starts_with(partial))
        .collect()
}

fn complete(m: &Model, text: &str) -> String {
    let c = completions(m, text);
    let Some(first) = c.first() else {
        return text.to_string();
    };
    // The longest common prefix of the candidates.
    let mut prefix = first.clone();
    for x in &c[1..] {
        while !x.starts_with(&prefix) {
            prefix.pop();
        }
    }
    let base = match text.rfind(' ') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut out = format!("{base}{prefix}");
    if c.len() == 1 {
        out.push(' ');
    }
    out
}

fn run_command(m: &mut Model, text: &str) -> Vec<Command> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(cmd) = words.first() else {
        return Vec::new();
    };
    let a = match *cmd {
        "grid" => Some(Action::Grid),
        "graph" => Some(Action::Graph),
        "pipeline" => Some(Action::Pipeline),
        "approvals" => Some(Action::Approvals),
        "alerts" => Some(Action::Alerts),
        "log" => Some(Action::Log),
        "runbooks" => Some(Action::Runbooks),
        "packages" => Some(Action::Packages),
        "help" => Some(Action::Help),
        "sort" => Some(Action::Sort),
        "quit" | "q" => Some(Action::Quit),
        _ => None,
    };
    if let Some(a) = a {
        return action(m, a);
    }
    if m.read_only && matches!(*cmd, "promote" | "approve" | "reject") {
        m.push_log("info", "read-only: actions are disabled");
        return Vec::new();
    }
    match (*cmd, words.get(1), words.get(2)) {
        ("promote", Some(svc), to) => open_promote(m, svc, to.copied()),
        ("approve", Some(id), _) => open_vote(m, id, true),
        ("reject", Some(id), _) => open_vote(m, id, false),
        ("runbook", Some(name), Some(svc)) if !m.read_only => {
            m.busy = Some(format!("runbook {name} for {svc}"));
            return vec![Command::RunbookStart {
                name: name.to_string(),
                service: svc.to_string(),
            }];
        }
        ("rollback", Some(stage), _) if !m.read_only => {
            let cur = m
                .store
                .packages
                .current(stage)
                .map(|s| s.package.clone())
                .unwrap_or_else(|| "nothing".into());
            package_dialog(
                m,
                PackageCmd::Rollback {
                    stage: stage.to_string(),
                    to: None,
                    reason: String::new(),
                },
                vec![format!(
                    "`{stage}` runs {cur}; it goes back to its previous snapshot, verified again"
                )],
                true,
            );
        }
        ("walk", Some(id), _) => {
            m.popup = Some(Popup::Walk(WalkView {
                id: id.to_string(),
                typing: None,
                said: Vec::new(),
            }))
        }
        _ => {
            let hint =
                crate::engine::diag::suggest(cmd, COMMANDS.iter().copied()).unwrap_or_default();
            m.push_log("error", format!("unknown command `:{text}` {hint}"));
            m.popup = Some(Popup::Message {
                title: "unknown command".into(),
                lines: vec![format!(":{text}"), hint, "commands: :grid :graph :pipeline :approvals :alerts :log :help :sort :promote SERVICE [STATE] :approve ID :reject ID :quit".into()],
            });
        }
    }
    Vec::new()
}
