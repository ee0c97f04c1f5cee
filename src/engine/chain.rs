//! The evidence chain: append-only JSON lines, each record the seed 003 §5.1 shape plus
//! `seq`, `prev_hash` and `hash`.
//!
//! Canonical form (what `hash` covers and what signatures sign): the record as JSON
//! with object keys sorted at every level, no insignificant whitespace, strings escaped
//! as jq escapes them (`\"`, `\\`, `\b \f \n \r \t`, other control characters and DEL
//! as `\u00xx`), integers only (no floats in records). It is exactly what
//! `jq -cS .` prints, minus the trailing newline, so an auditor can recompute:
//!
//! ```text
//! sed -n 5p chain.jsonl | jq -cS 'del(.hash)' | tr -d '\n' | sha256sum
//! ```
//!
//! `hash` = SHA-256 (lowercase hex) of the canonical form without `hash`. A signature
//! signs the canonical form without `hash` and with `evidence.signatures` emptied (`[]`),
//! in SSHSIG (`ssh-keygen -Y sign -n gander`), so several people can sign one record.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The hash `prev_hash` of the first record points at.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The SSHSIG namespace of every gander signature.
pub const NAMESPACE: &str = "gander";

/// One SSHSIG signature on a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Who signed, as `allowed_signers` names them.
    pub principal: String,
    /// The armored `-----BEGIN SSH SIGNATURE-----` block.
    pub sshsig: String,
    /// `SHA256:…` of the key that signed, so an auditor sees which key it was (records
    /// written before gander recorded it have none; verify checks it when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// request, validation, approval, rejection, transition, demotion, closure, …
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub prev_hash: String,
    pub promotion_id: String,
    /// RFC 3339, UTC, seconds.
    pub timestamp: String,
    pub service: String,
    pub evidence: Evidence,
    pub hash: String,
}

/// Append the canonical form of `v` to `out`.
pub fn canonical_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Records hold integers only; a float still gets a stable spelling.
            let _ = write!(out, "{n}");
        }
        Value::String(s) => escape_into(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_into(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape_into(k, out);
                out.push(':');
                canonical_into(&m[*k], out);
            }
            out.push('}');
        }
    }
}

fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn canonical(v: &Value) -> String {
    let mut s = String::with_capacity(512);
    canonical_into(v, &mut s);
    s
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a digest.
pub fn hex(d: &[u8]) -> String {
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Record {
    fn value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The canonical form written field by field (keys in sorted order), without
    /// building a JSON tree: `hash` and the signatures are optional. Equal to
    /// [`canonical`] of the record's JSON (a test holds it to that).
    fn canonical_fields(&self, with_signatures: bool, with_hash: bool) -> String {
        let mut out = String::with_capacity(256 + self.evidence.signatures.len() * 400);
        out.push_str("{\"evidence\":{\"data\":");
        canonical_into(&self.evidence.data, &mut out);
        out.push_str(",\"signatures\":[");
        if with_signatures {
            for (i, s) in self.evidence.signatures.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('{');
                if let Some(k) = &s.key {
                    out.push_str("\"key\":");
                    escape_into(k, &mut out);
                    out.push(',');
                }
                out.push_str("\"principal\":");
                escape_into(&s.principal, &mut out);
                out.push_str(",\"sshsig\":");
                escape_into(&s.sshsig, &mut out);
                out.push('}');
            }
        }
        out.push_str("],\"type\":");
        escape_into(&self.evidence.kind, &mut out);
        out.push('}');
        if with_hash {
            out.push_str(",\"hash\":");
            escape_into(&self.hash, &mut out);
        }
        out.push_str(",\"prev_hash\":");
        escape_into(&self.prev_hash, &mut out);
        out.push_str(",\"promotion_id\":");
        escape_into(&self.promotion_id, &mut out);
        let _ = write!(out, ",\"seq\":{}", self.seq);
        out.push_str(",\"service\":");
        escape_into(&self.service, &mut out);
        out.push_str(",\"timestamp\":");
        escape_into(&self.timestamp, &mut out);
        out.push('}');
        out
    }

    /// The canonical form without `hash`: what the hash covers.
    pub fn hashed_form(&self) -> String {
        self.canonical_fields(true, false)
    }

    /// The canonical form without `hash` and with no signatures: what a signer signs.
    pub fn signed_form(&self) -> String {
        self.canonical_fields(false, false)
    }

    /// The fingerprint of the key that made its first signature, read from the
    /// signature itself (never from the recorded `key` field, which only informs an
    /// auditor and which verify checks): people are counted by this.
    pub fn signer_key(&self) -> Option<String> {
        let s = self.evidence.signatures.first()?;
        crate::engine::identity::sshsig::parse(&s.sshsig)
            .ok()
            .map(|p| p.key.fingerprint())
    }

    /// The record's own time (`timestamp`), when it reads as RFC 3339.
    pub fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.timestamp)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc))
    }

    pub fn compute_hash(&self) -> String {
        sha256_hex(self.hashed_form().as_bytes())
    }

    /// The line written to the chain file (canonical, so `jq -cS` reproduces it).
    pub fn line(&self) -> String {
        self.canonical_fields(true, true)
    }

    /// The generic path, for the test that holds the fast one to it.
    #[doc(hidden)]
    pub fn line_via_json_tree(&self) -> String {
        canonical(&self.value())
    }
}

