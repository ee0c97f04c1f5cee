//! Keys: a key press becomes an action through the keymap; the action changes the
//! model or opens a dialog.

use super::command_line::*;
use super::dialogs::*;
use super::{Command, clamp};
use crate::app::keymap::Action;
use crate::app::model::{Input, Model, Panel, Popup, Sort};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub(super) fn key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
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
        // A walk on record: open it.
        Action::Open if m.panel == Panel::Runbooks && m.cursor() >= m.runbooks.len() => {
            let at = m.cursor() - m.runbooks.len();
            if let Some(id) = m.walk_rows().get(at).map(|w| w.id.clone()) {
                m.popup_scroll = 0;
                m.popup = Some(crate::app::model::Popup::Walk(
                    crate::app::model::WalkView {
                        id,
                        typing: None,
                        said: Vec::new(),
                    },
                ));
            }
        }
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
                    super::dialogs::walk_dialog(m, name, service, Vec::new());
                    super::dialogs::note_unless_it_applies(m);
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
            let applies: Vec<String> = m
                .runbooks
                .iter()
                .filter(|b| b.runbook.applies(None, Some(&a.name)))
                .map(|b| b.name.clone())
                .collect();
            let book = by_url
                .map(|b| b.name.clone())
                .or_else(|| applies.first().cloned());
            match (book, a.service.is_empty()) {
                (Some(name), false) if !m.read_only => {
                    let others = applies.into_iter().filter(|n| *n != name).collect();
                    super::dialogs::walk_dialog(m, name, a.service.clone(), others);
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
            if m.panel == Panel::Log && !m.log_search.is_empty() {
                m.log_search.clear();
                let n = m.log.len();
                m.cursor[Panel::Log.index()] = n.saturating_sub(1);
            } else if !m.filter.is_empty() {
                m.filter.clear();
            }
        }
        Action::Filter if m.panel == Panel::Log => {
            m.input = Some(Input::Filter(m.log_search.clone()))
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
        Action::Silence => {
            if m.panel != Panel::Alerts {
                m.push_log(
                    "info",
                    "S silences the selected alert in the Alerts panel (5)",
                );
            } else if let Some(row) = m.alerts().get(m.cursor()).cloned() {
                super::dialogs::silence_dialog(m, &row);
            }
        }
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
