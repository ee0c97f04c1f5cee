//! The dependency graph: layers in promotion order on the left (the cursor moves through
//! them), and the selected service in focus on the right with its direct dependencies
//! and dependents joined by box-drawing edges, then its whole upstream and downstream.
//! Focus and scroll keep it legible at a thousand services. (A configuration with a
//! dependency cycle never loads: validation names every cycle with its path.)

use crate::app::model::Model;
use crate::ui::{fit, health_mark, health_style};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// Junction characters of a bracket joining `count` rows (from row 0) to the row `mid`.
/// `left`: entries come in from the left and leave to the right at `mid`; otherwise one
/// line comes in from the left at `mid` and fans out to the entries on the right.
fn bracket(count: usize, mid: usize, rows: usize, left: bool) -> Vec<char> {
    let mut out = vec![' '; rows];
    if count == 0 {
        return out;
    }
    let bottom = (count - 1).max(mid);
    for (i, c) in out.iter_mut().enumerate().take(bottom + 1) {
        let entry = i < count;
        let (l, r) = if left {
            (entry, i == mid)
        } else {
            (i == mid, entry)
        };
        let (u, d) = (i > 0, i < bottom);
        *c = match (u, d, l, r) {
            (false, false, false, false) => ' ',
            (false, false, _, _) => '─',
            (false, true, true, false) => '┐',
            (false, true, false, true) => '┌',
            (false, true, true, true) => '┬',
            (true, false, true, false) => '┘',
            (true, false, false, true) => '└',
            (true, false, true, true) => '┴',
            (true, true, false, false) => '│',
            (true, true, true, false) => '┤',
            (true, true, false, true) => '├',
            (true, true, true, true) => '┼',
            (_, _, false, false) => '│',
        };
    }
    out
}

