//! `gander status`: each service's state, dependencies and what holds its next step.

use super::{EXIT_OK, output};
use crate::engine::facts::Facts;
use crate::engine::gates::Status;
use crate::engine::live::LiveService;
use crate::engine::plan::{self, ServiceStatus, Verdict};
use crate::engine::resolver::DepGraph;
use chrono::Utc;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the status as JSON
    #[arg(long)]
    pub json: bool,
    /// Only this service (repeatable)
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Do not poll the services: configuration only
    #[arg(long)]
    pub offline: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    status: &'a ServiceStatus,
    /// What one poll round saw; null offline or without endpoints.
    live: Option<&'a LiveService>,
}

#[derive(Serialize)]
struct Report<'a> {
    org: &'a str,
    generated_at: String,
    /// Sources the poll round could not reach: service names, and `prometheus`
    /// (exit code 3 when not empty).
    unreachable: &'a [String],
    /// The Prometheus server's figures and alerts, when one is configured.
    prometheus: Option<&'a crate::ops::live::PromReport>,
    /// Alerts gander evaluated itself from the mode thresholds (when Prometheus
    /// alerting is not configured or not reachable).
    local_alerts: &'a [crate::engine::alerts::LocalAlert],
    services: Vec<Entry<'a>>,
}

pub fn run(config: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for s in &args.services {
        if config.service(s).is_none() {
            let names: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
            crate::err!(
                "gander: no service `{s}` in {}{}",
                located.dir.display(),
                crate::engine::diag::suggest(s, names.iter().copied())
                    .map(|h| format!("\n  help: {h}"))
                    .unwrap_or_default()
            );
            return super::EXIT_USAGE;
        }
    }
    let now = Utc::now();
    let graph = DepGraph::from_config(&config);
    let mut facts = Facts::from_config(&config, now);
    let round = if args.offline {
        None
    } else {
        match super::poll_once(&config, &mut facts) {
            Ok(r) => Some(r),
            Err(code) => return code,
        }
    };
    let board = round.as_ref().and_then(|r| r.board.clone());
    let prometheus = round.as_ref().and_then(|r| r.prometheus.clone());
    let unreachable_sources = round.as_ref().map(|r| r.unreachable()).unwrap_or_default();
    super::read_store_into(state.as_deref(), &located.dir, &config, &mut facts);
    let live_of = |name: &str| board.as_ref().and_then(|b| b.services.get(name));
    let mut all = plan::status(&config, &graph, &facts);
    if !args.services.is_empty() {
        all.retain(|s| args.services.contains(&s.service));
    }
    let unreachable = &unreachable_sources;
    let local_alerts = match (&board, &prometheus) {
        (Some(b), None) => crate::engine::alerts::evaluate(&config, b),
        (Some(b), Some(p)) if !p.reachable => crate::engine::alerts::evaluate(&config, b),
        _ => Vec::new(),
    };
    let code = if unreachable.is_empty() {
        EXIT_OK
    } else {
        super::EXIT_UNREACHABLE
    };
    if args.json {
        output::print_json(
            "status",
            &Report {
                org: &config.org.org.name,
                generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                unreachable,
                prometheus: prometheus.as_ref(),
                local_alerts: &local_alerts,
                services: all
                    .iter()
                    .map(|s| Entry {
                        status: s,
                        live: live_of(&s.service),
                    })
                    .collect(),
            },
        );
        return code;
    }
    crate::out!(
        "{}: {}, in promotion order ({})",
        config.org.org.name,
        crate::diag::count(all.len(), "service", "services"),
        now.format("%Y-%m-%d %H:%M UTC")
    );
    if round.as_ref().is_some_and(|r| r.through_prometheus) {
        crate::out!(
            "Live: every service through Prometheus (more than monitoring.direct_poll_limit = {}), figures over its query's range; states, approvals, evidence and the chain from the store. Unknown never passes.",
            config.org.monitoring.direct_poll_limit
        );
    } else if board.is_some() {
        crate::out!(
            "Live: each service's health polled now, p95 and errors over the window OVER names (two scrapes apart, or Prometheus's range); states, approvals, evidence and the chain from the store. Unknown never passes."
        );
    } else {
        crate::out!(
            "Offline: no poll, so health and metrics are unknown; states, approvals, evidence and the chain from the store. Unknown never passes."
        );
    }
    let w = all
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let ws = all.iter().map(|s| s.state.len()).max().unwrap_or(5).max(5);
    crate::out!();
    if board.is_some() {
        crate::out!(
            "  {:<w$}  {:<ws$}  {:>7}  {:>6}  {:<11}  HEALTH",
            "SERVICE",
            "STATE",
            "P95",
            "ERRORS",
            "OVER"
        );
        for s in &all {
            let l = live_of(&s.service);
            let p95 = l
                .and_then(|l| l.p95_ms)
                .map_or("-".into(), |v| format!("{v:.0}ms"));
            let err = l
                .and_then(|l| l.error_rate)
                .map_or("-".into(), |v| format!("{:.1}%", v * 100.0));
            let over = l
                .and_then(|l| l.window.as_ref())
                .map_or("-".into(), |w| w.short());
            let health = l.map_or("not polled".into(), |l| l.cell(now));
            crate::out!(
                "  {:<w$}  {:<ws$}  {p95:>7}  {err:>6}  {over:<11}  {health}",
                s.service,
                s.state
            );
        }
        crate::out!();
    }
    crate::out!("  {:<w$}  {:<ws$}  NEXT", "SERVICE", "STATE");
    for s in &all {
        let next = match &s.next {
            None => "none (top of the state machine)".to_string(),
            Some(p) => format!("-> {}: {}", p.to, p.verdict.as_str()),
        };
        crate::out!("  {:<w$}  {:<ws$}  {next}", s.service, s.state);
    }
    for s in &all {
        crate::out!();
        let deps = if s.dependencies.is_empty() {
            "no dependencies".to_string()
        } else {
            format!(
                "depends on {}",
                s.dependencies
                    .iter()
                    .map(|d| format!("{} ({}, {})", d.service, d.kind.as_str(), d.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let down = if s.downstream.is_empty() {
            String::new()
        } else {
            // A person reads this: the first few, then a count.
            const NAMED: usize = 8;
            let more = s.downstream_total.saturating_sub(NAMED);
            format!(
                "; needed by {}{}",
                s.downstream[..s.downstream.len().min(NAMED)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        crate::out!("{} [{}]: {deps}{down}", s.service, s.state);
        match &s.next {
            None => crate::out!("  at the top: the only way on is a demotion"),
            Some(p) => {
                crate::out!("  next: {} -> {}: {}", p.from, p.to, p.verdict.as_str());
                if p.verdict == Verdict::Ready {
                    continue;
                }
                for r in &p.requirements {
                    if r.status != Status::Pass {
                        crate::out!("{}", output::check_line("    ", r));
                    }
                }
                for g in p.gates.iter().filter(|g| g.holds()) {
                    for c in g.checks.iter().filter(|c| c.status != Status::Pass) {
                        if p.requirements.iter().any(|r| r.check == c.check) {
                            continue;
                        }
                        crate::out!("{} [gate {}]", output::check_line("    ", c), g.gate);
                    }
                }
            }
        }
    }
    if !unreachable.is_empty() {
        crate::err!("gander: could not reach: {}", unreachable.join(", "));
    }
    code
}