/// A structural problem: the record is not what the chain says it must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line of the chain file.
    pub line: usize,
    /// The record's own `seq`, when it could be read.
    pub seq: Option<u64>,
    pub message: String,
}

/// Parse one chain line; the error says what is wrong with it.
pub fn parse_line(line: &str) -> Result<Record, String> {
    serde_json::from_str::<Record>(line).map_err(|e| format!("not a chain record: {e}"))
}

/// Check hashes, links and sequence of records already parsed (in file order).
/// Returns every problem, in order; the first is the one to act on.
pub fn check_links(records: &[(usize, Record)]) -> Vec<Problem> {
    check_links_after(records, 0)
}

/// As [`check_links`], for the records from index `from` on, the ones before it being
/// known good (a byte-identical prefix verified before): each later record must still
/// link to the one before it.
pub fn check_links_after(records: &[(usize, Record)], from: usize) -> Vec<Problem> {
    let from = from.min(records.len());
    let prev = from.checked_sub(1).map(|i| {
        let r = &records[i].1;
        Link {
            seq: r.seq,
            hash: r.hash.clone(),
            timestamp: r.timestamp.clone(),
        }
    });
    check_links_from(&records[from..], prev.as_ref())
}

/// The record a later one must link to: its seq, hash and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Link {
    pub seq: u64,
    pub hash: String,
    pub timestamp: String,
}

impl Link {
    pub fn of(r: &Record) -> Link {
        Link {
            seq: r.seq,
            hash: r.hash.clone(),
            timestamp: r.timestamp.clone(),
        }
    }
}

