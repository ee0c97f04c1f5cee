//! The chain as the console shows it, read on a blocking thread.

use crate::app::model::StoreView;
use crate::engine::config::Config;
use crate::engine::facts::{Facts, Known};
use crate::engine::ledger::{self, Ledger};
use crate::ops::store as store_ctx;
use chrono::Utc;
use std::path::Path;

/// The chain as the console shows it: ledger, chain facts, recent records.
pub fn load_store_view(state: Option<&Path>, config_dir: &Path, config: &Config) -> StoreView {
    let opened = match store_ctx::open_read(config, config_dir, state) {
        Ok(o) => o,
        Err(e) if state.is_none() => {
            let _ = e;
            return StoreView::default();
        }
        Err(e) => {
            return StoreView {
                error: Some(e),
                ..StoreView::default()
            };
        }
    };
    let stale = opened.stale.clone();
    let store = opened.store;
    if !store.chain_path().exists() {
        // No chain yet: an empty chain, which is valid.
        return StoreView {
            chain: Some(Known::Known(ledger::chain_facts(0, None, 0))),
            error: stale,
            ..StoreView::default()
        };
    }
    let read = match store
        .lock_shared(store_ctx::LOCK_WAIT)
        .and_then(|l| store.read(&l))
    {
        Ok(r) => r,
        Err(e) => {
            return StoreView {
                error: Some(e.to_string()),
                ..StoreView::default()
            };
        }
    };
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let mut facts = Facts::from_config(config, Utc::now());
    let ledger: Ledger = store_ctx::apply(config, &store, &read, signers.as_ref().ok(), &mut facts);
    let recent = read
        .records
        .iter()
        .rev()
        .take(50)
        .rev()
        .map(|(_, r)| {
            let by = r
                .evidence
                .signatures
                .first()
                .map_or("unsigned".to_string(), |s| s.principal.clone());
            format!(
                "chain #{} {} {} by {by} ({})",
                r.seq, r.service, r.evidence.kind, r.promotion_id
            )
        })
        .collect();
    let records = store_ctx::records(&read);
    StoreView {
        ledger,
        chain: Some(facts.chain),
        walks: crate::engine::walk::fold(&records),
        packages: crate::engine::package::fold(&records),
        recent,
        error: stale.or_else(|| read.torn.as_ref().map(|t| format!("the chain ends in a torn record at line {} (crash mid-append); the next write sets it aside", t.line))),
    }
}
