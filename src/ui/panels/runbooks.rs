//! Runbooks: which apply to the selected service, and the walks on record with the step
//! each waits at. Walks are driven from the command line for now (`gander runbook …`);
//! this panel shows their shared progress, read from the chain.

use crate::app::model::Model;
use crate::ui::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let cursor = m.cursor().min(m.runbooks.len().saturating_sub(1));
    let service = {
        let i = crate::app::model::Panel::Grid.index();
        m.rows().get(m.cursor[i]).map(|s| s.service.clone())
    };
    let mut lines = vec![Line::styled(
        format!(
            "Runbooks (✦ = applies to {})",
            service
                .clone()
                .unwrap_or_else(|| "the selected service".into())
        ),
        m.theme.accent,
    )];
    for (i, b) in m.runbooks.iter().enumerate() {
        let applies = b.runbook.applies(service.as_deref(), None);
        let mut l = Line::from(vec![
            Span::styled(if applies { "✦ " } else { "  " }, m.theme.accent),
            Span::raw(format!(
                "{:<28} {} ({} steps)",
                b.name,
                fit(
                    &b.runbook.title,
                    (area.width as usize).saturating_sub(42).max(10)
                ),
                b.runbook.steps.len()
            )),
        ]);
        if i == cursor {
            l = l.style(m.theme.selected);
        }
        lines.push(l);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Walks on record ({})", m.store.walks.len()),
        m.theme.accent,
    ));
    for w in m.store.walks.iter().rev().take(10) {
        let at = m
            .runbooks
            .iter()
            .find(|b| b.name == w.runbook)
            .and_then(|b| w.current(&b.runbook))
            .map_or("finished".to_string(), |s| format!("waits at `{}`", s.id));
        lines.push(Line::raw(format!(
            "  {}  {} for {} by {}: {} steps done, {at}",
            w.id,
            w.runbook,
            w.service,
            w.started_by,
            w.done.len()
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Start or continue a walk from a shell: gander runbook run NAME --service S · resume ID · step ID …",
        m.theme.dim,
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