/// As [`check_links`], for records that follow `prev` (the genesis when `None`).
pub fn check_links_from(records: &[(usize, Record)], prev: Option<&Link>) -> Vec<Problem> {
    let mut out = Vec::new();
    let (mut prev_hash, mut expect_seq, mut prev_time) = match prev {
        Some(l) => (
            l.hash.clone(),
            l.seq + 1,
            chrono::DateTime::parse_from_rfc3339(&l.timestamp)
                .ok()
                .map(|d| d.with_timezone(&chrono::Utc)),
        ),
        None => (GENESIS.to_string(), 1u64, None),
    };
    for (line, r) in records {
        let computed = r.compute_hash();
        if computed != r.hash {
            out.push(Problem {
                line: *line,
                seq: Some(r.seq),
                message: format!(
                    "hash does not match the record's content (recorded {}…, computed {}…): the record was altered",
                    &r.hash.get(..12).unwrap_or(&r.hash),
                    &computed[..12]
                ),
            });
        }
        if r.seq != expect_seq {
            let message = if r.seq > expect_seq {
                format!(
                    "sequence gap: expected seq {expect_seq}, found {} (records missing)",
                    r.seq
                )
            } else {
                format!(
                    "sequence out of order: expected seq {expect_seq}, found {} (records reordered or repeated)",
                    r.seq
                )
            };
            out.push(Problem {
                line: *line,
                seq: Some(r.seq),
                message,
            });
        }
        if r.prev_hash != prev_hash {
            out.push(Problem {
                line: *line,
                seq: Some(r.seq),
                message: format!(
                    "prev_hash does not link to the previous record (expected {}…, found {}…)",
                    &prev_hash[..12],
                    r.prev_hash.get(..12).unwrap_or(&r.prev_hash)
                ),
            });
        }
        // Time only goes forward: a record dated before the one it follows was written
        // afterwards with a backdated timestamp (to slip inside a key's validity).
        match (r.time(), prev_time) {
            (None, _) => out.push(Problem {
                line: *line,
                seq: Some(r.seq),
                message: format!("timestamp `{}` is not an RFC 3339 time", r.timestamp),
            }),
            (Some(t), Some(p)) if t < p => out.push(Problem {
                line: *line,
                seq: Some(r.seq),
                message: format!(
                    "timestamp {} is earlier than the previous record's {}: backdated",
                    r.timestamp,
                    p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }),
            _ => {}
        }
        prev_time = r.time().or(prev_time);
        prev_hash = r.hash.clone();
        expect_seq = r.seq.max(expect_seq) + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(seq: u64, prev: &str) -> Record {
        let mut r = Record {
            seq,
            prev_hash: prev.into(),
            promotion_id: "P-1".into(),
            timestamp: "2026-11-22T00:00:00Z".into(),
            service: "service-b".into(),
            evidence: Evidence {
                kind: "request".into(),
                data: json!({"to": "compliant", "note": "tab\there \"quoted\" é \u{7f}"}),
                signatures: vec![],
            },
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    }

    #[test]
    fn canonical_form_sorts_keys_and_escapes_like_jq() {
        let v = json!({"b": 1, "a": {"z": [true, null], "y": "x\ny\u{1}\u{7f}"}});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"y":"x\ny\u0001\u007f","z":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn the_field_by_field_form_is_the_canonical_json() {
        let mut r = rec(7, GENESIS);
        r.evidence.signatures.push(Signature {
            principal: "ali\"ce".into(),
            sshsig: "-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n".into(),
            key: None,
        });
        r.hash = r.compute_hash();
        assert_eq!(r.line(), r.line_via_json_tree());
        // With the key's fingerprint recorded too (sorted before `principal`).
        let mut k = r.clone();
        k.evidence.signatures[0].key = Some("SHA256:abc".into());
        k.hash = k.compute_hash();
        assert_eq!(k.line(), k.line_via_json_tree());
        let mut v = serde_json::to_value(&r).unwrap();
        v.as_object_mut().unwrap().remove("hash");
        assert_eq!(r.hashed_form(), canonical(&v));
        v["evidence"]["signatures"] = json!([]);
        assert_eq!(r.signed_form(), canonical(&v));
    }

    #[test]
    fn a_good_chain_has_no_problems_and_each_alteration_is_named() {
        let a = rec(1, GENESIS);
        let b = rec(2, &a.hash);
        let c = rec(3, &b.hash);
        let good = vec![(1, a.clone()), (2, b.clone()), (3, c.clone())];
        assert!(check_links(&good).is_empty());

        let mut altered = b.clone();
        altered.evidence.data = json!({"to": "sandbox"});
        let p = check_links(&[(1, a.clone()), (2, altered), (3, c.clone())]);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].line, p[0].seq), (2, Some(2)));
        assert!(
            p[0].message.starts_with("hash does not match"),
            "{}",
            p[0].message
        );

        let p = check_links(&[(1, a.clone()), (2, c.clone())]);
        assert!(
            p[0].message
                .starts_with("sequence gap: expected seq 2, found 3"),
            "{p:?}"
        );

        let p = check_links(&[(1, a.clone()), (2, c.clone()), (3, b.clone())]);
        assert_eq!(p[0].line, 2);
    }
}
