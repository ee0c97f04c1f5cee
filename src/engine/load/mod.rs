//! From the texts of a config directory to a validated [`Config`], collecting every
//! diagnostic in one pass. Pure: io reads the files and hands over their text.

use super::config::{Config, LoadedService, OrgConfig, ServiceFile};
use super::diag::{Diagnostic, Pos};
use super::policy::{DEFAULT_GATES, DEFAULT_RULES, GatesFile, RulesFile};
use super::yaml::{self, Node};
use super::yaml_de;

mod checks;
mod org_checks;
use checks::{check_cycles, check_policies, check_services};
use org_checks::check_org;

/// One file's text and the name to show in messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// What a config directory holds. Policy files default to the built-in ones.
#[derive(Debug, Clone)]
pub struct Sources {
    /// `None` when the directory has no `org-config.yaml` (an error, reported here).
    pub org: Option<Source>,
    pub services: Vec<Source>,
    pub rules: Option<Source>,
    pub gates: Option<Source>,
    /// Where the org config was expected, for the "missing" message.
    pub dir: String,
}

/// The result of loading: the config if there were no errors, and every diagnostic
/// (errors and warnings) sorted by file and position.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

struct Parsed<T> {
    value: T,
    node: Node,
    path: String,
}

fn parse<T: serde::de::DeserializeOwned>(
    src: &Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<Parsed<T>> {
    let node = match yaml::parse(&src.path, &src.text) {
        Ok(Some(n)) => n,
        Ok(None) => {
            diags.push(
                Diagnostic::error(&src.path, Pos { line: 1, column: 1 }, "the file is empty")
                    .with_help("see config/ in the gander repository for an example"),
            );
            return None;
        }
        Err(e) => {
            diags.extend(e);
            return None;
        }
    };
    let (value, d) = yaml_de::from_node::<T>(&src.path, &node);
    diags.extend(d);
    value.map(|value| Parsed {
        value,
        node,
        path: src.path.clone(),
    })
}

/// Load and validate everything.
pub fn load(sources: &Sources) -> Loaded {
    let mut diags = Vec::new();
    let builtin_rules = Source::new("<built-in compliance_rules.yaml>", DEFAULT_RULES);
    let builtin_gates = Source::new("<built-in promotion_gates.yaml>", DEFAULT_GATES);

    let org: Option<Parsed<OrgConfig>> = match &sources.org {
        Some(s) => parse(s, &mut diags),
        None => {
            diags.push(
                Diagnostic::error(
                    &format!("{}/org-config.yaml", sources.dir.trim_end_matches('/')),
                    Pos { line: 1, column: 1 },
                    "no org-config.yaml in the config directory",
                )
                .with_help("create it (see config/org-config.yaml in the gander repository) or point --config at the right directory"),
            );
            None
        }
    };
    let rules: Option<Parsed<RulesFile>> =
        parse(sources.rules.as_ref().unwrap_or(&builtin_rules), &mut diags);
    let gates: Option<Parsed<GatesFile>> =
        parse(sources.gates.as_ref().unwrap_or(&builtin_gates), &mut diags);
    let services: Vec<Parsed<ServiceFile>> = sources
        .services
        .iter()
        .filter_map(|s| parse(s, &mut diags))
        .collect();

    if sources.services.is_empty() {
        diags.push(
            Diagnostic::warning(
                &format!("{}/services", sources.dir.trim_end_matches('/')),
                Pos { line: 1, column: 1 },
                "no service definitions (services/*.yaml)",
            )
            .with_help("add one file per service, in the seed 003 template"),
        );
    }

    if let (Some(r), Some(g)) = (&rules, &gates) {
        check_policies(r, g, &mut diags);
    }
    if let Some(o) = &org {
        check_org(o, &mut diags);
    }
    let names = check_services(&services, org.as_ref(), rules.as_ref(), &mut diags);
    check_cycles(&services, &names, &mut diags);

    diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    diags.dedup();
    let has_errors = diags.iter().any(Diagnostic::is_error);
    let config = match (org, rules, gates, has_errors) {
        (Some(org), Some(rules), Some(gates), false) => {
            let mut services: Vec<LoadedService> = services
                .into_iter()
                .map(|p| LoadedService {
                    def: p.value.service,
                    file: p.path,
                })
                .collect();
            services.sort_by(|a, b| a.def.name.cmp(&b.def.name));
            Some(Config {
                org: org.value,
                services,
                rules: rules.value,
                gates: gates.value,
            })
        }
        _ => None,
    };
    Loaded {
        config,
        diagnostics: diags,
    }
}
