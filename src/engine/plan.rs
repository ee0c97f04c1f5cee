//! A promotion plan (`gander promote --dry-run`) and a service's status
//! (`gander status`): the same structs the console will show.

use super::config::{Config, DepKind, Mode};
use super::facts::{Facts, ServiceFacts};
use super::gates::{CheckResult, Ctx, GateResult, Status, worst};
use super::policy::CheckRef;
use super::resolver::DepGraph;
use super::state_machine::{Refusal, StateMachine};
use serde::Serialize;

/// What would happen if the promotion were requested now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement and gate passes.
    Ready,
    /// Everything passes except manual gates that wait for approvals.
    AwaitingApproval,
    /// A requirement or blocking gate fails or is unknown.
    Blocked,
    /// The state machine does not allow this transition.
    Refused,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::AwaitingApproval => "awaiting approval",
            Verdict::Blocked => "blocked",
            Verdict::Refused => "refused",
        }
    }

    /// Exit code for scripts: 0 when the promotion can go ahead (approvals are a
    /// normal next step), 1 when something fails.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ready | Verdict::AwaitingApproval => 0,
            Verdict::Blocked | Verdict::Refused => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub service: String,
    pub from: String,
    pub to: String,
    pub verdict: Verdict,
    /// Set when the transition is a demotion (never held by gates).
    pub demotion: Option<String>,
    /// Set when the state machine refuses the transition.
    pub refusal: Option<Refusal>,
    /// What entering `to` requires, each with its verdict.
    pub requirements: Vec<CheckResult>,
    pub gates: Vec<GateResult>,
    /// One line per thing that holds the promotion, for people.
    pub blockers: Vec<String>,
}

