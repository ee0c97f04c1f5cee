//! `gander order`: the promotion order, dependencies first.

use super::{EXIT_OK, output};
use crate::engine::config::DepKind;
use crate::engine::resolver::DepGraph;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the order as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    position: usize,
    service: &'a str,
    state: &'a str,
    depends_on: Vec<Dep<'a>>,
}

#[derive(Serialize)]
struct Dep<'a> {
    service: &'a str,
    kind: DepKind,
}

#[derive(Serialize)]
struct Report<'a> {
    order: Vec<Entry<'a>>,
}

pub fn run(config: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // States as the store has them (promotions move them), like `status`.
    let mut facts = crate::engine::facts::Facts::from_config(&config, chrono::Utc::now());
    super::read_store_into(state.as_deref(), &located.dir, &config, &mut facts);
    let graph = DepGraph::from_config(&config);
    // Loading refuses cycles, so the order exists.
    let order = match graph.order() {
        Ok(o) => o,
        Err(c) => {
            for cycle in c.cycles {
                crate::err!("gander: dependency cycle: {}", cycle.join(" -> "));
            }
            return super::EXIT_USAGE;
        }
    };
    let entries: Vec<Entry> = order
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let svc = config.service(name)?;
            Some(Entry {
                position: i + 1,
                service: svc.name(),
                state: facts
                    .states
                    .get(*name)
                    .map(String::as_str)
                    .unwrap_or(svc.state()),
                depends_on: graph
                    .direct(name)
                    .into_iter()
                    .map(|(service, kind)| Dep { service, kind })
                    .collect(),
            })
        })
        .collect();
    if args.json {
        output::print_json("order", &Report { order: entries });
        return EXIT_OK;
    }
    crate::out!(
        "Promotion order for {} ({}, {}): each service comes after everything it depends on; ties go by name.",
        config.org.org.name,
        crate::diag::count(graph.len(), "service", "services"),
        crate::diag::count(graph.edge_count(), "dependency", "dependencies")
    );
    crate::out!();
    let w = entries
        .iter()
        .map(|e| e.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let ws = entries
        .iter()
        .map(|e| e.state.len())
        .max()
        .unwrap_or(5)
        .max(5);
    crate::out!(
        "  {:>3}  {:<w$}  {:<ws$}  DEPENDS ON",
        "#",
        "SERVICE",
        "STATE"
    );
    for e in &entries {
        let deps = if e.depends_on.is_empty() {
            "-".to_string()
        } else {
            e.depends_on
                .iter()
                .map(|d| format!("{} ({})", d.service, d.kind.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        crate::out!(
            "  {:>3}  {:<w$}  {:<ws$}  {deps}",
            e.position,
            e.service,
            e.state
        );
    }
    EXIT_OK
}
