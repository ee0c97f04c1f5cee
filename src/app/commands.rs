//! The `:` commands and their completion: one table that the command line, its
//! completion and the help overlay read.

use super::model::Model;

/// The `:` commands, for completion and help.
pub const COMMANDS: [&str; 15] = [
    "grid",
    "graph",
    "pipeline",
    "approvals",
    "alerts",
    "log",
    "runbooks",
    "packages",
    "help",
    "promote",
    "approve",
    "reject",
    "sort",
    "quit",
    "rollback",
];

/// The arguments of the commands that take some, as the help overlay shows them.
pub const USAGE: [(&str, &str); 6] = [
    ("promote", "SERVICE [STATE]"),
    ("approve", "ID"),
    ("reject", "ID"),
    ("runbook", "NAME SERVICE"),
    ("walk", "ID (or a unique part)"),
    ("rollback", "STAGE [ID]"),
];

/// `:runbook NAME SERVICE` and `:walk ID` are completed too.
pub const WALK_COMMANDS: [&str; 2] = ["runbook", "walk"];

/// Candidates for the word being typed: commands first, then services or IDs.
pub fn completions(m: &Model, text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let ends_with_space = text.ends_with(' ');
    let (done, partial) = if ends_with_space || words.is_empty() {
        (words.as_slice(), "")
    } else {
        (&words[..words.len() - 1], words[words.len() - 1])
    };
    let pool: Vec<String> = match done.first().copied() {
        None => COMMANDS
            .iter()
            .chain(WALK_COMMANDS.iter())
            .map(|s| s.to_string())
            .collect(),
        Some("runbook") if done.len() == 1 => m.runbooks.iter().map(|b| b.name.clone()).collect(),
        Some("runbook") if done.len() == 2 => {
            m.statuses.iter().map(|s| s.service.clone()).collect()
        }
        Some("walk") if done.len() == 1 => m.store.walks.iter().map(|w| w.id.clone()).collect(),
        Some("promote") if done.len() == 1 => {
            m.statuses.iter().map(|s| s.service.clone()).collect()
        }
        Some("promote") if done.len() == 2 => m.config.rules.states.keys().cloned().collect(),
        Some("approve") | Some("reject") if done.len() == 1 => {
            m.open_promotions().iter().map(|p| p.id.clone()).collect()
        }
        _ => Vec::new(),
    };
    pool.into_iter()
        .filter(|c| c.starts_with(partial))
        .collect()
}
