//! Runbooks as data: `runbooks/*.yaml`, each a title, what it applies to, parameters and
//! steps of five kinds (check, manual, command, decision, approval). Loading validates
//! them with file:line:col: unknown checks, branches to missing steps, unreachable steps,
//! parameters used but not declared.

use super::diag::{Diagnostic, Pos, suggest};
use super::load::Source;
use super::yaml::{self, Node};
use super::yaml_de;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The live and engine checks a `check` step can run.
pub const CHECKS: [&str; 6] = [
    "verify_dependencies",
    "check_evidence_chain",
    "validate_compliance_state",
    "health",
    "promql",
    "evidence",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Runbook {
    pub title: String,
    /// Markdown.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppliesTo {
    /// Service names; `*` for all.
    #[serde(default)]
    pub services: Vec<String>,
    /// Alert names (Prometheus `alertname` or gander's local alerts).
    #[serde(default)]
    pub alerts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Parameter {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: Option<String>,
    /// A regular expression the whole value must match (checked before a walk starts).
    #[serde(default)]
    pub pattern: Option<String>,
}

impl Parameter {
    /// Why `value` is refused for this parameter, if it is: its pattern does not match the
    /// whole value, or it holds control characters.
    pub fn refuse(&self, value: &str) -> Option<String> {
        if value.chars().any(char::is_control) {
            return Some(format!(
                "`{}` holds control characters",
                crate::diag::printable(value)
            ));
        }
        let p = self.pattern.as_deref()?;
        match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(re) if re.is_match(value) => None,
            Ok(_) => Some(format!(
                "`{}` does not match the parameter's pattern `{p}`",
                crate::diag::printable(value)
            )),
            Err(e) => Some(format!(
                "the parameter's pattern `{p}` is not a regular expression: {e}"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Check,
    Manual,
    Command,
    Decision,
    Approval,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    pub title: String,
    /// Markdown instructions.
    #[serde(default)]
    pub instructions: String,
    /// `check`: which check, and its arguments (values may use `{param}`).
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// `command`: argv; `{param}` is replaced inside one argument, never split.
    #[serde(default)]
    pub argv: Vec<String>,
    #[serde(default)]
    pub timeout: Option<super::config::Duration>,
    /// `command`: a failed or timed-out run does not stop the walk.
    #[serde(default)]
    pub allow_failure: bool,
    /// `decision`: the question and where each answer goes.
    #[serde(default)]
    pub question: Option<String>,
    #[serde(default)]
    pub yes: Option<String>,
    #[serde(default)]
    pub no: Option<String>,
    /// Where to go after this step (default: the next step in the list; `end` stops).
    #[serde(default)]
    pub next: Option<String>,
}

/// A loaded runbook and the name it goes by (its file stem).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Named {
    pub name: String,
    pub file: String,
    #[serde(flatten)]
    pub runbook: Runbook,
}

impl Runbook {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The ids a step can lead to.
    pub fn successors(&self, i: usize) -> Vec<&str> {
        let s = &self.steps[i];
        let after = || self.steps.get(i + 1).map(|n| n.id.as_str());
        match s.kind {
            StepKind::Decision => [s.yes.as_deref(), s.no.as_deref()]
                .into_iter()
                .flatten()
                .filter(|t| *t != "end")
                .collect(),
            _ => match s.next.as_deref() {
                Some("end") => Vec::new(),
                Some(t) => vec![t],
                None => after().into_iter().collect(),
            },
        }
    }

    /// Does this runbook apply to a service or an alert?
    pub fn applies(&self, service: Option<&str>, alert: Option<&str>) -> bool {
        let s =
            service.is_some_and(|s| self.applies_to.services.iter().any(|x| x == "*" || x == s));
        let a = alert.is_some_and(|a| self.applies_to.alerts.iter().any(|x| x == a));
        s || a
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Split `s` into literal text and `{name}` placeholders (a brace that does not enclose a
/// plain name, as in PromQL's `{service="x"}`, is literal text).
fn pieces(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'{' {
            if let Some(j) = s[i + 1..].find('}') {
                let name = &s[i + 1..i + 1 + j];
                if is_ident(name) {
                    out.push((false, &s[lit_start..i]));
                    out.push((true, name));
                    i += j + 2;
                    lit_start = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push((false, &s[lit_start..]));
    out
}

/// `{name}` placeholders in a string.
pub fn placeholders(s: &str) -> Vec<&str> {
    pieces(s)
        .into_iter()
        .filter(|(p, _)| *p)
        .map(|(_, n)| n)
        .collect()
}

/// Replace `{name}` in one argument with its value, as text: the result is still exactly
/// one argument whatever the value holds (spaces, `;`, `$(…)`, quotes, newlines).
pub fn substitute(arg: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(arg.len());
    for (is_name, text) in pieces(arg) {
        match (is_name, params.get(text)) {
            (true, Some(v)) => out.push_str(v),
            (true, None) => {
                out.push('{');
                out.push_str(text);
                out.push('}');
            }
            (false, _) => out.push_str(text),
        }
    }
    out
}

/// Load and validate runbook files; every problem is a diagnostic.
pub fn load(sources: &[Source]) -> (Vec<Named>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for src in sources {
        let node = match yaml::parse(&src.path, &src.text) {
            Ok(Some(n)) => n,
            Ok(None) => {
                diags.push(Diagnostic::error(
                    &src.path,
                    Pos { line: 1, column: 1 },
                    "the runbook is empty",
                ));
                continue;
            }
            Err(e) => {
                diags.extend(e);
                continue;
            }
        };
        let (rb, d) = yaml_de::from_node::<Runbook>(&src.path, &node);
        diags.extend(d);
        let Some(rb) = rb else { continue };
        check(&rb, &src.path, &node, &mut diags);
        let name = std::path::Path::new(&src.path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("runbook")
            .to_string();
        if let Err(why) = super::names::check(&name) {
            diags.push(Diagnostic::error(
                &src.path,
                Pos { line: 1, column: 1 },
                format!(
                    "the runbook's name (its file name) `{}` is not a valid name: {why}",
                    name.escape_debug()
                ),
            ));
            continue;
        }
        out.push(Named {
            name,
            file: src.path.clone(),
            runbook: rb,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, diags)
}

fn check(rb: &Runbook, file: &str, node: &Node, diags: &mut Vec<Diagnostic>) {
    let ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
    let params: BTreeSet<&str> = rb
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .chain(["service"])
        .collect();
    let at = |i: usize, key: &str| node.locate(&["steps", &i.to_string(), key]);
    for (i, p) in rb.parameters.iter().enumerate() {
        if let Some(pat) = &p.pattern
            && let Err(e) = regex::Regex::new(pat)
        {
            diags.push(Diagnostic::error(
                file,
                node.locate(&["parameters", &i.to_string(), "pattern"]),
                format!(
                    "pattern `{pat}` is not a regular expression: {}",
                    e.to_string().lines().last().unwrap_or_default()
                ),
            ));
        }
        if let Err(why) = super::names::check(&p.name) {
            diags.push(Diagnostic::error(
                file,
                node.locate(&["parameters", &i.to_string(), "name"]),
                format!(
                    "parameter `{}` is not a valid name: {why}",
                    p.name.escape_debug()
                ),
            ));
        }
    }
    if rb.steps.is_empty() {
        diags.push(Diagnostic::error(
            file,
            node.locate(&["steps"]),
            "a runbook needs at least one step",
        ));
        return;
    }
    let mut seen = BTreeMap::new();
    for (i, s) in rb.steps.iter().enumerate() {
        let why = if s.id == "end" {
            Some("`end` is where a walk stops; name the step otherwise".to_string())
        } else {
            super::names::check(&s.id).err()
        };
        if let Some(why) = why {
            diags.push(Diagnostic::error(
                file,
                at(i, "id"),
                format!(
                    "step id `{}` is not a valid name: {why}",
                    s.id.escape_debug()
                ),
            ));
        }
        if let Some(first) = seen.insert(s.id.as_str(), i) {
            diags.push(
                Diagnostic::error(file, at(i, "id"), format!("duplicate step id `{}`", s.id))
                    .with_help(format!(
                        "step {} already uses it; ids must be unique",
                        first + 1
                    )),
            );
        }
        let mut target = |key: &str, t: &Option<String>| {
            if let Some(t) = t {
                if t != "end" && !ids.contains(&t.as_str()) {
                    diags.push(
                        Diagnostic::error(file, at(i, key), format!("`{key}: {t}` names no step"))
                            .with_help_opt(
                                suggest(t, ids.iter().copied())
                                    .or(Some("use a step id, or `end`".into())),
                            ),
                    );
                }
            }
        };
        target("next", &s.next);
        target("yes", &s.yes);
        target("no", &s.no);
        let mut used: Vec<(&str, &str)> = Vec::new();
        match s.kind {
            StepKind::Check => match s.check.as_deref() {
                None => diags.push(
                    Diagnostic::error(
                        file,
                        at(i, "kind"),
                        format!("check step `{}` names no `check:`", s.id),
                    )
                    .with_help(format!("one of {}", CHECKS.join(", "))),
                ),
                Some(c) if !CHECKS.contains(&c) => diags.push(
                    Diagnostic::error(file, at(i, "check"), format!("unknown check `{c}`"))
                        .with_help_opt(suggest(c, CHECKS.iter().copied())),
                ),
                Some("promql") if !s.args.contains_key("query") => {
                    diags.push(Diagnostic::error(
                        file,
                        at(i, "args"),
                        "a promql check needs `args: {query: …, below: …}`",
                    ));
                }
                Some("promql")
                    if s.args
                        .get("own")
                        .is_some_and(|o| !matches!(o.as_str(), "p95_ms" | "error_rate")) =>
                {
                    diags.push(
                        Diagnostic::error(
                            file,
                            at(i, "args"),
                            format!("unknown own figure `{}`", s.args["own"]),
                        )
                        .with_help("one of p95_ms, error_rate: the figure gander scrapes itself, used when there is no Prometheus"),
                    );
                }
                _ => {}
            },
            StepKind::Command => {
                if s.argv.is_empty() {
                    diags.push(Diagnostic::error(file, at(i, "kind"), format!("command step `{}` has no `argv:`", s.id)).with_help("write the command as a list: argv: [systemctl, restart, \"{service}\"]"));
                }
            }
            StepKind::Decision => {
                if s.question.is_none() || s.yes.is_none() || s.no.is_none() {
                    diags.push(Diagnostic::error(
                        file,
                        at(i, "kind"),
                        format!(
                            "decision step `{}` needs `question:`, `yes:` and `no:`",
                            s.id
                        ),
                    ));
                }
            }
            StepKind::Manual | StepKind::Approval => {}
        }
        for a in &s.argv {
            used.extend(placeholders(a).into_iter().map(|p| (p, "argv")));
        }
        for v in s.args.values() {
            used.extend(placeholders(v).into_iter().map(|p| (p, "args")));
        }
        for (p, key) in used {
            if !params.contains(p) {
                diags.push(
                    Diagnostic::error(
                        file,
                        at(i, key),
                        format!("`{{{p}}}` is not a parameter of this runbook"),
                    )
                    .with_help(format!(
                        "declare it under `parameters:` (declared: {})",
                        params.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
    }
    // Every step must be reachable from the first.
    let index: BTreeMap<&str, usize> = rb
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut reached = vec![false; rb.steps.len()];
    let mut queue = VecDeque::from([0usize]);
    reached[0] = true;
    while let Some(i) = queue.pop_front() {
        for t in rb.successors(i) {
            if let Some(&j) = index.get(t) {
                if !reached[j] {
                    reached[j] = true;
                    queue.push_back(j);
                }
            }
        }
    }
    for (i, r) in reached.iter().enumerate() {
        if !r {
            diags.push(
                Diagnostic::error(
                    file,
                    at(i, "id"),
                    format!("step `{}` can never be reached", rb.steps[i].id),
                )
                .with_help("point a `next:`, `yes:` or `no:` at it, or remove it"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_substituted_inside_one_argument() {
        let mut p = BTreeMap::new();
        p.insert(
            "service".to_string(),
            "b; rm -rf / $(reboot) \"x\"\nnext".to_string(),
        );
        assert_eq!(
            substitute("--unit={service}.service", &p),
            "--unit=b; rm -rf / $(reboot) \"x\"\nnext.service"
        );
        assert_eq!(substitute("{missing}", &p), "{missing}");
        assert_eq!(placeholders("a {x} b {y}"), vec!["x", "y"]);
        assert_eq!(
            placeholders("rate(m{service=\"{service}\"}[5m])"),
            vec!["service"]
        );
        assert_eq!(
            substitute("m{service=\"{service}\"}", &p)
                .lines()
                .next()
                .unwrap(),
            "m{service=\"b; rm -rf / $(reboot) \"x\""
        );
    }

    #[test]
    fn validation_names_file_line_and_column() {
        let text = "title: T\nparameters: [{name: host}]\nsteps:\n  - id: a\n    kind: check\n    check: verify_dependences\n    next: c\n  - id: b\n    kind: command\n    title: run\n    argv: [ssh, \"{hots}\", uptime]\n    next: end\n  - id: q\n    kind: decision\n    title: ok?\n    question: ok?\n    yes: end\n    no: zz\n";
        let text = text.replace(
            "    check: verify_dependences\n",
            "    title: deps\n    check: verify_dependences\n",
        );
        let (_, d) = load(&[Source::new("rb.yaml", text)]);
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        let all = shown.join("\n");
        assert!(all.contains("rb.yaml:7:12: error: unknown check `verify_dependences`\n  help: did you mean `verify_dependencies`?"), "{all}");
        assert!(
            all.contains("rb.yaml:8:11: error: `next: c` names no step"),
            "{all}"
        );
        assert!(
            all.contains("rb.yaml:12:11: error: `{hots}` is not a parameter of this runbook"),
            "{all}"
        );
        assert!(
            all.contains("rb.yaml:19:9: error: `no: zz` names no step"),
            "{all}"
        );
        assert!(
            all.contains("error: step `b` can never be reached"),
            "{all}"
        );
    }
}
