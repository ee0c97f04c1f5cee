//! Every directory under tests/fixtures/invalid/ is a broken configuration with the
//! exact diagnostics expected in its `expected.txt` (paths relative to the fixture).
//! Regenerate after a deliberate wording change with `GANDER_BLESS=1 cargo test
//! --test invalid_configs`, then read the diff.

use gander::io::config_dir::load_dir;
use std::path::Path;

fn render(dir: &Path) -> String {
    let loaded = load_dir(dir).expect("fixture directory is readable");
    assert!(
        loaded.config.is_none(),
        "{}: a broken fixture must not load",
        dir.display()
    );
    let prefix = format!("{}/", dir.display());
    loaded
        .diagnostics
        .iter()
        .map(|d| format!("{d}\n").replace(&prefix, ""))
        .collect()
}

#[test]
fn each_broken_config_gets_its_exact_diagnostics() {
    let root = Path::new("tests/fixtures/invalid");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 9, "fixtures went missing: {dirs:?}");
    let bless = std::env::var_os("GANDER_BLESS").is_some();
    let mut failures = Vec::new();
    for dir in dirs {
        let got = render(&dir);
        let expected_file = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_file, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|_| panic!("{} is missing", expected_file.display()));
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_error_names_a_file_line_and_column() {
    for entry in std::fs::read_dir("tests/fixtures/invalid").unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let loaded = load_dir(&dir).unwrap();
        assert!(loaded.errors().count() > 0, "{}", dir.display());
        for d in &loaded.diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "{d}");
            assert!(
                d.file.starts_with(&dir.display().to_string()),
                "{d} does not name a file of {}",
                dir.display()
            );
        }
    }
}

#[test]
fn the_shipped_example_org_is_valid_and_has_no_warnings() {
    let loaded = load_dir(Path::new("config")).unwrap();
    let shown: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(shown.is_empty(), "{}", shown.join("\n"));
    let config = loaded.config.expect("config/ loads");
    let names: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
    for s in ["service-a", "service-b", "service-c"] {
        assert!(names.contains(&s), "{s} missing from {names:?}");
    }
}
