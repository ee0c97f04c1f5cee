//! Dialogs: what an action will record is shown first (four-eyes, expiry, approvals
//! so far) and confirmed with an explicit y; refusals come from `engine::authority`.

use super::Command;
use super::walk::*;
use crate::app::model::{Dialog, DialogAction, Model, Popup};
use crate::engine::authority::{self, Vote};
use crate::ops::packages::PackageCmd;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub(super) fn open_promote(m: &mut Model, service: &str, to: Option<&str>) {
    let Some(st) = m.statuses.iter().find(|s| s.service == service) else {
        let hint =
            crate::engine::diag::suggest(service, m.statuses.iter().map(|s| s.service.as_str()))
                .unwrap_or_default();
        say(m, format!("no service `{service}`"), hint);
        return;
    };
    let sm = crate::engine::state_machine::StateMachine::new(&m.config.rules);
    let to = match to {
        Some(t) => t.to_string(),
        None => match sm.promotions_from(&st.state).first() {
            Some(t) => t.to_string(),
            None => {
                m.push_log("info", format!("{service} is `{}`: the only way on is a demotion (:promote {service} STATE)", st.state));
                return;
            }
        },
    };
    let mut info = vec![format!("{service}: {} -> {to}", st.state)];
    if let Some(p) = st.next.as_ref().filter(|p| p.to == to) {
        info.push(format!("now: {}", p.verdict.as_str()));
        info.extend(p.blockers.iter().take(6).map(|b| format!("  {b}")));
    }
    let blocked = match &m.identity {
        Ok(me) => {
            info.push(format!("recorded and signed as {me}"));
            None
        }
        Err(e) => Some(format!("no identity: {e}")),
    };
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Promote {
            service: service.to_string(),
            to,
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

/// The package under the cursor in the Packages panel.
pub(super) fn selected_package(m: &Model) -> Option<String> {
    m.store.packages.packages.keys().nth(m.cursor()).cloned()
}

pub(super) fn package_dialog(
    m: &mut Model,
    cmd: PackageCmd,
    info: Vec<String>,
    needs_reason: bool,
) {
    let blocked = m
        .identity
        .as_ref()
        .err()
        .map(|e| format!("no identity: {e}"));
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Package { cmd, needs_reason },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

/// Promote the selected package to the stage after the furthest one that runs it.
pub(super) fn package_promote(m: &mut Model) {
    let Some(id) = selected_package(m) else {
        return;
    };
    let stages = m.config.org.packaging.stages.clone();
    let st = &m.store.packages;
    let furthest = stages
        .iter()
        .rposition(|s| st.current(s).is_some_and(|c| c.package == id));
    let next = match furthest {
        None => stages.first().cloned(),
        Some(i) => stages.get(i + 1).cloned(),
    };
    let Some(to) = next else {
        m.push_log("info", format!("{id} already runs in the last stage"));
        return;
    };
    let mut info = vec![format!("{id} -> {to}")];
    if m.config.org.packaging.require_approval_for.contains(&to) {
        info.push(format!(
            "`{to}` needs an approval by someone other than you"
        ));
    }
    info.push("the release criteria and the package's digests are checked again".into());
    package_dialog(
        m,
        PackageCmd::Promote {
            id,
            to,
            reason: String::new(),
        },
        info,
        false,
    );
}

/// Approve the selected package's pending request.
pub(super) fn package_approve(m: &mut Model) {
    let Some(id) = selected_package(m) else {
        return;
    };
    let pending: Vec<(String, String)> = m
        .store
        .packages
        .requests
        .iter()
        .filter(|((p, _), _)| *p == id)
        .map(|((_, s), (r, _))| (s.clone(), r.clone()))
        .collect();
    let Some((stage, requester)) = pending.into_iter().next() else {
        m.push_log(
            "info",
            format!("{id} has no promotion waiting for approval"),
        );
        return;
    };
    let info = vec![format!("{id} -> {stage}, requested by {requester}")];
    let requester_key = m
        .store
        .packages
        .request_keys
        .get(&(id.clone(), stage.clone()))
        .and_then(|k| k.0.clone());
    let refusal = match &m.identity {
        Ok(me) => authority::may_approve_stage(
            &id,
            &requester,
            requester_key.as_deref(),
            me,
            m.identity_key.as_deref(),
        )
        .err(),
        Err(_) => None,
    };
    package_dialog(m, PackageCmd::Approve { id, stage }, info, false);
    if let (Some(r), Some(Popup::Dialog(d))) = (refusal, m.popup.as_mut()) {
        d.blocked = Some(r.to_you());
    }
}

/// What the command line could not do, said where it is seen (and logged).
pub(super) fn say(m: &mut Model, title: String, line: String) {
    m.push_log("error", format!("{title}: {line}"));
    m.popup = Some(Popup::Message {
        title,
        lines: vec![line],
    });
}

pub(super) fn open_vote(m: &mut Model, id: &str, approve: bool) {
    let Some(p) = m.store.ledger.get(id).cloned() else {
        let open = m.open_promotions().len();
        say(
            m,
            format!("no promotion `{id}`"),
            format!("{open} open; the Approvals panel (4) lists them with their IDs"),
        );
        return;
    };
    let verb = if approve { "approve" } else { "reject" };
    let mut info = vec![
        format!("{}: {} {} -> {}", p.id, p.service, p.from, p.to),
        format!(
            "requested by {} at {}",
            p.requester,
            p.requested_at.format("%Y-%m-%d %H:%M UTC")
        ),
    ];
    if let Some(e) = p.expires_at {
        let left = (e - m.now).num_minutes();
        info.push(if left > 0 {
            format!(
                "expires in {}",
                crate::engine::config::Duration(left as u64 * 60)
            )
        } else {
            "expired".to_string()
        });
    }
    let need = m.config.org.approval.required_approvals;
    info.push(format!(
        "approvals {}/{need}: {}",
        p.approvals.iter().filter(|v| v.signed).count(),
        if p.approvals.is_empty() {
            "none yet".to_string()
        } else {
            p.approvals
                .iter()
                .map(|v| v.by.clone())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let vote = if approve { Vote::Approve } else { Vote::Reject };
    let blocked = match &m.identity {
        Err(e) => Some(format!("no identity: {e}")),
        Ok(me) => match authority::may_vote(&m.config, &p, me, m.identity_key.as_deref(), vote) {
            Err(r) => Some(r.to_you()),
            Ok(()) => {
                info.push(format!(
                    "you ({me}) may {verb}; four-eyes {}",
                    if m.config.org.approval.four_eyes {
                        "on"
                    } else {
                        "off"
                    }
                ));
                None
            }
        },
    };
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Vote {
            id: id.to_string(),
            approve,
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

pub(super) fn popup_key(m: &mut Model, p: Popup, k: KeyEvent) -> Vec<Command> {
    match p {
        Popup::Help | Popup::Detail(_) | Popup::Message { .. } => {
            // Esc, Enter, q or ? close it; j/k, arrows, PgDn/PgUp, ^d/^u, g/G scroll;
            // `/` searches, n/N go to the next/previous match.
            let max = m.popup_max_scroll.get();
            let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
            if let Some((mut text, true)) = m.popup_search.take_if(|(_, typing)| *typing) {
                match k.code {
                    KeyCode::Esc => {}
                    KeyCode::Enter => {
                        // The matches of what was typed, as the last frame drew them.
                        let rows = m.popup_matches.borrow().clone();
                        let at = m.popup_scroll;
                        if let Some(r) = rows.iter().find(|r| **r >= at).or(rows.first()) {
                            m.popup_scroll = (*r).min(max);
                        }
                        m.popup_search = Some((text, false));
                    }
                    KeyCode::Backspace => {
                        text.pop();
                        m.popup_search = Some((text, true));
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        m.popup_search = Some((text, true));
                    }
                    _ => m.popup_search = Some((text, true)),
                }
                m.popup = Some(p);
                m.dirty = true;
                return Vec::new();
            }
            match k.code {
                KeyCode::Esc if m.popup_search.is_some() => m.popup_search = None,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => {
                    m.popup = None;
                    m.popup_scroll = 0;
                    m.popup_search = None;
                    return Vec::new();
                }
                KeyCode::Char('/') => m.popup_search = Some((String::new(), true)),
                KeyCode::Char('n') | KeyCode::Char('N') if m.popup_search.is_some() => {
                    let rows = m.popup_matches.borrow().clone();
                    let at = m.popup_scroll;
                    let next = if k.code == KeyCode::Char('n') {
                        rows.iter().find(|r| **r > at).or(rows.first())
                    } else {
                        rows.iter().rev().find(|r| **r < at).or(rows.last())
                    };
                    if let Some(r) = next {
                        m.popup_scroll = (*r).min(max);
                    }
                }
                KeyCode::Char('d') if ctrl => m.popup_scroll = (m.popup_scroll + 10).min(max),
                KeyCode::Char('u') if ctrl => m.popup_scroll = m.popup_scroll.saturating_sub(10),
                KeyCode::Char('j') | KeyCode::Down => {
                    m.popup_scroll = (m.popup_scroll + 1).min(max)
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    m.popup_scroll = m.popup_scroll.saturating_sub(1)
                }
                KeyCode::PageDown => m.popup_scroll = (m.popup_scroll + 10).min(max),
                KeyCode::PageUp => m.popup_scroll = m.popup_scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => m.popup_scroll = 0,
                KeyCode::Char('G') | KeyCode::End => m.popup_scroll = max,
                _ => {}
            }
            m.popup = Some(p);
            m.dirty = true;
            Vec::new()
        }
        Popup::Walk(v) => walk_key(m, v, k),
        Popup::Dialog(mut d) => {
            if k.code == KeyCode::Esc {
                m.popup = None;
                m.popup_scroll = 0;
                m.push_log("info", "cancelled; nothing recorded");
                return Vec::new();
            }
            // What the dialog says scrolls with the arrows and PgUp/PgDn when it is
            // longer than the screen (the prompt stays put; letters go to the reason).
            let max = m.popup_max_scroll.get();
            let scroll = match k.code {
                KeyCode::Down => Some((m.popup_scroll + 1).min(max)),
                KeyCode::Up => Some(m.popup_scroll.saturating_sub(1)),
                KeyCode::PageDown => Some((m.popup_scroll + 10).min(max)),
                KeyCode::PageUp => Some(m.popup_scroll.saturating_sub(10)),
                _ => None,
            };
            if let Some(s) = scroll {
                m.popup_scroll = s;
                m.popup = Some(Popup::Dialog(d));
                return Vec::new();
            }
            // Several runbooks apply: Tab chooses the next, keeping what was typed.
            if let (
                KeyCode::Tab,
                false,
                DialogAction::StartWalk {
                    name,
                    service,
                    others,
                },
            ) = (k.code, d.confirming, &d.action)
                && !others.is_empty()
            {
                let mut all: Vec<String> = others.clone();
                all.push(name.clone());
                let next = all.remove(0);
                walk_dialog(m, next, service.clone(), all);
                if let Some(Popup::Dialog(nd)) = &mut m.popup {
                    nd.reason = d.reason.clone();
                }
                return Vec::new();
            }
            if d.blocked.is_some() {
                if matches!(k.code, KeyCode::Enter | KeyCode::Char('q')) {
                    m.popup = None;
                }
                return Vec::new();
            }
            if d.confirming {
                return match k.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        m.popup = None;
                        m.popup_scroll = 0;
                        let (what, cmd) = match &d.action {
                            DialogAction::Promote { service, to } => (
                                format!("promote {service} -> {to}"),
                                Command::Request {
                                    service: service.clone(),
                                    to: to.clone(),
                                    reason: d.reason.clone(),
                                },
                            ),
                            DialogAction::Vote { id, approve } => (
                                format!("{} {id}", if *approve { "approve" } else { "reject" }),
                                Command::Vote {
                                    id: id.clone(),
                                    approve: *approve,
                                    reason: d.reason.clone(),
                                },
                            ),
                            DialogAction::Package { cmd, .. } => {
                                let cmd = cmd.clone().with_reason(&d.reason);
                                (cmd.describe(), Command::Package(cmd))
                            }
                            DialogAction::StartWalk { name, service, .. } => (
                                format!("runbook {name} for {service}"),
                                Command::RunbookStart {
                                    name: name.clone(),
                                    service: service.clone(),
                                },
                            ),
                            DialogAction::Silence { alert, labels } => {
                                let (minutes, comment) = silence_duration(&d.reason);
                                (
                                    format!("silence {alert}"),
                                    Command::Silence {
                                        alert: alert.clone(),
                                        matchers: crate::io::alertmanager::matchers_for(labels),
                                        minutes,
                                        created_by: m.identity.clone().unwrap_or_default(),
                                        comment,
                                    },
                                )
                            }
                        };
                        m.busy = Some(what);
                        vec![cmd]
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') => {
                        d.confirming = false;
                        m.popup = Some(Popup::Dialog(d));
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
            }
            match k.code {
                KeyCode::Enter => {
                    let needs_reason = matches!(
                        d.action,
                        DialogAction::Vote { approve: false, .. }
                            | DialogAction::Package {
                                needs_reason: true,
                                ..
                            }
                    );
                    let silence = matches!(d.action, DialogAction::Silence { .. });
                    if silence && silence_duration(&d.reason).1.is_empty() {
                        let say = "a silence needs a comment (why, and what is being done)";
                        d.info.retain(|l| l != say);
                        d.info.push(say.into());
                    } else if needs_reason && d.reason.trim().is_empty() {
                        d.info.retain(|l| l != "a rejection needs a reason");
                        d.info.push("a rejection needs a reason".into());
                    } else {
                        d.confirming = true;
                    }
                }
                KeyCode::Backspace => {
                    d.reason.pop();
                }
                KeyCode::Char(c)
                    if !k.modifiers.contains(KeyModifiers::CONTROL)
                        && d.reason.chars().count() < 200 =>
                {
                    d.reason.push(c);
                }
                _ => {}
            }
            m.popup = Some(Popup::Dialog(d));
            Vec::new()
        }
    }
}

/// Ask before starting a walk: which runbook, for which service, as whom, and the other
/// runbooks that apply (nothing is recorded until `y`).
pub(super) fn walk_dialog(m: &mut Model, name: String, service: String, others: Vec<String>) {
    let mut info = vec![
        format!("start runbook {name} for {service}"),
        "records the walk's start in the chain; its checks then run live and are recorded".into(),
    ];

    if !others.is_empty() {
        info.push(format!(
            "{} runbooks apply: ▸ {name} · {} (Tab chooses the next)",
            others.len() + 1,
            others.join(" · ")
        ));
    }
    let blocked = match &m.identity {
        Ok(me) => {
            info.push(format!("recorded and signed as {me}"));
            None
        }
        Err(e) => Some(format!("no identity: {e}")),
    };
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::StartWalk {
            name,
            service,
            others,
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}

/// A walk started by hand (the Runbooks panel, `:runbook`) for a service its runbook is
/// not written for: said in the dialog, not refused.
pub(super) fn note_unless_it_applies(m: &mut Model) {
    let Some(Popup::Dialog(d)) = &m.popup else {
        return;
    };
    let DialogAction::StartWalk { name, service, .. } = &d.action else {
        return;
    };
    let note = m
        .runbooks
        .iter()
        .find(|b| b.name == *name)
        .filter(|b| !b.runbook.applies(Some(service), None))
        .map(|_| format!("note: {name} does not list {service} in its applies_to (✦ in the Runbooks panel marks those that do)"));
    if let (Some(note), Some(Popup::Dialog(d))) = (note, &mut m.popup) {
        d.info.insert(1, note);
    }
}

/// A silence's length from the start of its comment ("30m rolling back" is 30 minutes,
/// "rolling back" the default 2 hours); (minutes, the rest of the comment). At most a week.
pub fn silence_duration(text: &str) -> (i64, String) {
    let text = text.trim();
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let unit = |u: &str| match u {
        "m" => Some(1),
        "h" => Some(60),
        "d" => Some(24 * 60),
        _ => None,
    };
    let split = first
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(first.len());
    let (n, u) = first.split_at(split);
    match (n.parse::<i64>(), unit(u)) {
        (Ok(n), Some(per)) if n > 0 => ((n * per).min(7 * 24 * 60), rest.trim().to_string()),
        _ => (120, text.to_string()),
    }
}

/// Ask before silencing an alert in Alertmanager: which alert, its exact matchers, for
/// how long, as whom. Nothing is sent until `y`.
pub(super) fn silence_dialog(m: &mut Model, row: &crate::app::model::AlertRow) {
    let url = m.config.org.monitoring.alertmanager_url.clone();
    let blocked = match (&url, &m.identity, row.source) {
        (None, _, _) => Some("no monitoring.alertmanager_url configured".to_string()),
        (_, _, src) if src != "prometheus" => Some(
            "this is gander's own alert (from the mode thresholds), not one in Alertmanager"
                .to_string(),
        ),
        (_, Err(e), _) => Some(format!("no identity to name as its creator: {e}")),
        _ => None,
    };
    let matchers: Vec<String> = row
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    let mut info = vec![
        format!(
            "silence {} for {} in Alertmanager {}",
            row.name,
            if row.service.is_empty() {
                "-"
            } else {
                &row.service
            },
            url.unwrap_or_default()
        ),
        "matching exactly these labels:".into(),
    ];
    info.extend(matchers.iter().map(|x| format!("  {x}")));
    info.push("for 2h; start the comment with 30m, 4h, 1d… for another length (at most 7d)".into());
    if let Ok(me) = &m.identity {
        info.push(format!("created by {me}"));
    }
    if blocked.is_some() {
        // Only what it would be; how it would be made does not apply.
        info.truncate(1);
    }
    if let Some(s) = &row.silenced {
        info.push(format!("already silenced {s}"));
    }
    m.popup = Some(Popup::Dialog(Dialog {
        action: DialogAction::Silence {
            alert: row.name.clone(),
            labels: row.labels.clone(),
        },
        info,
        reason: String::new(),
        confirming: false,
        blocked,
    }));
}
