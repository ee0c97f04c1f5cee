//! `?`: every key, from the keymap itself, and the `:` commands.

use crate::app::keymap::Action;
use crate::app::model::Model;
use crate::ui::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Clear;

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let r = centered(area, 76, area.height.saturating_sub(2).max(5));
    f.render_widget(Clear, r);
    let mut lines = vec![Line::styled(
        "Keys (remap in CONFIG/keymap.toml)",
        m.theme.accent,
    )];
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| !(m.read_only && a.writes()))
        .collect();
    for pair in actions.chunks(2) {
        let mut spans = Vec::new();
        for a in pair {
            spans.push(Span::styled(
                format!("{:>12} ", m.keymap.labels(*a)),
                m.theme.accent,
            ));
            spans.push(Span::raw(format!("{:<22}", a.describe())));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Commands (: then Tab completes)",
        m.theme.accent,
    ));
    // From the command table itself, so the list cannot miss one.
    use crate::app::commands::{COMMANDS, USAGE, WALK_COMMANDS};
    let plain: Vec<String> = COMMANDS
        .iter()
        .filter(|c| !USAGE.iter().any(|(u, _)| u == *c))
        .map(|c| format!(":{c}"))
        .collect();
    lines.push(Line::raw(format!("  {}", plain.join(" "))));
    let writes = ["promote", "approve", "reject", "runbook", "rollback"];
    for (c, args) in USAGE {
        if m.read_only && writes.contains(&c) {
            continue;
        }
        debug_assert!(COMMANDS.contains(&c) || WALK_COMMANDS.contains(&c));
        lines.push(Line::raw(format!("  :{c} {args}")));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Marks: ✓ pass/up  ✗ fail/down  ! degraded  ? unknown (never a pass)  … pending (P95/ERR: no figure over a window yet)  ~ stale (P95/ERR: last figures, not current)  ↷ skipped",
        m.theme.dim,
    ));
    crate::ui::scrolled(f, m, r, lines, " help ");
}
