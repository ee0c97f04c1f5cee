//! Streaming XML readers (quick-xml): JUnit in its common dialects, and Cobertura.
//! Memory stays bounded whatever the file size; a DOCTYPE is refused outright, so no
//! entity can be declared, let alone expanded.

use super::{ReadError, Reading};
use crate::engine::config::EvidenceKind;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Line and column of a byte offset, for messages (computed lazily by the caller's
/// reader when it fails; here we only know the offset).
fn at(file: &str, pos: u64, msg: impl Into<String>) -> ReadError {
    ReadError {
        file: file.to_string(),
        position: format!("byte {pos}"),
        message: msg.into(),
    }
}

/// What the root element says this is.
pub fn root<R: BufRead>(r: R, file: &str) -> Result<String, ReadError> {
    let mut reader = Reader::from_reader(r);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return Ok(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::DocType(_)) => {
                return Err(at(
                    file,
                    reader.buffer_position(),
                    "a DOCTYPE is not allowed (it could declare entities to expand)",
                ));
            }
            Ok(Event::Eof) => return Err(at(file, reader.buffer_position(), "no root element")),
            Ok(_) => {}
            Err(e) => return Err(at(file, reader.error_position(), format!("not XML: {e}"))),
        }
        buf.clear();
    }
}

/// One testcase's results, as its child elements say.
#[derive(Default)]
struct Case {
    label: String,
    failure: bool,
    error: bool,
    skipped: bool,
    flaky: bool,
}

/// The figures of a run, counted by testcase: each testcase is exactly one of errored
/// (any `<error>`), failed (any `<failure>`), skipped (only `<skipped>`), flaky (passed
/// after a `flakyFailure`/`rerunFailure`, as Surefire reports reruns) or passed.
#[derive(Default)]
struct Tally {
    tests: u64,
    failed: u64,
    errors: u64,
    skipped: u64,
    flaky: u64,
    failing: Vec<String>,
}

impl Tally {
    fn close(&mut self, c: Case) {
        self.tests += 1;
        if c.error {
            self.errors += 1;
        } else if c.failure {
            self.failed += 1;
        } else if c.skipped {
            self.skipped += 1;
        } else if c.flaky {
            self.flaky += 1;
        }
        if (c.error || c.failure) && self.failing.len() < 20 && !self.failing.contains(&c.label) {
            self.failing.push(c.label);
        }
    }

    /// Passed, flaky included: never below zero, as the classes partition the cases.
    fn passed(&self) -> u64 {
        self.tests - self.failed - self.errors - self.skipped
    }
}

