//! The confirmation dialog for promote / approve / reject: what will happen, what the
//! operator should know (four-eyes, expiry), a reason, and an explicit y/n.

use crate::app::model::{Dialog, DialogAction, Model};
use crate::ui::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, d: &Dialog, area: Rect) {
    let title = match &d.action {
        DialogAction::Promote { service, to } => format!(" promote {service} -> {to} "),
        DialogAction::Vote { id, approve: true } => format!(" approve {id} "),
        DialogAction::Vote { id, approve: false } => format!(" reject {id} "),
        DialogAction::Package { cmd, .. } => format!(" {} ", cmd.describe()),
        DialogAction::StartWalk { name, service, .. } => format!(" runbook {name} for {service} "),
        DialogAction::Silence { alert, .. } => format!(" silence {alert} "),
    };
    let silence = matches!(d.action, DialogAction::Silence { .. });
    let info: Vec<Line> = d.info.iter().map(|l| Line::raw(l.clone())).collect();
    let mut lines: Vec<Line> = vec![Line::raw("")];
    if let Some(b) = &d.blocked {
        lines.push(Line::styled(format!("✗ not allowed: {b}"), m.theme.bad));
        lines.push(Line::styled("Esc to close", m.theme.dim));
    } else if d.confirming {
        lines.push(Line::raw(format!(
            "{}: {}",
            if silence { "comment" } else { "reason" },
            if d.reason.is_empty() {
                "(none)"
            } else {
                &d.reason
            }
        )));
        lines.push(Line::from(vec![
            Span::styled(
                if silence {
                    "Create this silence in Alertmanager? "
                } else {
                    "Record and sign this? "
                },
                m.theme.warn,
            ),
            Span::styled("y", m.theme.accent),
            Span::raw(" yes   "),
            Span::styled("n", m.theme.accent),
            Span::raw(" back   "),
            Span::styled("Esc", m.theme.accent),
            Span::raw(" cancel"),
        ]));
    } else {
        let needs = matches!(
            d.action,
            DialogAction::Vote { approve: false, .. }
                | DialogAction::Silence { .. }
                | DialogAction::Package {
                    needs_reason: true,
                    ..
                }
        );
        lines.push(Line::from(vec![
            Span::raw(if silence {
                "comment (required): "
            } else if needs {
                "reason (required): "
            } else {
                "reason: "
            }),
            Span::styled(d.reason.clone(), m.theme.accent),
            Span::styled("▏", m.theme.accent),
        ]));
        if d.reason.chars().count() >= 200 {
            lines.push(Line::styled(
                "at most 200 characters: what is typed beyond is not taken",
                m.theme.warn,
            ));
        }
        lines.push(Line::styled(
            "Enter to continue · Esc to cancel (nothing is recorded until you confirm)",
            m.theme.dim,
        ));
    }
    // Height after wrapping. The prompt (reason and keys) is never cut off: when it
    // all does not fit, what the dialog says scrolls above it.
    let w = 72u16.min(area.width).saturating_sub(2).max(1) as usize;
    let rows = |ls: &[Line]| -> usize { ls.iter().map(|l| crate::ui::wrapped_rows(l, w)).sum() };
    let (info_rows, prompt_rows) = (rows(&info), rows(&lines));
    let r = centered(
        area,
        72,
        ((info_rows + prompt_rows) as u16 + 2).min(area.height),
    );
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(crate::ui::fit(&title, r.width.saturating_sub(2) as usize));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let prompt_h = (prompt_rows as u16).min(inner.height);
    let info_h = inner.height - prompt_h;
    let max = (info_rows as u16).saturating_sub(info_h);
    m.popup_max_scroll.set(max);
    let at = m.popup_scroll.min(max);
    if max > 0 && info_h > 0 {
        // Where the reader is, in place of the blank line above the prompt.
        lines[0] = Line::styled(
            format!(
                "↑/↓ PgUp/PgDn: rows {}–{} of {info_rows} above",
                at + 1,
                (at + info_h).min(info_rows as u16)
            ),
            m.theme.dim,
        );
    }
    f.render_widget(
        Paragraph::new(info)
            .wrap(Wrap { trim: false })
            .scroll((at, 0)),
        Rect {
            height: info_h,
            ..inner
        },
    );
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        Rect {
            y: inner.y + info_h,
            height: prompt_h,
            ..inner
        },
    );
}
