//! A Prometheus server's HTTP API: instant queries and alerts. Large fleets are read
//! this way (and so through Thanos or Mimir), not by scraping every service.

use super::http::{Auth, FetchError, Http};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PromError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("Prometheus answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("Prometheus answer is not the API's JSON: {0}")]
    Shape(String),
}

impl PromError {
    /// The server could not be reached at all (exit code 3).
    pub fn unreachable(&self) -> bool {
        matches!(self, PromError::Fetch(e) if !matches!(e, FetchError::Status(_) | FetchError::NotUtf8(..) | FetchError::TooLarge(_)))
    }
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub state: String,
    #[serde(rename = "activeAt", default)]
    pub active_at: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("?", String::as_str)
    }
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Envelope<T> {
    status: String,
    #[serde(default = "none")]
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct AlertsData {
    alerts: Vec<Alert>,
}

fn none<T>() -> Option<T> {
    None
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[derive(Clone)]
pub struct Prometheus {
    http: Http,
    base: String,
    auth: Auth,
}

impl Prometheus {
    pub fn new(http: Http, base: &str, auth: Auth) -> Self {
        Prometheus {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, PromError> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .map_err(|e| PromError::Shape(format!("bad URL: {e}")))?;
        let f = self
            .http
            .get(url.as_str(), "application/json", &self.auth)
            .await?;
        let env: Envelope<T> = serde_json::from_str(&f.body).map_err(|e| {
            if (200..300).contains(&f.status) {
                PromError::Shape(e.to_string())
            } else {
                PromError::Api {
                    status: f.status,
                    message: f.body.chars().take(200).collect(),
                }
            }
        })?;
        if env.status != "success" {
            return Err(PromError::Api {
                status: f.status,
                message: format!(
                    "{}: {}",
                    env.error_type.unwrap_or_default(),
                    env.error.unwrap_or_default()
                ),
            });
        }
        env.data.ok_or_else(|| PromError::Shape("no `data`".into()))
    }

    /// `/api/v1/query`: an instant vector (a scalar comes back as one unlabelled series).
    pub async fn query(&self, promql: &str) -> Result<Vec<Series>, PromError> {
        let d: QueryData = self.call("/api/v1/query", &[("query", promql)]).await?;
        match d.result_type.as_str() {
            "vector" => {
                let items: Vec<VectorItem> = serde_json::from_value(d.result)
                    .map_err(|e| PromError::Shape(e.to_string()))?;
                Ok(items
                    .into_iter()
                    .filter_map(|i| {
                        parse_value(&i.value.1).map(|v| Series {
                            labels: i.metric,
                            value: v,
                            at: i.value.0,
                        })
                    })
                    .collect())
            }
            "scalar" => {
                let (at, v): (f64, String) = serde_json::from_value(d.result)
                    .map_err(|e| PromError::Shape(e.to_string()))?;
                Ok(parse_value(&v)
                    .map(|value| Series {
                        labels: BTreeMap::new(),
                        value,
                        at,
                    })
                    .into_iter()
                    .collect())
            }
            other => Err(PromError::Shape(format!(
                "expected an instant vector, got a {other}"
            ))),
        }
    }

    /// `/api/v1/alerts`: pending and firing alerts.
    pub async fn alerts(&self) -> Result<Vec<Alert>, PromError> {
        let d: AlertsData = self.call("/api/v1/alerts", &[]).await?;
        Ok(d.alerts)
    }
}

/// gander's own compliance-state metric, by service label.
pub const COMPLIANCE_STATE: &str = "max by ($label, state) (compliance_state) > 0";

/// Per-service figures read through Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetFigures {
    /// Is the service's scrape target up (any of its targets, by the service label)?
    pub up: BTreeMap<String, bool>,
    pub p95_ms: BTreeMap<String, f64>,
    pub error_rate: BTreeMap<String, f64>,
    pub activities: BTreeMap<String, Vec<String>>,
    pub compliance_state: BTreeMap<String, String>,
}

impl FleetFigures {
    /// Every service Prometheus knows of, with its figures.
    pub fn per_service(&self) -> BTreeMap<String, crate::engine::live::PromFacts> {
        let mut out: BTreeMap<String, crate::engine::live::PromFacts> = BTreeMap::new();
        for (n, up) in &self.up {
            out.entry(n.clone()).or_default().up = Some(*up);
        }
        for (n, v) in &self.p95_ms {
            out.entry(n.clone()).or_default().p95_ms = Some(*v);
        }
        for (n, v) in &self.error_rate {
            out.entry(n.clone()).or_default().error_rate = Some(*v);
        }
        for (n, v) in &self.activities {
            out.entry(n.clone()).or_default().activities = Some(v.clone());
        }
        out
    }
}

/// Run the fleet queries. Each query that fails leaves its map empty and its error in
/// the list, so one bad query does not hide the others.
pub async fn fleet_figures(
    p: &Prometheus,
    q: &crate::engine::config::FleetQueries,
) -> (FleetFigures, Vec<String>) {
    let state_query = COMPLIANCE_STATE.replace("$label", &q.label);
    let (p95, err, act, state, up) = tokio::join!(
        p.query(&q.p95_seconds),
        p.query(&q.error_ratio),
        p.query(&q.activities),
        p.query(&state_query),
        p.query(&q.up),
    );
    let mut f = FleetFigures::default();
    let mut errors = Vec::new();
    let svc = |s: &Series| s.labels.get(&q.label).cloned();
    match up {
        Ok(v) => {
            for s in &v {
                if let Some(n) = svc(s) {
                    f.up.insert(n, s.value >= 1.0);
                }
            }
        }
        Err(e) => errors.push(format!("up: {e}")),
    }
    match p95 {
        Ok(v) => {
            for s in v.iter().filter(|s| s.value.is_finite()) {
                if let Some(n) = svc(s) {
                    f.p95_ms.insert(n, s.value * 1000.0);
                }
            }
        }
        Err(e) => errors.push(format!("p95: {e}")),
    }
    match err {
        Ok(v) => {
            for s in v.iter().filter(|s| s.value.is_finite()) {
                if let Some(n) = svc(s) {
                    f.error_rate.insert(n, s.value);
                }
            }
        }
        Err(e) => errors.push(format!("error rate: {e}")),
    }
    match act {
        Ok(v) => {
            for s in &v {
                if let (Some(n), Some(k)) = (svc(s), s.labels.get("kind")) {
                    f.activities.entry(n).or_default().push(k.clone());
                }
            }
        }
        Err(e) => errors.push(format!("activities: {e}")),
    }
    match state {
        Ok(v) => {
            for s in &v {
                if let (Some(n), Some(st)) = (svc(s), s.labels.get("state")) {
                    f.compliance_state.insert(n, st.clone());
                }
            }
        }
        Err(e) => errors.push(format!("compliance_state: {e}")),
    }
    (f, errors)
}