fn node<'a>(m: &Model, name: &str, w: usize) -> Vec<Span<'a>> {
    let h = m.board.services.get(name).map(|l| l.health);
    let (sym, _) = health_mark(h);
    let state = m
        .statuses
        .iter()
        .find(|s| s.service == name)
        .map(|s| s.state.clone())
        .unwrap_or_default();
    vec![
        Span::styled(sym.to_string(), health_style(m, h)),
        Span::raw(format!(
            " {}",
            fit(
                &format!("{name} ({})", crate::ui::panels::grid::short_state(&state)),
                w
            )
        )),
    ]
}

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let left_w = (area.width / 3).clamp(18, 34);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(area);
    // Left: the layers.
    let order = m.graph_order();
    let cursor = m.cursor().min(order.len().saturating_sub(1));
    let selected = order.get(cursor).copied();
    // First the rows as plain references (cheap at a thousand services), then only the
    // visible window is turned into styled lines.
    enum Row<'a> {
        Layer(usize),
        Node(&'a str),
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut cursor_line = 0;
    let f_low = m.filter.to_lowercase();
    for (li, layer) in m.layers.iter().enumerate() {
        let mut header = false;
        for n in layer
            .iter()
            .filter(|s| f_low.is_empty() || s.to_lowercase().contains(&f_low))
        {
            if !header {
                rows.push(Row::Layer(li));
                header = true;
            }
            if Some(n.as_str()) == selected {
                cursor_line = rows.len();
            }
            rows.push(Row::Node(n));
        }
    }
    let h = left.height.saturating_sub(1) as usize;
    let start = cursor_line.saturating_sub(h.saturating_sub(1));
    let lines: Vec<Line> = rows
        .iter()
        .skip(start)
        .take(h)
        .map(|r| match r {
            Row::Layer(li) => Line::styled(
                format!("layer {li}{}", if *li == 0 { " (no deps)" } else { "" }),
                m.theme.dim,
            ),
            Row::Node(n) => {
                let is_sel = Some(*n) == selected;
                let mut spans = vec![Span::raw(if is_sel { "›" } else { " " })];
                spans.extend(node(m, n, left_w as usize - 4));
                let line = Line::from(spans);
                if is_sel {
                    line.style(m.theme.selected)
                } else {
                    line
                }
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::RIGHT)
                .title("promotion order"),
        ),
        left,
    );
    // Right: the focus view.
    let Some(sel) = selected else {
        f.render_widget(Paragraph::new("no services").style(m.theme.dim), right);
        return;
    };
    let up: Vec<String> = m
        .graph
        .direct(sel)
        .into_iter()
        .map(|(d, k)| format!("{d}|{}", k.as_str()))
        .collect();
    let down: Vec<String> = m.dependents.get(sel).cloned().unwrap_or_default();
    let rows = up.len().max(down.len()).max(1);
    let mid = (rows - 1) / 2;
    let lb = bracket(up.len(), mid, rows, true);
    let rb = bracket(down.len(), mid, rows, false);
    let col = ((right.width as usize).saturating_sub(12) / 3).clamp(8, 28);
    let cell = |name: &str, suffix: &str| -> Vec<Span<'static>> {
        let h = m.board.services.get(name).map(|l| l.health);
        let (sym, _) = health_mark(h);
        let text = if suffix.is_empty() {
            name.to_string()
        } else {
            format!("{name} {suffix}")
        };
        vec![
            Span::styled(sym.to_string(), health_style(m, h)),
            Span::raw(format!(" {:<w$}", fit(&text, col - 2), w = col - 2)),
        ]
    };
    let mut out: Vec<Line> = vec![Line::from(vec![Span::styled(
        format!(
            " {:<w1$}{:<w2$}{}",
            "depends on",
            "",
            "needed by",
            w1 = col + 3,
            w2 = col + 9
        ),
        m.theme.dim,
    )])];
    for i in 0..rows {
        let mut spans: Vec<Span> = vec![Span::raw(" ")];
        match up.get(i) {
            Some(u) => {
                let (name, kind) = u.split_once('|').unwrap_or((u, ""));
                spans.extend(cell(name, kind));
                spans.push(Span::styled("─", m.theme.accent));
            }
            None => spans.push(Span::raw(" ".repeat(col + 1))),
        }
        spans.push(Span::styled(lb[i].to_string(), m.theme.accent));
        if i == mid {
            spans.push(Span::styled(
                if up.is_empty() { "   " } else { "─▶ " },
                m.theme.accent,
            ));
            let mut c = cell(sel, "");
            for s in &mut c {
                *s = s.clone().style(m.theme.selected);
            }
            spans.extend(c);
            spans.push(Span::styled(
                if down.is_empty() { "  " } else { " ─" },
                m.theme.accent,
            ));
        } else {
            spans.push(Span::raw(" ".repeat(col + 5)));
        }
        spans.push(Span::styled(rb[i].to_string(), m.theme.accent));
        if let Some(d) = down.get(i) {
            spans.push(Span::styled("─▶ ", m.theme.accent));
            spans.extend(cell(d, ""));
        }
        out.push(Line::from(spans));
    }
    let ups = m.graph.upstream(sel);
    let downs = m.graph.downstream(sel);
    let summary = vec![
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!("all upstream ({}): ", ups.len()), m.theme.accent),
            Span::raw(if ups.is_empty() {
                "-".into()
            } else {
                ups.join(", ")
            }),
        ]),
        Line::from(vec![
            Span::styled(
                format!("blast radius, all downstream ({}): ", downs.len()),
                m.theme.accent,
            ),
            Span::raw(if downs.is_empty() {
                "-".into()
            } else {
                downs.join(", ")
            }),
        ]),
    ];
    let h = (out.len() as u16).min(right.height);
    let [top, bottom] = Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(right);
    f.render_widget(Paragraph::new(out), top);
    f.render_widget(Paragraph::new(summary).wrap(Wrap { trim: false }), bottom);
}

#[cfg(test)]
mod tests {
    use super::bracket;

    #[test]
    fn brackets_join_rows_to_the_middle() {
        let s = |v: Vec<char>| v.into_iter().collect::<String>();
        assert_eq!(s(bracket(1, 0, 1, true)), "─");
        assert_eq!(s(bracket(3, 1, 3, true)), "┐┼┘");
        assert_eq!(s(bracket(2, 0, 2, true)), "┬┘");
        assert_eq!(s(bracket(1, 1, 3, false)), "┌┘ ");
        assert_eq!(s(bracket(3, 1, 3, false)), "┌┼└");
        assert_eq!(s(bracket(2, 1, 3, true)), "┐┴ ");
        assert_eq!(s(bracket(0, 1, 3, false)), "   ");
    }
}
