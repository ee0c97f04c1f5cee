//! Alerts from Prometheus and from gander's own mode thresholds.

use crate::app::model::Model;
use crate::ui::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let rows = m.alerts();
    if rows.is_empty() {
        f.render_widget(Paragraph::new("✓ no alerts").style(m.theme.ok), area);
        return;
    }
    let cursor = m.cursor().min(rows.len() - 1);
    let mut lines = vec![Line::styled(
        format!(
            "{:<8} {:<10} {:<16} {:<14} SUMMARY",
            "SEVERITY", "SOURCE", "ALERT", "SERVICE"
        ),
        m.theme.accent,
    )];
    for (i, a) in rows.iter().enumerate() {
        let style = if a.severity == "page" || a.severity == "critical" {
            m.theme.bad
        } else {
            m.theme.warn
        };
        let mut summary = a.summary.clone();
        if let Some(r) = &a.runbook {
            summary.push_str(&format!(" (runbook: {r})"));
        }
        let mut line = Line::from(vec![
            Span::styled(format!("{:<8}", fit(&a.severity, 8)), style),
            Span::raw(format!(
                " {:<10} {:<16} {:<14} {}",
                a.source,
                fit(&a.name, 16),
                fit(&a.service, 14),
                fit(&summary, area.width.saturating_sub(52) as usize)
            )),
        ]);
        if i == cursor {
            line = line.style(m.theme.selected);
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), area);
}
