//! The architecture, checked on every commit: each module of `src/` may only name the
//! layers below it (README "Architecture"). A `crate::…` path that reaches upward fails
//! here with the file, the line and the rule it breaks. Four-eyes is decided in one
//! place (`engine::authority`), so no other file compares a requester with a person.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which top-level modules each module may name.
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    // Bottom up: diag and metrics need nothing; yaml reads with diag; the engine is
    // pure; evidence readers and io sit on it; ops on io; the front ends on ops.
    const BASE: [&str; 3] = ["diag", "yaml", "metrics"];
    let with =
        |own: &[&'static str]| -> Vec<&'static str> { own.iter().copied().chain(BASE).collect() };
    BTreeMap::from([
        ("diag", vec!["diag"]),
        ("metrics", vec!["metrics"]),
        ("yaml", vec!["yaml", "diag"]),
        ("engine", with(&["engine"])),
        ("evidence", with(&["evidence", "engine"])),
        ("io", with(&["io", "engine", "evidence"])),
        ("ops", with(&["ops", "io", "engine", "evidence"])),
        ("theme", vec!["theme"]),
        ("ui", with(&["ui", "app", "engine", "theme"])),
        (
            "app",
            with(&["app", "ops", "io", "engine", "evidence", "theme", "ui"]),
        ),
        (
            "cli",
            with(&["cli", "app", "ops", "io", "engine", "evidence", "theme"]),
        ),
    ])
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::a::b` path in the code (comments left out): (line, `a`, `a::b…`).
fn crate_paths(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let path: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let top = path.split("::").next().unwrap_or_default().to_string();
            let is_macro = after[path.len()..].starts_with('!');
            if is_macro {
                // `crate::out!(…)`: a macro exported at the root, not a module.
            } else if !top.is_empty() {
                out.push((i + 1, top, path));
            } else if let Some(group) = after.strip_prefix('{') {
                // `use crate::{a::x, b};` names several modules.
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let item = item.trim();
                    let top = item.split("::").next().unwrap_or_default().trim();
                    if !top.is_empty() {
                        out.push((i + 1, top.to_string(), item.to_string()));
                    }
                }
            }
            rest = after;
        }
    }
    out
}

fn sources() -> Vec<(String, PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let rel = f.strip_prefix("src").unwrap().to_path_buf();
            let first = rel.components().next()?.as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&f).unwrap();
            Some((module, f, text))
        })
        .collect()
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let rules = allowed();
    let mut broken = Vec::new();
    let mut checked = 0;
    for (module, file, text) in sources() {
        if module == "main" || module == "lib" {
            continue;
        }
        let Some(ok) = rules.get(module.as_str()) else {
            broken.push(format!(
                "{}: module `{module}` has no layer in tests/layering.rs; add it to the picture",
                file.display()
            ));
            continue;
        };
        let in_runtime = file.starts_with("src/app/runtime");
        for (line, top, path) in crate_paths(&text) {
            checked += 1;
            let why = if !ok.contains(&top.as_str()) {
                Some(format!("`{module}` may not import `{top}`"))
            } else if module == "ui"
                && (path.starts_with("app::update") || path.starts_with("app::runtime"))
            {
                Some("ui draws the model; it never calls update or the runtime".to_string())
            } else if module == "app" && top == "ui" && !in_runtime {
                Some(
                    "only the runtime draws (ui::render); the model knows nothing of ui"
                        .to_string(),
                )
            } else {
                None
            };
            if let Some(why) = why {
                broken.push(format!("{}:{line}: crate::{path}: {why}", file.display()));
            }
        }
    }
    assert!(
        checked > 200,
        "the scan found only {checked} paths: is it reading src/?"
    );
    assert!(broken.is_empty(), "upward imports:\n{}", broken.join("\n"));
}

#[test]
fn four_eyes_is_decided_only_by_engine_authority() {
    let mut found = Vec::new();
    for (_, file, text) in sources() {
        if file.ends_with("engine/authority.rs") {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let compares = |word: &str| {
                code.contains(&format!("{word} =="))
                    || code.contains(&format!("== {word}"))
                    || code.contains(&format!("== &{word}"))
                    || code.contains(&format!("{word} !="))
                    || code.contains(&format!("!= {word}"))
            };
            let who = [
                "requester",
                "p.requester",
                "req.requester",
                "started_by",
                "w.started_by",
            ];
            if who.iter().any(|w| compares(w)) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "who may approve is engine::authority's decision; these decide it again:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_an_upward_import() {
    // The rule-checker itself: a path written into engine code would be caught.
    let paths = crate_paths(
        "use crate::io::store::Store; // crate::cli in a comment\nuse crate::{app::model, ops};\n",
    );
    let tops: Vec<&str> = paths.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(tops, ["io", "app", "ops"]);
    assert!(!allowed()["engine"].contains(&"io"));
}

#[test]
fn no_source_file_is_over_about_600_lines() {
    let mut long = Vec::new();
    for (_, file, text) in sources() {
        let n = text.lines().count();
        if n > 620 {
            long.push(format!("{}: {n} lines", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "split these along a seam a reader can name:\n{}",
        long.join("\n")
    );
}
