//! Cross-file checks after parsing: policies against each other, every service
//! (references, URLs, probe paths, secrets), and dependency cycles. The org config's own
//! checks are in `org_checks`.

use super::Parsed;
use crate::engine::config::{OrgConfig, ServiceFile};
use crate::engine::diag::{Diagnostic, Pos, suggest};
use crate::engine::policy::{Check, GatesFile, RulesFile};
use crate::engine::resolver::DepGraph;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(super) fn check_policies(
    rules: &Parsed<RulesFile>,
    gates: &Parsed<GatesFile>,
    diags: &mut Vec<Diagnostic>,
) {
    let r = &rules.value;
    let states: Vec<&str> = r.states.keys().map(String::as_str).collect();
    let file = &rules.path;
    let undefined = |what: &str, s: &str, pos: Pos| {
        Diagnostic::error(file, pos, format!("{what} `{s}` is not a defined state"))
            .with_help_opt(suggest(s, states.iter().copied()))
    };
    if !r.states.contains_key(&r.initial_state) {
        diags.push(undefined(
            "initial_state",
            &r.initial_state,
            rules.node.locate(&["initial_state"]),
        ));
    }
    for (i, s) in r.compliant_states.iter().enumerate() {
        if !r.states.contains_key(s) {
            let idx = i.to_string();
            diags.push(undefined(
                "compliant state",
                s,
                rules.node.locate(&["compliant_states", &idx]),
            ));
        }
    }
    let mut used_gates = BTreeSet::new();
    let check_names = || Check::ALL.into_iter().map(Check::as_str);
    let unknown_check = |file: &str, c: &str, pos: Pos| {
        Diagnostic::error(file, pos, format!("unknown check `{c}`"))
            .with_help_opt(suggest(c, check_names()))
    };
    for (name, def) in &r.states {
        for (i, c) in def.requirements.iter().enumerate() {
            if c.check.is_none() {
                let idx = i.to_string();
                diags.push(unknown_check(
                    file,
                    &c.name,
                    rules.node.locate(&["states", name, "requirements", &idx]),
                ));
            }
        }
        for (i, t) in def.allowed_transitions.iter().enumerate() {
            if !r.states.contains_key(t) {
                let idx = i.to_string();
                let pos = rules
                    .node
                    .locate(&["states", name, "allowed_transitions", &idx]);
                diags.push(
                    Diagnostic::error(
                        file,
                        pos,
                        format!("transition from `{name}` to undefined state `{t}`"),
                    )
                    .with_help_opt(suggest(t, states.iter().copied()).or(
                        Some(format!(
                            "define `{t}` under `states:` or remove it from allowed_transitions"
                        )),
                    )),
                );
            }
        }
        for (i, g) in def.gates.iter().enumerate() {
            used_gates.insert(g.as_str());
            if !gates.value.gates.contains_key(g) {
                let idx = i.to_string();
                let pos = rules.node.locate(&["states", name, "gates", &idx]);
                diags.push(
                    Diagnostic::error(file, pos, format!("unknown gate `{g}` in state `{name}`"))
                        .with_help_opt(
                            suggest(g, gates.value.gates.keys().map(String::as_str))
                                .map(|s| format!("{s} (gates are defined in {})", gates.path)),
                        ),
                );
            }
        }
    }
    for (i, d) in r.demotions.iter().enumerate() {
        let idx = i.to_string();
        for (key, s) in [("from", &d.from), ("to", &d.to)] {
            if !r.states.contains_key(s) {
                diags.push(undefined(
                    "demotion state",
                    s,
                    rules.node.locate(&["demotions", &idx, key]),
                ));
            }
        }
        if r.states
            .get(&d.from)
            .is_some_and(|f| !f.allowed_transitions.contains(&d.to))
        {
            diags.push(
                Diagnostic::error(
                    file,
                    rules.node.locate(&["demotions", &idx]),
                    format!(
                        "demotion `{} -> {}` is not an allowed transition",
                        d.from, d.to
                    ),
                )
                .with_help(format!(
                    "add `{}` to states.{}.allowed_transitions",
                    d.to, d.from
                )),
            );
        }
    }
    for (name, def) in &gates.value.gates {
        for (i, c) in def.checks.iter().enumerate() {
            if c.check.is_none() {
                let idx = i.to_string();
                diags.push(unknown_check(
                    &gates.path,
                    &c.name,
                    gates.node.locate(&["gates", name, "checks", &idx]),
                ));
            }
        }
        if def.checks.is_empty() {
            diags.push(
                Diagnostic::error(
                    &gates.path,
                    gates.node.locate(&["gates", name, "checks"]),
                    format!("gate `{name}` has no checks"),
                )
                .with_help("list at least one check, or remove the gate"),
            );
        }
        if !used_gates.contains(name.as_str()) {
            diags.push(
                Diagnostic::warning(
                    &gates.path,
                    gates.node.locate_key(&["gates", name]),
                    format!("gate `{name}` is not used by any state"),
                )
                .with_help(format!("add it to a state's `gates:` in {file}")),
            );
        }
    }
}

