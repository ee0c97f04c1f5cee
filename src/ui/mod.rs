//! Drawing: `render(frame, &Model)` reads the model and draws; it never waits, locks or
//! does IO. Every state is shown by a symbol and a word as well as a colour.

mod header;
pub mod panels;
pub use crate::theme;

use crate::app::keymap::Action;
use crate::app::model::{Input, Model, Panel, Popup};
use crate::engine::gates::Status;
use crate::engine::live::HealthState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Symbol and word for a check status.
pub fn status_mark(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Pass => ("✓", "pass"),
        Status::Pending => ("…", "pending"),
        Status::Stale => ("~", "stale"),
        Status::Unknown => ("?", "unknown"),
        Status::Fail => ("✗", "fail"),
    }
}

pub fn status_style(m: &Model, s: Status) -> Style {
    match s {
        Status::Pass => m.theme.ok,
        Status::Pending => m.theme.warn,
        Status::Stale => m.theme.warn,
        Status::Unknown => m.theme.unknown,
        Status::Fail => m.theme.bad,
    }
}

pub fn health_mark(h: Option<HealthState>) -> (&'static str, &'static str) {
    match h {
        Some(HealthState::Up) => ("✓", "up"),
        Some(HealthState::Degraded) => ("!", "degraded"),
        Some(HealthState::Down) => ("✗", "down"),
        _ => ("?", "unknown"),
    }
}

pub fn health_style(m: &Model, h: Option<HealthState>) -> Style {
    match h {
        Some(HealthState::Up) => m.theme.ok,
        Some(HealthState::Degraded) => m.theme.warn,
        Some(HealthState::Down) => m.theme.bad,
        _ => m.theme.unknown,
    }
}

/// Cut `s` to `w` display columns (with an ellipsis when cut).
pub fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// How long ago: seconds under a minute (`42s`), then whole minutes (`4m`, `1h5m`). A
/// screen showing an age under a minute redraws each second; a steady one does not.
pub fn age(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - then).num_seconds().max(0) as u64;
    if secs < 60 {
        format!("{secs}s")
    } else {
        crate::engine::config::Duration(secs / 60 * 60).to_string()
    }
}

pub fn render(f: &mut Frame, m: &Model) {
    render_screen(f, m);
    scrub(f.buffer_mut());
}

/// No control character reaches the terminal from what is drawn (a reason, a note, a
/// runbook parameter, an alert label): each is shown as its visible Control Picture
/// (`␛` for ESC), so a value can never move the cursor or fake what the screen says.
pub fn scrub(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if !sym.chars().any(char::is_control) {
            continue;
        }
        let clean = crate::diag::visible(sym).into_owned();
        cell.set_symbol(&clean);
    }
}

fn render_screen(f: &mut Frame, m: &Model) {
    let area = f.area();
    if area.width < 20 || area.height < 5 {
        // Too small for anything useful; say so rather than draw garbage.
        let msg = Paragraph::new("gander: enlarge the terminal").wrap(Wrap { trim: true });
        f.render_widget(msg, area);
        return;
    }
    let [header, tabs, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(f, m, header);
    render_tabs(f, m, tabs);
    // The grid and the pipeline are columns of figures: below 80×24 they would be cut
    // into numbers that mislead (`39` for 396 ms), so they say so instead.
    if (area.width < 80 || area.height < 24) && matches!(m.panel, Panel::Grid | Panel::Pipeline) {
        let text = vec![
            Line::styled(
                format!(
                    "terminal {}×{}: the {} needs 80×24",
                    area.width,
                    area.height,
                    if m.panel == Panel::Grid {
                        "grid"
                    } else {
                        "pipeline"
                    }
                ),
                m.theme.warn,
            ),
            Line::raw("enlarge the window, or read the same with `gander status`"),
            Line::raw("5 Alerts, 6 Log and 7 Runbooks fit; ? help, q quit"),
        ];
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), body);
    } else {
        render_body(f, m, body);
    }
    render_foot(f, m, foot);
    render_popup(f, m, area);
}

fn render_body(f: &mut Frame, m: &Model, body: Rect) {
    match m.panel {
        Panel::Grid => panels::grid::render(f, m, body),
        Panel::Graph => panels::graph::render(f, m, body),
        Panel::Pipeline => panels::pipeline::render(f, m, body),
        Panel::Approvals => panels::approvals::render(f, m, body),
        Panel::Alerts => panels::alerts::render(f, m, body),
        Panel::Log => panels::log::render(f, m, body),
        Panel::Runbooks => panels::runbooks::render(f, m, body),
        Panel::Packages => panels::packages::render(f, m, body),
    }
}

