//! The walk view: a runbook walk's steps with their outcomes (who, when, note), the step
//! it waits at with its instructions, and the keys that move it on. Everything shown is
//! read from the chain, so two consoles on one walk see the same thing.

use crate::app::model::{Model, WalkInput, WalkView};
use crate::engine::runbook::{StepKind, substitute};
use crate::ui::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, v: &WalkView, area: Rect) {
    let r = centered(
        area,
        area.width.saturating_sub(4).max(20),
        area.height.saturating_sub(2).max(5),
    );
    f.render_widget(Clear, r);
    let mut lines: Vec<Line> = Vec::new();
    let walk = m.store.walks.iter().find(|w| w.id == v.id);
    let book = walk.and_then(|w| m.runbooks.iter().find(|b| b.name == w.runbook));
    match (walk, book) {
        (Some(w), Some(b)) => {
            lines.push(Line::from(vec![
                Span::styled(b.runbook.title.clone(), m.theme.accent),
                Span::raw(format!(
                    "  ({} for {}, started by {})",
                    b.name, w.service, w.started_by
                )),
            ]));
            let current = w.current(&b.runbook).map(|s| s.id.clone());
            for s in &b.runbook.steps {
                let done = w.outcome(&s.id);
                let (mark, style) = match done.map(|d| d.outcome.as_str()) {
                    Some("pass") | Some("confirmed") | Some("approved") | Some("ran")
                    | Some("yes") | Some("no") => ("✓", m.theme.ok),
                    Some("fail") | Some("failed") => ("✗", m.theme.bad),
                    // No data to decide on: unknown, never shown as a fail or a pass.
                    Some("unknown") => ("?", m.theme.warn),
                    // Its own mark: `~` means stale everywhere else.
                    Some("skipped") => ("↷", m.theme.warn),
                    _ if current.as_deref() == Some(s.id.as_str()) => ("▶", m.theme.accent),
                    _ => ("·", m.theme.dim),
                };
                let who = done
                    .map(|d| {
                        format!(
                            " — {} by {} at {}{}",
                            d.outcome,
                            d.by,
                            d.at.get(11..16).unwrap_or(&d.at),
                            if d.note.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", d.note)
                            }
                        )
                    })
                    .unwrap_or_default();
                let kind = match s.kind {
                    StepKind::Check => "check",
                    StepKind::Manual => "manual",
                    StepKind::Command => "command",
                    StepKind::Decision => "decision",
                    StepKind::Approval => "approval",
                };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {mark} "), style),
                    Span::raw(format!("{} [{kind}]{who}", s.title)),
                ]));
            }
            lines.push(Line::raw(""));
            match w.current(&b.runbook) {
                // Finished by a decision's branch before its last step: say so, not
                // "finished" above steps that never ran.
                None if b
                    .runbook
                    .steps
                    .last()
                    .is_some_and(|s| w.outcome(&s.id).is_none()) =>
                {
                    lines.push(Line::styled(
                        "✓ ended (a decision's answer ends the walk here; the steps marked · did not apply)",
                        m.theme.ok,
                    ))
                }
                None => lines.push(Line::styled("✓ finished", m.theme.ok)),
                Some(s) => {
                    lines.push(Line::styled(format!("now: {}", s.title), m.theme.accent));
                    if !s.instructions.is_empty() {
                        lines.push(Line::raw(substitute(s.instructions.trim(), &w.params)));
                    }
                    if let Some(q) = &s.question {
                        lines.push(Line::raw(q.clone()));
                    }
                    if s.kind == StepKind::Command {
                        let argv: Vec<String> =
                            s.argv.iter().map(|a| substitute(a, &w.params)).collect();
                        lines.push(Line::raw(format!("will run: {}", argv.join(" "))));
                    }
                    let keys = match s.kind {
                        StepKind::Check => "Enter run the check",
                        StepKind::Manual => "c confirm (with a note)",
                        StepKind::Decision => "y yes · n no",
                        StepKind::Approval => "a approve (someone other than who started it)",
                        StepKind::Command => "r run (asks to confirm)",
                    };
                    if !m.read_only {
                        lines.push(Line::styled(
                            format!("{keys} · s skip (with a reason) · Esc close"),
                            m.theme.dim,
                        ));
                    }
                }
            }
        }
        _ => lines.push(Line::raw(format!("walk {} (loading…)", v.id))),
    }
    if let Some((what, text)) = &v.typing {
        let prompt = match what {
            WalkInput::SkipReason => "skip: reason (required): ",
            WalkInput::Note => "confirm: note (optional): ",
            WalkInput::ConfirmRun => "run this command now? y yes · Esc no ",
            WalkInput::ConfirmAnswer(true) => "record the answer YES, signed? y record · Esc no ",
            WalkInput::ConfirmAnswer(false) => "record the answer NO, signed? y record · Esc no ",
            WalkInput::ConfirmApprove => {
                "record your approval of this step, signed? y record · Esc no "
            }
        };
        lines.push(Line::from(vec![
            Span::styled(prompt, m.theme.warn),
            Span::raw(text.clone()),
            Span::styled("▏", m.theme.accent),
        ]));
    }
    if !v.said.is_empty() {
        lines.push(Line::raw(""));
        for l in v.said.iter().rev().take(6).rev() {
            lines.push(Line::styled(l.clone(), m.theme.dim));
        }
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" walk {} ", v.id)),
        ),
        r,
    );
}
