//! One line of a metrics page: a sample (name, labels, value, timestamp, exemplar) or a
//! comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`), with errors at line and column.

use super::*;

pub(super) struct LineParser<'a> {
    pub(super) s: &'a str,
    pub(super) b: &'a [u8],
    pub(super) i: usize,
    pub(super) line: usize,
    pub(super) om: bool,
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

    pub(super) fn skip_ws(&mut self) {
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
                        // The text format keeps any other escape as it is, as
                        // Prometheus's scrape does (`\q` stays `\q`); OpenMetrics'
                        // grammar has no such escape.
                        _ if !self.om => {
                            out.push('\\');
                            continue;
                        }
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
        let start = labels.len();
        let mut quoted_name = None;
        let mut first = true;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(quoted_name);
            }
            let was_quoted = self.peek() == Some(b'"');
            let name_at = self.i;
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
            if labels[start..].iter().any(|l| l.name == lname) {
                // Prometheus fails such a scrape; keeping one of the values would lie.
                self.i = name_at;
                return self.err(format!("label `{lname}` appears twice in one sample"));
            }
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
            // Out of range (`1e400`) is an error, as Go's ParseFloat makes it for
            // Prometheus, not an infinity.
            _ => t.parse::<f64>().ok().filter(|v| v.is_finite()),
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
        // The text format's timestamps are integer milliseconds (Prometheus reads them
        // with ParseInt); OpenMetrics' are seconds, possibly fractional.
        let ms = if self.om {
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

    pub(super) fn sample(&mut self, labels: &mut Vec<Label<'a>>) -> Result<Sample<'a>, ParseError> {
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
    pub(super) fn comment(&mut self, page: &mut Page<'a>) -> Result<bool, ParseError> {
        self.i += 1;
        if self.om && self.peek() != Some(b' ') {
            return self.err("OpenMetrics writes `# ` then a keyword");
        }
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
                } else if self.om {
                    return self.err(format!("`# {kw} {name}` needs a space and then its text"));
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
                        let t = rest.trim_start();
                        if t.len() != t.trim_end().len() {
                            // Prometheus's scrape fails on it; so does gander.
                            self.i = self.s.len() - (t.len() - t.trim_end().len());
                            return self.err("blanks after the metric type");
                        }
                        if self.om && t == "untyped" {
                            return self.err(
                                "`untyped` is not an OpenMetrics type (it is `unknown` there)",
                            );
                        }
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
                    _ => {
                        let unit = rest.trim();
                        if self.om && !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
                            return self.err(format!(
                                "unit `{unit}` is not a suffix of the metric name `{name}` (OpenMetrics requires `{name}` to end in `_{unit}`)"
                            ));
                        }
                        page.families[idx].unit = Some(unit);
                    }
                }
                Ok(false)
            }
            _ if self.om => {
                self.i = kw_start;
                self.err("OpenMetrics allows only `# TYPE`, `# HELP`, `# UNIT` and `# EOF` lines")
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
