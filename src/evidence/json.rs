//! JSON evidence: detected by content; SARIF 2.1.0 and k6 end-of-test summaries
//! (`--summary-export` and `handleSummary` shapes) are read here, SBOMs in `sbom.rs`.

use super::{Policy, ReadError, Reading};
use crate::engine::config::{EvidenceKind, SastLevel};
use serde_json::Value;

pub(super) fn at(file: &str, position: impl Into<String>, message: impl Into<String>) -> ReadError {
    ReadError {
        file: file.into(),
        position: position.into(),
        message: message.into(),
    }
}

pub fn read(text: &str, file: &str, policy: &Policy) -> Result<Reading, ReadError> {
    // A UTF-8 byte-order mark, as several Windows tools write, is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let v: Value = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            "the JSON ends early (truncated?)".to_string()
        } else {
            format!("not JSON: {e}")
        };
        at(
            file,
            format!("line {}, column {}", e.line(), e.column()),
            what,
        )
    })?;
    if v.get("runs").is_some()
        || v.get("$schema")
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.contains("sarif"))
    {
        return sarif(&v, file, policy);
    }
    // Any `bomFormat` is a CycloneDX document; its schema says which value is right.
    if v.get("bomFormat").is_some() {
        return super::sbom::cyclonedx(&v, file, policy);
    }
    if v.get("spdxVersion").is_some() {
        return super::sbom::spdx(&v, file, policy);
    }
    if v.get("metrics")
        .and_then(|m| m.get("http_req_duration"))
        .is_some()
    {
        return k6(&v, file, policy);
    }
    Err(at(
        file,
        "top level",
        "JSON, but not SARIF (runs), CycloneDX (bomFormat), SPDX (spdxVersion) or a k6 summary (metrics.http_req_duration)",
    ))
}

fn level_of(s: &str) -> Option<SastLevel> {
    match s {
        "error" => Some(SastLevel::Error),
        "warning" => Some(SastLevel::Warning),
        "note" => Some(SastLevel::Note),
        _ => None, // "none"
    }
}

