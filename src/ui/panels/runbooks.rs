//! Runbooks: which apply to the selected service, and the walks on record with the step
//! each waits at, read from the chain. Enter on a runbook starts a walk (after a yes);
//! Enter on a walk opens it.

use crate::app::model::Model;
use crate::ui::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let cursor = m.cursor();
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
    let walks = m.walk_rows();
    lines.push(Line::styled(
        if walks.len() < m.store.walks.len() {
            format!(
                "Walks on record ({}, the newest {} here) · Enter opens one",
                m.store.walks.len(),
                walks.len()
            )
        } else {
            format!("Walks on record ({}) · Enter opens one", walks.len())
        },
        m.theme.accent,
    ));
    for (k, w) in walks.iter().enumerate() {
        let at = match m.runbooks.iter().find(|b| b.name == w.runbook) {
            None => format!("runbook `{}` not found", w.runbook),
            Some(b) => match w.current(&b.runbook) {
                Some(s) => match w.outcome(&s.id).map(|d| d.outcome.as_str()) {
                    Some(o @ ("fail" | "failed" | "unknown")) => {
                        format!("stopped at `{}` ({o})", s.id)
                    }
                    _ => format!("waits at `{}`", s.id),
                },
                None if b
                    .runbook
                    .steps
                    .last()
                    .is_some_and(|s| w.outcome(&s.id).is_none()) =>
                {
                    "ended by a decision".to_string()
                }
                None => "finished".to_string(),
            },
        };
        // Steps by what happened to them (a skip or a fail is not "done").
        let count = |f: &dyn Fn(&str) -> bool| {
            let mut seen = std::collections::HashSet::new();
            w.done
                .iter()
                .rev()
                .filter(|d| seen.insert(d.step.as_str()))
                .filter(|d| f(&d.outcome))
                .count()
        };
        let tally: Vec<String> = [
            (
                count(&|o| !matches!(o, "skipped" | "fail" | "failed" | "unknown")),
                "done",
            ),
            (count(&|o| o == "skipped"), "skipped"),
            (count(&|o| matches!(o, "fail" | "failed")), "failed"),
            (count(&|o| o == "unknown"), "unknown"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let tally = if tally.is_empty() {
            "no step yet".to_string()
        } else {
            tally.join(", ")
        };
        let mut l = Line::raw(format!(
            "  {}  {} for {} by {}: {tally}; {at}",
            w.id, w.runbook, w.service, w.started_by
        ));
        if m.runbooks.len() + k == cursor {
            l = l.style(m.theme.selected);
        }
        lines.push(l);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        if m.read_only {
            "read-only: Enter on a walk opens it"
        } else {
            "Enter on a runbook starts a walk for the selected service (asked first) · on a walk opens it"
        },
        m.theme.dim,
    ));
    // The selected row stays in view when the list is longer than the panel.
    let rows = area.height as usize;
    let selected = if cursor < m.runbooks.len() {
        cursor + 1
    } else {
        cursor + 3
    };
    let skip = (selected + 2).saturating_sub(rows);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((skip as u16, 0)),
        area,
    );
}
