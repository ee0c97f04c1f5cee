//! The drill-in view of one service: why its next step is held first, then health,
//! metrics, dependencies and its chain records.

use crate::app::model::Model;
use crate::engine::gates::Status;
use crate::ui::{centered, health_mark, health_style, status_mark, status_style};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, m: &Model, service: &str, area: Rect) {
    let r = centered(
        area,
        area.width.saturating_sub(4).max(20),
        area.height.saturating_sub(2).max(5),
    );
    f.render_widget(Clear, r);
    let mut lines: Vec<Line> = Vec::new();
    let Some(s) = m.statuses.iter().find(|s| s.service == service) else {
        lines.push(Line::raw(format!("no service `{service}`")));
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL)),
            r,
        );
        return;
    };
    let svc = m.config.service(service);
    lines.push(Line::from(vec![
        Span::styled(s.service.clone(), m.theme.accent),
        Span::raw(format!(
            "  state {} (mode {})  version {}  owners {}",
            s.state,
            s.mode.as_str(),
            s.version.clone().unwrap_or_else(|| "-".into()),
            if s.owners.is_empty() {
                "-".into()
            } else {
                s.owners.join(", ")
            }
        )),
    ]));
    // Why: the next promotion, every check with its verdict.
    match &s.next {
        None => lines.push(Line::styled(
            "next: none (top of the state machine; only a demotion leads on)",
            m.theme.dim,
        )),
        Some(p) => {
            let st = match p.verdict {
                crate::engine::plan::Verdict::Ready => Status::Pass,
                crate::engine::plan::Verdict::AwaitingApproval => Status::Pending,
                _ => Status::Fail,
            };
            lines.push(Line::from(vec![
                Span::raw(format!("next: {} -> {}: ", p.from, p.to)),
                Span::styled(
                    format!(
                        "{} {}",
                        status_mark(st).0,
                        p.verdict.as_str().to_uppercase()
                    ),
                    status_style(m, st),
                ),
            ]));
            // What holds it first: failing, unknown, stale, pending, then the passes.
            let mut seen = Vec::new();
            let mut checks: Vec<_> = p
                .requirements
                .iter()
                .chain(p.gates.iter().flat_map(|g| g.checks.iter()))
                .filter(|c| {
                    let new = !seen.contains(&c.check);
                    seen.push(c.check);
                    new
                })
                .collect();
            checks.sort_by_key(|c| {
                use crate::engine::gates::Status::*;
                match c.status {
                    Fail => 0,
                    Unknown => 1,
                    Stale => 2,
                    Pending => 3,
                    _ => 4,
                }
            });
            for c in checks {
                let (sym, word) = status_mark(c.status);
                let mut spans = vec![
                    Span::raw("  "),
                    Span::styled(format!("{sym} {word:<7}"), status_style(m, c.status)),
                    Span::raw(format!(" {}: {}", c.check, c.reason)),
                ];
                if let Some(file) = &c.file {
                    spans.push(Span::styled(format!(" ({file})"), m.theme.dim));
                }
                lines.push(Line::from(spans));
            }
        }
    }
    if let Some(p) = m.store.ledger.open_for(service) {
        lines.push(Line::raw(format!(
            "open promotion: {} -> {} requested by {}; approvals {}/{}",
            p.id,
            p.to,
            p.requester,
            p.approvals.iter().filter(|v| v.signed).count(),
            m.config.org.approval.required_approvals
        )));
    }
    // Health and metrics.
    let live = m.board.services.get(service);
    let h = live.map(|l| l.health);
    let (hs, _) = health_mark(h);
    lines.push(Line::from(vec![
        Span::raw("health: "),
        Span::styled(
            format!(
                "{hs} {}",
                live.map_or("not polled".into(), |l| l.cell(m.now))
            ),
            health_style(m, h),
        ),
    ]));
    if let Some(p) = live.and_then(|l| l.probes.as_ref()) {
        lines.push(Line::raw(format!(
            "  probes: live {} · ready {} · startup {}",
            p.live.describe(),
            p.ready.describe(),
            p.startup.describe()
        )));
        if !p.components.is_empty() {
            let comps: Vec<String> = p
                .components
                .iter()
                .map(|c| match &c.message {
                    Some(msg) => format!("{} {} ({msg})", c.name, c.status),
                    None => format!("{} {}", c.name, c.status),
                })
                .collect();
            lines.push(Line::raw(format!("  components: {}", comps.join("; "))));
        }
    }
    if let (Some(l), Some(svc)) = (live, svc) {
        let b = &svc.def.baseline;
        lines.push(Line::raw(format!(
            "metrics{}: p95 {} (baseline {:.0} ms) · errors {} (baseline {:.1} %) · {} series{}",
            l.window.as_ref().map_or(String::new(), |w| format!(
                " {}{}",
                w.describe(),
                if w.decidable() {
                    ""
                } else {
                    " (not decided on)"
                }
            )),
            l.p95_ms.map_or("-".into(), |v| format!("{v:.0} ms")),
            b.p95_latency_ms,
            l.error_rate
                .map_or("-".into(), |v| format!("{:.2} %", v * 100.0)),
            b.error_rate * 100.0,
            l.series.map_or("-".into(), |n| n.to_string()),
            l.last_error
                .as_ref()
                .map(|e| format!(" · last error: {e}"))
                .unwrap_or_default()
        )));
        if let Some(a) = l.activities.as_ref().filter(|a| !a.is_empty()) {
            lines.push(Line::styled(
                format!("running: {} (a blackout for promotions)", a.join(", ")),
                m.theme.warn,
            ));
        }
    }
    // Dependencies.
    let deps: Vec<String> = s
        .dependencies
        .iter()
        .map(|d| format!("{} ({}, {})", d.service, d.kind.as_str(), d.state))
        .collect();
    lines.push(Line::raw(format!(
        "depends on: {}",
        if deps.is_empty() {
            "-".into()
        } else {
            deps.join(" · ")
        }
    )));
    let (ups, downs) = (m.graph.upstream(service), m.graph.downstream(service));
    lines.push(Line::raw(format!(
        "upstream: {}   downstream (blast radius): {}",
        if ups.is_empty() {
            "-".into()
        } else {
            ups.join(", ")
        },
        if downs.is_empty() {
            "-".into()
        } else {
            downs.join(", ")
        }
    )));
    // Its chain records.
    let recs: Vec<&crate::engine::ledger::Promotion> = m
        .store
        .ledger
        .promotions
        .iter()
        .filter(|p| p.service == service)
        .collect();
    if !recs.is_empty() {
        lines.push(Line::raw("promotions on record:"));
        for p in recs.iter().rev().take(5) {
            lines.push(Line::raw(format!(
                "  {} {} -> {} {} (by {}, records {})",
                p.id,
                p.from,
                p.to,
                p.status.as_str(),
                p.requester,
                p.records
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
    }
    crate::ui::scrolled(f, m, r, lines, &format!(" {service} "));
}
