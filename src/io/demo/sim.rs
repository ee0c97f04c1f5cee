//! The simulated behaviour of a demo service: traffic, latency drift, an error burst, a
//! flapping dependency and a backup window, all as functions of time since the fleet
//! started, so that every scrape sees consistent, cumulative counters.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Histogram bucket bounds in seconds (the common client default set, trimmed).
pub const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Log-normal spread of latencies: p95 = median * exp(1.645 * SIGMA).
const SIGMA: f64 = 0.5;

/// The dynamics of the fleet, by role (assigned when the fleet is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Steady,
    /// Latency drifts above its baseline for part of every cycle.
    Drifting,
    /// An error burst for part of every cycle.
    Bursty,
    /// Not ready for part of every cycle; its dependents' readiness follows.
    Flapping,
    /// Runs a backup for part of every cycle (blackout for promotions).
    BackedUp,
}

/// The cycle every dynamic repeats on, and the share of it that is "bad".
pub const CYCLE_SECS: f64 = 120.0;
const BAD_SHARE: f64 = 0.25;

/// How a demo service names its metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Naming {
    /// gander's own names, the full page (health, dependencies, compliance state…).
    #[default]
    Gander,
    /// gander's names, only the request counter and latency histogram: a few series,
    /// for fleets of thousands scraped by a real Prometheus.
    Lean,
    /// The OpenTelemetry HTTP semantic conventions as Prometheus names them
    /// (`http_server_request_duration_seconds`, `http_response_status_code`), with no
    /// service label: Prometheus's scrape config names the service (`job`).
    Otel,
}

pub struct SimService {
    pub name: String,
    pub naming: Naming,
    pub version: String,
    pub state: String,
    pub role: Role,
    pub baseline_p95_ms: f64,
    /// (dependency name, kind, index of the dependency in the fleet)
    pub deps: Vec<(String, &'static str, usize)>,
    /// Offset into the cycle, so services do not all flap together.
    pub phase: f64,
    pub rps: f64,
    pub started: Instant,
    counters: Mutex<Counters>,
}

#[derive(Debug, Clone)]
struct Counters {
    last: f64,
    ok: f64,
    errors: f64,
    buckets: [f64; BUCKETS.len()],
    count: f64,
    sum: f64,
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7).
fn phi(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-z * z).exp();
    let erf = if z >= 0.0 { y } else { -y };
    0.5 * (1.0 + erf)
}

