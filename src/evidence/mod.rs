//! Evidence from real tools: SARIF 2.1.0, JUnit XML, Cobertura XML, LCOV, CycloneDX and
//! SPDX JSON SBOMs, k6 summaries. The format is detected from the content, not the name.
//! Each reader returns a verdict with its key figures, or an error naming the file and
//! the position.

pub mod json;
pub mod sbom;
pub mod schema;
pub mod xml;

use crate::engine::config::{Baseline, EvidenceKind, SastLevel};
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What a reader decided about one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub kind: EvidenceKind,
    /// junit, cobertura, lcov, sarif, cyclonedx, spdx, k6
    pub format: &'static str,
    pub passed: bool,
    /// Key figures in a sentence ("2 errors: rust/unsafe-code in src/x.rs:14").
    pub summary: String,
    /// The headline number: tests run, coverage percent, findings, components, p95 ms.
    pub figure: Option<f64>,
    /// The failing tests, the findings, the components without versions… (bounded).
    pub details: Vec<String>,
    /// Every key figure by name (JUnit: tests, passed, failed, errors, skipped, flaky),
    /// recorded beside the summary.
    pub counts: Vec<(&'static str, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {position}: {message}")]
pub struct ReadError {
    pub file: String,
    pub position: String,
    pub message: String,
}

/// What the readers need to decide.
#[derive(Debug, Clone)]
pub struct Policy {
    pub service: String,
    pub version: Option<String>,
    pub sast_fail_level: SastLevel,
    pub baseline: Baseline,
}

/// JSON files are read whole: refuse the absurd before allocating for it.
pub const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

fn first_byte(path: &Path) -> Result<Option<u8>, ReadError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let mut buf = [0u8; 4096];
    loop {
        let n = f.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            return Ok(None);
        }
        let mut s = &buf[..n];
        // A UTF-8 byte-order mark is allowed.
        if let Some(rest) = s.strip_prefix(b"\xEF\xBB\xBF") {
            s = rest;
        }
        if let Some(b) = s.iter().find(|b| !b.is_ascii_whitespace()) {
            return Ok(Some(*b));
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> ReadError {
    ReadError {
        file: path.display().to_string(),
        position: "-".into(),
        message: e.to_string(),
    }
}

fn open(path: &Path) -> Result<BufReader<File>, ReadError> {
    Ok(BufReader::with_capacity(
        1 << 16,
        File::open(path).map_err(|e| io(path, e))?,
    ))
}

/// Read `path`, detecting its format from the content. `kind`, when given, must agree.
pub fn read(
    path: &Path,
    kind: Option<EvidenceKind>,
    policy: &Policy,
) -> Result<Reading, ReadError> {
    let file = path.display().to_string();
    let err = |position: &str, message: String| ReadError {
        file: file.clone(),
        position: position.into(),
        message,
    };
    let reading = match first_byte(path)? {
        None => return Err(err("-", "the file is empty".into())),
        Some(b'<') => match xml::root(open(path)?, &file)?.as_str() {
            "testsuites" | "testsuite" => xml::junit(open(path)?, &file)?,
            "coverage" => xml::cobertura(open(path)?, &file)?,
            other => {
                return Err(err(
                    "line 1",
                    format!(
                        "XML with root <{other}>: neither JUnit (<testsuites>/<testsuite>) nor Cobertura (<coverage>)"
                    ),
                ));
            }
        },
        Some(b'{') => {
            let len = std::fs::metadata(path).map_err(|e| io(path, e))?.len();
            if len > MAX_JSON_BYTES {
                return Err(err(
                    "-",
                    format!("{len} bytes of JSON is more than the {MAX_JSON_BYTES} gander reads"),
                ));
            }
            let mut text = String::new();
            open(path)?
                .read_to_string(&mut text)
                .map_err(|e| err("-", format!("not UTF-8 text ({e})")))?;
            json::read(&text, &file, policy)?
        }
        Some(_) => {
            // LCOV is line-oriented text: `TN:`, `SF:`, `DA:`, `LF:`, `LH:`, `end_of_record`.
            let mut r = open(path)?;
            let mut first = String::new();
            r.read_line(&mut first)
                .map_err(|_| err("line 1", "not UTF-8 text".into()))?;
            let f = first.trim_start_matches('\u{feff}').trim_start();
            if f.starts_with("TN:") || f.starts_with("SF:") {
                lcov(open(path)?, &file)?
            } else {
                return Err(err(
                    "line 1",
                    "not a format gander reads (SARIF, JUnit XML, Cobertura XML, LCOV, CycloneDX, SPDX or k6 JSON)".into(),
                ));
            }
        }
    };
    if let Some(k) = kind {
        if k != reading.kind {
            return Err(err(
                "-",
                format!(
                    "--kind {} was given, but the file is {} ({} evidence)",
                    k.as_str(),
                    reading.format,
                    reading.kind.as_str()
                ),
            ));
        }
    }
    Ok(reading)
}

/// LCOV tracefile: line coverage from `LH`/`LF` per file (or `DA` lines when absent).
pub fn lcov<R: BufRead>(r: R, file: &str) -> Result<Reading, ReadError> {
    // Each record counts by its own LF/LH when it has them, else by its DA lines; the
    // totals are checked sums (a wrapped count would read as any coverage at all).
    let (mut found, mut hit) = (0u64, 0u64);
    let mut rec: (Option<u64>, Option<u64>, u64, u64) = (None, None, 0, 0);
    let mut files = 0u64;
    let mut in_record = false;
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| ReadError {
            file: file.into(),
            position: format!("line {}", i + 1),
            message: format!("not UTF-8 text ({e})"),
        })?;
        let bad = |m: &str| ReadError {
            file: file.into(),
            position: format!("line {}", i + 1),
            message: m.into(),
        };
        let num = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad(&format!("expected a number, found `{v}`")))
        };
        if line.starts_with("SF:") {
            files += 1;
            in_record = true;
            rec = (None, None, 0, 0);
        } else if let Some(v) = line.strip_prefix("LF:") {
            rec.0 = Some(num(v)?);
        } else if let Some(v) = line.strip_prefix("LH:") {
            rec.1 = Some(num(v)?);
        } else if let Some(v) = line.strip_prefix("DA:") {
            let mut parts = v.split(',');
            let _line = parts.next();
            let count = parts.next().ok_or_else(|| bad("DA needs LINE,COUNT"))?;
            rec.2 += 1;
            if num(count)? > 0 {
                rec.3 += 1;
            }
        } else if line.trim() == "end_of_record" {
            in_record = false;
            let (f, h) = match rec {
                (Some(f), h, _, _) => (f, h.unwrap_or(0)),
                (None, Some(_), _, _) => return Err(bad("LH: without LF: in this record")),
                (None, None, f, h) => (f, h),
            };
            if h > f {
                return Err(bad(&format!(
                    "{h} lines hit of {f} found: more hit than exist"
                )));
            }
            found = found
                .checked_add(f)
                .ok_or_else(|| bad("line counts overflow"))?;
            hit = hit
                .checked_add(h)
                .ok_or_else(|| bad("line counts overflow"))?;
        }
    }
    if files == 0 {
        return Err(ReadError {
            file: file.into(),
            position: "-".into(),
            message: "no SF: record: not an LCOV tracefile".into(),
        });
    }
    if in_record {
        return Err(ReadError {
            file: file.into(),
            position: "end".into(),
            message: "the last record has no end_of_record (truncated?)".into(),
        });
    }
    let (f, h) = (found, hit);
    let pct = if f == 0 {
        0.0
    } else {
        h as f64 / f as f64 * 100.0
    };
    Ok(Reading {
        counts: Vec::new(),
        kind: EvidenceKind::Coverage,
        format: "lcov",
        passed: true,
        summary: format!("line coverage {pct:.1} % ({h} of {f} lines, {files} files)"),
        figure: Some(pct),
        details: Vec::new(),
    })
}