/// JUnit XML: `<testsuites>` (nested or not) or a single `<testsuite>`, as cargo-nextest,
/// pytest, Maven Surefire and others write it. Counts come from the `<testcase>`
/// elements themselves (suite attributes disagree between tools), one verdict each.
pub fn junit<R: BufRead>(r: R, file: &str) -> Result<Reading, ReadError> {
    let mut reader = Reader::from_reader(r);
    let mut buf = Vec::new();
    let mut tally = Tally::default();
    let mut current: Option<Case> = None;
    let mut saw_root = false;
    let mut depth = 0usize;
    let mut suite_errors = 0u64;
    loop {
        let ev = reader.read_event_into(&mut buf);
        let empty = matches!(ev, Ok(Event::Empty(_)));
        match ev {
            Ok(Event::DocType(_)) => {
                return Err(at(
                    file,
                    reader.buffer_position(),
                    "a DOCTYPE is not allowed (it could declare entities to expand)",
                ));
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                let name = name.as_ref();
                if !saw_root {
                    saw_root = true;
                    if name != b"testsuites" && name != b"testsuite" {
                        return Err(at(
                            file,
                            reader.buffer_position(),
                            format!(
                                "the root element is <{}>, not <testsuites> or <testsuite>: not JUnit XML",
                                String::from_utf8_lossy(name)
                            ),
                        ));
                    }
                }
                match name {
                    b"testcase" => {
                        if current.is_some() {
                            // Its results would be mixed with the outer one's.
                            return Err(at(
                                file,
                                reader.buffer_position(),
                                "a <testcase> inside a <testcase>: not JUnit XML",
                            ));
                        }
                        let n = attr(&e, b"name").unwrap_or_else(|| "?".into());
                        let label = match attr(&e, b"classname").filter(|c| !c.is_empty()) {
                            Some(c) => format!("{c}::{n}"),
                            None => n,
                        };
                        let case = Case {
                            label,
                            ..Case::default()
                        };
                        if empty {
                            tally.close(case);
                        } else {
                            current = Some(case);
                        }
                    }
                    // Outside any testcase: the suite itself failed (setup, collection).
                    b"failure" | b"error" if current.is_none() => suite_errors += 1,
                    b"failure" => current.iter_mut().for_each(|c| c.failure = true),
                    b"error" => current.iter_mut().for_each(|c| c.error = true),
                    b"skipped" => current.iter_mut().for_each(|c| c.skipped = true),
                    b"flakyFailure" | b"flakyError" | b"rerunFailure" | b"rerunError" => {
                        current.iter_mut().for_each(|c| c.flaky = true)
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"testcase"
                    && let Some(c) = current.take()
                {
                    tally.close(c);
                }
                depth = depth.saturating_sub(1);
            }
            Ok(Event::Eof) => {
                if !saw_root {
                    return Err(at(file, reader.buffer_position(), "empty: no root element"));
                }
                if depth > 0 {
                    return Err(at(
                        file,
                        reader.buffer_position(),
                        "the file ends inside an element (truncated?)",
                    ));
                }
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(at(file, reader.error_position(), format!("XML error: {e}"))),
        }
        buf.clear();
    }
    let t = &tally;
    let bad = t.failed + t.errors + suite_errors;
    let ran = t.tests - t.skipped;
    let figures = format!(
        "{} passed, {} failed, {} errors, {} skipped{} of {} tests",
        t.passed(),
        t.failed,
        t.errors,
        t.skipped,
        if t.flaky > 0 {
            format!(", {} flaky (passed on a rerun)", t.flaky)
        } else {
            String::new()
        },
        t.tests
    );
    let suite = if suite_errors > 0 {
        format!(
            "; {} outside any testcase (the suite itself failed)",
            crate::diag::count(
                suite_errors as usize,
                "failure or error",
                "failures or errors"
            )
        )
    } else {
        String::new()
    };
    let summary = if bad == 0 {
        figures.clone()
    } else if t.failed + t.errors == 0 {
        format!("{figures}{suite}")
    } else {
        let shown: Vec<String> = t.failing.iter().take(3).cloned().collect();
        let more = if bad as usize > shown.len() {
            format!(" and {} more", bad as usize - shown.len())
        } else {
            String::new()
        };
        format!("{figures}: {}{more}{suite}", shown.join(", "))
    };
    Ok(Reading {
        counts: vec![
            ("tests", t.tests),
            ("passed", t.passed()),
            ("failed", t.failed),
            ("errors", t.errors),
            ("skipped", t.skipped),
            ("flaky", t.flaky),
        ],
        kind: EvidenceKind::Tests,
        format: "junit",
        passed: bad == 0 && ran > 0,
        summary: if t.tests == 0 {
            "no test cases in the file".into()
        } else if ran == 0 && bad == 0 {
            format!("no test ran: {figures}")
        } else {
            summary
        },
        figure: Some(t.tests as f64),
        details: tally.failing.clone(),
    })
}

/// Cobertura XML: `<coverage line-rate="0.83" lines-covered=… lines-valid=…>`.
pub fn cobertura<R: BufRead>(r: R, file: &str) -> Result<Reading, ReadError> {
    let mut reader = Reader::from_reader(r);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::DocType(_)) => {
                return Err(at(
                    file,
                    reader.buffer_position(),
                    "a DOCTYPE is not allowed (it could declare entities to expand)",
                ));
            }
            Ok(first @ (Event::Start(_) | Event::Empty(_))) => {
                let e = match &first {
                    Event::Start(e) | Event::Empty(e) => e.clone().into_owned(),
                    _ => unreachable!("matched above"),
                };
                if e.local_name().as_ref() != b"coverage" {
                    return Err(at(
                        file,
                        reader.buffer_position(),
                        format!(
                            "the root element is <{}>, not <coverage>: not Cobertura XML",
                            String::from_utf8_lossy(e.local_name().as_ref())
                        ),
                    ));
                }
                let covered = attr(&e, b"lines-covered").and_then(|v| v.parse::<f64>().ok());
                let valid = attr(&e, b"lines-valid").and_then(|v| v.parse::<f64>().ok());
                let pct = match (covered, valid) {
                    (Some(c), Some(v)) if v > 0.0 => c / v * 100.0,
                    _ => match attr(&e, b"line-rate").and_then(|v| v.parse::<f64>().ok()) {
                        Some(r) => r * 100.0,
                        None => {
                            return Err(at(
                                file,
                                reader.buffer_position(),
                                "<coverage> has neither line-rate nor lines-covered/lines-valid",
                            ));
                        }
                    },
                };
                // A rate is a fraction of lines: 0 to 100 %, a finite number.
                if !pct.is_finite() || !(0.0..=100.0).contains(&pct) {
                    return Err(at(
                        file,
                        reader.buffer_position(),
                        format!("line coverage {pct} % is impossible (0 to 100 %)"),
                    ));
                }
                let lines = match (covered, valid) {
                    (Some(c), Some(v)) => format!(" ({c:.0} of {v:.0} lines)"),
                    _ => String::new(),
                };
                // Read to the end: a cut-short or malformed file is refused, not judged
                // by its first tag.
                if matches!(first, Event::Start(_)) {
                    let mut depth = 1usize;
                    let mut rest = Vec::new();
                    while depth > 0 {
                        match reader.read_event_into(&mut rest) {
                            Ok(Event::Start(_)) => depth += 1,
                            Ok(Event::End(_)) => depth -= 1,
                            Ok(Event::DocType(_)) => {
                                return Err(at(
                                    file,
                                    reader.buffer_position(),
                                    "a DOCTYPE is not allowed (it could declare entities to expand)",
                                ));
                            }
                            Ok(Event::Eof) => {
                                return Err(at(
                                    file,
                                    reader.buffer_position(),
                                    "the XML ends before </coverage> (truncated?)",
                                ));
                            }
                            Ok(_) => {}
                            Err(e) => {
                                return Err(at(
                                    file,
                                    reader.error_position(),
                                    format!("XML error: {e}"),
                                ));
                            }
                        }
                        rest.clear();
                    }
                }
                return Ok(Reading {
                    counts: Vec::new(),
                    kind: EvidenceKind::Coverage,
                    format: "cobertura",
                    passed: true,
                    summary: format!("line coverage {pct:.1} %{lines}"),
                    figure: Some(pct),
                    details: Vec::new(),
                });
            }
            Ok(Event::Eof) => return Err(at(file, reader.buffer_position(), "no root element")),
            Ok(_) => {}
            Err(e) => return Err(at(file, reader.error_position(), format!("XML error: {e}"))),
        }
        buf.clear();
    }
}