pub(super) fn check_url(file: &str, url: &str, pos: Pos, diags: &mut Vec<Diagnostic>) {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        diags.push(
            Diagnostic::error(file, pos, format!("`{url}` is not an http(s) URL"))
                .with_help("write it as http://host:port or https://host:port"),
        );
    }
}

pub(super) fn check_services(
    services: &[Parsed<ServiceFile>],
    org: Option<&Parsed<OrgConfig>>,
    rules: Option<&Parsed<RulesFile>>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, usize> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in services.iter().enumerate() {
        let name = &p.value.service.name;
        let pos = p.node.locate(&["service", "name"]);
        if let Some(&first) = names.get(name) {
            let f = &services[first];
            let fpos = f.node.locate(&["service", "name"]);
            diags.push(
                Diagnostic::error(&p.path, pos, format!("duplicate service name `{name}`"))
                    .with_help(format!(
                        "`{name}` is already defined at {}:{}:{}; rename one of them",
                        f.path, fpos.line, fpos.column
                    )),
            );
        } else {
            names.insert(name.clone(), i);
        }
        if let Err(why) = crate::engine::names::check(name) {
            diags.push(
                Diagnostic::error(
                    &p.path,
                    pos,
                    format!("service name `{}` is not a valid name: {why}", name.escape_debug()),
                )
                .with_help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit (it names directories in the audit store)"),
            );
        }
    }
    let all: Vec<&str> = names.keys().map(String::as_str).collect();
    for p in services {
        let s = &p.value.service;
        let file = &p.path;
        for (kind, list) in [
            ("runtime", &s.spec.dependencies.runtime),
            ("data", &s.spec.dependencies.data),
            ("security", &s.spec.dependencies.security),
        ] {
            let mut seen = HashMap::new();
            for (i, d) in list.iter().enumerate() {
                let idx = i.to_string();
                let pos = p
                    .node
                    .locate(&["service", "spec", "dependencies", kind, &idx]);
                if !names.contains_key(d) {
                    diags.push(
                        Diagnostic::error(
                            file,
                            pos,
                            format!("`{}` depends on unknown service `{d}`", s.name),
                        )
                        .with_help_opt(suggest(d, all.iter().copied()).or(
                            Some(format!(
                                "define it in services/{d}.yaml or remove the dependency"
                            )),
                        )),
                    );
                }
                if let Some(first) = seen.insert(d.as_str(), i) {
                    diags.push(
                        Diagnostic::warning(
                            file,
                            pos,
                            format!("`{d}` is listed twice in {kind} dependencies"),
                        )
                        .with_help(format!(
                            "remove one of the entries (the first is item {})",
                            first + 1
                        )),
                    );
                }
            }
        }
        if let (Some(state), Some(r)) = (&s.spec.compliance_state, rules) {
            if !r.value.states.contains_key(state) {
                diags.push(
                    Diagnostic::error(
                        file,
                        p.node.locate(&["service", "spec", "compliance_state"]),
                        format!("unknown compliance_state `{state}`"),
                    )
                    .with_help_opt(suggest(state, r.value.states.keys().map(String::as_str))),
                );
            }
        } else if let Some(r) = rules {
            let mode = s.spec.compliance_mode.as_str();
            if !r.value.states.contains_key(mode) {
                diags.push(
                    Diagnostic::error(
                        file,
                        p.node.locate(&["service", "spec", "compliance_mode"]),
                        format!("compliance_mode `{mode}` is not a state in {}", r.path),
                    )
                    .with_help("set `compliance_state:` to one of the states"),
                );
            }
        }
        if let Some(o) = org {
            for (i, who) in s.approvers.iter().enumerate() {
                if let Some(g) = who.strip_prefix("group:") {
                    if !o.value.approval.groups.contains_key(g) {
                        diags.push(
                            Diagnostic::error(
                                file,
                                p.node.locate(&["service", "approvers", &i.to_string()]),
                                format!("unknown approver group `{g}`"),
                            )
                            .with_help_opt(
                                suggest(g, o.value.approval.groups.keys().map(String::as_str)).or(
                                    Some(format!("define it under approval.groups in {}", o.path)),
                                ),
                            ),
                        );
                    }
                }
            }
        }
        if let Some(e) = &s.endpoints {
            check_url(
                file,
                &e.health_base_url,
                p.node.locate(&["service", "endpoints", "health_base_url"]),
                diags,
            );
            if let Some(m) = &e.metrics_url {
                check_url(
                    file,
                    m,
                    p.node.locate(&["service", "endpoints", "metrics_url"]),
                    diags,
                );
            }
            for (key, path) in [
                ("live", &e.probes.live),
                ("ready", &e.probes.ready),
                ("startup", &e.probes.startup),
                ("health", &e.probes.health),
            ] {
                if !path.starts_with('/') {
                    diags.push(
                        Diagnostic::error(
                            file,
                            p.node.locate(&["service", "endpoints", "probes", key]),
                            format!("probe path `{path}` must start with `/`"),
                        )
                        .with_help(format!("write it as `/{path}`")),
                    );
                }
            }
        }
        let b = &s.baseline;
        if b.p95_latency_ms <= 0.0 || !b.p95_latency_ms.is_finite() {
            diags.push(Diagnostic::error(
                file,
                p.node.locate(&["service", "baseline", "p95_latency_ms"]),
                "p95_latency_ms must be a positive number of milliseconds",
            ));
        }
        if !(0.0..=1.0).contains(&b.error_rate) {
            diags.push(
                Diagnostic::error(
                    file,
                    p.node.locate(&["service", "baseline", "error_rate"]),
                    format!("error_rate {} is not a fraction", b.error_rate),
                )
                .with_help("write 1 % as 0.01"),
            );
        }
    }
    names
}

