//! The grid: services × checks. Narrow terminals get the essential columns; wide ones
//! get the probes and every evidence verdict too.

use crate::app::model::Model;
use crate::engine::gates::Status;
use crate::engine::live::Probe;
use crate::engine::plan::ServiceStatus;
use crate::engine::policy::Check;
use crate::ui::{fit, health_mark, health_style, status_mark, status_style};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

fn check_status(s: &ServiceStatus, c: Check) -> Option<Status> {
    let p = s.next.as_ref()?;
    p.requirements
        .iter()
        .chain(p.gates.iter().flat_map(|g| g.checks.iter()))
        .find(|x| x.check == c)
        .map(|x| x.status)
}

fn mark_cell(m: &Model, st: Option<Status>) -> Cell<'static> {
    match st {
        None => Cell::from(Span::styled("·", m.theme.dim)),
        Some(s) => {
            let (sym, _) = status_mark(s);
            Cell::from(Span::styled(sym, status_style(m, s)))
        }
    }
}

fn probe_cell(m: &Model, p: Option<&Probe>) -> Cell<'static> {
    match p {
        Some(Probe::Pass { .. }) => Cell::from(Span::styled("✓", m.theme.ok)),
        Some(Probe::Fail { code, .. }) => Cell::from(Span::styled(format!("✗{code}"), m.theme.bad)),
        Some(Probe::Error { .. }) => Cell::from(Span::styled("✗", m.theme.bad)),
        _ => Cell::from(Span::styled("·", m.theme.dim)),
    }
}

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let rows = m.rows();
    if rows.is_empty() {
        let msg = if m.filter.is_empty() {
            "no services configured".to_string()
        } else {
            format!("no service matches `{}` (Esc clears the filter)", m.filter)
        };
        f.render_widget(Paragraph::new(msg).style(m.theme.dim), area);
        return;
    }
    let wide = area.width >= 140;
    let name_w = rows
        .iter()
        .map(|s| s.service.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, if wide { 24 } else { 16 }) as u16;
    let mut header = vec![" ", "SERVICE", "STATE", "HEALTH", "P95", "ERR", "NEXT"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(name_w),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Min(24),
    ];
    if wide {
        header.extend([
            "LIVE", "RDY", "START", "SAST", "TEST", "COV", "SBOM", "PERF", "CHAIN", "APPR", "FRESH",
        ]);
        widths.extend([
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(3),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Length(4),
            Constraint::Length(6),
        ]);
    }
    // What NEXT gets: the width less the fixed columns and the one-cell gaps.
    let fixed: u16 = 1 + name_w + 11 + 10 + 7 + 6 + if wide { 47 } else { 0 };
    let next_w = area
        .width
        .saturating_sub(fixed + widths.len() as u16 - 1)
        .max(24) as usize;
    let height = area.height.saturating_sub(1) as usize;
    let cursor = m.cursor().min(rows.len().saturating_sub(1));
    let offset = cursor.saturating_sub(height.saturating_sub(1));
    // Once per frame, not once per row.
    let firing = m.firing();
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, s)| {
            let live = m.board.services.get(&s.service);
            let limits = m.thresholds(&s.service);
            let h = live.map(|l| l.health);
            let (hs, hw) = health_mark(h);
            // What is paging comes first: a firing alert takes the NEXT column.
            let alert = firing.iter().find(|a| a.service == s.service);
            let next = match (&alert, &s.next) {
                (Some(a), _) => Span::styled(
                    format!("✗ {} {}", a.severity, a.name),
                    if crate::app::model::pages(&a.severity) {
                        m.theme.bad
                    } else {
                        m.theme.warn
                    },
                ),
                (None, None) => Span::styled("— top", m.theme.dim),
                (None, Some(p)) => {
                    let st = match p.verdict {
                        crate::engine::plan::Verdict::Ready => Status::Pass,
                        crate::engine::plan::Verdict::AwaitingApproval => Status::Pending,
                        _ => Status::Fail,
                    };
                    let (sym, _) = status_mark(st);
                    let mut text = format!("{sym} →{} {}", short_state(&p.to), p.verdict.as_str());
                    // Wide: the first thing holding it, inline ("test_coverage_threshold
                    // fail: line coverage 71.0 % < threshold 80 %"), cut with `…`.
                    if wide && st == Status::Fail {
                        if let Some(b) = p.blockers.first() {
                            let why = b.split_once("): ").map_or(b.as_str(), |(_, r)| r);
                            let why = why
                                .strip_prefix("requirement ")
                                .unwrap_or(why)
                                .replacen(": fail: ", ": ", 1);
                            text = fit(&format!("{text}: {why}"), next_w);
                        }
                    }
                    Span::styled(text, status_style(m, st))
                }
            };
            let mut cells = vec![
                // The cursor is a mark as well as reverse video (no colour needed).
                Cell::from(if i == cursor { "›" } else { " " }),
                Cell::from(fit(&s.service, name_w as usize)),
                Cell::from(short_state(&s.state)),
                Cell::from(Span::styled(format!("{hs} {hw}"), health_style(m, h))),
                {
                    let p95 = live.and_then(|l| l.p95_ms);
                    let over = p95.zip(limits.map(|t| t.0)).is_some_and(|(v, max)| v > max);
                    let old = live
                        .and_then(|l| l.last_figures)
                        .and_then(|f| f.0)
                        .map(|v| format!("{v:.0}ms"));
                    figure_cell(m, live, p95.map(|v| format!("{v:.0}ms")), old, over)
                },
                {
                    let err = live.and_then(|l| l.error_rate);
                    let over = err.zip(limits.map(|t| t.1)).is_some_and(|(v, max)| v > max);
                    let old = live
                        .and_then(|l| l.last_figures)
                        .and_then(|f| f.1)
                        .map(|v| format!("{:.1}%", v * 100.0));
                    figure_cell(
                        m,
                        live,
                        err.map(|v| format!("{:.1}%", v * 100.0)),
                        old,
                        over,
                    )
                },
                Cell::from(next),
            ];
            if wide {
                let probes = live.and_then(|l| l.probes.as_ref());
                let pending = m
                    .store
                    .ledger
                    .open_for(&s.service)
                    .map(|p| p.approvals.iter().filter(|v| v.signed).count());
                // How old what is shown is: the last answer (good or not).
                let fresh = live.and_then(|l| l.last_poll).map_or("-".to_string(), |t| {
                    let age = (m.now - t).num_seconds().max(0) as u64;
                    if age <= 2 * m.poll_interval_secs + 2 {
                        "live".into()
                    } else {
                        crate::ui::age(m.now, t)
                    }
                });
                cells.extend([
                    probe_cell(m, probes.map(|p| &p.live)),
                    probe_cell(m, probes.map(|p| &p.ready)),
                    probe_cell(m, probes.map(|p| &p.startup)),
                    mark_cell(m, check_status(s, Check::SastClean)),
                    mark_cell(m, check_status(s, Check::AllTestsPassing)),
                    mark_cell(m, check_status(s, Check::TestCoverageThreshold)),
                    mark_cell(m, check_status(s, Check::SbomValid)),
                    mark_cell(m, check_status(s, Check::PerformanceBaselineMet)),
                    mark_cell(m, check_status(s, Check::EvidenceChainValid)),
                    Cell::from(pending.map_or("·".into(), |n| {
                        format!("{n}/{}", m.config.org.approval.required_approvals)
                    })),
                    Cell::from(fresh),
                ]);
            }
            let row = Row::new(cells);
            if i == cursor {
                row.style(m.theme.selected)
            } else {
                row
            }
        })
        .collect();
    let header_row = Row::new(
        header
            .into_iter()
            .map(|h| Cell::from(Span::styled(h, m.theme.accent))),
    )
    .style(Style::default());
    let table = Table::new(table_rows, widths)
        .header(header_row)
        .column_spacing(1);
    f.render_widget(table, area);
}

