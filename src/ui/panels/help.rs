//! `?`: every key, from the keymap itself, and the `:` commands.

use crate::app::keymap::Action;
use crate::app::model::Model;
use crate::ui::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let r = centered(area, 76, area.height.saturating_sub(2).max(5));
    f.render_widget(Clear, r);
    let mut lines = vec![Line::styled(
        "Keys (remap in CONFIG/keymap.toml)",
        m.theme.accent,
    )];
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| !(m.read_only && a.writes()))
        .collect();
    for pair in actions.chunks(2) {
        let mut spans = Vec::new();
        for a in pair {
            spans.push(Span::styled(
                format!("{:>12} ", m.keymap.labels(*a)),
                m.theme.accent,
            ));
            spans.push(Span::raw(format!("{:<22}", a.describe())));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Commands (: then Tab completes)",
        m.theme.accent,
    ));
    lines.push(Line::raw(
        "  :grid :graph :pipeline :approvals :alerts :log :help :sort :quit",
    ));
    if !m.read_only {
        lines.push(Line::raw(
            "  :promote SERVICE [STATE]   :approve ID   :reject ID",
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Marks: ✓ pass/up  ✗ fail/down  ! degraded  ? unknown (never a pass)  … pending  ~ stale",
        m.theme.dim,
    ));
    lines.push(Line::styled("Esc or ? to close", m.theme.dim));
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" help ")),
        r,
    );
}
