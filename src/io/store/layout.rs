//! The seed 003 audit layout: a copy of each record under
//! `audit/promotions/{service}/{YYYYMMDD}/{request,validation,evidence,approval}/`,
//! derived from the chain (a crash between the append and these files loses nothing).

use super::{Store, StoreError, io_err, write_atomic};
use crate::engine::chain::Record;

impl Store {
    /// Write each record's copy into the seed 003 audit layout (derived from the chain;
    /// a crash between the chain append and these files loses nothing).
    pub fn write_layout(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            let day = r.timestamp.get(..10).unwrap_or("00000000").replace('-', "");
            let sub = match r.evidence.kind.as_str() {
                "request" => "request",
                "validation" => "validation",
                "approval" | "rejection" => "approval",
                _ => "evidence",
            };
            let rel = format!("audit/promotions/{}/{day}/{sub}", r.service);
            if let Some(why) = super::outside_store(&self.root, &rel) {
                return Err(StoreError::Io {
                    path: self.root.join(&rel),
                    source: std::io::Error::other(format!("{why}; the audit copy is not written")),
                });
            }
            let dir = self.root.join(&rel);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let path = dir.join(format!("{:08}-{}.json", r.seq, r.evidence.kind));
            let text = serde_json::to_string_pretty(r).unwrap_or_default();
            write_atomic(&path, text.as_bytes())?;
        }
        Ok(())
    }
}
