//! `gander scrape URL`: every series a metrics page exports, as gander parses it.

use super::{EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, output};
use crate::io::http::{Auth, FetchError, Http, HttpConfig};
use crate::metrics::text::{Format, parse};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The metrics page (http:// or https://), or a file path to read instead
    pub url: String,
    /// Print the series as JSON
    #[arg(long)]
    pub json: bool,
    /// Request timeout in seconds
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

#[derive(Serialize)]
struct Series<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    /// A number, or "NaN", "+Inf", "-Inf" (JSON has no such numbers).
    value: serde_json::Value,
    timestamp_ms: Option<i64>,
    line: u32,
}

#[derive(Serialize)]
struct Report<'a> {
    url: &'a str,
    format: Option<Format>,
    series: Vec<Series<'a>>,
}

fn value_json(v: f64) -> serde_json::Value {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        serde_json::json!(v)
    }
}

fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

pub fn run(args: Args) -> i32 {
    let (body, ctype) = if args.url.starts_with("http://") || args.url.starts_with("https://") {
        let rt = match super::runtime() {
            Ok(r) => r,
            Err(code) => return code,
        };
        let http = match Http::new(HttpConfig {
            timeout: Duration::from_secs(args.timeout.max(1)),
            ..HttpConfig::default()
        }) {
            Ok(h) => h,
            Err(e) => {
                crate::err!("gander: {e}");
                return super::EXIT_USAGE;
            }
        };
        match rt.block_on(http.get(&args.url, "application/openmetrics-text;version=1.0.0;q=0.9, text/plain;version=0.0.4;q=0.5, */*;q=0.1", &Auth::None)) {
            Ok(f) if (200..300).contains(&f.status) => (f.body, f.content_type),
            Ok(f) => {
                crate::err!("gander: {}: HTTP {}", args.url, f.status);
                return EXIT_FAILED;
            }
            Err(e) => {
                crate::err!("gander: {}: {e}", args.url);
                return match e {
                    FetchError::NotUtf8(..) | FetchError::TooLarge(_) | FetchError::Status(_) => EXIT_FAILED,
                    _ => EXIT_UNREACHABLE,
                };
            }
        }
    } else {
        match std::fs::read(&args.url) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => (s, None),
                Err(e) => {
                    let at = crate::diag::utf8_error_at(e.as_bytes(), e.utf8_error().valid_up_to());
                    crate::err!("gander: {}:{}:{}: not UTF-8", args.url, at.line, at.column);
                    return EXIT_FAILED;
                }
            },
            Err(e) => {
                crate::err!("gander: {}: {e}", args.url);
                return super::EXIT_USAGE;
            }
        }
    };
    let hint = ctype
        .as_deref()
        .filter(|c| c.starts_with("application/openmetrics-text"))
        .map(|_| Format::OpenMetrics);
    let page = match parse(&body, hint) {
        Ok(p) => p,
        Err(e) => {
            crate::err!("gander: {}: bad metrics page: {e}", args.url);
            return EXIT_FAILED;
        }
    };
    let series: Vec<Series> = page
        .samples
        .iter()
        .map(|s| Series {
            kind: page.type_of(&s.name).as_str(),
            name: &s.name,
            labels: page
                .labels(s)
                .iter()
                .map(|l| (l.name.as_ref(), l.value.as_ref()))
                .collect(),
            value: value_json(s.value),
            timestamp_ms: s.timestamp_ms,
            line: s.line,
        })
        .collect();
    if args.json {
        output::print_json(
            "scrape",
            &Report {
                url: &args.url,
                format: page.format,
                series,
            },
        );
        return EXIT_OK;
    }
    for (s, raw) in series.iter().zip(&page.samples) {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.to_string())))
            .collect();
        let ts = s.timestamp_ms.map(|t| format!(" @{t}")).unwrap_or_default();
        crate::out!(
            "{:<9} {}{{{}}} {}{ts}",
            s.kind,
            s.name,
            labels.join(","),
            value_text(raw.value)
        );
    }
    crate::err!(
        "{} series from {} ({})",
        series.len(),
        args.url,
        match page.format {
            Some(Format::OpenMetrics) => "OpenMetrics",
            _ => "Prometheus text format",
        }
    );
    EXIT_OK
}
