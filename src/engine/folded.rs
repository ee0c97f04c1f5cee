//! Everything the read-only views take from the chain, folded in one pass: the ledger,
//! the walks, the packages, what the authority check remembers, and the last records.
//! A fold of a prefix is extended by the records after it, so a chain this user folded
//! before is read from where that fold ended (see `ops::store::open_view`).

use super::authority::Tally;
use super::chain::{Link, Record};
use super::config::Config;
use super::ledger::Ledger;
use super::package::Stages;
use super::walk::Walk;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many of the last records a view keeps, one line each.
pub const RECENT: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Folded {
    pub ledger: Ledger,
    pub walks: Vec<Walk>,
    pub packages: Stages,
    pub tally: Tally,
    /// Records the chain's own records do not justify: (line, seq, why).
    pub unjustified: Vec<(usize, u64, String)>,
    /// The last records, oldest first, one line each.
    pub recent: VecDeque<String>,
    /// The last record folded, and its line in the chain file.
    pub last: Option<(usize, Link)>,
    /// Every file the records name by digest: hashed again on every view.
    pub artifacts: Vec<Artifact>,
}

impl Folded {
    /// Fold the records that follow those already folded, in file order.
    /// `signed_by(record, principal)` tells whether a record carries a valid signature
    /// of `principal`.
    pub fn extend(
        &mut self,
        config: &Config,
        records: &[(usize, Record)],
        signed_by: &dyn Fn(&Record, &str) -> bool,
    ) {
        let recs = || records.iter().map(|(_, r)| r);
        self.ledger.extend(recs(), signed_by);
        super::walk::extend(&mut self.walks, recs());
        self.packages.extend(recs());
        for (seq, why) in self.tally.extend(config, recs(), signed_by) {
            let line = records
                .iter()
                .find(|(_, r)| r.seq == seq)
                .map_or(0, |(l, _)| *l);
            self.unjustified.push((line, seq, why));
        }
        for (_, r) in records.iter().rev().take(RECENT).rev() {
            while self.recent.len() >= RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(summary(r));
        }
        for (line, r) in records {
            self.artifacts.extend(artifacts_of(*line, r));
        }
        if let Some((line, r)) = records.last() {
            self.last = Some((*line, Link::of(r)));
        }
    }
}

/// A file a record names by path and SHA-256 (`data.artifacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub line: usize,
    pub seq: u64,
    pub path: String,
    pub sha256: String,
}

/// The artifacts a record names (entries without both a path and a digest are not).
pub fn artifacts_of(line: usize, r: &Record) -> Vec<Artifact> {
    let Some(list) = r.evidence.data.get("artifacts").and_then(|a| a.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            Some(Artifact {
                line,
                seq: r.seq,
                path: a.get("path")?.as_str()?.to_string(),
                sha256: a.get("sha256")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// One line for a record: `chain #12 payments approval by bob (PRM-…)`.
pub fn summary(r: &Record) -> String {
    let by = r
        .evidence
        .signatures
        .first()
        .map_or("unsigned", |s| s.principal.as_str());
    format!(
        "chain #{} {} {} by {by} ({})",
        r.seq, r.service, r.evidence.kind, r.promotion_id
    )
}
