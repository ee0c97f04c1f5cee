//! A zero-copy parser for the Prometheus text exposition format (0.0.4) and
//! OpenMetrics 1.0.
//!
//! Why not prometheus-parse alone: 0.2.5 drops metric names with `:` (recording rules),
//! cuts label values at `,`, drops labels whose values hold `=`, and mishandles escaped
//! quotes. Here nothing is dropped or altered: names and label values borrow from the
//! page and are copied only when they hold escapes. prometheus-parse stays in the tests
//! as a differential check on the inputs it handles.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

mod line;
use line::LineParser;

/// OpenMetrics separates tokens with exactly one space (ABNF `SP`): no leading or
/// trailing blanks, no tabs, no runs of spaces, outside quoted label values and HELP text.
fn om_separators(line: &str, line_no: usize) -> Result<(), ParseError> {
    let fail = |i: usize, message: &str| {
        Err(ParseError {
            line: line_no,
            column: line[..i].chars().count() + 1,
            message: message.into(),
        })
    };
    // HELP text is free (it is escaped text to the end of the line).
    let scan = if let Some(rest) = line.strip_prefix("# HELP ") {
        let name_end = rest.find(' ').map_or(line.len(), |j| "# HELP ".len() + j);
        &line[..name_end]
    } else {
        line
    };
    let b = scan.as_bytes();
    let (mut quoted, mut escaped) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if quoted {
            match (escaped, c) {
                (false, b'\\') => escaped = true,
                (false, b'"') => quoted = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            b'"' => quoted = true,
            b'\t' => return fail(i, "a tab; OpenMetrics separates with one space"),
            b' ' if i == 0 => {
                return fail(
                    i,
                    "a leading space; OpenMetrics lines start with a name or `#`",
                );
            }
            b' ' if b[i - 1] == b' ' => {
                return fail(i, "two spaces; OpenMetrics separates with one");
            }
            _ => {}
        }
    }
    if scan.len() == line.len() && line.ends_with(' ') {
        return fail(
            line.len() - 1,
            "a trailing space; OpenMetrics lines end at their last token",
        );
    }
    Ok(())
}

/// Which grammar the page is in. OpenMetrics is detected by its `# EOF` line or told
/// by the caller from the Content-Type.
/// (A `# EOF` line anywhere selects OpenMetrics, so content after it is an error.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    OpenMetrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
    Info,
    Stateset,
    Gaugehistogram,
    Unknown,
}

impl MetricType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Untyped,
            "info" => MetricType::Info,
            "stateset" => MetricType::Stateset,
            "gaugehistogram" => MetricType::Gaugehistogram,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
            MetricType::Gaugehistogram => "gaugehistogram",
            MetricType::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    labels: Range<u32>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: Cow<'a, str>,
    labels: Range<u32>,
    pub value: f64,
    /// Milliseconds since the epoch (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar>,
    /// 1-based line of the page.
    pub line: u32,
}

/// `# TYPE`, `# HELP` and `# UNIT` of one metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    pub name: Cow<'a, str>,
    pub kind: Option<MetricType>,
    pub help: Option<Cow<'a, str>>,
    pub unit: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page<'a> {
    pub format: Option<Format>,
    pub samples: Vec<Sample<'a>>,
    pub families: Vec<Family<'a>>,
    labels: Vec<Label<'a>>,
}

impl<'a> Page<'a> {
    pub fn labels(&self, s: &Sample<'a>) -> &[Label<'a>] {
        &self.labels[s.labels.start as usize..s.labels.end as usize]
    }

    pub fn exemplar_labels(&self, e: &Exemplar) -> &[Label<'a>] {
        &self.labels[e.labels.start as usize..e.labels.end as usize]
    }

    pub fn label<'s>(&'s self, s: &Sample<'a>, name: &str) -> Option<&'s str> {
        self.labels(s)
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_ref())
    }

    /// The family a sample belongs to: its own name, or the name without a histogram,
    /// summary or counter suffix when that family is declared.
    pub fn family_of(&self, sample_name: &str) -> Option<&Family<'a>> {
        let exact = self.families.iter().rev().find(|f| f.name == sample_name);
        if exact.is_some() {
            return exact;
        }
        for suffix in [
            "_bucket", "_count", "_sum", "_total", "_created", "_info", "_gcount", "_gsum",
        ] {
            if let Some(base) = sample_name.strip_suffix(suffix) {
                if let Some(f) = self.families.iter().rev().find(|f| f.name == base) {
                    return Some(f);
                }
            }
        }
        None
    }

    /// The declared type of a sample's family, `untyped` when none is declared.
    pub fn type_of(&self, sample_name: &str) -> MetricType {
        self.family_of(sample_name)
            .and_then(|f| f.kind)
            .unwrap_or(MetricType::Untyped)
    }
}

/// A syntax error, with the 1-based line and column it was found at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parse a page. `hint` is the format the server declared (Content-Type), if any; a
/// trailing `# EOF` selects OpenMetrics too. An OpenMetrics page without `# EOF` is
/// an error (the body was cut short).
pub fn parse(text: &str, hint: Option<Format>) -> Result<Page<'_>, ParseError> {
    let om =
        hint == Some(Format::OpenMetrics) || text.starts_with("# EOF") || text.contains("\n# EOF");
    let format = if om {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let mut page = Page {
        format: Some(format),
        samples: Vec::with_capacity(text.len() / 64),
        families: Vec::new(),
        labels: Vec::with_capacity(text.len() / 32),
    };
    let mut eof_line: Option<usize> = None;
    let mut line_no = 0usize;
    let mut lines = text.split('\n').peekable();
    while let Some(raw) = lines.next() {
        line_no += 1;
        let line = raw;
        if lines.peek().is_none() && line.is_empty() {
            break; // the final newline
        }
        // Prometheus's scrape reads `\r` as part of the value ("parsing \"1\r\"") and
        // fails the page; so does OpenMetrics' grammar.
        if let Some(at) = line.find('\r') {
            return Err(ParseError {
                line: line_no,
                column: at + 1,
                message: "a carriage return (CRLF line ending?); lines end with `\\n` only".into(),
            });
        }
        if let Some(eof) = eof_line {
            return Err(ParseError {
                line: line_no,
                column: 1,
                message: format!("content after `# EOF` on line {eof}"),
            });
        }
        if om {
            om_separators(line, line_no)?;
        }
        let mut p = LineParser {
            s: line,
            b: line.as_bytes(),
            i: 0,
            line: line_no,
            om,
        };
        p.skip_ws();
        if p.i == p.b.len() {
            if om {
                return Err(ParseError {
                    line: line_no,
                    column: 1,
                    message: "a blank line; OpenMetrics allows none before `# EOF`".into(),
                });
            }
            continue; // blank line
        }
        if p.b[p.i] == b'#' {
            if p.comment(&mut page)? {
                eof_line = Some(line_no);
            }
            continue;
        }
        if p.i > 0 {
            // Prometheus keeps the blanks as part of the name ("  m") and fails the page.
            return Err(ParseError {
                line: line_no,
                column: 1,
                message: "a blank before a sample's name; a sample line starts with its name"
                    .into(),
            });
        }
        let sample = p.sample(&mut page.labels)?;
        page.samples.push(sample);
    }
    if om && eof_line.is_none() {
        return Err(ParseError {
            line: line_no.max(1),
            column: 1,
            message: "OpenMetrics page ends without `# EOF` (the body was cut short?)".into(),
        });
    }
    Ok(page)
}
