//! The one HTTP client every poller uses: timeouts, a body-size cap, gzip, rustls, an
//! `X-Correlation-ID` on every request (recorded in the JSON log), optional auth from
//! an environment variable or a file and a custom CA.

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Bodies larger than this are refused (a runaway exporter must not eat the bastion).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub timeout: Duration,
    pub max_body: usize,
    /// PEM bundle to trust in addition to the built-in roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(3),
            max_body: DEFAULT_MAX_BODY,
            ca_pem: None,
        }
    }
}

/// Why a fetch failed, worded for a grid cell ("timed out after 3s").
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("connection refused")]
    Refused,
    #[error("timed out after {0}")]
    Timeout(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("body over {0} bytes, refused")]
    TooLarge(usize),
    #[error("connection dropped mid-body")]
    Truncated,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("body is not UTF-8 (line {0}, column {1})")]
    NotUtf8(usize, usize),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    pub elapsed: Duration,
    pub correlation_id: String,
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    cfg: HttpConfig,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A correlation ID unique within this process and unlikely to repeat across
/// processes: pid, start-time nanos and a sequence number.
pub fn correlation_id() -> String {
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        format!("{:x}{:08x}", std::process::id(), nanos & 0xffff_ffff)
    });
    format!("gnd-{prefix}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

fn classify(e: &reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout(
            crate::engine::config::Duration(timeout.as_secs().max(1)).to_string(),
        );
    }
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        chain.push_str(&s.to_string().to_lowercase());
        chain.push(' ');
        src = s.source();
    }
    if chain.contains("connection refused") {
        FetchError::Refused
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake")
    {
        let last = {
            let mut s: &dyn std::error::Error = e;
            while let Some(n) = s.source() {
                s = n;
            }
            s.to_string()
        };
        FetchError::Tls(last)
    } else if e.is_body()
        || e.is_decode()
        || chain.contains("incomplete")
        || chain.contains("end of file")
        || chain.contains("connection reset")
        || chain.contains("closed before message completed")
    {
        FetchError::Truncated
    } else {
        let mut s: &dyn std::error::Error = e;
        while let Some(n) = s.source() {
            s = n;
        }
        FetchError::Other(s.to_string())
    }
}

/// The request with its credentials, as `auth` says.
fn with_auth(req: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
    }
}

impl Http {
    pub fn new(cfg: HttpConfig) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .gzip(true)
            .user_agent(concat!("gander/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &cfg.ca_pem {
            for cert in
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("CA file: {e}"))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(Http { client, cfg })
    }

    pub fn timeout(&self) -> Duration {
        self.cfg.timeout
    }

    /// GET `url`; a non-2xx status is returned as `Fetched` (probes read status codes),
    /// so callers decide. The body is read up to the cap.
    pub async fn get(&self, url: &str, accept: &str, auth: &Auth) -> Result<Fetched, FetchError> {
        let cid = correlation_id();
        let start = Instant::now();
        let result = self.get_inner(url, accept, auth, &cid, start).await;
        let elapsed = start.elapsed();
        match &result {
            Ok(f) => super::log::event(
                "debug",
                "http",
                json!({"correlation_id": cid, "url": url, "status": f.status, "bytes": f.body.len(), "ms": elapsed.as_millis() as u64}),
            ),
            Err(e) => super::log::event(
                "warn",
                "http",
                json!({"correlation_id": cid, "url": url, "error": e.to_string(), "ms": elapsed.as_millis() as u64}),
            ),
        }
        result
    }

    /// POST a JSON body; like `get`, a non-2xx status comes back as `Fetched`.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        auth: &Auth,
    ) -> Result<Fetched, FetchError> {
        let cid = correlation_id();
        let start = Instant::now();
        let mut req = self
            .client
            .post(url)
            .header("Accept", "application/json")
            .header("X-Correlation-ID", &cid)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        req = with_auth(req, auth);
        let result = async {
            let resp = req
                .send()
                .await
                .map_err(|e| classify(&e, self.cfg.timeout))?;
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| classify(&e, self.cfg.timeout))?;
            if bytes.len() > self.cfg.max_body {
                return Err(FetchError::TooLarge(self.cfg.max_body));
            }
            Ok(Fetched {
                status,
                content_type,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                elapsed: start.elapsed(),
                correlation_id: cid.clone(),
            })
        }
        .await;
        let ms = start.elapsed().as_millis() as u64;
        match &result {
            Ok(f) => super::log::event(
                "info",
                "http",
                json!({"correlation_id": cid, "method": "POST", "url": url, "status": f.status, "ms": ms}),
            ),
            Err(e) => super::log::event(
                "warn",
                "http",
                json!({"correlation_id": cid, "method": "POST", "url": url, "error": e.to_string(), "ms": ms}),
            ),
        }
        result
    }

    async fn get_inner(
        &self,
        url: &str,
        accept: &str,
        auth: &Auth,
        cid: &str,
        start: Instant,
    ) -> Result<Fetched, FetchError> {
        let mut req = self
            .client
            .get(url)
            .header("Accept", accept)
            .header("X-Correlation-ID", cid);
        req = with_auth(req, auth);
        let mut resp = req
            .send()
            .await
            .map_err(|e| classify(&e, self.cfg.timeout))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(len) = resp.content_length() {
            if len as usize > self.cfg.max_body {
                return Err(FetchError::TooLarge(self.cfg.max_body));
            }
        }
        let mut body: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > self.cfg.max_body {
                        return Err(FetchError::TooLarge(self.cfg.max_body));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Err(classify(&e, self.cfg.timeout)),
            }
        }
        let body = String::from_utf8(body).map_err(|e| {
            let at = crate::diag::utf8_error_at(e.as_bytes(), e.utf8_error().valid_up_to());
            FetchError::NotUtf8(at.line, at.column)
        })?;
        Ok(Fetched {
            status,
            content_type,
            body,
            elapsed: start.elapsed(),
            correlation_id: cid.to_string(),
        })
    }
}

/// Resolve the configured auth (reading the referenced secrets) into an [`Auth`].
pub fn resolve_auth(cfg: Option<&crate::engine::config::AuthConfig>) -> Result<Auth, String> {
    let Some(c) = cfg else {
        return Ok(Auth::None);
    };
    if let Some(t) = &c.bearer_token {
        return Ok(Auth::Bearer(read_secret(t)?));
    }
    match (&c.basic_user, &c.basic_password) {
        (Some(u), Some(p)) => Ok(Auth::Basic {
            user: u.clone(),
            password: read_secret(p)?,
        }),
        _ => Ok(Auth::None),
    }
}

/// Read a secret named by config: `env:NAME` or `file:PATH` (never the secret itself).
pub fn read_secret(reference: &str) -> Result<String, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
    } else if let Some(path) = reference.strip_prefix("file:") {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("{path}: {e}"))
    } else {
        Err(
            "a secret must be referenced as env:NAME or file:PATH, never written in the config"
                .into(),
        )
    }
}
