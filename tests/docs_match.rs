//! The README's screen captures are the console's snapshot tests, so they cannot go
//! stale: each capture follows a `<!-- snapshot: NAME -->` marker and must equal
//! `tests/snapshots/NAME.snap` (trailing blanks trimmed). After a snapshot changes on
//! purpose, `GANDER_UPDATE_README=1 cargo test --test docs_match` rewrites the captures.

use std::path::Path;

/// The screen a snapshot holds, one line per row, trailing blanks and rows trimmed.
fn snapshot(name: &str) -> String {
    let text = std::fs::read_to_string(Path::new("tests/snapshots").join(format!("{name}.snap")))
        .unwrap_or_else(|e| panic!("tests/snapshots/{name}.snap: {e}"));
    let body = text.splitn(3, "---\n").nth(2).expect("an insta snapshot");
    let mut rows: Vec<String> = body
        .lines()
        .map(|l| {
            let inner = l
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or(l);
            inner
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
                .trim_end()
                .to_string()
        })
        .collect();
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    rows.join("\n")
}

#[test]
fn the_readme_captures_are_the_snapshots() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let marker = "<!-- snapshot: ";
    let mut out = String::new();
    let mut rest = readme.as_str();
    let mut stale = Vec::new();
    let mut seen = 0;
    while let Some(i) = rest.find(marker) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let end = from.find("-->").expect("a closed marker");
        let name = from[marker.len()..end].trim().to_string();
        let after = &from[end + 3..];
        let open = after.find("```\n").expect("a code block after the marker");
        let body_start = open + 4;
        let close = after[body_start..]
            .find("\n```")
            .expect("a closed code block")
            + body_start;
        let shown: Vec<&str> = after[body_start..close]
            .lines()
            .map(str::trim_end)
            .collect();
        let want = snapshot(&name);
        if shown.join("\n").trim_end() != want {
            stale.push(name.clone());
        }
        out.push_str(&from[..end + 3]);
        out.push_str(&after[..body_start]);
        out.push_str(&want);
        rest = &after[close..];
        seen += 1;
    }
    out.push_str(rest);
    assert!(seen >= 2, "the README has {seen} snapshot captures");
    if std::env::var_os("GANDER_UPDATE_README").is_some() {
        std::fs::write("README.md", out).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "README captures differ from their snapshots: {stale:?}\n  run GANDER_UPDATE_README=1 cargo test --test docs_match"
    );
}

/// Every subcommand `gander --help` lists has a row in the README's command table, and
/// every row names a real subcommand.
#[test]
fn the_readme_command_table_lists_every_command() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    let readme = std::fs::read_to_string("README.md").unwrap();
    let table: Vec<&str> = readme
        .split("## Commands")
        .nth(1)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("| command"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let rows: Vec<String> = table
        .iter()
        .skip(2)
        .filter_map(|r| {
            let cell = r.split('|').nth(1)?;
            let mut words = cell.trim().trim_matches('`').split_whitespace();
            (words.next() == Some("gander")).then(|| words.next().unwrap_or("").to_string())
        })
        .collect();
    for c in &commands {
        assert!(
            rows.iter().any(|r| r == c) || readme.contains(&format!("`gander {c}")),
            "`gander {c}` is missing from the README's command table"
        );
    }
    for r in rows.iter().filter(|r| !r.is_empty()) {
        assert!(
            commands.contains(r),
            "the README's table lists `gander {r}`, which is not a command"
        );
    }
}

/// Every check the engine knows is named in the README's list of checks.
#[test]
fn the_readme_names_every_check() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let list = readme
        .split("The checks:")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .expect("the README lists the checks after `The checks:`");
    for c in gander::engine::policy::Check::ALL {
        assert!(
            list.contains(&format!("`{}`", c.as_str())),
            "the README's list of checks misses `{}`",
            c.as_str()
        );
    }
}

/// The README's key table and command list, as the keymap and the command table give
/// them (the help overlay and the `:` completion read the same tables).
fn keys_block() -> String {
    use gander::app::commands::{COMMANDS, USAGE, WALK_COMMANDS};
    use gander::app::keymap::{Action, Keymap};
    let km = Keymap::default();
    let cells: Vec<String> = Action::ALL
        .iter()
        .map(|a| {
            let keys: Vec<String> = km
                .key_labels(*a)
                .iter()
                .map(|k| format!("`{}`", k.replace('|', "\\|")))
                .collect();
            format!("{} | {}", keys.join(" "), a.describe())
        })
        .collect();
    let mut out = String::from("| key | action | key | action |\n|---|---|---|---|\n");
    for pair in cells.chunks(2) {
        let right = pair.get(1).cloned().unwrap_or_else(|| " | ".into());
        out.push_str(&format!("| {} | {right} |\n", pair[0]));
    }
    let usage = |c: &str| {
        USAGE
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, u)| format!("`:{c} {u}`"))
            .unwrap_or_else(|| format!("`:{c}`"))
    };
    let commands: Vec<String> = COMMANDS
        .iter()
        .chain(WALK_COMMANDS.iter())
        .map(|c| usage(c))
        .collect();
    out.push_str(&format!(
        "\nCommands (`:`, Tab completes): {}.\n",
        commands.join(", ")
    ));
    out
}

#[test]
fn the_readme_key_table_is_the_keymap() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let (open, close) = ("<!-- keys: generated -->\n", "<!-- /keys -->");
    let start = readme.find(open).expect("the README marks its key table") + open.len();
    let end = readme[start..].find(close).expect("a closed key table") + start;
    let want = keys_block();
    if std::env::var_os("GANDER_UPDATE_README").is_some() {
        let updated = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write("README.md", updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..end],
        want,
        "the README's key table differs from the keymap: run GANDER_UPDATE_README=1 cargo test --test docs_match"
    );
}
