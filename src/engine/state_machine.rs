//! The compliance state machine, driven by `compliance_rules.yaml`.

use super::diag::suggest;
use super::policy::{CheckRef, RulesFile};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

pub struct StateMachine<'a> {
    rules: &'a RulesFile,
}

/// A transition the rules allow (its requirements and gates still have to pass).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// Why this is a demotion, when it is one.
    pub demotion: Option<&'a str>,
    pub requirements: &'a [CheckRef],
    pub gates: &'a [String],
}

/// Why the rules refuse a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    UnknownState {
        state: String,
        help: Option<String>,
    },
    AlreadyThere {
        state: String,
    },
    NotAllowed {
        from: String,
        to: String,
        allowed: Vec<String>,
        /// The shortest allowed route, when there is one.
        path: Option<Vec<String>>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::UnknownState { state, help } => {
                write!(f, "`{state}` is not a state in compliance_rules.yaml")?;
                if let Some(h) = help {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            Refusal::AlreadyThere { state } => write!(f, "the service is already `{state}`"),
            Refusal::NotAllowed {
                from,
                to,
                allowed,
                path,
            } => {
                write!(f, "`{from}` cannot go to `{to}` directly")?;
                if allowed.is_empty() {
                    write!(f, "; `{from}` allows no transitions")?;
                } else {
                    write!(f, "; from `{from}` the rules allow: {}", allowed.join(", "))?;
                }
                match path {
                    Some(p) => write!(f, "; promote step by step: {}", p.join(" -> ")),
                    None => write!(f, "; no sequence of allowed transitions reaches `{to}`"),
                }
            }
        }
    }
}

impl<'a> StateMachine<'a> {
    pub fn new(rules: &'a RulesFile) -> Self {
        StateMachine { rules }
    }

    pub fn is_state(&self, s: &str) -> bool {
        self.rules.states.contains_key(s)
    }

    pub fn is_compliant(&self, s: &str) -> bool {
        self.rules.compliant_states.iter().any(|c| c == s)
    }

    pub fn allowed_from(&self, s: &str) -> &'a [String] {
        self.rules
            .states
            .get(s)
            .map_or(&[], |d| d.allowed_transitions.as_slice())
    }

    pub fn demotion_reason(&self, from: &str, to: &str) -> Option<&'a str> {
        self.rules
            .demotions
            .iter()
            .find(|d| d.from == from && d.to == to)
            .map(|d| d.reason.as_str())
    }

    /// The next promotions from `s` (allowed transitions that are not demotions).
    pub fn promotions_from(&self, s: &str) -> Vec<&'a str> {
        self.allowed_from(s)
            .iter()
            .filter(|t| self.demotion_reason(s, t).is_none())
            .map(String::as_str)
            .collect()
    }

    /// Decide whether `from -> to` is a transition the rules allow.
    pub fn transition(&self, from: &str, to: &str) -> Result<Transition<'a>, Refusal> {
        let (to_key, to_def) =
            self.rules
                .states
                .get_key_value(to)
                .ok_or_else(|| Refusal::UnknownState {
                    state: to.to_string(),
                    help: suggest(to, self.rules.states.keys().map(String::as_str)),
                })?;
        let (from_key, _) =
            self.rules
                .states
                .get_key_value(from)
                .ok_or_else(|| Refusal::UnknownState {
                    state: from.to_string(),
                    help: suggest(from, self.rules.states.keys().map(String::as_str)),
                })?;
        if from == to {
            return Err(Refusal::AlreadyThere {
                state: from.to_string(),
            });
        }
        if !self.allowed_from(from).iter().any(|t| t == to) {
            return Err(Refusal::NotAllowed {
                from: from.to_string(),
                to: to.to_string(),
                allowed: self.allowed_from(from).to_vec(),
                path: self.path(from, to),
            });
        }
        Ok(Transition {
            from: from_key,
            to: to_key,
            demotion: self.demotion_reason(from, to),
            requirements: &to_def.requirements,
            gates: &to_def.gates,
        })
    }

    /// The shortest sequence of allowed transitions from `from` to `to`, both included.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut prev: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(s) = queue.pop_front() {
            if s == to {
                let mut p = vec![to.to_string()];
                let mut cur = to;
                while cur != from {
                    cur = prev[cur];
                    p.push(cur.to_string());
                }
                p.reverse();
                return Some(p);
            }
            for t in self.allowed_from(s) {
                if t != from && !prev.contains_key(t.as_str()) {
                    prev.insert(t, s);
                    queue.push_back(t);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::{Check, DEFAULT_RULES};
    use crate::engine::yaml_de;

    fn rules() -> RulesFile {
        yaml_de::from_str("compliance_rules.yaml", DEFAULT_RULES).unwrap()
    }

    #[test]
    fn the_seed_cycle_is_allowed_step_by_step() {
        let r = rules();
        let sm = StateMachine::new(&r);
        let t = sm.transition("sandbox", "compliance_ready").unwrap();
        assert_eq!(
            t.requirements,
            &[
                Check::AllTestsPassing.into(),
                Check::SastClean.into(),
                Check::DependenciesCompliant.into()
            ]
        );
        assert_eq!(t.demotion, None);
        let t = sm.transition("compliance_ready", "compliant").unwrap();
        assert_eq!(
            t.requirements,
            &[
                Check::ApprovedPromotion.into(),
                Check::EvidenceCollected.into()
            ]
        );
        let t = sm.transition("compliant", "sandbox").unwrap();
        assert_eq!(t.demotion, Some("compliance_violation"));
        assert!(t.requirements.is_empty());
    }

    #[test]
    fn skipping_a_state_is_refused_with_the_route() {
        let r = rules();
        let sm = StateMachine::new(&r);
        let e = sm.transition("sandbox", "compliant").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`sandbox` cannot go to `compliant` directly; from `sandbox` the rules allow: \
             compliance_ready; promote step by step: sandbox -> compliance_ready -> compliant"
        );
        let e = sm.transition("compliance_ready", "sandbox").unwrap_err();
        assert!(matches!(e, Refusal::NotAllowed { .. }), "{e}");
    }

    #[test]
    fn unknown_and_same_states_are_refused() {
        let r = rules();
        let sm = StateMachine::new(&r);
        let e = sm.transition("sandbox", "complaint").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`complaint` is not a state in compliance_rules.yaml (did you mean `compliant`?)"
        );
        let e = sm.transition("sandbox", "sandbox").unwrap_err();
        assert_eq!(e.to_string(), "the service is already `sandbox`");
    }

    #[test]
    fn promotions_exclude_demotions() {
        let r = rules();
        let sm = StateMachine::new(&r);
        assert_eq!(sm.promotions_from("sandbox"), vec!["compliance_ready"]);
        assert!(sm.promotions_from("compliant").is_empty());
        assert!(sm.is_compliant("compliant") && !sm.is_compliant("compliance_ready"));
    }
}
