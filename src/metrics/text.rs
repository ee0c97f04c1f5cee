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
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if lines.peek().is_none() && line.is_empty() {
            break; // the final newline
        }
        if let Some(eof) = eof_line {
            if !line.trim().is_empty() {
                return Err(ParseError {
                    line: line_no,
                    column: 1,
                    message: format!("content after `# EOF` on line {eof}"),
                });
            }
            continue;
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
            continue; // blank line
        }
        if p.b[p.i] == b'#' {
            if p.comment(&mut page)? {
                eof_line = Some(line_no);
            }
            continue;
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

struct LineParser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    line: usize,
    om: bool,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

impl<'a> LineParser<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.line,
            column: self.s[..self.i.min(self.s.len())].chars().count() + 1,
            message: message.into(),
        })
    }

    fn found(&self) -> String {
        match self.s[self.i..].chars().next() {
            None => "the end of the line".into(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn skip_ws(&mut self) {
        while self.i < self.b.len() && (self.b[self.i] == b' ' || self.b[self.i] == b'\t') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    fn name(&mut self, what: &str) -> Result<&'a str, ParseError> {
        let start = self.i;
        match self.peek() {
            Some(c) if is_name_start(c) => self.i += 1,
            _ => return self.err(format!("expected {what}, found {}", self.found())),
        }
        while self.i < self.b.len() && is_name_char(self.b[self.i]) {
            self.i += 1;
        }
        Ok(&self.s[start..self.i])
    }

    /// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`, or a quoted UTF-8 name.
    fn label_name(&mut self) -> Result<Cow<'a, str>, ParseError> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.i += 1,
            _ => return self.err(format!("expected a label name, found {}", self.found())),
        }
        while self.i < self.b.len()
            && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_')
        {
            self.i += 1;
        }
        Ok(Cow::Borrowed(&self.s[start..self.i]))
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes; borrowed unless escaped.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        if self.peek() != Some(b'"') {
            return self.err(format!("expected `\"`, found {}", self.found()));
        }
        self.i += 1;
        let start = self.i;
        // Fast path: no escapes.
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    let v = &self.s[start..self.i];
                    self.i += 1;
                    return Ok(Cow::Borrowed(v));
                }
                b'\\' => break,
                _ => self.i += 1,
            }
        }
        let mut out = String::with_capacity(self.i - start + 16);
        out.push_str(&self.s[start..self.i]);
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        Some(b'n') => out.push('\n'),
                        _ => {
                            return self.err(format!(
                                "unknown escape `\\{}` (only \\\\, \\\" and \\n are allowed)",
                                self.s[self.i..].chars().next().unwrap_or(' ')
                            ));
                        }
                    }
                    self.i += 1;
                }
                _ => {
                    // Copy the run up to the next quote or backslash in one go.
                    let run = self.i;
                    while self.i < self.b.len() && self.b[self.i] != b'"' && self.b[self.i] != b'\\'
                    {
                        self.i += 1;
                    }
                    out.push_str(&self.s[run..self.i]);
                }
            }
        }
        self.err("unterminated quoted string")
    }

    /// `{name="value",...}`, the brace already current. Returns the quoted metric name
    /// when the set starts with one (Prometheus 3 UTF-8 names: `{"my.metric",a="b"}`).
    fn label_set(
        &mut self,
        labels: &mut Vec<Label<'a>>,
    ) -> Result<Option<Cow<'a, str>>, ParseError> {
        self.i += 1; // '{'
        let mut quoted_name = None;
        let mut first = true;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(quoted_name);
            }
            let was_quoted = self.peek() == Some(b'"');
            let lname = self.label_name()?;
            self.skip_ws();
            if first && was_quoted && matches!(self.peek(), Some(b',') | Some(b'}')) {
                // A bare quoted string first: the metric name.
                quoted_name = Some(lname);
                first = false;
                if self.peek() == Some(b',') {
                    self.i += 1;
                }
                continue;
            }
            first = false;
            if self.peek() != Some(b'=') {
                return self.err(format!(
                    "expected `=` after label `{lname}`, found {}",
                    self.found()
                ));
            }
            self.i += 1;
            self.skip_ws();
            let value = self.quoted()?;
            labels.push(Label { name: lname, value });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => {
                    return self.err(format!(
                        "expected `,` or `}}` after a label value, found {}",
                        self.found()
                    ));
                }
            }
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.i;
        while self.i < self.b.len() && self.b[self.i] != b' ' && self.b[self.i] != b'\t' {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn number(&mut self, what: &str) -> Result<f64, ParseError> {
        let start = self.i;
        let t = self.token();
        let v = match t {
            "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
            "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
            "NaN" | "nan" => Some(f64::NAN),
            "" => None,
            _ => t.parse::<f64>().ok(),
        };
        match v {
            Some(v) => Ok(v),
            None => {
                self.i = start;
                self.err(format!(
                    "expected {what}, found {}",
                    if t.is_empty() {
                        self.found()
                    } else {
                        format!("`{t}`")
                    }
                ))
            }
        }
    }

    fn timestamp(&mut self) -> Result<Option<i64>, ParseError> {
        self.skip_ws();
        if self.i == self.b.len() || self.peek() == Some(b'#') {
            return Ok(None);
        }
        let start = self.i;
        let t = self.token();
        let ms = if self.om || t.contains(['.', 'e', 'E']) {
            // OpenMetrics: seconds, possibly fractional.
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| (v * 1000.0).round() as i64)
        } else {
            t.parse::<i64>().ok()
        };
        match ms {
            Some(ms) => Ok(Some(ms)),
            None => {
                self.i = start;
                self.err(format!("expected a timestamp, found `{t}`"))
            }
        }
    }

    fn sample(&mut self, labels: &mut Vec<Label<'a>>) -> Result<Sample<'a>, ParseError> {
        let lstart = labels.len() as u32;
        let name: Cow<'a, str>;
        let spaced: bool;
        if self.peek() == Some(b'{') {
            name = match self.label_set(labels)? {
                Some(n) => n,
                None => return self.err("a sample needs a metric name"),
            };
            let before = self.i;
            self.skip_ws();
            spaced = self.i > before;
        } else {
            name = Cow::Borrowed(self.name("a metric name")?);
            let before = self.i;
            self.skip_ws();
            if self.peek() == Some(b'{') {
                if let Some(q) = self.label_set(labels)? {
                    return self.err(format!("metric name given twice (`{name}` and \"{q}\")"));
                }
                let before = self.i;
                self.skip_ws();
                spaced = self.i > before;
            } else {
                spaced = self.i > before;
            }
        }
        let lend = labels.len() as u32;
        if !spaced {
            return self.err(format!(
                "expected a space and a value after `{name}`, found {}",
                self.found()
            ));
        }
        let value = self.number("a value")?;
        let timestamp_ms = self.timestamp()?;
        self.skip_ws();
        let mut exemplar = None;
        if self.peek() == Some(b'#') {
            if !self.om {
                // The text format has no exemplars; a `#` here is garbage.
                return self.err("unexpected `#` after the value (exemplars need OpenMetrics)");
            }
            self.i += 1;
            self.skip_ws();
            if self.peek() != Some(b'{') {
                return self.err(format!(
                    "expected an exemplar's labels `{{`, found {}",
                    self.found()
                ));
            }
            let estart = labels.len() as u32;
            self.label_set(labels)?;
            let eend = labels.len() as u32;
            self.skip_ws();
            let v = self.number("an exemplar value")?;
            let ts = self.timestamp()?;
            exemplar = Some(Exemplar {
                labels: estart..eend,
                value: v,
                timestamp_ms: ts,
            });
            self.skip_ws();
        }
        if self.i != self.b.len() {
            return self.err(format!("unexpected {} after the sample", self.found()));
        }
        Ok(Sample {
            name,
            labels: lstart..lend,
            value,
            timestamp_ms,
            exemplar,
            line: self.line as u32,
        })
    }

    /// A `#` line. Returns true on `# EOF`.
    fn comment(&mut self, page: &mut Page<'a>) -> Result<bool, ParseError> {
        self.i += 1;
        self.skip_ws();
        let kw_start = self.i;
        let kw = self.token();
        match kw {
            "EOF" if self.om => {
                self.skip_ws();
                if self.i != self.b.len() {
                    return self.err("unexpected text after `# EOF`");
                }
                Ok(true)
            }
            "TYPE" | "HELP" | "UNIT" => {
                self.skip_ws();
                let name: Cow<'a, str> = if self.peek() == Some(b'"') {
                    self.quoted()?
                } else {
                    Cow::Borrowed(self.name("a metric name")?)
                };
                // One space, then the rest of the line.
                if self.i < self.b.len() && (self.b[self.i] == b' ' || self.b[self.i] == b'\t') {
                    self.i += 1;
                }
                let rest = &self.s[self.i..];
                let idx = match page.families.iter().rposition(|f| f.name == name) {
                    Some(i) => i,
                    None => {
                        page.families.push(Family {
                            name: name.clone(),
                            kind: None,
                            help: None,
                            unit: None,
                        });
                        page.families.len() - 1
                    }
                };
                match kw {
                    "TYPE" => {
                        let t = rest.trim();
                        match MetricType::parse(t) {
                            Some(k) => page.families[idx].kind = Some(k),
                            None => {
                                return self.err(format!(
                                    "unknown metric type `{t}` (expected counter, gauge, histogram, summary, untyped, info, stateset, gaugehistogram or unknown)"
                                ));
                            }
                        }
                    }
                    "HELP" => page.families[idx].help = Some(unescape_help(rest)),
                    _ => page.families[idx].unit = Some(rest.trim()),
                }
                Ok(false)
            }
            _ => {
                let _ = kw_start;
                Ok(false) // any other comment
            }
        }
    }
}

fn unescape_help(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
