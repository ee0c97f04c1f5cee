//! The walk view's keys: run checks, confirm with a note, answer, approve, run with
//! confirmation, skip with a reason.

use super::Command;
use crate::app::model::{Model, Popup, WalkInput, WalkView};
use crate::ops::walks::StepAction;
use crossterm::event::{KeyCode, KeyEvent};

pub(super) fn walk_key(m: &mut Model, mut v: WalkView, k: KeyEvent) -> Vec<Command> {
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
            (WalkInput::ConfirmCheck, KeyCode::Char('y')) => {
                m.busy = Some(format!("runbook resume {}", v.id));
                let cmd = Command::RunbookResume { id: v.id.clone() };
                m.popup = Some(Popup::Walk(v));
                return vec![cmd];
            }
            (WalkInput::ConfirmCheck, _) => {}
            (WalkInput::ConfirmAnswer(yes), KeyCode::Char('y')) => {
                return record(m, v, StepAction::Answer(yes));
            }
            (WalkInput::ConfirmApprove, KeyCode::Char('y')) => {
                return record(m, v, StepAction::Approve);
            }
            (WalkInput::ConfirmAnswer(_) | WalkInput::ConfirmApprove, _) => {}
            // The note or reason is typed; Enter shows what will be recorded, `y` records.
            (WalkInput::SkipReason, KeyCode::Enter) if text.trim().is_empty() => {
                v.typing = Some((what, text));
            }
            (WalkInput::SkipReason, KeyCode::Enter) => {
                v.typing = Some((WalkInput::ConfirmSkip, text));
            }
            (WalkInput::Note, KeyCode::Enter) => {
                v.typing = Some((WalkInput::ConfirmNote, text));
            }
            (WalkInput::ConfirmNote | WalkInput::ConfirmSkip, KeyCode::Char('y')) => {
                let (action, note) = match what {
                    WalkInput::ConfirmSkip => (StepAction::Skip(text.clone()), String::new()),
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
            // Back to editing what was typed.
            (WalkInput::ConfirmNote, KeyCode::Char('n')) => {
                v.typing = Some((WalkInput::Note, text))
            }
            (WalkInput::ConfirmSkip, KeyCode::Char('n')) => {
                v.typing = Some((WalkInput::SkipReason, text))
            }
            (WalkInput::ConfirmNote | WalkInput::ConfirmSkip, _) => v.typing = Some((what, text)),
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
        // The steps scroll when the runbook is longer than the screen.
        KeyCode::Down | KeyCode::Up | KeyCode::PageDown | KeyCode::PageUp => {
            let (at, max) = (m.popup_drawn_at.get(), m.popup_max_scroll.get());
            let to = match k.code {
                KeyCode::Down => at.saturating_add(1),
                KeyCode::Up => at.saturating_sub(1),
                KeyCode::PageDown => at.saturating_add(10),
                _ => at.saturating_sub(10),
            };
            m.popup_scroll = to.min(max).saturating_add(1);
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        // A check's outcome is recorded: asked first, like every write.
        KeyCode::Enter if !m.read_only => {
            v.typing = Some((WalkInput::ConfirmCheck, String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
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
        // One key chooses; a second `y` records (a stray key press records nothing).
        KeyCode::Char('y') | KeyCode::Char('n') | KeyCode::Char('a') if m.read_only => {
            write(m, v, StepAction::Approve)
        }
        KeyCode::Char('y') => {
            v.typing = Some((WalkInput::ConfirmAnswer(true), String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        KeyCode::Char('n') => {
            v.typing = Some((WalkInput::ConfirmAnswer(false), String::new()));
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        KeyCode::Char('a') => {
            // Four-eyes first: whoever started the walk is told now, not after a yes.
            let me = m.identity.clone().unwrap_or_default();
            let refused = m.store.walks.iter().find(|w| w.id == v.id).and_then(|w| {
                crate::engine::authority::may_approve_step(
                    &w.id,
                    &w.started_by,
                    w.started_key.as_deref(),
                    &me,
                    m.identity_key.as_deref(),
                )
                .err()
            });
            match refused {
                Some(r) => {
                    v.said = vec![format!("✗ not allowed: {r}")];
                }
                None => v.typing = Some((WalkInput::ConfirmApprove, String::new())),
            }
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
        _ => {
            m.popup = Some(Popup::Walk(v));
            Vec::new()
        }
    }
}

/// Send a step's outcome (after its confirmation).
fn record(m: &mut Model, v: WalkView, action: StepAction) -> Vec<Command> {
    m.busy = Some(format!("runbook step {}", v.id));
    let cmd = Command::RunbookStep {
        id: v.id.clone(),
        action,
        note: String::new(),
    };
    m.popup = Some(Popup::Walk(v));
    vec![cmd]
}
