//! `update(&mut Model, Msg) -> Vec<Command>`: the only place the console's state
//! changes. Pure: the runtime hands the commands to `ops` and answers with messages.
//! Split by what a reader looks for: keys and actions, dialogs, the walk view, the
//! command line.

mod command_line;
mod dialogs;
mod keys;
mod walk;

pub use crate::app::commands::{COMMANDS, WALK_COMMANDS, completions};
pub use keys::action;
use keys::key;

use super::model::{Model, Popup, StoreView, WalkView};
use crate::engine::live::Observation;
use crate::io::prometheus::Alert;
use crate::ops::Said;
use crate::ops::packages::PackageCmd;
use crate::ops::walks::StepAction;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    Observation(Box<Observation>),
    Store(Box<StoreView>),
    PromAlerts(Vec<Alert>),
    /// The fleet as Prometheus has it (read at scale instead of polling each service),
    /// and the queries that failed.
    PromFigures(
        Box<(
            std::collections::BTreeMap<String, crate::engine::live::PromFacts>,
            Vec<String>,
        )>,
    ),
    /// Prometheus could not be read (unreachable, auth refused, TLS): shown, not dropped.
    PromError(Option<String>),
    /// Alertmanager's silences, or why they could not be read.
    Silences(Result<Vec<crate::io::alertmanager::Silence>, String>),
    /// The team store's database: `None` when connected, else why not.
    StoreLink(Option<String>),
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
    /// Not a chain record: an Alertmanager silence.
    Silence,
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
    /// Create an Alertmanager silence for `matchers`, from now for `minutes`.
    Silence {
        alert: String,
        matchers: Vec<crate::io::alertmanager::Matcher>,
        minutes: i64,
        created_by: String,
        comment: String,
    },
}

pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => {
            // A popup that opens (or is replaced by another kind) starts at its top.
            let before = m.popup.as_ref().map(std::mem::discriminant);
            let out = key(m, k);
            if m.popup.as_ref().map(std::mem::discriminant) != before {
                m.popup_scroll = 0;
                m.popup_search = None;
            }
            out
        }
        Msg::PromFigures(f) => {
            let (per, errors) = *f;
            let now = m.now;
            let names: Vec<String> = m
                .config
                .services
                .iter()
                .map(|s| s.name().to_string())
                .collect();
            for name in names {
                let facts = per.get(&name).cloned().unwrap_or_default();
                m.board
                    .services
                    .entry(name)
                    .or_default()
                    .apply_prometheus(&facts, now);
            }
            m.last_poll = Some(now);
            m.first_poll.get_or_insert(now);
            m.prom_error = errors.first().map(|e| format!("query {e}"));
            m.prom_down_since = m.prom_error.as_ref().and(m.prom_down_since.or(Some(now)));
            m.stale = true;
            m.dirty = true;
            Vec::new()
        }
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
            m.first_poll.get_or_insert(o.at);
            m.live_changed.insert(o.service.clone());
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
        Msg::Silences(r) => {
            match r {
                Ok(s) => {
                    if s != m.silences || m.am_error.is_some() {
                        m.silences = s;
                        m.am_error = None;
                        m.dirty = true;
                    }
                }
                Err(e) => {
                    if m.am_error.as_ref() != Some(&e) {
                        m.am_error = Some(e);
                        m.dirty = true;
                    }
                }
            }
            Vec::new()
        }
        Msg::Done {
            what,
            kind: Outcome::Silence,
            said,
        } => {
            m.busy = None;
            let ok = said.code == 0;
            let lines: Vec<String> = said
                .out
                .iter()
                .chain(said.err.iter())
                .map(|l| crate::diag::visible(l).into_owned())
                .collect();
            for l in &lines {
                m.push_log(if ok { "info" } else { "error" }, format!("{what}: {l}"));
            }
            m.popup = Some(Popup::Message {
                title: format!("{what}: {}", if ok { "silenced" } else { "not silenced" }),
                lines,
            });
            m.dirty = true;
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
            } else if !m.live_changed.is_empty() {
                m.refresh_live();
            } else if minute_changed || m.shows_seconds() {
                // Drawn again; nothing is written unless what is shown changed.
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
                m.prom_down_since = e.as_ref().and(m.prom_down_since.or(Some(m.now)));
                m.prom_error = e;
                m.dirty = true;
            }
            Vec::new()
        }
        Msg::StoreLink(e) => {
            match (&m.store_down, e) {
                (None, Some(e)) => {
                    m.push_log("warn", format!("store: {e}"));
                    m.store_down = Some((m.now, e));
                    m.dirty = true;
                }
                (Some(_), None) => {
                    m.push_log("info", "store: the database answers again");
                    m.store_down = None;
                    m.dirty = true;
                }
                _ => {}
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
            let mut lines: Vec<String> = said.out.clone();
            lines.extend(said.err.iter().cloned());
            let lines: Vec<String> = lines
                .iter()
                .map(|l| crate::diag::visible(l).into_owned())
                .collect();
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
                    title: format!("{what}: nothing recorded"),
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
            let mut lines: Vec<String> = said.out.clone();
            lines.extend(said.err.iter().cloned());
            let lines: Vec<String> = lines
                .iter()
                .map(|l| crate::diag::visible(l).into_owned())
                .collect();
            // Say what happened to the chain: recorded (even when the request is
            // blocked), or nothing.
            let title = match (said.recorded, ok) {
                (Some((a, b)), true) => format!(
                    "{what}: recorded (chain #{a}{})",
                    if a == b {
                        String::new()
                    } else {
                        format!("–{b}")
                    }
                ),
                (Some((a, b)), false) => format!(
                    "{what}: recorded (chain #{a}{}), not done",
                    if a == b {
                        String::new()
                    } else {
                        format!("–{b}")
                    }
                ),
                (None, true) => format!("{what}: done"),
                (None, false) => format!("{what}: nothing recorded"),
            };
            m.popup = Some(Popup::Message { title, lines });
            m.dirty = true;
            vec![Command::ReloadStore]
        }
    }
}

pub(super) fn clamp(m: &mut Model) {
    let n = m.row_count();
    let i = m.panel.index();
    if m.cursor[i] >= n {
        m.cursor[i] = n.saturating_sub(1);
    }
}
