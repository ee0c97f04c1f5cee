//! Each promotion's journey through the seed's CI/CD stages, with the gate verdicts of
//! its last validation, who asked, who approved, and how long ago.

use crate::app::model::Model;
use crate::engine::ledger::PromotionStatus;
use crate::ui::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const STAGES: [(&str, &str); 8] = [
    ("spec_validation", "spec"),
    ("dependency_check", "deps"),
    ("build", "build"),
    ("test", "test"),
    ("compliance_scan", "scan"),
    ("evidence_collection", "evid"),
    ("promotion_gate", "gate"),
    ("deployment", "deploy"),
];

fn rank(s: &str) -> u8 {
    match s {
        "pass" => 0,
        "pending" => 1,
        "stale" => 2,
        "unknown" => 3,
        _ => 4,
    }
}

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let list = m.pipeline();
    if list.is_empty() {
        f.render_widget(
            Paragraph::new("no promotions on record yet: select a service in the Grid and press p, or :promote SERVICE").style(m.theme.dim),
            area,
        );
        return;
    }
    let cursor = m.cursor().min(list.len() - 1);
    let per = 2usize;
    let fits = (area.height as usize / per).max(1);
    let offset = cursor.saturating_sub(fits - 1);
    let mut lines = Vec::new();
    for (i, p) in list.iter().enumerate().skip(offset).take(fits) {
        let age = crate::ui::age(m.now, p.requested_at);
        let approvers: Vec<String> = p
            .approvals
            .iter()
            .map(|v| {
                if v.signed {
                    v.by.clone()
                } else {
                    format!("{}?", v.by)
                }
            })
            .collect();
        let style = match p.status {
            PromotionStatus::Completed => m.theme.ok,
            PromotionStatus::Open => m.theme.warn,
            _ => m.theme.bad,
        };
        let mut head = Line::from(vec![
            Span::raw(format!("{} ", p.id)),
            Span::styled(format!("{:<9}", p.status.as_str()), style),
            Span::raw(fit(
                &format!(
                    " {} {}→{} by {} · approved by {} · {} ago",
                    p.service,
                    crate::ui::panels::grid::short_state(&p.from),
                    crate::ui::panels::grid::short_state(&p.to),
                    p.requester,
                    if approvers.is_empty() {
                        "nobody yet".into()
                    } else {
                        approvers.join(", ")
                    },
                    age
                ),
                area.width.saturating_sub(30) as usize,
            )),
        ]);
        if i == cursor {
            head = head.style(m.theme.selected);
        }
        lines.push(head);
        let gates = p
            .validation
            .as_ref()
            .and_then(|v| v.get("gates"))
            .and_then(|g| g.as_array())
            .cloned()
            .unwrap_or_default();
        let mut spans = vec![Span::raw("   ")];
        for (stage, short) in STAGES {
            let worst = gates
                .iter()
                .filter(|g| g.get("stage").and_then(|s| s.as_str()) == Some(stage))
                .filter_map(|g| g.get("status").and_then(|s| s.as_str()))
                .max_by_key(|s| rank(s));
            let (sym, st) = match (stage, worst, p.status) {
                ("deployment", _, PromotionStatus::Completed) => ("✓", m.theme.ok),
                // Deployment is what happens after the gate: nothing until it has.
                ("deployment", _, _) => ("·", m.theme.dim),
                (_, None, _) => ("·", m.theme.dim),
                (_, Some("pass"), _) => ("✓", m.theme.ok),
                (_, Some("pending"), _) => ("…", m.theme.warn),
                (_, Some("stale"), _) => ("~", m.theme.warn),
                (_, Some("unknown"), _) => ("?", m.theme.unknown),
                _ => ("✗", m.theme.bad),
            };
            spans.push(Span::raw(format!("{short} ")));
            spans.push(Span::styled(format!("{sym}  "), st));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}
