//! Golden Goose packages: the stages as columns, each with what it runs now and before,
//! then every package with its services. Promote and roll back from the command line
//! for now (`gander package promote|approve|rollback`).

use crate::app::model::Model;
use crate::ui::fit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let st = &m.store.packages;
    let stages = &m.config.org.packaging.stages;
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(1)]).areas(area);
    let cols = Layout::horizontal(
        stages
            .iter()
            .map(|_| Constraint::Ratio(1, stages.len().max(1) as u32)),
    )
    .split(top);
    for (i, stage) in stages.iter().enumerate() {
        let w = cols[i].width.saturating_sub(2) as usize;
        let mut lines = Vec::new();
        match st.history.get(stage) {
            None => lines.push(Line::styled("· empty", m.theme.dim)),
            Some(h) => {
                for (j, s) in h.iter().rev().take(5).enumerate() {
                    let mark = if j == 0 { "▶" } else { " " };
                    let style = if j == 0 { m.theme.ok } else { m.theme.dim };
                    lines.push(Line::from(vec![
                        Span::styled(format!("{mark} "), style),
                        Span::styled(fit(&s.package, w.saturating_sub(2)), style),
                    ]));
                    if j == 0 {
                        lines.push(Line::styled(
                            fit(
                                &format!(
                                    "  since {} by {}",
                                    s.since.get(..16).unwrap_or(&s.since),
                                    s.by
                                ),
                                w,
                            ),
                            m.theme.dim,
                        ));
                    }
                }
            }
        }
        if st.requests.keys().any(|(_, s)| s == stage) {
            lines.push(Line::styled("… approval pending", m.theme.warn));
        }
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {stage} ")),
            ),
            cols[i],
        );
    }
    let cursor = m.cursor();
    let mut lines = vec![Line::styled(
        format!("Packages ({})", st.packages.len()),
        m.theme.accent,
    )];
    for (i, (id, (version, services))) in st.packages.iter().enumerate() {
        let running: Vec<&str> = stages
            .iter()
            .filter(|s| st.current(s).is_some_and(|c| &c.package == id))
            .map(String::as_str)
            .collect();
        let mut l = Line::raw(format!(
            "{} {id} {version}: {}{}{}",
            if i == cursor { "›" } else { " " },
            services.join(", "),
            if running.is_empty() {
                String::new()
            } else {
                format!("  [runs in {}]", running.join(", "))
            },
            if st.archived.contains(id) {
                "  [archived]"
            } else {
                ""
            }
        ));
        if i == cursor {
            l = l.style(m.theme.selected);
        }
        lines.push(l);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("gander package create · verify PKG · promote ID --to STAGE · approve ID --stage S · rollback STAGE --reason …", m.theme.dim));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), bottom);
}
