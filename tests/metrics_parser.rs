//! The metrics parser on pages written by real tools (node_exporter, Prometheus, the
//! official Python client; see scripts/capture-metrics-fixtures.sh), on the cases that
//! prometheus-parse gets wrong, and against prometheus-parse where it is right.

use gander::metrics::text::{Format, MetricType, Page, parse};
use std::collections::BTreeMap;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/metrics/{name}")).unwrap()
}

fn labels(page: &Page, i: usize) -> BTreeMap<String, String> {
    page.labels(&page.samples[i])
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

fn find(page: &Page, name: &str, label: (&str, &str)) -> usize {
    page.samples
        .iter()
        .position(|s| s.name == name && page.label(s, label.0) == Some(label.1))
        .unwrap_or_else(|| panic!("no {name}{{{}=\"{}\"}}", label.0, label.1))
}

/// Lines that hold a sample: not blank, not a comment.
fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count()
}

#[test]
fn every_series_of_real_exporter_pages_is_kept() {
    for name in [
        "node_exporter.prom",
        "prometheus.prom",
        "python_client.prom",
        "python_client.openmetrics",
    ] {
        let text = fixture(name);
        let page = parse(&text, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(page.samples.len(), sample_lines(&text), "{name}");
        assert!(page.samples.len() > 10, "{name}");
    }
}

#[test]
fn the_cases_prometheus_parse_loses_are_kept_exactly() {
    let text = fixture("python_client.prom");
    let page = parse(&text, None).unwrap();
    assert_eq!(page.format, Some(Format::Text));
    // A recording rule's name, with colons.
    let i = find(&page, "job:http_requests:rate5m", ("job", "api"));
    assert_eq!(page.samples[i].value, 12.5);
    assert_eq!(page.type_of("job:http_requests:rate5m"), MetricType::Gauge);
    // Label values holding `,` and `=`, escaped quotes, backslashes and newlines.
    let i = find(
        &page,
        "http_requests_total",
        ("path", "/api/v1/items?a=1,b=2"),
    );
    assert_eq!(page.samples[i].value, 1027.0);
    assert_eq!(labels(&page, i).len(), 3);
    let i = find(&page, "http_requests_total", ("path", "/say \"hi\""));
    assert_eq!(page.samples[i].value, 3.0);
    find(&page, "http_requests_total", ("path", "C:\\temp\\x"));
    find(&page, "legacy_untyped", ("note", "line one\nline two"));
    find(&page, "build_info", ("commit", "abc=def"));
    // NaN and +Inf.
    let i = find(&page, "temperature_celsius", ("sensor", "a"));
    assert!(page.samples[i].value.is_nan());
    let i = find(&page, "temperature_celsius", ("sensor", "b"));
    assert_eq!(page.samples[i].value, f64::INFINITY);
    // Histogram buckets keep their `le`, including +Inf.
    let i = find(
        &page,
        "http_request_duration_seconds_bucket",
        ("le", "+Inf"),
    );
    assert_eq!(page.samples[i].value, 9.0);
    assert_eq!(
        page.type_of("http_request_duration_seconds_bucket"),
        MetricType::Histogram
    );
    assert_eq!(page.type_of("http_requests_total"), MetricType::Counter);
}

#[test]
fn openmetrics_exemplars_types_and_eof() {
    let text = fixture("python_client.openmetrics");
    let page = parse(&text, None).unwrap();
    assert_eq!(page.format, Some(Format::OpenMetrics));
    let i = find(
        &page,
        "http_request_duration_seconds_bucket",
        ("le", "0.25"),
    );
    let s = &page.samples[i];
    assert_eq!(s.value, 5.0);
    let ex = s.exemplar.as_ref().expect("the exemplar is kept");
    assert_eq!(ex.value, 0.12);
    assert!(ex.timestamp_ms.unwrap() > 1_700_000_000_000);
    let el = page.exemplar_labels(ex);
    assert_eq!(
        (el[0].name.as_ref(), el[0].value.as_ref()),
        ("trace_id", "4bf92f3577b34da6")
    );
    assert_eq!(page.type_of("build_info"), MetricType::Info);
    assert_eq!(page.type_of("promotion_status"), MetricType::Stateset);
    assert_eq!(page.type_of("legacy_untyped"), MetricType::Unknown);
    assert_eq!(
        page.family_of("http_requests_total")
            .and_then(|f| f.help.as_deref()),
        Some("Requests served.")
    );
}

#[test]
fn timestamps_escapes_and_whitespace_of_the_text_format() {
    let text = "# HELP a_total Help with \\\\ and \\n.\n# TYPE a_total counter\na_total{x=\"1\",} 3 1700000000123\nb  {  y = \"q\\\"z\" }   -Inf\n\n{\"my.dotted.metric\", \"label.with.dots\"=\"v\"} 1e3\n";
    let page = parse(text, None).unwrap();
    assert_eq!(page.samples.len(), 3);
    assert_eq!(page.samples[0].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(
        page.family_of("a_total").unwrap().help.as_deref(),
        Some("Help with \\ and \n.")
    );
    assert_eq!(page.samples[1].name, "b");
    assert_eq!(page.label(&page.samples[1], "y"), Some("q\"z"));
    assert_eq!(page.samples[1].value, f64::NEG_INFINITY);
    assert_eq!(page.samples[2].name, "my.dotted.metric");
    assert_eq!(page.label(&page.samples[2], "label.with.dots"), Some("v"));
    assert_eq!(page.samples[2].value, 1000.0);
    // OpenMetrics timestamps are seconds.
    let om = "a 1 1700000000.5\n# EOF\n";
    assert_eq!(
        parse(om, None).unwrap().samples[0].timestamp_ms,
        Some(1_700_000_000_500)
    );
}

#[test]
fn garbage_is_an_error_that_names_the_line_and_column() {
    let cases: [(&str, &str); 7] = [
        (
            "a{b=\"\\x\"} 1\n# EOF\n",
            "line 1, column 7: unknown escape `\\x` (only \\\\, \\\" and \\n are allowed)",
        ),
        (
            "ok 1\nok 2\n<html><body>502 Bad Gateway</body></html>\n",
            "line 3, column 1: expected a metric name, found `<`",
        ),
        (
            "a{b=\"c\" 1\n",
            "line 1, column 9: expected `,` or `}` after a label value, found `1`",
        ),
        ("a{b=c} 1\n", "line 1, column 5: expected `\"`, found `c`"),
        ("a 1x\n", "line 1, column 3: expected a value, found `1x`"),
        (
            "a\n",
            "line 1, column 2: expected a space and a value after `a`, found the end of the line",
        ),
        (
            "# TYPE a countr\na 1\n",
            "line 1, column 10: unknown metric type `countr` (expected counter, gauge, histogram, summary, untyped, info, stateset, gaugehistogram or unknown)",
        ),
    ];
    for (text, want) in cases {
        let e = parse(text, None).unwrap_err();
        assert_eq!(e.to_string(), want, "{text:?}");
    }
}

#[test]
fn a_cut_short_openmetrics_page_is_an_error() {
    let text = fixture("python_client.openmetrics");
    let cut = &text[..text.len() / 2];
    let cut = &cut[..cut.rfind('\n').unwrap() + 1];
    let e = parse(cut, Some(Format::OpenMetrics)).unwrap_err();
    assert!(e.message.contains("without `# EOF`"), "{e}");
    let e = parse("a 1\n# EOF\nb 2\n", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, column 1: content after `# EOF` on line 2"
    );
}

#[test]
fn agrees_with_prometheus_parse_where_prometheus_parse_is_right() {
    use prometheus_parse::{Scrape, Value};
    for name in ["node_exporter.prom", "prometheus.prom"] {
        let text = fixture(name);
        let page = parse(&text, None).unwrap();
        let theirs = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        let mut ours: BTreeMap<(String, Vec<(String, String)>), f64> = BTreeMap::new();
        for s in &page.samples {
            let mut ls: Vec<(String, String)> = page
                .labels(s)
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            ls.sort();
            ours.insert((s.name.to_string(), ls), s.value);
        }
        let mut compared = 0;
        for s in &theirs.samples {
            let v = match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => continue, // it folds histograms and summaries; compared below by count
            };
            let mut ls: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ls.sort();
            let mine = ours
                .get(&(s.metric.clone(), ls.clone()))
                .unwrap_or_else(|| {
                    panic!("{name}: prometheus-parse has {}{ls:?}, we do not", s.metric)
                });
            assert!(
                mine == &v || (mine.is_nan() && v.is_nan()),
                "{name}: {} {mine} vs {v}",
                s.metric
            );
            compared += 1;
        }
        assert!(compared > 100, "{name}: only {compared} compared");
    }
}

/// A label twice in one sample fails a Prometheus scrape; gander refuses it too, naming
/// the line and the column of the second one instead of keeping either value.
#[test]
fn a_duplicate_label_is_refused_at_its_line_and_column() {
    let page = "# TYPE a counter\na{l=\"x\",l=\"y\"} 1\n";
    let e = gander::metrics::text::parse(page, None).unwrap_err();
    assert_eq!((e.line, e.column), (2, 9), "{e}");
    assert!(e.message.contains("label `l` appears twice"), "{e}");
}

/// Invalid UTF-8 is placed by line and column, not by byte offset.
#[test]
fn invalid_utf8_is_placed_by_line_and_column() {
    let bytes = b"a 1\nb{l=\"caf\xe9\"} 2\n";
    let e = String::from_utf8(bytes.to_vec()).unwrap_err();
    let at = gander::diag::utf8_error_at(bytes, e.utf8_error().valid_up_to());
    assert_eq!((at.line, at.column), (2, 9));
}

/// What Prometheus's own OpenMetrics parser refuses, gander refuses, naming the line:
/// each case is a good page with one thing broken.
#[test]
fn openmetrics_is_read_by_its_abnf() {
    use gander::metrics::text::{Format, parse};
    let good = "# TYPE a_seconds counter\n# UNIT a_seconds seconds\n# HELP a_seconds Help  with  spaces.\na_seconds_total{l=\"x  y\"} 1 123\n# EOF\n";
    parse(good, Some(Format::OpenMetrics)).unwrap();
    let cases = [
        (
            "\n",
            "# TYPE a_seconds counter\n\na_seconds_total 1\n# EOF\n",
            2,
        ),
        (
            "leading space",
            "# TYPE a_seconds counter\n a_seconds_total 1\n# EOF\n",
            2,
        ),
        (
            "tab",
            "# TYPE a_seconds counter\na_seconds_total\t1\n# EOF\n",
            2,
        ),
        (
            "trailing space after a timestamp",
            "a_total 1 123 \n# EOF\n",
            1,
        ),
        (
            "trailing blank in TYPE",
            "# TYPE c counter \nc_total 1\n# EOF\n",
            1,
        ),
        ("untyped", "# TYPE u untyped\nu 1\n# EOF\n", 1),
        ("#  TYPE", "#  TYPE c counter\nc_total 1\n# EOF\n", 1),
        (
            "unit not a suffix",
            "# TYPE m gauge\n# UNIT m seconds\nm 1\n# EOF\n",
            2,
        ),
        (
            "UNIT with nothing",
            "# TYPE m_seconds gauge\n# UNIT m_seconds\nm_seconds 1\n# EOF\n",
            2,
        ),
        ("HELP with nothing", "# HELP m\nm 1\n# EOF\n", 1),
        ("blank after EOF", "m 1\n# EOF\n\n", 3),
        ("a plain comment", "# just a note\nm 1\n# EOF\n", 1),
    ];
    for (what, page, line) in cases {
        let e = parse(page, Some(Format::OpenMetrics)).unwrap_err();
        assert_eq!(e.line, line, "{what}: {e}");
    }
    // The text format keeps its own leniency (blank lines, blanks before a comment), but
    // not a TYPE line with trailing blanks, a blank before a sample, or a CRLF ending:
    // each of those fails Prometheus's scrape (tests/prometheus.rs checks it does).
    parse("# a comment\n\n  # another\n  \nm 1\n", None).unwrap();
    let e = parse("m 1\n  n 1\n", None).unwrap_err();
    assert_eq!((e.line, e.column), (2, 1), "{e}");
    let e = parse("m 1\r\n", None).unwrap_err();
    assert_eq!((e.line, e.column), (1, 4), "{e}");
    let e = parse("# TYPE c counter \nc 1\n", None).unwrap_err();
    assert_eq!(e.line, 1, "{e}");
}
