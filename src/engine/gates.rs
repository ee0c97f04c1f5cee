//! Deciding checks and gates from facts. Pure: the time is `facts.now`.

use super::config::{Config, EvidenceKind, LoadedService};
use super::facts::{EvidenceVerdict, Facts, Known, ServiceFacts};
use super::policy::{Check, GateType, Stage};
use super::resolver::DepGraph;
use super::state_machine::StateMachine;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// Waiting for people (approvals), not failing.
    Pending,
    /// Evidence on file, but older than the allowed age.
    Stale,
    /// The input is unknown; unknown is never a pass.
    Unknown,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Pending => "pending",
            Status::Stale => "stale",
            Status::Unknown => "unknown",
            Status::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub check: Check,
    pub status: Status,
    pub reason: String,
    /// The evidence file that decided, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl CheckResult {
    fn new(check: Check, status: Status, reason: impl Into<String>) -> Self {
        CheckResult {
            check,
            status,
            reason: reason.into(),
            file: None,
        }
    }

    fn with_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub gate: String,
    #[serde(rename = "type")]
    pub kind: GateType,
    pub stage: Stage,
    /// The worst of its checks (advisory gates report it but never hold).
    pub status: Status,
    pub checks: Vec<CheckResult>,
}

impl GateResult {
    /// Does this gate hold the promotion?
    pub fn holds(&self) -> bool {
        self.kind != GateType::Advisory && self.status != Status::Pass
    }
}

/// Everything an evaluation needs, borrowed.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub graph: &'a DepGraph,
    pub facts: &'a Facts,
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0) as u64;
    super::config::Duration(if secs >= 3600 { secs / 60 * 60 } else { secs }).to_string()
}

fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{p:.2} %")
    } else {
        format!("{p:.1} %")
    }
}

