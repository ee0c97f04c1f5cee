//! The chain as the console shows it, read on a blocking thread.

use crate::app::model::StoreView;
use crate::engine::config::Config;
use crate::engine::facts::{Facts, Known};
use crate::engine::ledger;
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
    if !store.chain_path().exists() && crate::io::heads::load(&store).is_none() {
        // No chain yet: an empty chain, which is valid.
        return StoreView {
            chain: Some(Known::Known(ledger::chain_facts(0, None, 0))),
            error: stale,
            ..StoreView::default()
        };
    }
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let mut facts = Facts::from_config(config, Utc::now());
    let view = match store_ctx::open_view(config, &store, signers.as_ref().ok(), &mut facts) {
        Ok(v) => v,
        Err(e) => {
            return StoreView {
                error: Some(e.to_string()),
                ..StoreView::default()
            };
        }
    };
    let f = view.folded;
    StoreView {
        ledger: f.ledger,
        chain: Some(facts.chain),
        walks: f.walks,
        packages: f.packages,
        recent: f.recent.into(),
        error: stale.or_else(|| view.torn.map(|line| format!("the chain ends in a torn record at line {line} (crash mid-append); the next write sets it aside"))),
    }
}
