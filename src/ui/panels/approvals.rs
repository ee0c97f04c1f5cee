//! Pending promotions: what each waits for, who may approve, and when it expires.

use crate::app::keymap::Action;
use crate::app::model::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn render(f: &mut Frame, m: &Model, area: Rect) {
    let open = m.open_promotions();
    if open.is_empty() {
        f.render_widget(
            Paragraph::new("no promotion waits for approval").style(m.theme.dim),
            area,
        );
        return;
    }
    let cursor = m.cursor().min(open.len() - 1);
    let mut lines = Vec::new();
    let need = m.config.org.approval.required_approvals;
    for (i, p) in open.iter().enumerate() {
        let eligible =
            crate::engine::authority::approvers_besides(&m.config, &p.service, &p.requester);
        let expires = p.expires_at.map_or("-".into(), |e| {
            let mins = (e - m.now).num_minutes();
            if mins > 0 {
                format!(
                    "expires in {}",
                    crate::engine::config::Duration(mins as u64 * 60)
                )
            } else {
                "expired".into()
            }
        });
        let signed = p.approvals.iter().filter(|v| v.signed).count();
        // A transition that needs no approval says so, not "0/1".
        let needed = crate::engine::authority::needs_approval(&m.config, &p.to);
        let mut head = Line::from(vec![
            Span::raw(format!(
                "{}  {} {} → {}  requested by {}  ",
                p.id, p.service, p.from, p.to, p.requester
            )),
            if needed {
                Span::styled(format!("… {signed}/{need} approvals"), m.theme.warn)
            } else {
                Span::styled("no approval needed", m.theme.dim)
            },
            Span::raw(format!("  {expires}")),
        ]);
        if i == cursor {
            head = head.style(m.theme.selected);
        }
        lines.push(head);
        // Who may still approve: not the requester, not who already did.
        let rest: Vec<&String> = eligible
            .iter()
            .filter(|e| !p.approvals.iter().any(|v| v.signed && v.by == **e))
            .collect();
        lines.push(Line::raw(if !needed {
            "    waits for its gates only (re-checked by the same promote)".to_string()
        } else {
            format!(
                "    may approve: {} (four-eyes: not {})",
                if rest.is_empty() {
                    "nobody else configured".into()
                } else {
                    rest.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                p.requester
            )
        }));
        for b in p
            .validation
            .as_ref()
            .and_then(|v| v.get("blockers"))
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_str())
            .take(3)
        {
            lines.push(Line::styled(format!("    ✗ {b}"), m.theme.bad));
        }
    }
    if !m.read_only {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                "{} approve · {} reject (a reason is required) · both ask you to confirm",
                m.keymap.label(Action::Approve),
                m.keymap.label(Action::Reject)
            ),
            m.theme.dim,
        ));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
