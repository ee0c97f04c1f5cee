//! One poll round for the CLI: the live facts `status` and `promote --dry-run` use.

use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::live::Board;
use crate::io::http::{Http, HttpConfig};
use crate::io::poll::{Target, poll_round};
use std::time::Duration;

/// How many services are polled at once.
pub const CONCURRENCY: usize = 64;

/// Poll every service with endpoints once and fold the results into `facts`.
/// Returns the board, or `None` when no service has endpoints.
pub fn poll_once(config: &Config, facts: &mut Facts) -> Result<Option<Board>, i32> {
    let targets = Target::from_config(config);
    if targets
        .iter()
        .all(|t| t.live.is_none() && t.metrics.is_none())
    {
        return Ok(None);
    }
    let http = Http::new(HttpConfig {
        timeout: Duration::from_secs(config.org.monitoring.request_timeout.secs().max(1)),
        ..HttpConfig::default()
    })
    .map_err(|e| {
        eprintln!("gander: {e}");
        super::EXIT_USAGE
    })?;
    let rt = super::runtime()?;
    let obs = rt.block_on(poll_round(&http, &targets, CONCURRENCY));
    let mut board = Board::default();
    for o in &obs {
        board.apply(o);
    }
    let urls: std::collections::HashMap<String, String> = targets
        .iter()
        .filter_map(|t| t.metrics.clone().map(|m| (t.service.clone(), m)))
        .collect();
    board.fill(facts, &|s| urls.get(s).cloned().unwrap_or_default());
    Ok(Some(board))
}
