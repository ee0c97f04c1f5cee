//! Names that become paths: services, runbooks, parameters, stages, package versions.
//! One pattern for all of them, checked at load time, so a path is only ever built from
//! a name that cannot climb out of its folder (`.`, `..`, `/`), hide (a leading `.`), or
//! smuggle terminal control characters into what people read.

/// The longest name accepted.
pub const MAX_LEN: usize = 64;

/// Why `name` is not a safe name, or `Ok`.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.chars().count() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "holds {}; use letters, digits, `-`, `_` and `.`",
            if c.is_control() {
                format!("the control character U+{:04X}", c as u32)
            } else {
                format!("`{c}`")
            }
        ));
    }
    if name.contains("..") {
        return Err("holds `..`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_that_are_paths_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a..b",
            "-x",
            "x\u{1b}[2J",
            "é",
            &"a".repeat(65),
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "service-a",
            "ledger_db",
            "api.v2",
            "a",
            "1.0.0-rc1",
            &"a".repeat(64),
        ] {
            assert!(check(good).is_ok(), "{good:?} refused");
        }
    }
}