impl SimService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        version: String,
        state: String,
        role: Role,
        baseline_p95_ms: f64,
        deps: Vec<(String, &'static str, usize)>,
        phase: f64,
        rps: f64,
        started: Instant,
    ) -> Self {
        SimService {
            name,
            naming: Naming::Gander,
            version,
            state,
            role,
            baseline_p95_ms,
            deps,
            phase,
            rps,
            started,
            counters: Mutex::new(Counters {
                last: 0.0,
                ok: 0.0,
                errors: 0.0,
                buckets: [0.0; BUCKETS.len()],
                count: 0.0,
                sum: 0.0,
            }),
        }
    }

    fn t(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Is this service in the bad part of its cycle at time `t`?
    fn bad_at(&self, t: f64) -> bool {
        ((t + self.phase) % CYCLE_SECS) / CYCLE_SECS >= 1.0 - BAD_SHARE
    }

    /// The p95 latency (ms) the service runs at, at time `t`.
    pub fn p95_ms_at(&self, t: f64) -> f64 {
        // Steady means steady: no wave, so the figures shown do not move.
        if self.role == Role::Steady {
            return self.baseline_p95_ms * 0.6;
        }
        let wave = 1.0 + 0.15 * ((t + self.phase) * std::f64::consts::TAU / CYCLE_SECS).sin();
        let base = self.baseline_p95_ms * 0.6 * wave;
        if self.role == Role::Drifting && self.bad_at(t) {
            base * 2.2
        } else {
            base
        }
    }

    pub fn error_rate_at(&self, t: f64) -> f64 {
        if self.role == Role::Bursty && self.bad_at(t) {
            0.08
        } else if self.role == Role::Steady {
            // A handful of errors a window would round to 0.0 % or 0.8 % by turns.
            0.0
        } else {
            0.002
        }
    }

    /// Ready, from its own point of view (a flapping service is down part of the time).
    pub fn self_ready(&self) -> bool {
        !(self.role == Role::Flapping && self.bad_at(self.t()))
    }

    pub fn started_up(&self) -> bool {
        self.t() >= 0.3
    }

    pub fn backup_running(&self) -> bool {
        self.role == Role::BackedUp && self.bad_at(self.t())
    }

    /// Advance the cumulative counters to now.
    fn advance(&self) -> Counters {
        let now = self.t();
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let dt = (now - c.last).max(0.0);
        if self.role == Role::Steady {
            // Whole seconds of exactly the same integer counts: any window's quantile
            // and error ratio are then the same (they do not depend on the window's
            // length), so the figures shown never move.
            let mut secs = (now.floor() - c.last.floor()).max(0.0);
            if c.count == 0.0 {
                // A first second at once, so a scrape right after start has figures.
                secs = secs.max(1.0);
            }
            if secs > 0.0 {
                let n = self.rps.round().max(1.0);
                let median_s = self.p95_ms_at(now) / 1000.0 / (1.645 * SIGMA).exp();
                for (i, le) in BUCKETS.iter().enumerate() {
                    c.buckets[i] += secs * (n * phi((le.ln() - median_s.ln()) / SIGMA)).round();
                }
                c.ok += secs * n;
                c.count += secs * n;
                c.sum += secs * n * median_s * (SIGMA * SIGMA / 2.0).exp();
            }
            c.last = now;
        } else if dt > 0.0 {
            // Integrate in steps of at most a second so dynamics show in the counters.
            let steps = (dt.ceil() as usize).clamp(1, 600);
            let h = dt / steps as f64;
            for k in 0..steps {
                let t = c.last + h * (k as f64 + 0.5);
                let n = self.rps * h;
                let err = self.error_rate_at(t);
                c.ok += n * (1.0 - err);
                c.errors += n * err;
                let median_s = self.p95_ms_at(t) / 1000.0 / (1.645 * SIGMA).exp();
                for (i, le) in BUCKETS.iter().enumerate() {
                    c.buckets[i] += n * phi((le.ln() - median_s.ln()) / SIGMA);
                }
                c.count += n;
                c.sum += n * median_s * (SIGMA * SIGMA / 2.0).exp();
            }
            c.last = now;
        }
        c.clone()
    }

    /// The `/metrics` page, in the Prometheus text format.
    pub fn metrics_page(&self, dep_ready: &dyn Fn(usize) -> bool) -> String {
        let c = self.advance();
        if self.naming == Naming::Otel {
            return otel_page(&c);
        }
        let n = &self.name;
        let mut s = String::with_capacity(4096);
        let _ = writeln!(
            s,
            "# HELP http_requests_total Requests served, by status code."
        );
        let _ = writeln!(s, "# TYPE http_requests_total counter");
        let _ = writeln!(
            s,
            "http_requests_total{{service=\"{n}\",code=\"200\"}} {}",
            c.ok.floor()
        );
        let _ = writeln!(
            s,
            "http_requests_total{{service=\"{n}\",code=\"500\"}} {}",
            c.errors.floor()
        );
        let _ = writeln!(s, "# HELP http_request_duration_seconds Request latency.");
        let _ = writeln!(s, "# TYPE http_request_duration_seconds histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "http_request_duration_seconds_bucket{{service=\"{n}\",le=\"{le}\"}} {}",
                c.buckets[i].floor().min(c.count.floor())
            );
        }
        let _ = writeln!(
            s,
            "http_request_duration_seconds_bucket{{service=\"{n}\",le=\"+Inf\"}} {}",
            c.count.floor()
        );
        let _ = writeln!(
            s,
            "http_request_duration_seconds_sum{{service=\"{n}\"}} {:.3}",
            c.sum
        );
        let _ = writeln!(
            s,
            "http_request_duration_seconds_count{{service=\"{n}\"}} {}",
            c.count.floor()
        );
        if self.naming == Naming::Lean {
            return s;
        }
        let _ = writeln!(s, "# HELP service_health_status 1 when the probe passes.");
        let _ = writeln!(s, "# TYPE service_health_status gauge");
        let ready = self.self_ready() && self.deps.iter().all(|d| dep_ready(d.2));
        for (probe, ok) in [
            ("live", true),
            ("ready", ready),
            ("startup", self.started_up()),
        ] {
            let _ = writeln!(
                s,
                "service_health_status{{service=\"{n}\",probe=\"{probe}\"}} {}",
                u8::from(ok)
            );
        }
        let _ = writeln!(
            s,
            "# HELP dependency_health 1 when the dependency is ready."
        );
        let _ = writeln!(s, "# TYPE dependency_health gauge");
        for (d, kind, idx) in &self.deps {
            let _ = writeln!(
                s,
                "dependency_health{{service=\"{n}\",dependency=\"{d}\",kind=\"{kind}\"}} {}",
                u8::from(dep_ready(*idx))
            );
        }
        let _ = writeln!(s, "# HELP service_dependencies Declared dependencies.");
        let _ = writeln!(s, "# TYPE service_dependencies gauge");
        for (d, kind, _) in &self.deps {
            let _ = writeln!(
                s,
                "service_dependencies{{service=\"{n}\",dependency=\"{d}\",kind=\"{kind}\"}} 1"
            );
        }
        let _ = writeln!(
            s,
            "# HELP mode_transitions_total Compliance mode transitions."
        );
        let _ = writeln!(s, "# TYPE mode_transitions_total counter");
        let transitions = match self.state.as_str() {
            "compliant" => 2,
            "compliance_ready" => 1,
            _ => 0,
        };
        let _ = writeln!(s, "mode_transitions_total{{service=\"{n}\"}} {transitions}");
        let _ = writeln!(
            s,
            "# HELP compliance_state 1 for the service's current compliance state."
        );
        let _ = writeln!(s, "# TYPE compliance_state gauge");
        for st in ["sandbox", "compliance_ready", "compliant"] {
            let _ = writeln!(
                s,
                "compliance_state{{service=\"{n}\",state=\"{st}\"}} {}",
                u8::from(st == self.state)
            );
        }
        let _ = writeln!(
            s,
            "# HELP promotion_status 1 for the service's current promotion status."
        );
        let _ = writeln!(s, "# TYPE promotion_status gauge");
        for st in ["idle", "pending", "approved", "rejected"] {
            let _ = writeln!(
                s,
                "promotion_status{{service=\"{n}\",status=\"{st}\"}} {}",
                u8::from(st == "idle")
            );
        }
        let _ = writeln!(
            s,
            "# HELP gander_activity 1 while an activity that blocks mode transitions runs."
        );
        let _ = writeln!(s, "# TYPE gander_activity gauge");
        for kind in ["load_test", "backup", "security_scan"] {
            let on = kind == "backup" && self.backup_running();
            let _ = writeln!(
                s,
                "gander_activity{{service=\"{n}\",kind=\"{kind}\"}} {}",
                u8::from(on)
            );
        }
        s
    }

    /// The `/health` document: overall status and components.
    pub fn health_json(&self, dep_ready: &dyn Fn(usize) -> bool) -> String {
        let t = self.t();
        let mut components = vec![serde_json::json!({
            "name": "database",
            "status": "healthy",
            "latency_ms": (self.p95_ms_at(t) / 40.0 * 10.0).round() / 10.0,
        })];
        for (d, kind, idx) in &self.deps {
            let ok = dep_ready(*idx);
            components.push(serde_json::json!({
                "name": format!("dependency:{d}"),
                "kind": kind,
                "status": if ok { "healthy" } else { "unhealthy" },
                "message": if ok { None } else { Some(format!("{d} is not ready")) },
            }));
        }
        let all_ok = self.self_ready() && self.deps.iter().all(|d| dep_ready(d.2));
        serde_json::json!({
            "status": if all_ok { "healthy" } else { "degraded" },
            "service": self.name,
            "version": self.version,
            "uptime_seconds": t.floor(),
            "components": components,
        })
        .to_string()
    }
}

/// The page in OpenTelemetry's HTTP server conventions, as the Prometheus exporter
/// writes them: one histogram per status code, no service label.
fn otel_page(c: &Counters) -> String {
    let mut s = String::with_capacity(2048);
    let _ = writeln!(
        s,
        "# HELP http_server_request_duration_seconds Duration of HTTP server requests."
    );
    let _ = writeln!(s, "# TYPE http_server_request_duration_seconds histogram");
    let ok_share = if c.count > 0.0 { c.ok / c.count } else { 1.0 };
    for (code, count) in [("200", c.ok.floor()), ("500", c.errors.floor())] {
        let labels = format!("http_request_method=\"GET\",http_response_status_code=\"{code}\"");
        for (i, le) in BUCKETS.iter().enumerate() {
            // Errors fail fast: all in the first bucket; the rest follow the latency.
            let v = if code == "500" {
                count
            } else {
                (c.buckets[i] * ok_share).floor().min(count)
            };
            let _ = writeln!(
                s,
                "http_server_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {v}"
            );
        }
        let _ = writeln!(
            s,
            "http_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "http_server_request_duration_seconds_sum{{{labels}}} {:.3}",
            if code == "500" { 0.0 } else { c.sum * ok_share }
        );
        let _ = writeln!(
            s,
            "http_server_request_duration_seconds_count{{{labels}}} {count}"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_is_a_cdf() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.645) - 0.95).abs() < 1e-3);
        assert!(phi(-8.0) < 1e-6 && phi(8.0) > 1.0 - 1e-6);
    }

    #[test]
    fn the_bad_part_of_the_cycle_is_a_quarter() {
        let s = SimService::new(
            "x".into(),
            "1".into(),
            "sandbox".into(),
            Role::Bursty,
            500.0,
            vec![],
            0.0,
            10.0,
            Instant::now(),
        );
        let bad = (0..1200).filter(|i| s.bad_at(*i as f64 / 10.0)).count();
        assert_eq!(bad, 300);
        assert_eq!(s.error_rate_at(100.0), 0.08);
        assert_eq!(s.error_rate_at(10.0), 0.002);
    }
}
