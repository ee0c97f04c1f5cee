//! The configuration model: `org-config.yaml`, `services/*.yaml` and the two policy
//! files. Plain serde structs; loading and cross-file checks live in `load`.

mod org;
mod service;

pub use org::*;
pub use service::*;

use super::policy::{GatesFile, RulesFile};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A span of time written as `30s`, `15m`, `24h` or `7d` (or a combination such as
/// `1h30m`). Stored as whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub u64);

impl Duration {
    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let mut total: u64 = 0;
        let mut num = String::new();
        let mut saw_unit = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return None,
            };
            let n: u64 = num.parse().ok()?;
            total = total.checked_add(n.checked_mul(unit)?)?;
            num.clear();
            saw_unit = true;
        }
        if !num.is_empty() || !saw_unit {
            return None;
        }
        Some(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// The largest exact unit, or a combination (`90m` is shown as `1h30m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a duration such as `30s`, `15m`, `24h` or `7d`, found `{s}`"
            ))
        })
    }
}

/// The two modes of seed 003's service template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Sandbox,
    Compliant,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Compliant => "compliant",
        }
    }
}

// ---------------------------------------------------------------- the whole config

/// A service as loaded: its definition plus where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedService {
    #[serde(flatten)]
    pub def: Service,
    /// The file it was read from, for messages.
    pub file: String,
}

impl LoadedService {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The service's state in the compliance state machine, from config.
    pub fn state(&self) -> &str {
        self.def
            .spec
            .compliance_state
            .as_deref()
            .unwrap_or(self.def.spec.compliance_mode.as_str())
    }
}

/// A validated configuration: every reference resolves, every state and gate exists.
#[derive(Debug, Clone)]
pub struct Config {
    pub org: OrgConfig,
    /// Sorted by name.
    pub services: Vec<LoadedService>,
    pub rules: RulesFile,
    pub gates: GatesFile,
}

impl Config {
    pub fn service(&self, name: &str) -> Option<&LoadedService> {
        self.services
            .binary_search_by(|s| s.name().cmp(name))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The approvers of a service with groups expanded, sorted and deduplicated.
    pub fn approvers_of(&self, service: &Service) -> Vec<String> {
        let list = if service.approvers.is_empty() {
            &self.org.approval.default_approvers
        } else {
            &service.approvers
        };
        let mut out: Vec<String> = Vec::new();
        for a in list {
            match a.strip_prefix("group:") {
                Some(g) => out.extend(
                    self.org
                        .approval
                        .groups
                        .get(g)
                        .into_iter()
                        .flatten()
                        .cloned(),
                ),
                None => out.push(a.clone()),
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Duration::parse("15s"), Some(Duration(15)));
        assert_eq!(Duration::parse("24h"), Some(Duration(86_400)));
        assert_eq!(Duration::parse("1h30m"), Some(Duration(5400)));
        assert_eq!(Duration::parse("7d"), Some(Duration(604_800)));
        assert_eq!(Duration::parse("15"), None, "a bare number has no unit");
        assert_eq!(Duration::parse("5 minutes"), None);
        assert_eq!(Duration::parse(""), None);
        assert_eq!(Duration(5400).to_string(), "1h30m");
        assert_eq!(Duration(0).to_string(), "0s");
        assert_eq!(Duration(604_800).to_string(), "7d");
    }

    #[test]
    fn dependencies_iterate_with_their_kind() {
        let d = Dependencies {
            runtime: vec!["a".into()],
            data: vec!["b".into()],
            security: vec!["c".into()],
        };
        let all: Vec<_> = d.all().collect();
        assert_eq!(
            all,
            vec![
                (DepKind::Runtime, "a"),
                (DepKind::Data, "b"),
                (DepKind::Security, "c")
            ]
        );
    }
}
