//! Events and audit records, newest at the bottom.

use crate::app::model::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    if m.log.is_empty() {
        f.render_widget(
            Paragraph::new("nothing logged yet").style(m.theme.dim),
            area,
        );
        return;
    }
    let h = area.height as usize;
    let cursor = m.cursor().min(m.log.len() - 1);
    let end = (cursor + 1).max(h.min(m.log.len()));
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = m
        .log
        .iter()
        .enumerate()
        .skip(start)
        .take(end - start)
        .map(|(i, l)| {
            let style = match l.level {
                "error" => m.theme.bad,
                "warn" => m.theme.warn,
                "audit" => m.theme.accent,
                _ => m.theme.text,
            };
            let line = Line::from(vec![
                Span::styled(l.at.format("%H:%M:%S ").to_string(), m.theme.dim),
                Span::styled(format!("{:<5} ", l.level), style),
                Span::raw(l.text.clone()),
            ]);
            if i == cursor {
                line.style(m.theme.selected)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