impl Ctx<'_> {
    fn sm(&self) -> StateMachine<'_> {
        StateMachine::new(&self.config.rules)
    }

    /// The verdict of one check for `svc`, promoting into `to`.
    pub fn check(&self, check: Check, svc: &LoadedService, sf: &ServiceFacts) -> CheckResult {
        let now = self.facts.now;
        let ev = &self.config.org.evidence;
        match check {
            Check::DependenciesCompliant => self.dependencies_compliant(svc),
            Check::AllTestsPassing => self.evidence(check, sf, EvidenceKind::Tests),
            Check::SastClean => self.evidence(check, sf, EvidenceKind::Sast),
            Check::SbomValid => self.evidence(check, sf, EvidenceKind::Sbom),
            Check::TestCoverageThreshold => {
                let r = self.evidence(check, sf, EvidenceKind::Coverage);
                let Known::Known(map) = &sf.evidence else {
                    return r;
                };
                match map.get(&EvidenceKind::Coverage).and_then(|v| v.figure) {
                    Some(pct) if r.status == Status::Pass || r.status == Status::Fail => {
                        let ok = pct >= ev.coverage_threshold;
                        let status = if ok { Status::Pass } else { Status::Fail };
                        let cmp = if ok { ">=" } else { "<" };
                        CheckResult::new(
                            check,
                            status,
                            format!(
                                "line coverage {pct:.1} % {cmp} threshold {} %",
                                ev.coverage_threshold
                            ),
                        )
                        .with_file(&map[&EvidenceKind::Coverage].file)
                    }
                    _ => r,
                }
            }
            Check::EvidenceCollected => match &sf.evidence {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(map) => {
                    let mut missing = Vec::new();
                    let mut stale = Vec::new();
                    for kind in &ev.required {
                        match map.get(kind) {
                            None => missing.push(kind.as_str()),
                            Some(v) if self.is_stale(v) => stale.push(format!(
                                "{} ({} old)",
                                kind.as_str(),
                                ago(now, v.collected_at)
                            )),
                            Some(_) => {}
                        }
                    }
                    if missing.is_empty() && stale.is_empty() {
                        let kinds: Vec<&str> = ev.required.iter().map(|k| k.as_str()).collect();
                        CheckResult::new(
                            check,
                            Status::Pass,
                            if kinds.is_empty() {
                                "no evidence kind is required (evidence.required is empty)"
                                    .to_string()
                            } else {
                                format!("on file and fresh: {}", kinds.join(", "))
                            },
                        )
                    } else {
                        let mut parts = Vec::new();
                        if !missing.is_empty() {
                            parts.push(format!("missing: {}", missing.join(", ")));
                        }
                        if !stale.is_empty() {
                            parts.push(format!(
                                "stale (max age {}): {}",
                                ev.max_age,
                                stale.join(", ")
                            ));
                        }
                        let status = if missing.is_empty() {
                            Status::Stale
                        } else {
                            Status::Fail
                        };
                        CheckResult::new(check, status, parts.join("; "))
                    }
                }
            },
            Check::PerformanceBaselineMet => match &sf.performance {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(p) => {
                    let b = &svc.def.baseline;
                    let mut bad = Vec::new();
                    if p.p95_ms > b.p95_latency_ms {
                        bad.push(format!(
                            "p95 {:.0} ms > baseline {:.0} ms",
                            p.p95_ms, b.p95_latency_ms
                        ));
                    }
                    if p.error_rate > b.error_rate {
                        bad.push(format!(
                            "error rate {} > baseline {}",
                            percent(p.error_rate),
                            percent(b.error_rate)
                        ));
                    }
                    if (now - p.observed_at).num_seconds() > ev.max_age.secs() as i64 {
                        return CheckResult::new(
                            check,
                            Status::Stale,
                            format!(
                                "measured {} ago (max age {})",
                                ago(now, p.observed_at),
                                ev.max_age
                            ),
                        )
                        .with_file(&p.source);
                    }
                    if bad.is_empty() {
                        CheckResult::new(
                            check,
                            Status::Pass,
                            format!(
                                "p95 {:.0} ms <= {:.0} ms, error rate {} <= {}",
                                p.p95_ms,
                                b.p95_latency_ms,
                                percent(p.error_rate),
                                percent(b.error_rate)
                            ),
                        )
                        .with_file(&p.source)
                    } else {
                        CheckResult::new(check, Status::Fail, bad.join("; ")).with_file(&p.source)
                    }
                }
            },
            Check::EvidenceChainValid => match &self.facts.chain {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(c) => match &c.problem {
                    None if c.records == 0 => {
                        CheckResult::new(check, Status::Pass, "the chain is empty")
                    }
                    None => CheckResult::new(
                        check,
                        Status::Pass,
                        format!("{} records verify", c.records),
                    ),
                    Some(p) => CheckResult::new(check, Status::Fail, p.clone()),
                },
            },
            Check::SignaturesVerified => match &self.facts.chain {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(c) if c.unverified_signatures == 0 => CheckResult::new(
                    check,
                    Status::Pass,
                    format!("all {} records signed by allowed signers", c.records),
                ),
                Known::Known(c) => CheckResult::new(
                    check,
                    Status::Fail,
                    format!(
                        "{} of {} records have no signature from an allowed signer",
                        c.unverified_signatures, c.records
                    ),
                ),
            },
            Check::NoBlackout => match &sf.activities {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(acts) => {
                    let running: Vec<String> = acts
                        .iter()
                        .filter(|a| a.running_at(now))
                        .map(|a| {
                            let mut s = format!(
                                "{} running since {}",
                                a.kind.as_str(),
                                a.started_at.format("%Y-%m-%d %H:%M UTC")
                            );
                            if let Some(u) = a.until {
                                s.push_str(&format!(" (until {})", u.format("%H:%M UTC")));
                            }
                            s
                        })
                        .collect();
                    if running.is_empty() {
                        CheckResult::new(
                            check,
                            Status::Pass,
                            "no load test, backup or security scan running",
                        )
                    } else {
                        CheckResult::new(
                            check,
                            Status::Fail,
                            format!("blackout: {}", running.join("; ")),
                        )
                    }
                }
            },
            Check::SoakTimeElapsed => {
                let soak = self.config.org.approval.soak_time;
                if soak.secs() == 0 {
                    return CheckResult::new(check, Status::Pass, "no soak time configured");
                }
                match &sf.state_since {
                    Known::Unknown(why) => CheckResult::new(
                        check,
                        Status::Unknown,
                        format!("soak time is {soak}; time in state unknown: {why}"),
                    ),
                    Known::Known(since) => {
                        let held = (now - *since).num_seconds().max(0) as u64;
                        if held >= soak.secs() {
                            CheckResult::new(
                                check,
                                Status::Pass,
                                format!(
                                    "in `{}` for {}, soak time {soak}",
                                    svc.state(),
                                    ago(now, *since)
                                ),
                            )
                        } else {
                            CheckResult::new(
                                check,
                                Status::Fail,
                                format!(
                                    "in `{}` for {}, soak time is {soak} ({} to go)",
                                    self.facts.states.get(svc.name()).map_or(svc.state(), |s| s),
                                    ago(now, *since),
                                    super::config::Duration(soak.secs() - held)
                                ),
                            )
                        }
                    }
                }
            }
            Check::ApprovedPromotion => self.approvals(svc, sf),
            Check::ServiceHealthy => match &sf.health {
                Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
                Known::Known(h) => CheckResult::new(
                    check,
                    if h.ready { Status::Pass } else { Status::Fail },
                    h.summary.clone(),
                ),
            },
        }
    }

    fn is_stale(&self, v: &EvidenceVerdict) -> bool {
        (self.facts.now - v.collected_at).num_seconds()
            > self.config.org.evidence.max_age.secs() as i64
    }

    fn evidence(&self, check: Check, sf: &ServiceFacts, kind: EvidenceKind) -> CheckResult {
        match &sf.evidence {
            Known::Unknown(why) => CheckResult::new(check, Status::Unknown, why.clone()),
            Known::Known(map) => match map.get(&kind) {
                None => CheckResult::new(
                    check,
                    Status::Fail,
                    format!("no {} evidence on file", kind.as_str()),
                ),
                Some(v) if self.is_stale(v) => CheckResult::new(
                    check,
                    Status::Stale,
                    format!(
                        "{} (collected {} ago, max age {})",
                        v.summary,
                        ago(self.facts.now, v.collected_at),
                        self.config.org.evidence.max_age
                    ),
                )
                .with_file(&v.file),
                Some(v) => CheckResult::new(
                    check,
                    if v.passed { Status::Pass } else { Status::Fail },
                    v.summary.clone(),
                )
                .with_file(&v.file),
            },
        }
    }

    /// Every upstream service (transitively) must be in a compliant state.
    pub fn dependencies_compliant(&self, svc: &LoadedService) -> CheckResult {
        let check = Check::DependenciesCompliant;
        if let Some(cycle) = self.graph.cycle_through(svc.name()) {
            return CheckResult::new(
                check,
                Status::Fail,
                format!("in a dependency cycle: {}", cycle.join(" -> ")),
            );
        }
        let sm = self.sm();
        let ups = self.graph.upstream_via(svc.name());
        if ups.is_empty() {
            return CheckResult::new(check, Status::Pass, "no dependencies");
        }
        // Name the first few in full; a long tail is counted (a reason is read by a
        // person, and a fleet of a thousand must not pay for a thousand strings).
        const NAMED: usize = 8;
        let mut bad = Vec::new();
        let mut more = 0usize;
        for (up, via) in &ups {
            let state = self.facts.states.get(*up).map(String::as_str);
            match state {
                Some(s) if sm.is_compliant(s) => {}
                _ if bad.len() >= NAMED => more += 1,
                other => {
                    let s = other.unwrap_or("unknown");
                    if up == via {
                        bad.push(format!("{up} is {s}"));
                    } else {
                        bad.push(format!("{up} is {s} (via {via})"));
                    }
                }
            }
        }
        if bad.is_empty() {
            let names: Vec<&str> = ups.iter().take(NAMED).map(|(u, _)| *u).collect();
            let tail = if ups.len() > NAMED {
                format!(" and {} more", ups.len() - NAMED)
            } else {
                String::new()
            };
            CheckResult::new(
                check,
                Status::Pass,
                format!("all compliant: {}{tail}", names.join(", ")),
            )
        } else {
            let tail = if more > 0 {
                format!(" and {more} more not compliant")
            } else {
                String::new()
            };
            CheckResult::new(
                check,
                Status::Fail,
                format!(
                    "{}{tail} (needs {})",
                    bad.join(", "),
                    self.config.rules.compliant_states.join(" or ")
                ),
            )
        }
    }

    fn approvals(&self, svc: &LoadedService, sf: &ServiceFacts) -> CheckResult {
        let check = Check::ApprovedPromotion;
        let policy = &self.config.org.approval;
        let eligible = self.config.approvers_of(&svc.def);
        let need = policy.required_approvals as usize;
        let who = if eligible.is_empty() {
            "nobody is eligible: set `approvers` on the service or `approval.default_approvers`"
                .to_string()
        } else {
            format!("from {}", eligible.join(", "))
        };
        let req = match &sf.request {
            Known::Unknown(why) => return CheckResult::new(check, Status::Unknown, why.clone()),
            Known::Known(None) => {
                return CheckResult::new(
                    check,
                    Status::Pending,
                    format!(
                        "not requested yet; needs {} {who}",
                        crate::diag::count(need, "approval", "approvals")
                    ),
                );
            }
            Known::Known(Some(r)) => r,
        };
        if let Some(rej) = req.rejections.first() {
            return CheckResult::new(
                check,
                Status::Fail,
                format!("rejected by {}: {}", rej.by, rej.reason),
            );
        }
        let (counted, ignored) = super::authority::count_approvals(
            self.config,
            svc.name(),
            &req.requester,
            req.requester_key.as_deref(),
            req.approvals.iter().map(|a| super::authority::Ballot {
                by: &a.by,
                key: a.key.as_deref(),
                at: a.at,
                signed: a.signed,
            }),
            self.facts.now,
        );
        let ignored: Vec<String> = ignored
            .into_iter()
            .map(|(by, w)| format!("{by}'s approval does not count ({w})"))
            .collect();
        // Once requested, who may still approve: never the requester (four-eyes).
        let others = super::authority::approvers_besides(self.config, svc.name(), &req.requester);
        let who = if others.is_empty() {
            "nobody else is eligible: set `approvers` on the service or `approval.default_approvers`".to_string()
        } else {
            format!("from {}", others.join(" or "))
        };
        let mut reason = if counted.is_empty() {
            format!("0 of {need} approvals; needs {need} {who}")
        } else if counted.len() < need {
            // Whom to ask for the rest: not those whose approvals already count.
            let rest: Vec<&String> = others
                .iter()
                .filter(|o| !counted.contains(&o.as_str()))
                .collect();
            format!(
                "{} of {need} approvals ({}); needs {} more {}",
                counted.len(),
                counted.join(", "),
                need - counted.len(),
                if rest.is_empty() {
                    "(nobody else is eligible)".to_string()
                } else {
                    format!(
                        "from {}",
                        rest.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                }
            )
        } else {
            format!(
                "{} of {need} approvals ({})",
                counted.len().min(need),
                counted.join(", ")
            )
        };
        if !ignored.is_empty() {
            reason.push_str("; ");
            reason.push_str(&ignored.join("; "));
        }
        let status = if counted.len() >= need {
            Status::Pass
        } else {
            Status::Pending
        };
        CheckResult::new(check, status, reason)
    }
}

/// Combine check verdicts into the gate's status: the worst of them.
pub fn worst(checks: &[CheckResult]) -> Status {
    checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Pass)
}
