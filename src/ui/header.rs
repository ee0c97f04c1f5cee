//! The header line: who acts, what is paging, the fleet's health, freshness and the
//! chain, laid out by priority when the terminal is narrow.

use super::{age, fit};
use crate::app::model::Model;
use crate::engine::live::HealthState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

pub(super) fn render(f: &mut Frame, m: &Model, area: Rect) {
    let total = m.statuses.len();
    let count = |h: HealthState| m.board.services.values().filter(|l| l.health == h).count();
    let (up, degraded, down) = (
        count(HealthState::Up),
        count(HealthState::Degraded),
        count(HealthState::Down),
    );
    // Freshness in coarse words, so an unchanged fleet does not redraw every second.
    // `live` only while some service answered well within two intervals; a fleet that
    // answers nothing is not live because it was polled.
    let newest_good = m.board.services.values().filter_map(|l| l.last_good).max();
    let secs_since = |t: chrono::DateTime<chrono::Utc>| (m.now - t).num_seconds().max(0) as u64;
    let fresh = match (m.last_poll, newest_good) {
        (None, _) if m.board.services.is_empty() => "no live data".to_string(),
        (None, _) => "polling…".to_string(),
        (Some(_), Some(t)) if secs_since(t) <= 2 * m.poll_interval_secs + 2 => "live".to_string(),
        (Some(_), Some(t)) => format!("stale {}", age(m.now, t)),
        (Some(_), None) => match m.first_poll {
            Some(t) => format!("down {}", age(m.now, t)),
            None => "no answer".to_string(),
        },
    };
    let chain = match &m.store.chain {
        None => "chain: none".to_string(),
        Some(crate::engine::facts::Known::Known(c))
            if c.problem.is_none() && c.unverified_signatures == 0 =>
        {
            format!("chain ✓ {}", c.records)
        }
        Some(crate::engine::facts::Known::Known(c)) => format!(
            "chain ✗ {}",
            c.problem
                .clone()
                .unwrap_or_else(|| "unsigned records".into())
        ),
        Some(crate::engine::facts::Known::Unknown(w)) => format!("chain ? {w}"),
    };
    let who = match &m.identity {
        Ok(p) => format!("as {p}"),
        Err(_) => "no identity".to_string(),
    };
    let mut parts = vec![
        format!(" gander · {}", m.config.org.org.name),
        m.now.format("%H:%M UTC").to_string(),
    ];
    // The team store's database is down: said early, with how long, and the chain
    // shown marked as this bastion's copy.
    let chain = match &m.store_down {
        Some((since, _)) => {
            parts.push(format!("STORE DOWN {}", age(m.now, *since)));
            chain.replacen("chain", "copy", 1)
        }
        None => chain,
    };
    if let (Some(_), Some(since)) = (&m.prom_error, m.prom_down_since) {
        parts.push(format!("PROMETHEUS DOWN {}", age(m.now, since)));
    }
    // What is paging, counted by severity, right after the fleet's health.
    let firing = m.firing_counts();
    let alerts = (!firing.is_empty()).then(|| {
        format!(
            "✗ {}",
            firing
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    });
    parts.push(format!("{total} svc: ✓{up} !{degraded} ✗{down}"));
    parts.extend(alerts);
    parts.extend([fresh, chain, who]);
    if m.read_only {
        parts.push("READ-ONLY".into());
    }
    if let Some(b) = &m.busy {
        parts.push(format!("working: {b}…"));
    }
    let text = fit(
        &by_priority(parts, area.width as usize),
        area.width as usize,
    );
    f.render_widget(Paragraph::new(text).style(m.theme.header), area);
}

/// The header's parts joined to fit `width`, dropping the least important first: the
/// clock, then the org's name (` gander` stays), then the freshness word, then what is
/// being worked on, then the chain. What is paging, the store being down, the identity
/// and READ-ONLY are never dropped.
fn by_priority(mut parts: Vec<String>, width: usize) -> String {
    let fits = |p: &[String]| p.join(" │ ").chars().count() <= width;
    let drops: [&dyn Fn(&str) -> bool; 4] = [
        &|s| s.ends_with(" UTC") && s.len() <= 9,
        &|s| s.starts_with(" gander · "),
        &|s| s == "live" || s == "polling…" || s == "no live data",
        // A chain that verifies may go; one that does not is shortened, never dropped.
        &|s| s.starts_with("chain ✓") || s.starts_with("copy ✓"),
    ];
    for drop in drops {
        if fits(&parts) {
            break;
        }
        if let Some(i) = parts.iter().position(|s| drop(s)) {
            if parts[i].starts_with(" gander · ") {
                parts[i] = " gander".into();
            } else {
                parts.remove(i);
            }
        }
    }
    // Still too wide: cut the longest part that may be cut, never who is acting,
    // READ-ONLY or what is paging.
    // The fleet's counts are never cut either (`7 svc: ✓…` would hide what is down);
    // narrow, they lose their total first.
    if !fits(&parts)
        && let Some(c) = parts.iter_mut().find(|s| s.contains(" svc: "))
        && let Some((_, marks)) = c.split_once(" svc: ")
    {
        *c = marks.to_string();
    }
    let kept = |s: &str| {
        s.starts_with("as ")
            || s == "no identity"
            || s == "READ-ONLY"
            || s.starts_with("✗ ")
            || s.contains(" svc: ")
            || s.starts_with('✓')
    };
    for _ in 0..parts.len() {
        let total = parts.join(" │ ").chars().count();
        if total <= width {
            break;
        }
        // A chain that does not verify keeps at least `chain ✗…`.
        let least = |s: &str| {
            let broken = (s.starts_with("chain ") || s.starts_with("copy "))
                && !s.starts_with("chain ✓")
                && !s.starts_with("copy ✓");
            if broken {
                "chain ✗…".chars().count()
            } else {
                2
            }
        };
        let Some(i) = (0..parts.len())
            .filter(|&i| !kept(&parts[i]) && parts[i].chars().count() > least(&parts[i]))
            .max_by_key(|&i| parts[i].chars().count())
        else {
            break;
        };
        let n = parts[i].chars().count();
        parts[i] = fit(
            &parts[i],
            n.saturating_sub(total - width).max(least(&parts[i])),
        );
    }
    parts.join(" │ ")
}
