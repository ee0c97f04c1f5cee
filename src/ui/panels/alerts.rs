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
        let mut lines = vec![Line::styled("✓ no alerts", m.theme.ok)];
        silences(m, &mut lines);
        f.render_widget(Paragraph::new(lines), area);
        return;
    }
    let cursor = m.cursor().min(rows.len() - 1);
    let mut lines = vec![Line::styled(
        format!(
            "{:<8} {:<10} {:<16} {:<14} {:>5} SUMMARY",
            "SEVERITY", "SOURCE", "ALERT", "SERVICE", "SINCE"
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
        if let Some(how) = &a.silenced {
            summary = format!("(silenced {how}) {summary}");
        }
        if let Some(r) = &a.runbook {
            summary.push_str(&format!(" (runbook: {r})"));
        }
        if let Some(c) = &a.cause {
            summary = format!("(likely {c}) {summary}");
        }
        // A dependent's alert sits under its upstream cause, indented.
        let name = match &a.cause {
            Some(_) => format!("└ {}", a.name),
            None => a.name.clone(),
        };
        let since = a
            .since
            .map(|t| crate::ui::age(m.now, t))
            .unwrap_or_default();
        let mut line = Line::from(vec![
            Span::styled(format!("{:<8}", fit(&a.severity, 8)), style),
            Span::raw(format!(
                " {:<10} {:<16} {:<14} {:>5} {}",
                a.source,
                fit(&name, 16),
                fit(&a.service, 14),
                fit(&since, 5),
                fit(&summary, area.width.saturating_sub(58) as usize)
            )),
        ]);
        if i == cursor {
            line = line.style(m.theme.selected);
        }
        lines.push(line);
    }
    silences(m, &mut lines);
    f.render_widget(Paragraph::new(lines), area);
}

/// Alertmanager's silences in force, and whether it could be read.
fn silences(m: &Model, lines: &mut Vec<Line<'static>>) {
    if m.config.org.monitoring.alertmanager_url.is_none() {
        return;
    }
    lines.push(Line::raw(""));
    if let Some(e) = &m.am_error {
        lines.push(Line::styled(
            format!("✗ Alertmanager unreachable: {e}"),
            m.theme.bad,
        ));
    }
    lines.push(Line::styled(
        format!(
            "Silences in Alertmanager: {}   (S silences the selected alert)",
            m.silences.len()
        ),
        m.theme.accent,
    ));
    for s in &m.silences {
        let matchers: Vec<String> = s
            .matchers
            .iter()
            .map(|x| {
                format!(
                    "{}{}{}",
                    x.name,
                    match (x.is_equal, x.is_regex) {
                        (true, false) => "=",
                        (false, false) => "!=",
                        (true, true) => "=~",
                        (false, true) => "!~",
                    },
                    x.value
                )
            })
            .collect();
        lines.push(Line::raw(
            crate::diag::visible(&format!(
                "  {} until {} by {}: {}  {{{}}}",
                s.status.state,
                s.ends_at.format("%m-%d %H:%M"),
                s.created_by,
                s.comment,
                matchers.join(", ")
            ))
            .into_owned(),
        ));
    }
}