pub(super) fn check_cycles(
    services: &[Parsed<ServiceFile>],
    names: &BTreeMap<String, usize>,
    diags: &mut Vec<Diagnostic>,
) {
    let graph = DepGraph::new(
        names.keys().map(String::as_str),
        names.values().flat_map(|&i| {
            let s = &services[i].value.service;
            s.spec
                .dependencies
                .all()
                .map(move |(k, d)| (s.name.as_str(), d, k))
        }),
    );
    let found = graph.cycles();
    for cycle in &found.cycles {
        // Point at the first service's dependency entry that starts the cycle.
        let (a, b) = (&cycle[0], &cycle[1]);
        let p = &services[names[a]];
        let deps = &p.value.service.spec.dependencies;
        let pos = deps
            .all()
            .enumerate()
            .find(|(_, (_, d))| d == b)
            .map(|(_, (k, d))| {
                let idx = deps
                    .of(k)
                    .iter()
                    .position(|x| x == d)
                    .unwrap_or(0)
                    .to_string();
                p.node
                    .locate(&["service", "spec", "dependencies", k.as_str(), &idx])
            })
            .unwrap_or_else(|| p.node.locate(&["service", "spec", "dependencies"]));
        diags.push(
            Diagnostic::error(&p.path, pos, format!("dependency cycle: {}", cycle.join(" -> ")))
                .with_help("services in a cycle can never be promoted dependencies-first; remove one of these dependencies"),
        );
    }
    if found.truncated {
        let first = &found.cycles[0][0];
        let p = &services[names[first]];
        diags.push(Diagnostic::error(
            &p.path,
            p.node.locate(&["service", "spec", "dependencies"]),
            format!(
                "more dependency cycles exist than are listed (at most {} per tangle)",
                crate::engine::resolver::MAX_CYCLES_PER_COMPONENT
            ),
        ));
    }
}