fn render_popup(f: &mut Frame, m: &Model, area: Rect) {
    match &m.popup {
        None => {}
        Some(Popup::Help) => panels::help::render(f, m, area),
        Some(Popup::Detail(s)) => panels::detail::render(f, m, s, area),
        Some(Popup::Dialog(d)) => panels::dialog::render(f, m, d, area),
        Some(Popup::Walk(v)) => panels::walk::render(f, m, v, area),
        Some(Popup::Message { title, lines }) => {
            // Sized by the rows its lines wrap to; longer than the screen, it scrolls.
            let mut text: Vec<Line<'static>> = lines.iter().map(|l| Line::raw(l.clone())).collect();
            text.push(Line::styled("Enter or Esc to close", m.theme.dim));
            let w = 70u16.min(area.width);
            let rows: usize = text
                .iter()
                .map(|l| wrapped_rows(l, w.saturating_sub(2) as usize))
                .sum();
            let r = centered(area, w, (rows as u16).saturating_add(2).min(area.height));
            f.render_widget(Clear, r);
            scrolled(f, m, r, text, &format!(" {title} "));
        }
    }
}

/// A rectangle of at most `w`×`h` in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn render_tabs(f: &mut Frame, m: &Model, area: Rect) {
    let mut spans = Vec::new();
    for p in Panel::ALL {
        let key = m.keymap.label(match p {
            Panel::Grid => Action::Grid,
            Panel::Graph => Action::Graph,
            Panel::Pipeline => Action::Pipeline,
            Panel::Approvals => Action::Approvals,
            Panel::Alerts => Action::Alerts,
            Panel::Log => Action::Log,
            Panel::Runbooks => Action::Runbooks,
            Panel::Packages => Action::Packages,
        });
        // Narrow terminals get short titles so all eight panels fit in 80 columns.
        let title = if area.width >= 110 {
            p.title()
        } else {
            match p {
                Panel::Pipeline => "Pipe",
                Panel::Approvals => "Appr",
                Panel::Alerts => "Alert",
                Panel::Runbooks => "Books",
                Panel::Packages => "Pkgs",
                other => other.title(),
            }
        };
        let mut label = format!(" {key} {title} ");
        if p == Panel::Approvals {
            let n = m.open_promotions().len();
            if n > 0 {
                label = format!(" {key} {title} ({n}) ");
            }
        }
        let mut style = m.theme.dim;
        if p == Panel::Alerts {
            let n = m.alerts().len();
            if n > 0 {
                label = format!(" {key} {title} ({n}) ");
            }
            // Highlighted while anything fires: a page in the alarm colour.
            let firing = m.firing();
            if let Some(worst) = firing.first() {
                // `!` only when something pages; tickets are counted in the warning colour.
                let paging = crate::app::model::pages(&worst.severity);
                label = format!(
                    " {key} {title} ({}{}) ",
                    firing.len(),
                    if paging { "!" } else { "" }
                );
                style = if paging { m.theme.bad } else { m.theme.warn };
            }
        }
        if p == m.panel {
            spans.push(Span::styled(
                format!("[{}]", label.trim()),
                m.theme.selected,
            ));
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::styled(label, style));
        }
    }
    if !m.filter.is_empty() {
        spans.push(Span::styled(
            format!(" filter: {}", m.filter),
            m.theme.accent,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    // Where the cursor is, and the grid's sort, at the right.
    let n = m.row_count();
    let mut info = if n == 0 {
        String::new()
    } else {
        format!("{}/{n}", m.cursor().min(n - 1) + 1)
    };
    if m.panel == Panel::Grid {
        info.push_str(match m.sort {
            crate::app::model::Sort::Order => " · by promotion order",
            crate::app::model::Sort::Name => " · by name",
            crate::app::model::Sort::Health => " · worst health first",
        });
    }
    let used: usize = Panel::ALL
        .iter()
        .map(|p| p.title().len() + 6)
        .sum::<usize>()
        + m.filter.len()
        + 10;
    if (area.width as usize) > used + info.chars().count() {
        let w = info.chars().count() as u16;
        let r = Rect {
            x: area.x + area.width - w,
            y: area.y,
            width: w,
            height: 1,
        };
        f.render_widget(Paragraph::new(Line::styled(info, m.theme.dim)), r);
    }
}

/// The hint bar, built from the keymap (or the input line while typing).
fn render_foot(f: &mut Frame, m: &Model, area: Rect) {
    let line = match &m.input {
        Some(Input::Filter(t)) => Line::from(vec![
            Span::styled("/", m.theme.accent),
            Span::raw(t.clone()),
            Span::styled("▏", m.theme.accent),
        ]),
        Some(Input::Command(t)) => {
            let c = crate::app::commands::completions(m, t);
            let hint = if c.is_empty() {
                String::new()
            } else {
                format!("   Tab: {}", fit(&c.join(" "), 60))
            };
            Line::from(vec![
                Span::styled(":", m.theme.accent),
                Span::raw(t.clone()),
                Span::styled("▏", m.theme.accent),
                Span::styled(hint, m.theme.dim),
            ])
        }
        None => {
            // The panel's own actions right after moving and opening.
            let mut actions = vec![Action::Down, Action::Open];
            match m.panel {
                Panel::Grid | Panel::Graph => actions.extend([Action::Promote, Action::Sort]),
                Panel::Approvals | Panel::Pipeline => {
                    actions.extend([Action::Approve, Action::Reject])
                }
                _ => {}
            }
            actions.extend([Action::Filter, Action::CommandLine, Action::NextPanel]);
            let mut spans = Vec::new();
            if !m.filter.is_empty() {
                spans.push(Span::styled(
                    format!(
                        "filter: {} ({} clears) │",
                        m.filter,
                        m.keymap.label(Action::Back)
                    ),
                    m.theme.warn,
                ));
            }
            // By priority: help and quit are never cut; the other keys are shown while
            // they fit whole, and `…` says some did not.
            let pair = |a: Action| {
                [
                    Span::styled(format!(" {}", m.keymap.label(a)), m.theme.accent),
                    Span::raw(format!(" {} ", a.describe())),
                ]
            };
            let width = |v: &[Span]| v.iter().map(|s| s.width()).sum::<usize>();
            let tail: Vec<Span> = [Action::Help, Action::Quit]
                .into_iter()
                .flat_map(pair)
                .collect();
            let room = (area.width as usize).saturating_sub(width(&spans) + width(&tail));
            let mut used = 0;
            let mut cut = false;
            for a in actions.into_iter().filter(|a| !(m.read_only && a.writes())) {
                let p = pair(a);
                let w = width(&p);
                if cut || used + w + 1 > room {
                    cut = true;
                    continue;
                }
                used += w;
                spans.extend(p);
            }
            if cut {
                spans.push(Span::styled("…", m.theme.dim));
            }
            spans.extend(tail);
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A popup's lines in a bordered box that scrolls (`m.popup_scroll`), with where it is
/// in the title and the keys at the bottom when it does not all fit. Lines matching
/// the `/` search are highlighted and their rows kept for `n`/`N`.
/// How many rows `l` takes when word-wrapped to `width` columns, as a wrapping
/// paragraph lays it out (a word longer than a row is broken): at least what it takes,
/// so a box sized by it never cuts its last line.
pub fn wrapped_rows(l: &Line, width: usize) -> usize {
    let width = width.max(1);
    let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
    let (mut rows, mut col) = (1usize, 0usize);
    for word in text.split_inclusive(' ') {
        let body = Span::raw(word.trim_end_matches(' ')).width();
        let full = Span::raw(word).width();
        if body > width {
            if col > 0 {
                rows += 1;
            }
            rows += (body - 1) / width;
            col = body - (body - 1) / width * width + (full - body);
        } else {
            if col > 0 && col + body > width {
                rows += 1;
                col = 0;
            }
            col += full;
        }
    }
    rows
}

pub fn scrolled(f: &mut Frame, m: &Model, r: Rect, mut lines: Vec<Line<'static>>, title: &str) {
    use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
    let inner_w = r.width.saturating_sub(2).max(1) as usize;
    let inner_h = r.height.saturating_sub(2).max(1) as usize;
    let height = |l: &Line| wrapped_rows(l, inner_w);
    let mut matches = Vec::new();
    if let Some((text, _)) = m.popup_search.as_ref().filter(|(t, _)| !t.is_empty()) {
        let want = text.to_lowercase();
        let mut row = 0usize;
        for l in &mut lines {
            let plain: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if plain.to_lowercase().contains(&want) {
                matches.push(row.min(u16::MAX as usize) as u16);
                *l = std::mem::take(l).style(m.theme.selected);
            }
            row += height(l);
        }
    }
    let mut total: usize = lines.iter().map(height).sum();
    let overflow = total > inner_h;
    if overflow {
        lines.push(Line::styled(
            "j/k ↓/↑ PgDn/PgUp g/G scroll · / search · Esc close",
            m.theme.dim,
        ));
        total += 1;
    }
    let max = total.saturating_sub(inner_h) as u16;
    m.popup_max_scroll.set(max);
    let at = m.popup_scroll.min(max);
    // The search before the position: a narrow box cuts the title's end.
    let search = match &m.popup_search {
        Some((t, true)) => format!("· /{t}▏ "),
        Some((t, false)) => format!(
            "· /{t}: {} match{} (n/N) ",
            matches.len(),
            if matches.len() == 1 { "" } else { "es" }
        ),
        None => String::new(),
    };
    // Where it is, never cut: a long title gives way (with `…`).
    let suffix = if overflow {
        format!(
            "{search}· rows {}–{} of {total} ",
            at as usize + 1,
            (at as usize + inner_h).min(total)
        )
    } else {
        search
    };
    let room = inner_w.saturating_sub(Span::raw(suffix.as_str()).width());
    let title = format!("{}{suffix}", fit(title, room));
    *m.popup_matches.borrow_mut() = matches;
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((at, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        r,
    );
}