/// SARIF 2.1.0 from any scanner: results by level and rule, suppressions honoured.
fn sarif(v: &Value, file: &str, policy: &Policy) -> Result<Reading, ReadError> {
    match v.get("version").and_then(|x| x.as_str()) {
        Some("2.1.0") => {}
        Some(other) => {
            return Err(at(
                file,
                "version",
                format!(
                    "SARIF version {other}; gander reads SARIF 2.1.0 (its levels and rules mean other things in earlier drafts)"
                ),
            ));
        }
        None => {
            return Err(at(
                file,
                "version",
                "SARIF without a `version` (2.1.0 expected)",
            ));
        }
    }
    let runs = v
        .get("runs")
        .and_then(|r| r.as_array())
        .ok_or_else(|| at(file, "runs", "SARIF without a `runs` array"))?;
    if runs.is_empty() {
        return Err(at(
            file,
            "runs",
            "SARIF with no runs: the scanner did not run",
        ));
    }
    let (mut errors, mut warnings, mut notes, mut suppressed) = (0u64, 0u64, 0u64, 0u64);
    let mut findings: Vec<(SastLevel, String)> = Vec::new();
    let mut tools = Vec::new();
    let mut unfinished: Vec<String> = Vec::new();
    for (ri, run) in runs.iter().enumerate() {
        let driver = run.get("tool").and_then(|t| t.get("driver"));
        if let Some(n) = driver.and_then(|d| d.get("name")).and_then(|n| n.as_str()) {
            tools.push(n.to_string());
        }
        let rules = driver
            .and_then(|d| d.get("rules"))
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        let extensions: Vec<Value> = run
            .get("tool")
            .and_then(|t| t.get("extensions"))
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        // A scanner that did not finish, or reported no `results` at all, did not scan.
        if let Some(inv) = run.get("invocations").and_then(|i| i.as_array()) {
            if inv
                .iter()
                .any(|i| i.get("executionSuccessful").and_then(|x| x.as_bool()) == Some(false))
            {
                unfinished.push(format!(
                    "runs[{ri}]: the scanner reports executionSuccessful: false"
                ));
            }
        }
        let results = match run.get("results") {
            None | Some(Value::Null) => {
                unfinished.push(format!(
                    "runs[{ri}]: no `results` (an empty array means a clean scan; none means no scan)"
                ));
                continue;
            }
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(at(
                    file,
                    format!("runs[{ri}].results"),
                    "`results` is not an array",
                ));
            }
        };
        for (i, r) in results.iter().enumerate() {
            // Values the SARIF 2.1.0 schema enumerates; anything else is not SARIF, and
            // guessing would drop a finding.
            let place = format!("runs[{ri}].results[{i}]");
            for (key, allowed) in [
                ("level", &["none", "note", "warning", "error"][..]),
                (
                    "kind",
                    &[
                        "notApplicable",
                        "pass",
                        "fail",
                        "review",
                        "open",
                        "informational",
                    ][..],
                ),
                (
                    "baselineState",
                    &["new", "unchanged", "updated", "absent"][..],
                ),
            ] {
                if let Some(v) = r.get(key) {
                    if !v.as_str().is_some_and(|x| allowed.contains(&x)) {
                        return Err(at(
                            file,
                            format!("{place}.{key}"),
                            format!("`{key}` is {v}; SARIF 2.1.0 allows {}", allowed.join(", ")),
                        ));
                    }
                }
            }
            if let Some(sup) = r.get("suppressions").and_then(|x| x.as_array()) {
                for (si, x) in sup.iter().enumerate() {
                    if let Some(v) = x.get("status") {
                        if !v
                            .as_str()
                            .is_some_and(|st| ["accepted", "underReview", "rejected"].contains(&st))
                        {
                            return Err(at(
                                file,
                                format!("{place}.suppressions[{si}].status"),
                                format!(
                                    "`status` is {v}; SARIF 2.1.0 allows accepted, underReview, rejected"
                                ),
                            ));
                        }
                    }
                }
            }
            // Suppressed as the SARIF SDK decides it (`Result.TryIsSuppressed`): at
            // least one suppression, and none of them `underReview` or `rejected`.
            let is_suppressed = r
                .get("suppressions")
                .and_then(|s| s.as_array())
                .is_some_and(|s| {
                    !s.is_empty()
                        && !s.iter().any(|x| {
                            matches!(
                                x.get("status").and_then(|st| st.as_str()),
                                Some("underReview" | "rejected")
                            )
                        })
                });
            if is_suppressed {
                suppressed += 1;
                continue;
            }
            // Results gone from this run (`baselineState: absent`) are not findings.
            if r.get("baselineState").and_then(|b| b.as_str()) == Some("absent") {
                continue;
            }
            // The rule (SARIF §3.52): `rule.index` / `ruleIndex` into the tool component
            // `rule.toolComponent.index` names (the driver by default), else by id.
            let component_rules: &[Value] = match r
                .get("rule")
                .and_then(|x| x.get("toolComponent"))
                .and_then(|c| c.get("index"))
                .and_then(|i| i.as_u64())
            {
                Some(i) => extensions
                    .get(i as usize)
                    .and_then(|e| e.get("rules"))
                    .and_then(|r| r.as_array())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
                None => &rules,
            };
            let index = r
                .get("rule")
                .and_then(|x| x.get("index"))
                .or_else(|| r.get("ruleIndex"))
                .and_then(|i| i.as_u64());
            let rule = match index {
                Some(i) => component_rules.get(i as usize),
                None => None,
            };
            let rule_id = r
                .get("ruleId")
                .or_else(|| r.get("rule").and_then(|x| x.get("id")))
                .and_then(|x| x.as_str())
                .or_else(|| rule.and_then(|x| x.get("id")).and_then(|x| x.as_str()))
                .map(str::to_string);
            let rule = rule.or_else(|| {
                rule_id.as_deref().and_then(|id| {
                    component_rules
                        .iter()
                        .find(|x| x.get("id").and_then(|i| i.as_str()) == Some(id))
                })
            });
            let rule_level = rule
                .and_then(|x| x.get("defaultConfiguration"))
                .and_then(|c| c.get("level"))
                .and_then(|l| l.as_str());
            // The effective level (SARIF §3.27.10): the result's own `level`; else, when
            // `kind` is present and not `fail`, `none`; else the rule's default; else
            // `warning`.
            let kind = r.get("kind").and_then(|k| k.as_str());
            let level_s = match r.get("level").and_then(|l| l.as_str()) {
                Some(l) => l,
                None if kind.is_some_and(|k| k != "fail") => "none",
                None => rule_level.unwrap_or("warning"),
            };
            let Some(level) = level_of(level_s) else {
                continue;
            };
            match level {
                SastLevel::Error => errors += 1,
                SastLevel::Warning => warnings += 1,
                SastLevel::Note => notes += 1,
            }
            let loc = r
                .get("locations")
                .and_then(|l| l.get(0))
                .and_then(|l| l.get("physicalLocation"));
            let uri = loc
                .and_then(|p| p.get("artifactLocation"))
                .and_then(|a| a.get("uri"))
                .and_then(|u| u.as_str());
            let line = loc
                .and_then(|p| p.get("region"))
                .and_then(|r| r.get("startLine"))
                .and_then(|l| l.as_u64());
            let place = match (uri, line) {
                (Some(u), Some(l)) => format!(" in {u}:{l}"),
                (Some(u), None) => format!(" in {u}"),
                _ => String::new(),
            };
            findings.push((
                level,
                format!(
                    "{}{place}",
                    rule_id.unwrap_or_else(|| "unnamed rule".into())
                ),
            ));
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.0));
    let failing: Vec<String> = findings
        .iter()
        .filter(|(l, _)| *l >= policy.sast_fail_level)
        .map(|(_, f)| f.clone())
        .collect();
    let blocking = failing.len() + unfinished.len();
    let level_name = match policy.sast_fail_level {
        SastLevel::Error => "error",
        SastLevel::Warning => "warning",
        SastLevel::Note => "note",
    };
    let counts = format!(
        "{errors} errors, {warnings} warnings, {notes} notes{}",
        if suppressed > 0 {
            format!(", {suppressed} suppressed")
        } else {
            String::new()
        }
    );
    let summary = if !unfinished.is_empty() {
        format!(
            "the scan did not complete: {}; {counts}",
            unfinished.join("; ")
        )
    } else if blocking == 0 {
        format!(
            "clean at level {level_name}: {counts} ({})",
            tools.join(", ")
        )
    } else {
        format!(
            "{counts}: {}{}",
            failing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if blocking > 3 {
                format!(" and {} more", blocking - 3)
            } else {
                String::new()
            }
        )
    };
    Ok(Reading {
        counts: Vec::new(),
        kind: EvidenceKind::Sast,
        format: "sarif",
        passed: blocking == 0,
        summary,
        figure: Some(blocking as f64),
        details: failing.into_iter().take(50).collect(),
    })
}

