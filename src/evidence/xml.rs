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

/// JUnit XML: `<testsuites>` (nested or not) or a single `<testsuite>`, as cargo-nextest,
/// pytest, Maven Surefire and others write it. Counts come from the `<testcase>`
/// elements themselves (suite attributes disagree between tools).
pub fn junit<R: BufRead>(r: R, file: &str) -> Result<Reading, ReadError> {
    let mut reader = Reader::from_reader(r);
    let mut buf = Vec::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    let mut failing: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut saw_root = false;
    let mut depth = 0usize;
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
                        tests += 1;
                        let n = attr(&e, b"name").unwrap_or_else(|| "?".into());
                        let label = match attr(&e, b"classname").filter(|c| !c.is_empty()) {
                            Some(c) => format!("{c}::{n}"),
                            None => n,
                        };
                        if !empty {
                            current = Some(label);
                        }
                    }
                    b"failure" | b"error" | b"skipped" if current.is_some() => {
                        match name {
                            b"failure" => failures += 1,
                            b"error" => errors += 1,
                            _ => skipped += 1,
                        }
                        if name != b"skipped" && failing.len() < 20 {
                            if let Some(c) = &current {
                                if !failing.contains(c) {
                                    failing.push(c.clone());
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"testcase" {
                    current = None;
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
    let bad = failures + errors;
    let passed = tests - bad - skipped;
    let summary = if bad == 0 {
        format!("{passed} passed, {skipped} skipped of {tests} tests")
    } else {
        let more = if bad as usize > failing.len() {
            format!(" and {} more", bad as usize - failing.len().min(3))
        } else {
            String::new()
        };
        format!(
            "{failures} failed, {errors} errors of {tests} tests: {}{more}",
            failing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(Reading {
        kind: EvidenceKind::Tests,
        format: "junit",
        passed: bad == 0 && tests > 0,
        summary: if tests == 0 {
            "no test cases in the file".into()
        } else {
            summary
        },
        figure: Some(tests as f64),
        details: failing,
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
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
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
                let lines = match (covered, valid) {
                    (Some(c), Some(v)) => format!(" ({c:.0} of {v:.0} lines)"),
                    _ => String::new(),
                };
                return Ok(Reading {
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
