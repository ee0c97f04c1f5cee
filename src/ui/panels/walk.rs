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
    // The runbook's title and steps scroll; what follows (the current step, the keys,
    // the prompt) stays in view.
    let mut steps_end = 0usize;
    let mut current_row: Option<usize> = None;
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
            steps_end = lines.len();
            current_row = b
                .runbook
                .steps
                .iter()
                .position(|s| current.as_deref() == Some(s.id.as_str()))
                .map(|i| i + 1);
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
        let me = m.identity.as_deref().unwrap_or("?");
        let step = walk
            .zip(book)
            .and_then(|(w, b)| w.current(&b.runbook))
            .map(|s| s.title.clone())
            .unwrap_or_default();
        let prompt = match what {
            WalkInput::SkipReason => "skip: reason (required, Enter to review): ".to_string(),
            WalkInput::Note => "confirm: note (optional, Enter to review): ".to_string(),
            WalkInput::ConfirmRun => "run this command now? y yes · Esc no ".to_string(),
            WalkInput::ConfirmCheck => format!(
                "run \"{step}\" now and record what it finds as {me}, signed? y run and record · Esc no "
            ),
            WalkInput::ConfirmAnswer(yes) => format!(
                "record the answer {} to \"{step}\" as {me}, signed? y record · Esc no ",
                if *yes { "YES" } else { "NO" }
            ),
            WalkInput::ConfirmApprove => {
                format!("record your approval of \"{step}\" as {me}, signed? y record · Esc no ")
            }
            WalkInput::ConfirmNote => format!(
                "record \"{step}\" as done by {me}, signed? y record · n edit · Esc no · note: "
            ),
            WalkInput::ConfirmSkip => format!(
                "record \"{step}\" as skipped by {me}, signed? y record · n edit · Esc no · reason: "
            ),
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
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" walk {} ", v.id));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let w = inner.width.max(1) as usize;
    let rows = |ls: &[Line]| -> usize { ls.iter().map(|l| l.width().max(1).div_ceil(w)).sum() };
    let tail = lines.split_off(steps_end);
    let (head_rows, tail_rows) = (rows(&lines), rows(&tail));
    let tail_h = (tail_rows as u16).min(inner.height);
    // When it all fits the tail follows the steps directly.
    let head_h = (inner.height - tail_h).min(head_rows as u16);
    let max = (head_rows as u16).saturating_sub(head_h);
    m.popup_max_scroll.set(max);
    // 0 follows the current step; ↑/↓ store a position of their own (plus one).
    let at = match m.popup_scroll {
        0 => {
            let cur =
                current_row.map_or(0, |i| rows(&lines[..=i.min(lines.len().saturating_sub(1))]));
            (cur as u16).saturating_sub(head_h).min(max)
        }
        n => (n - 1).min(max),
    };
    m.popup_drawn_at.set(at);
    let mut tail = tail;
    if max > 0 && !tail.is_empty() && head_h > 0 {
        tail[0] = Line::styled(
            format!(
                "↑/↓: rows {}–{} of {head_rows} above",
                at + 1,
                (at + head_h).min(head_rows as u16)
            ),
            m.theme.dim,
        );
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((at, 0)),
        Rect {
            height: head_h,
            ..inner
        },
    );
    f.render_widget(
        Paragraph::new(tail).wrap(Wrap { trim: false }),
        Rect {
            y: inner.y + head_h,
            height: inner.height - head_h,
            ..inner
        },
    );
}