/// State names fitted to the grid ("compliance_ready" is long).
pub fn short_state(s: &str) -> String {
    match s {
        "compliance_ready" => "ready".to_string(),
        other => fit(other, 11),
    }
}

/// A p95 or error cell: `…` while the only figure is one scrape's (since the service
/// started, which nothing decides on) or before the first poll answered; `~` before a
/// figure read more than two intervals ago, or the last one there was when the service
/// now gives none (stale, dim); `?` when a polled service never gave one (the drill-in
/// says why); `-` when nothing is polled.
fn figure_cell<'a>(
    m: &Model,
    live: Option<&crate::engine::live::LiveService>,
    text: Option<String>,
    old: Option<String>,
    over: bool,
) -> Cell<'a> {
    let waiting = live
        .and_then(|l| l.window.as_ref())
        .is_some_and(|w| !w.decidable());
    let stale = live.is_some_and(|l| {
        l.figures_at()
            .is_none_or(|t| (m.now - t).num_seconds() > 2 * m.poll_interval_secs as i64 + 2)
    });
    match text {
        Some(_) if waiting => Cell::from(Span::styled("…", m.theme.dim)),
        Some(t) if stale => Cell::from(Span::styled(format!("~{t}"), m.theme.dim)),
        Some(t) => Cell::from(Span::styled(
            t,
            if over { m.theme.bad } else { Style::default() },
        )),
        None if live.is_none() && m.last_poll.is_none() => {
            Cell::from(Span::styled("…", m.theme.dim))
        }
        None if live.is_none() => Cell::from("-"),
        None => match old {
            Some(o) => Cell::from(Span::styled(format!("~{o}"), m.theme.dim)),
            None => Cell::from(Span::styled("?", m.theme.unknown)),
        },
    }
}
