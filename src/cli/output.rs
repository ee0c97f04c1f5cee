//! Shared text and JSON output helpers. Every line the CLI prints goes through
//! [`out!`](crate::out) or [`err!`](crate::err), which escape control characters: what a
//! chain record, an evidence file, a runbook or a package says cannot move the cursor,
//! recolour or repaint a terminal.

/// `println!` with control characters escaped. A closed stdout (`| head -1`, a dropped
/// SSH session) is not a panic: the line is lost and the command goes on to clean up.
#[macro_export]
macro_rules! out {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{}", $crate::diag::printable(&format!($($t)*)));
    }};
}

/// `eprintln!` with control characters escaped; a closed stderr is not a panic.
#[macro_export]
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{}", $crate::diag::printable(&format!($($t)*)));
    }};
}

use crate::engine::gates::{CheckResult, Status};
use serde::Serialize;

/// Version of the JSON documents; bumped when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

/// Print a JSON document with the version field first.
pub fn print_json<T: Serialize>(kind: &str, body: &T) {
    #[derive(Serialize)]
    struct Doc<'a, T> {
        version: u32,
        kind: &'a str,
        #[serde(flatten)]
        body: &'a T,
    }
    let doc = Doc {
        version: JSON_VERSION,
        kind,
        body,
    };
    match serde_json::to_string_pretty(&doc) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("gander: cannot encode JSON: {e}"),
    }
}

/// A status tag that does not rely on colour: `[pass]`, `[FAIL]`…
pub fn tag(s: Status) -> &'static str {
    match s {
        Status::Pass => "[pass]   ",
        Status::Pending => "[pending]",
        Status::Stale => "[STALE]  ",
        Status::Unknown => "[UNKNOWN]",
        Status::Fail => "[FAIL]   ",
    }
}

pub fn check_line(indent: &str, c: &CheckResult) -> String {
    let mut s = format!("{indent}{} {}: {}", tag(c.status), c.check, c.reason);
    if let Some(f) = &c.file {
        s.push_str(&format!(" ({f})"));
    }
    s
}
