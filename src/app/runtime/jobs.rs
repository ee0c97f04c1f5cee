//! An action run off the UI thread: poll the service it concerns once more through the
//! org's live source (so the decision is made on fresh facts, not on a poll that may be
//! seconds old or not there yet), run the use case on a blocking thread, and report its
//! outcome as a message.

use crate::app::update::{Msg, Outcome};
use crate::engine::facts::Facts;
use crate::engine::live::Board;
use crate::engine::resolver::DepGraph;
use crate::ops::live::{LiveAccess, LiveSource};
use crate::ops::{Ctx, EXIT_USAGE, Said};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a job runs: a use case given the context, a live source for its own checks, the
/// graph, and the fresh live facts.
pub type UseCase = Box<dyn FnOnce(&Ctx, &LiveAccess, &DepGraph, Facts) -> Said + Send>;

pub struct Job {
    pub ctx: Ctx,
    pub live: LiveSource,
    pub graph: Arc<DepGraph>,
    /// The last poll's facts, refreshed for `service` before the use case runs.
    pub board: Board,
    /// The service the action concerns (`None`: nothing to re-check first).
    pub service: Option<String>,
    pub tx: mpsc::Sender<Msg>,
}

/// The live facts an action decides on: the last poll's, with the service it concerns
/// read again through the org's live source (services and Prometheus, merged as the
/// CLI merges them), so the console and `gander approve` agree on the same facts.
pub async fn action_facts(
    ctx: &Ctx,
    live: &LiveSource,
    board: &Board,
    service: Option<&str>,
) -> Facts {
    let mut facts = Facts::from_config(&ctx.config, ctx.clock.now());
    board.fill(&mut facts, &|_| "live metrics".into());
    if let Some(s) = service {
        // Over the time since the console last polled it (or a fresh window).
        live.round_after(board.clone(), Some(s), &mut facts).await;
    }
    facts
}

impl Job {
    pub async fn run(self, what: String, kind: Outcome, use_case: UseCase) {
        let Job {
            ctx,
            live,
            graph,
            board,
            service,
            tx,
        } = self;
        let facts = action_facts(&ctx, &live, &board, service.as_deref()).await;
        let handle = tokio::runtime::Handle::current();
        let said = tokio::task::spawn_blocking(move || {
            let access = LiveAccess::on(live, handle);
            use_case(&ctx, &access, &graph, facts)
        })
        .await
        .unwrap_or_else(|e| Said {
            err: vec![format!("the action failed: {e}")],
            code: EXIT_USAGE,
            ..Default::default()
        });
        let _ = tx.send(Msg::Done { what, kind, said }).await;
    }
}
