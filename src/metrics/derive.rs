//! What gander reads off a service's metrics page: request and error counts, the
//! latency histogram, and running activities; and Prometheus's `histogram_quantile`
//! on the difference between two scrapes.

use super::text::Page;
use serde::Serialize;

/// The figures of one scrape, summed over label sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub series: usize,
    /// `http_requests_total` summed over codes.
    pub requests: Option<f64>,
    /// `http_requests_total` with a 5xx code.
    pub errors: Option<f64>,
    /// `http_request_duration_seconds_bucket` by `le`, cumulative, sorted by bound.
    pub buckets: Vec<(f64, f64)>,
    /// Activities reported running through `gander_activity{kind} 1`; `None` when the
    /// page has no such metric (then activities are unknown, not "none").
    pub activities: Option<Vec<String>>,
}

pub const REQUESTS: &str = "http_requests_total";
pub const LATENCY_BUCKET: &str = "http_request_duration_seconds_bucket";
pub const ACTIVITY: &str = "gander_activity";

pub fn summarize(page: &Page) -> Summary {
    let mut requests = None;
    let mut errors = None;
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let mut activities: Option<Vec<String>> = None;
    for s in &page.samples {
        match s.name.as_ref() {
            REQUESTS => {
                *requests.get_or_insert(0.0) += s.value;
                let e = errors.get_or_insert(0.0);
                if page.label(s, "code").is_some_and(|c| c.starts_with('5')) {
                    *e += s.value;
                }
            }
            LATENCY_BUCKET => {
                let Some(le) = page.label(s, "le").and_then(parse_le) else {
                    continue;
                };
                match buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, c)) => *c += s.value,
                    None => buckets.push((le, s.value)),
                }
            }
            ACTIVITY => {
                let list = activities.get_or_insert_with(Vec::new);
                if s.value >= 1.0 {
                    if let Some(k) = page.label(s, "kind") {
                        list.push(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Summary {
        series: page.samples.len(),
        requests,
        errors,
        buckets,
        activities,
    }
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok(),
    }
}

/// Prometheus's `histogram_quantile` on cumulative buckets (sorted, the last `+Inf`):
/// linear interpolation inside the bucket that holds the rank. `None` without data.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last().filter(|b| b.0.is_infinite())?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let mut prev_bound = 0.0;
    let mut prev_count = 0.0;
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                // In the +Inf bucket: the highest finite bound, as Prometheus answers.
                return Some(prev_bound);
            }
            let in_bucket = count - prev_count;
            if in_bucket <= 0.0 {
                return Some(bound);
            }
            return Some(prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket);
        }
        prev_bound = bound;
        prev_count = count;
    }
    None
}

/// Bucket-wise difference `now - before` (counters that went down mean a restart:
/// then `now` alone is the window).
pub fn bucket_delta(before: &[(f64, f64)], now: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let reset = now
        .iter()
        .any(|(le, c)| before.iter().any(|(b, pc)| b == le && c < pc));
    if reset || before.len() != now.len() {
        return now.to_vec();
    }
    now.iter()
        .zip(before)
        .map(|((le, c), (_, pc))| (*le, c - pc))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_prometheus() {
        // 100 requests: 50 under 0.1 s, 90 under 0.5 s, all under 1 s.
        let b = [
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 95 lies in (0.5, 1.0]: 0.5 + 0.5 * (95 - 90) / 10 = 0.75
        assert_eq!(histogram_quantile(0.95, &b), Some(0.75));
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1));
        // Everything in +Inf: the highest finite bound.
        let b = [(0.1, 0.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.95, &b), Some(0.1));
        assert_eq!(histogram_quantile(0.95, &[(f64::INFINITY, 0.0)]), None);
        assert_eq!(histogram_quantile(0.95, &[]), None);
    }

    #[test]
    fn deltas_handle_counter_resets() {
        let a = [(0.1, 5.0), (f64::INFINITY, 10.0)];
        let b = [(0.1, 7.0), (f64::INFINITY, 14.0)];
        assert_eq!(bucket_delta(&a, &b), vec![(0.1, 2.0), (f64::INFINITY, 4.0)]);
        let restarted = [(0.1, 1.0), (f64::INFINITY, 2.0)];
        assert_eq!(bucket_delta(&b, &restarted), restarted.to_vec());
    }

    #[test]
    fn summary_sums_codes_and_buckets_over_label_sets() {
        let text = "http_requests_total{code=\"200\",path=\"/a\"} 90\nhttp_requests_total{code=\"503\",path=\"/a\"} 6\nhttp_requests_total{code=\"500\",path=\"/b\"} 4\n\
            http_request_duration_seconds_bucket{le=\"0.1\",path=\"/a\"} 10\nhttp_request_duration_seconds_bucket{le=\"0.1\",path=\"/b\"} 5\n\
            http_request_duration_seconds_bucket{le=\"+Inf\",path=\"/a\"} 20\nhttp_request_duration_seconds_bucket{le=\"+Inf\",path=\"/b\"} 5\n\
            gander_activity{kind=\"backup\"} 1\ngander_activity{kind=\"load_test\"} 0\n";
        let page = crate::metrics::text::parse(text, None).unwrap();
        let s = summarize(&page);
        assert_eq!((s.requests, s.errors), (Some(100.0), Some(10.0)));
        assert_eq!(s.buckets, vec![(0.1, 15.0), (f64::INFINITY, 25.0)]);
        assert_eq!(s.activities, Some(vec!["backup".to_string()]));
    }
}
