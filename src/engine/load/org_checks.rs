//! Checks of org-config.yaml on its own: groups, environments, stages, monitoring.

use super::Parsed;
use super::checks::check_url;
use crate::engine::config::OrgConfig;
use crate::engine::diag::{Diagnostic, suggest};

pub(super) fn check_org(org: &Parsed<OrgConfig>, diags: &mut Vec<Diagnostic>) {
    let o = &org.value;
    let file = &org.path;
    let a = &o.approval;
    if a.required_approvals == 0 {
        diags.push(
            Diagnostic::error(
                file,
                org.node.locate(&["approval", "required_approvals"]),
                "required_approvals must be at least 1",
            )
            .with_help("a manual gate with no approvals would pass on its own"),
        );
    }
    for (i, who) in a.default_approvers.iter().enumerate() {
        check_group_ref(
            org,
            who,
            &["approval", "default_approvers", &i.to_string()],
            diags,
        );
    }
    for (g, members) in &a.groups {
        if members.is_empty() {
            diags.push(Diagnostic::warning(
                file,
                org.node.locate(&["approval", "groups", g]),
                format!("group `{g}` has no members"),
            ));
        }
    }
    let t = o.evidence.coverage_threshold;
    if !(0.0..=100.0).contains(&t) {
        diags.push(
            Diagnostic::error(
                file,
                org.node.locate(&["evidence", "coverage_threshold"]),
                format!("coverage_threshold {t} is not a percentage"),
            )
            .with_help("use a number from 0 to 100"),
        );
    }
    let p = &o.packaging;
    for (i, s) in p.stages.iter().enumerate() {
        if let Err(why) = crate::engine::names::check(s) {
            diags.push(Diagnostic::error(
                &org.path,
                org.node.locate(&["packaging", "stages", &i.to_string()]),
                format!("stage `{}` is not a valid name: {why}", s.escape_debug()),
            ));
        }
    }
    if p.stages.is_empty() {
        diags.push(Diagnostic::error(
            file,
            org.node.locate(&["packaging", "stages"]),
            "packaging needs at least one stage",
        ));
    }
    for (i, s) in p.require_approval_for.iter().enumerate() {
        if !p.stages.contains(s) {
            diags.push(
                Diagnostic::error(
                    file,
                    org.node
                        .locate(&["packaging", "require_approval_for", &i.to_string()]),
                    format!("unknown stage `{s}`"),
                )
                .with_help_opt(suggest(s, p.stages.iter().map(String::as_str))),
            );
        }
    }
    if let Some(auth) = &o.monitoring.prometheus_auth {
        for (key, value) in [
            ("bearer_token", &auth.bearer_token),
            ("basic_password", &auth.basic_password),
        ] {
            if let Some(v) = value {
                if !(v.starts_with("env:") || v.starts_with("file:")) {
                    diags.push(
                        Diagnostic::error(file, org.node.locate(&["monitoring", "prometheus_auth", key]), format!("`{key}` must name where the secret is, not hold it"))
                            .with_help("write `env:VARIABLE` or `file:/path/to/secret`; never put a secret in the config"),
                    );
                }
            }
        }
        if auth.basic_user.is_some() != auth.basic_password.is_some() {
            diags.push(Diagnostic::error(
                file,
                org.node.locate(&["monitoring", "prometheus_auth"]),
                "basic auth needs both `basic_user` and `basic_password`",
            ));
        }
        if auth.bearer_token.is_some() && auth.basic_user.is_some() {
            diags.push(Diagnostic::error(
                file,
                org.node.locate(&["monitoring", "prometheus_auth"]),
                "choose bearer_token or basic auth, not both",
            ));
        }
    }
    if let Some(st) = &o.store {
        let at = |k: &str| org.node.locate(&["store", k]);
        match (&st.directory, &st.postgres) {
            (Some(_), Some(_)) => diags.push(
                Diagnostic::error(
                    file,
                    at("postgres"),
                    "choose `directory` or `postgres`, not both",
                )
                .with_help(
                    "a team has one chain: in a shared directory on one host, or in PostgreSQL",
                ),
            ),
            (None, None) => diags.push(
                Diagnostic::error(
                    file,
                    org.node.locate(&["store"]),
                    "`store` needs `directory` or `postgres`",
                )
                .with_help(
                    "remove `store:` to keep the chain in each operator's own state directory",
                ),
            ),
            (Some(d), None) if !d.starts_with('/') && !d.starts_with("~/") => diags.push(
                Diagnostic::error(
                    file,
                    at("directory"),
                    format!("store directory `{d}` must be an absolute path"),
                )
                .with_help("every operator must name the same directory, e.g. /srv/gander"),
            ),
            _ => {}
        }
        if st.postgres.is_none() && (st.password.is_some() || st.ca_file.is_some()) {
            diags.push(Diagnostic::error(
                file,
                at("password"),
                "`password` and `ca_file` apply to `postgres` only",
            ));
        }
        if let Some(v) = &st.password
            && !(v.starts_with("env:") || v.starts_with("file:"))
        {
            diags.push(
                Diagnostic::error(file, at("password"), "`password` must name where the secret is, not hold it")
                    .with_help("write `env:GANDER_PG_PASSWORD` or `file:/path/to/secret`; never put a secret in the config"),
            );
        }
        if let Some(c) = &st.postgres {
            match c.parse::<tokio_postgres::Config>() {
                Err(e) => diags.push(Diagnostic::error(
                    file,
                    at("postgres"),
                    format!("not a PostgreSQL connection string: {e}"),
                )),
                Ok(pc) if pc.get_password().is_some() => diags.push(
                    Diagnostic::error(
                        file,
                        at("postgres"),
                        "the connection string holds a password",
                    )
                    .with_help("move it to `password: env:GANDER_PG_PASSWORD` (or `file:PATH`)"),
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(url) = &o.monitoring.prometheus_url {
        check_url(
            file,
            url,
            org.node.locate(&["monitoring", "prometheus_url"]),
            diags,
        );
    }
    if let Some(url) = &o.monitoring.alertmanager_url {
        check_url(
            file,
            url,
            org.node.locate(&["monitoring", "alertmanager_url"]),
            diags,
        );
    }
    // Every fleet query parses as PromQL (checked on the text that will run, `$label`
    // replaced), and the label is a Prometheus label name.
    let label = o.monitoring.service_label();
    if !label.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        diags.push(
            Diagnostic::error(
                file,
                org.node.locate(&["monitoring", "service_label"]),
                format!("service_label `{label}` is not a Prometheus label name"),
            )
            .with_help("letters, digits and `_`, not starting with a digit: service, job, app"),
        );
    } else {
        let q = o.monitoring.fleet_queries();
        for (key, text) in [
            ("p95_seconds", &q.p95_seconds),
            ("error_ratio", &q.error_ratio),
            ("up", &q.up),
            ("activities", &q.activities),
        ] {
            if let Err(e) = promql_parser::parser::parse(text) {
                diags.push(
                    Diagnostic::error(
                        file,
                        org.node.locate(&["monitoring", "queries", key]),
                        format!("monitoring.queries.{key} is not valid PromQL: {e}: {text}"),
                    )
                    .with_help("`$label` stands for monitoring.service_label; check it with `promtool promql format` or in Prometheus's query page"),
                );
            }
        }
    }
    // Every one-shot command waits this long: a window of minutes would make
    // `gander status` hang in an incident.
    if o.monitoring.window.secs() > 60 {
        diags.push(
            Diagnostic::error(
                file,
                org.node.locate(&["monitoring", "window"]),
                format!(
                    "monitoring.window {} is longer than 1m: every `status`, `promote` and `approve` would wait that long",
                    o.monitoring.window
                ),
            )
            .with_help("a few seconds is enough for a rate (default 2s); for a longer view, configure Prometheus (monitoring.prometheus_url)"),
        );
    }
    if o.monitoring.request_timeout >= o.monitoring.poll_interval {
        diags.push(
            Diagnostic::warning(file, org.node.locate(&["monitoring", "request_timeout"]), format!(
                "request_timeout {} is not shorter than poll_interval {}",
                o.monitoring.request_timeout, o.monitoring.poll_interval
            ))
            .with_help("a slow source would then delay the next poll; keep the timeout well under the interval"),
        );
    }
}

fn check_group_ref(org: &Parsed<OrgConfig>, who: &str, path: &[&str], diags: &mut Vec<Diagnostic>) {
    if let Some(g) = who.strip_prefix("group:") {
        if !org.value.approval.groups.contains_key(g) {
            diags.push(
                Diagnostic::error(
                    &org.path,
                    org.node.locate(path),
                    format!("unknown approver group `{g}`"),
                )
                .with_help_opt(suggest(
                    g,
                    org.value.approval.groups.keys().map(String::as_str),
                )),
            );
        }
    }
}
