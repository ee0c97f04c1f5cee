//! The `:` command line and the `/` filter: typing, completion, and running a command.

use super::dialogs::*;
use super::keys::*;
use super::{Command, clamp};
use crate::app::commands::{COMMANDS, completions};
use crate::app::keymap::Action;
use crate::app::model::{Input, Model, Panel, Popup, WalkView};
use crate::ops::packages::PackageCmd;
use crossterm::event::{KeyCode, KeyEvent};

pub(super) fn input_key(m: &mut Model, input: Input, k: KeyEvent) -> Vec<Command> {
    let (mut text, is_filter) = match input {
        Input::Filter(t) => (t, true),
        Input::Command(t) => (t, false),
    };
    let log = m.panel == Panel::Log;
    match k.code {
        KeyCode::Esc => {
            m.input = None;
            if is_filter {
                set_filter(m, String::new(), log);
            }
            clamp(m);
            return Vec::new();
        }
        KeyCode::Enter => {
            m.input = None;
            if is_filter {
                set_filter(m, text, log);
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
        set_filter(m, text.clone(), log);
        m.input = Some(Input::Filter(text));
    } else {
        m.input = Some(Input::Command(text));
    }
    clamp(m);
    Vec::new()
}

/// The grid's filter, or in the Log its search (which shows the newest match).
fn set_filter(m: &mut Model, text: String, log: bool) {
    let i = m.panel.index();
    if log {
        m.log_search = text;
        m.cursor[i] = m.log_view().len().saturating_sub(1);
    } else {
        m.filter = text;
        m.cursor[i] = 0;
    }
}

pub(super) fn complete(m: &Model, text: &str) -> String {
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

pub(super) fn run_command(m: &mut Model, text: &str) -> Vec<Command> {
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
            if !m.runbooks.iter().any(|b| b.name == *name) {
                let hint =
                    crate::engine::diag::suggest(name, m.runbooks.iter().map(|b| b.name.as_str()))
                        .unwrap_or_default();
                super::dialogs::say(m, format!("no runbook `{name}`"), hint);
            } else if !m.statuses.iter().any(|s| s.service == *svc) {
                super::dialogs::say(m, format!("no service `{svc}`"), String::new());
            } else {
                super::dialogs::walk_dialog(m, name.to_string(), svc.to_string(), Vec::new());
                super::dialogs::note_unless_it_applies(m);
            }
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
            // The whole ID, or a unique part of it (its start, or its number's end).
            let want = id.to_ascii_uppercase();
            let hits: Vec<String> = m
                .store
                .walks
                .iter()
                .map(|w| w.id.clone())
                .filter(|w| *w == want || w.starts_with(&want) || w.ends_with(&want))
                .collect();
            match hits.as_slice() {
                [one] => {
                    m.popup = Some(Popup::Walk(WalkView {
                        id: one.clone(),
                        typing: None,
                        said: Vec::new(),
                    }))
                }
                [] => {
                    m.popup = Some(Popup::Message {
                        title: format!("no walk `{id}`"),
                        lines: vec![format!(
                            "{} walk{} on record; the Runbooks panel (7) lists them",
                            m.store.walks.len(),
                            if m.store.walks.len() == 1 {
                                " is"
                            } else {
                                "s are"
                            }
                        )],
                    })
                }
                many => {
                    m.popup = Some(Popup::Message {
                        title: format!("`{id}` matches {} walks", many.len()),
                        lines: many.iter().take(10).cloned().collect(),
                    })
                }
            }
        }
        // A known command without what it needs: say what it needs.
        ("runbook" | "rollback", Some(_), _) if m.read_only => {
            m.push_log("info", "read-only: actions are disabled");
        }
        ("promote" | "approve" | "reject" | "runbook" | "rollback" | "walk", _, _) => {
            let usage = match *cmd {
                "promote" => ":promote SERVICE [STATE]",
                "approve" => ":approve PRM-ID",
                "reject" => ":reject PRM-ID",
                "runbook" => ":runbook NAME SERVICE",
                "rollback" => ":rollback STAGE",
                _ => ":walk RBW-ID (or a unique part of it)",
            };
            super::dialogs::say(m, format!("`:{cmd}` needs more"), format!("usage: {usage}"));
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
