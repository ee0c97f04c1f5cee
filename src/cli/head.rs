//! `gander head`: the chain's current head as `SEQ:HASH`, to write in a ticket or a wiki
//! and check later with `gander verify --expect-head`; `--forget` drops the head this
//! user remembers of the store (after resetting it on purpose).

use super::{EXIT_FAILED, EXIT_OK, output};
use crate::ops::store::LOCK_WAIT;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub json: bool,
    /// Forget the head this user remembers of this store
    #[arg(long)]
    pub forget: bool,
}

pub fn run(config_flag: Option<PathBuf>, state: Option<PathBuf>, args: Args) -> i32 {
    // The configured store when there is a config; else the state directory's.
    let config = super::locate(config_flag).ok().and_then(|l| {
        let c = crate::io::config_dir::load_dir(&l.dir).ok()?.config?;
        Some((c, l.dir))
    });
    let opened = match &config {
        Some((c, dir)) => crate::ops::store::open_read(c, dir, state.as_deref()),
        None => state
            .clone()
            .ok_or_else(|| "no state directory: pass --state-dir or set GANDER_STATE_DIR".into())
            .and_then(|d| {
                crate::ops::store::open_location(crate::ops::store::Location::Local(d), None)
            }),
    };
    let st = match opened {
        Ok(o) => {
            if let Some(s) = &o.stale {
                crate::err!("warning: {s}");
            }
            o.store
        }
        Err(e) => {
            crate::err!("gander: {e}");
            return super::EXIT_USAGE;
        }
    };
    if args.forget {
        let chain = st.chain_path().display().to_string();
        let mut said = crate::ops::Said::default();
        match crate::io::heads::forget(&st) {
            Ok(true) => said
                .out
                .push(format!("forgot the head remembered for {chain}")),
            Ok(false) => said.out.push(format!("no head was remembered for {chain}")),
            Err(e) => said = said.fail(EXIT_FAILED, e.to_string()),
        }
        return super::record::emit(said, args.json);
    }
    let read = match st.lock_shared(LOCK_WAIT).and_then(|l| st.read(&l)) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    };
    let (seq, hash) = read
        .records
        .last()
        .map_or((0, crate::engine::chain::GENESIS.to_string()), |(_, r)| {
            (r.seq, r.hash.clone())
        });
    if args.json {
        output::print_json(
            "head",
            &json!({"chain": st.chain_path().display().to_string(), "seq": seq, "hash": hash}),
        );
    } else {
        crate::out!("{seq}:{hash}");
    }
    EXIT_OK
}
