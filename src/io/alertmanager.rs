//! Alertmanager's API v2: the silences in force, and a new silence for one alert (its
//! exact labels as equality matchers), created by the operator's principal.

use super::http::{Auth, FetchError, Http};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum AmError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("Alertmanager answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("Alertmanager's answer is not what its API v2 returns: {0}")]
    Shape(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    #[serde(rename = "isEqual", default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SilenceStatus {
    /// active, pending or expired
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    #[serde(rename = "startsAt")]
    pub starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt")]
    pub ends_at: DateTime<Utc>,
    #[serde(rename = "createdBy")]
    pub created_by: String,
    pub comment: String,
    pub status: SilenceStatus,
}

impl Silence {
    /// Whether this silence mutes an alert with these labels (equality matchers; a
    /// regex or negative matcher is honoured as Alertmanager reads it).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.status.state != "expired"
            && self.matchers.iter().all(|m| {
                let v = labels.get(&m.name).map(String::as_str).unwrap_or("");
                let hit = if m.is_regex {
                    regex::Regex::new(&format!("^(?:{})$", m.value)).is_ok_and(|r| r.is_match(v))
                } else {
                    v == m.value
                };
                hit == m.is_equal
            })
    }
}

/// An alert's labels as the matchers that silence exactly it.
pub fn matchers_for(labels: &BTreeMap<String, String>) -> Vec<Matcher> {
    labels
        .iter()
        .map(|(k, v)| Matcher {
            name: k.clone(),
            value: v.clone(),
            is_regex: false,
            is_equal: true,
        })
        .collect()
}

#[derive(Clone)]
pub struct Alertmanager {
    http: Http,
    base: String,
    auth: Auth,
}

impl Alertmanager {
    pub fn new(http: Http, base: &str, auth: Auth) -> Self {
        Alertmanager {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// The silences not yet expired (active or pending), soonest to end first.
    pub async fn silences(&self) -> Result<Vec<Silence>, AmError> {
        let f = self
            .http
            .get(
                &format!("{}/api/v2/silences", self.base),
                "application/json",
                &self.auth,
            )
            .await?;
        if !(200..300).contains(&f.status) {
            return Err(AmError::Api {
                status: f.status,
                message: f.body.chars().take(200).collect(),
            });
        }
        let mut all: Vec<Silence> =
            serde_json::from_str(&f.body).map_err(|e| AmError::Shape(e.to_string()))?;
        all.retain(|s| s.status.state != "expired");
        all.sort_by_key(|s| s.ends_at);
        Ok(all)
    }

    /// Create a silence; returns its ID.
    pub async fn silence(
        &self,
        matchers: &[Matcher],
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        created_by: &str,
        comment: &str,
    ) -> Result<String, AmError> {
        let body = json!({
            "matchers": matchers,
            "startsAt": starts_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "endsAt": ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "createdBy": created_by,
            "comment": comment,
        });
        let f = self
            .http
            .post_json(&format!("{}/api/v2/silences", self.base), &body, &self.auth)
            .await?;
        if !(200..300).contains(&f.status) {
            return Err(AmError::Api {
                status: f.status,
                message: f.body.trim().chars().take(200).collect(),
            });
        }
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "silenceID")]
            id: String,
        }
        let c: Created =
            serde_json::from_str(&f.body).map_err(|e| AmError::Shape(e.to_string()))?;
        Ok(c.id)
    }
}
