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
    let view = m.log_view();
    let mut area = area;
    if !m.log_search.is_empty() {
        // What is searched, and how much it kept, on the first row.
        let head = Line::styled(
            crate::ui::fit(
                &format!(
                    "search \"{}\": {} of {} lines · / to change · Esc shows all",
                    m.log_search,
                    view.len(),
                    m.log.len()
                ),
                area.width as usize,
            ),
            m.theme.accent,
        );
        f.render_widget(Paragraph::new(head), Rect { height: 1, ..area });
        area.y += 1;
        area.height = area.height.saturating_sub(1);
        if view.is_empty() {
            f.render_widget(Paragraph::new("no line matches").style(m.theme.dim), area);
            return;
        }
    }
    let mut h = area.height as usize;
    let cursor = m.cursor().min(view.len() - 1);
    if m.log_search.is_empty() && view.len() > h && h > 1 {
        // Longer than the screen: where the view is, on the first row.
        h -= 1;
        let end = (cursor + 1).max(h.min(view.len()));
        let start = end.saturating_sub(h);
        let follow = if end == view.len() {
            "following the newest".to_string()
        } else {
            format!(
                "{}: newest",
                m.keymap.label(crate::app::keymap::Action::Bottom)
            )
        };
        let head = Line::styled(
            crate::ui::fit(
                &format!(
                    "lines {}–{end} of {} · {follow} · / search",
                    start + 1,
                    view.len()
                ),
                area.width as usize,
            ),
            m.theme.dim,
        );
        f.render_widget(Paragraph::new(head), Rect { height: 1, ..area });
        area.y += 1;
        area.height -= 1;
    }
    let end = (cursor + 1).max(h.min(view.len()));
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = view[start..end]
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let l = &m.log[i];
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
            if start + k == cursor {
                line.style(m.theme.selected)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