/// Evaluate promoting `service` to `to` against the facts.
pub fn plan(
    config: &Config,
    graph: &DepGraph,
    facts: &Facts,
    service: &str,
    to: &str,
) -> Option<Plan> {
    let svc = config.service(service)?;
    let from = facts
        .states
        .get(service)
        .cloned()
        .unwrap_or_else(|| svc.state().to_string());
    let sm = StateMachine::new(&config.rules);
    let ctx = Ctx {
        config,
        graph,
        facts,
    };
    let sf = facts
        .services
        .get(service)
        .cloned()
        .unwrap_or_else(ServiceFacts::unknown);
    let (refusal, demotion) = match sm.transition(&from, to) {
        Ok(t) => (None, t.demotion.map(str::to_string)),
        Err(r) => (Some(r), None),
    };
    let mut requirements = Vec::new();
    let mut gates = Vec::new();
    if let Some(def) = config.rules.states.get(to) {
        if demotion.is_none() {
            requirements = CheckRef::known(&def.requirements)
                .map(|c| ctx.check(c, svc, &sf))
                .collect();
            for name in &def.gates {
                let Some(g) = config.gates.gates.get(name) else {
                    continue;
                };
                let checks: Vec<CheckResult> = CheckRef::known(&g.checks)
                    .map(|c| ctx.check(c, svc, &sf))
                    .collect();
                gates.push(GateResult {
                    gate: name.clone(),
                    kind: g.kind,
                    stage: g.stage,
                    status: worst(&checks),
                    checks,
                });
            }
        }
    }
    let mut blockers = Vec::new();
    if let Some(r) = &refusal {
        blockers.push(r.to_string());
    }
    let mut waiting = false;
    for r in &requirements {
        match r.status {
            Status::Pass => {}
            Status::Pending => waiting = true,
            _ => blockers.push(format!(
                "requirement {}: {}: {}",
                r.check,
                r.status.as_str(),
                r.reason
            )),
        }
    }
    for g in gates.iter().filter(|g| g.holds()) {
        for c in g.checks.iter().filter(|c| c.status != Status::Pass) {
            if c.status == Status::Pending {
                waiting = true;
                continue;
            }
            blockers.push(format!(
                "gate {} ({}): {} {}: {}",
                g.gate,
                match g.kind {
                    super::policy::GateType::Blocking => "blocking",
                    super::policy::GateType::Manual => "manual",
                    super::policy::GateType::Advisory => "advisory",
                },
                c.check,
                c.status.as_str(),
                c.reason
            ));
        }
    }
    let verdict = if refusal.is_some() {
        Verdict::Refused
    } else if !blockers.is_empty() {
        Verdict::Blocked
    } else if waiting {
        Verdict::AwaitingApproval
    } else {
        Verdict::Ready
    };
    Some(Plan {
        service: service.to_string(),
        from,
        to: to.to_string(),
        verdict,
        demotion,
        refusal,
        requirements,
        gates,
        blockers,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyRef {
    pub service: String,
    pub kind: DepKind,
    pub state: String,
}

/// How many names of a service's transitive upstream and downstream `status` lists.
pub const REACH_NAMED: usize = 100;

/// One service's line in `gander status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub mode: Mode,
    pub state: String,
    pub version: Option<String>,
    pub owners: Vec<String>,
    pub dependencies: Vec<DependencyRef>,
    /// Everything it depends on, directly or not: the first [`REACH_NAMED`] by name,
    /// and how many in all (at thousands of services the whole lists would be millions
    /// of names; `dependencies` gives the graph whole).
    pub upstream: Vec<String>,
    pub upstream_total: usize,
    /// Everything that depends on it (its blast radius), as `upstream`.
    pub downstream: Vec<String>,
    pub downstream_total: usize,
    /// The next promotion and what holds it; `None` at the top of the state machine.
    pub next: Option<Plan>,
}

/// The status of every service, in promotion order when the graph is acyclic (by name
/// otherwise).
pub fn status(config: &Config, graph: &DepGraph, facts: &Facts) -> Vec<ServiceStatus> {
    status_with(config, graph, facts, true)
}

/// As [`status`]; without `reach` the transitive `upstream`/`downstream` lists are left
/// empty (the console asks the graph for them on demand: at a thousand services they
/// are a million names).
pub fn status_with(
    config: &Config,
    graph: &DepGraph,
    facts: &Facts,
    reach: bool,
) -> Vec<ServiceStatus> {
    let sm = StateMachine::new(&config.rules);
    let order: Vec<String> = match graph.order() {
        Ok(o) => o.into_iter().map(str::to_string).collect(),
        Err(_) => config
            .services
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
    };
    order
        .iter()
        .filter_map(|name| config.service(name))
        .map(|svc| status_of(config, graph, facts, &sm, svc, reach))
        .collect()
}

/// One service's status: what [`status_with`] computes for each. A service's status
/// reads its own facts and the states of the others, so when only its live facts
/// changed, it alone needs recomputing.
pub fn status_of(
    config: &Config,
    graph: &DepGraph,
    facts: &Facts,
    sm: &StateMachine,
    svc: &crate::engine::config::LoadedService,
    reach: bool,
) -> ServiceStatus {
    let state_of = |n: &str| {
        facts
            .states
            .get(n)
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    };
    let (up, down) = if reach {
        (graph.upstream(svc.name()), graph.downstream(svc.name()))
    } else {
        (Vec::new(), Vec::new())
    };
    let named = |all: &[&str]| -> Vec<String> {
        all.iter()
            .take(REACH_NAMED)
            .map(|s| s.to_string())
            .collect()
    };
    let state = state_of(svc.name());
    let next = sm
        .promotions_from(&state)
        .first()
        .and_then(|to| plan(config, graph, facts, svc.name(), to));
    ServiceStatus {
        service: svc.name().to_string(),
        mode: svc.def.spec.compliance_mode,
        state,
        version: svc.def.spec.version.clone(),
        owners: svc.def.owners.clone(),
        dependencies: graph
            .direct(svc.name())
            .into_iter()
            .map(|(d, kind)| DependencyRef {
                service: d.to_string(),
                kind,
                state: state_of(d),
            })
            .collect(),
        upstream: named(&up),
        upstream_total: up.len(),
        downstream: named(&down),
        downstream_total: down.len(),
        next,
    }
}