/// k6 end-of-test summary: `--summary-export` (values flat on the metric, thresholds as
/// `{expr: failed?}`) or `handleSummary`'s data (values under `values`, thresholds as
/// `{expr: {ok}}`).
fn k6(v: &Value, file: &str, policy: &Policy) -> Result<Reading, ReadError> {
    let metrics = v
        .get("metrics")
        .and_then(|m| m.as_object())
        .ok_or_else(|| at(file, "metrics", "no metrics object"))?;
    let value = |metric: &str, key: &str| -> Option<f64> {
        let m = metrics.get(metric)?;
        m.get("values")
            .and_then(|x| x.get(key))
            .or_else(|| m.get(key))
            .and_then(|x| x.as_f64())
    };
    let p95 = value("http_req_duration", "p(95)").ok_or_else(|| {
        at(
            file,
            "metrics.http_req_duration",
            "no p(95) of http_req_duration (add it to summaryTrendStats)",
        )
    })?;
    if !p95.is_finite() || p95 < 0.0 {
        return Err(at(
            file,
            "metrics.http_req_duration",
            format!("p(95) of {p95} ms is impossible"),
        ));
    }
    // Without http_req_failed the error rate is unknown, and unknown is never a pass.
    let err = value("http_req_failed", "rate")
        .or_else(|| value("http_req_failed", "value"))
        .ok_or_else(|| {
            at(
                file,
                "metrics.http_req_failed",
                "no error rate (http_req_failed's rate): the error rate would be a guess",
            )
        })?;
    if !(0.0..=1.0).contains(&err) {
        return Err(at(
            file,
            "metrics.http_req_failed",
            format!("an error rate of {err} is not a fraction (0 to 1)"),
        ));
    }
    let mut failed_thresholds = Vec::new();
    for (name, m) in metrics {
        if let Some(th) = m.get("thresholds").and_then(|t| t.as_object()) {
            for (expr, r) in th {
                let failed = match r {
                    Value::Bool(b) => *b, // summary-export: true means the threshold was crossed
                    Value::Object(o) => o.get("ok").and_then(|x| x.as_bool()) == Some(false),
                    _ => false,
                };
                if failed {
                    failed_thresholds.push(format!("{name} {expr}"));
                }
            }
        }
    }
    let b = &policy.baseline;
    let mut problems = Vec::new();
    if p95 > b.p95_latency_ms {
        problems.push(format!(
            "p95 {p95:.0} ms > baseline {:.0} ms",
            b.p95_latency_ms
        ));
    }
    if err > b.error_rate {
        problems.push(format!(
            "error rate {:.2} % > baseline {:.2} %",
            err * 100.0,
            b.error_rate * 100.0
        ));
    }
    if !failed_thresholds.is_empty() {
        problems.push(format!(
            "thresholds failed: {}",
            failed_thresholds.join(", ")
        ));
    }
    Ok(Reading {
        counts: Vec::new(),
        kind: EvidenceKind::Metrics,
        format: "k6",
        passed: problems.is_empty(),
        summary: if problems.is_empty() {
            format!(
                "p95 {p95:.0} ms, error rate {:.2} %, all thresholds met",
                err * 100.0
            )
        } else {
            problems.join("; ")
        },
        figure: Some(p95),
        details: failed_thresholds,
    })
}
