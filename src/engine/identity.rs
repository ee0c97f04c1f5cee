//! Who did what: identities are the principals an `allowed_signers` file (the format
//! of `ssh-keygen -Y verify` and git) maps keys to; signatures are SSHSIG.

use super::chain::NAMESPACE;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig, public::KeyData};

#[derive(Debug, Clone)]
pub struct Entry {
    pub principals: Vec<String>,
    pub key: KeyData,
    /// `namespaces="…"` option; `None` allows every namespace.
    pub namespaces: Option<Vec<String>>,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub entries: Vec<Entry>,
}

/// Split on `sep` outside double quotes (quotes kept).
fn split_outside_quotes(line: &str, sep: fn(char) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if sep(c) && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn tokens(line: &str) -> Vec<String> {
    split_outside_quotes(line, char::is_whitespace)
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-")
}

impl AllowedSigners {
    /// Parse the file; every bad line is reported (`line N: …`).
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let t = tokens(line);
            let n = i + 1;
            if t.len() < 3 {
                errors.push(format!(
                    "line {n}: expected `PRINCIPALS [OPTIONS] KEYTYPE KEY`"
                ));
                continue;
            }
            let principals: Vec<String> = t[0]
                .trim_matches('"')
                .split(',')
                .map(str::to_string)
                .collect();
            let (options, kt) = if is_key_type(&t[1]) {
                (None, 1)
            } else {
                (Some(&t[1]), 2)
            };
            if t.len() < kt + 2 {
                errors.push(format!(
                    "line {n}: missing the key after `{}`",
                    t[kt.min(t.len() - 1)]
                ));
                continue;
            }
            let mut namespaces = None;
            for o in options
                .map(|o| split_outside_quotes(o, |c| c == ','))
                .unwrap_or_default()
            {
                if let Some(v) = o.strip_prefix("namespaces=") {
                    namespaces = Some(v.trim_matches('"').split(',').map(str::to_string).collect());
                }
            }
            match PublicKey::from_openssh(&format!("{} {}", t[kt], t[kt + 1])) {
                Ok(k) => entries.push(Entry {
                    principals,
                    key: k.key_data().clone(),
                    namespaces,
                    line: n,
                }),
                Err(e) => errors.push(format!("line {n}: bad {} key: {e}", t[kt])),
            }
        }
        if errors.is_empty() {
            Ok(AllowedSigners { entries })
        } else {
            Err(errors)
        }
    }

    fn allows(e: &Entry) -> bool {
        e.namespaces
            .as_ref()
            .is_none_or(|ns| ns.iter().any(|n| n == NAMESPACE))
    }

    /// The principal a key is allowed to sign as (the first listed), if any.
    pub fn principal_for(&self, key: &KeyData) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| &e.key == key && Self::allows(e))
            .and_then(|e| e.principals.first().map(String::as_str))
    }

    /// Verify that `armored` is a valid SSHSIG of `msg` in the gander namespace by a
    /// key that `allowed_signers` lets `principal` use.
    pub fn verify(&self, principal: &str, msg: &[u8], armored: &str) -> Result<(), String> {
        let sig = SshSig::from_pem(armored).map_err(|e| format!("unreadable signature: {e}"))?;
        if sig.namespace() != NAMESPACE {
            return Err(format!(
                "signature is for namespace `{}`, not `{NAMESPACE}`",
                sig.namespace()
            ));
        }
        let key = sig.public_key();
        let allowed = self.entries.iter().any(|e| {
            &e.key == key && Self::allows(e) && e.principals.iter().any(|p| p == principal)
        });
        if !allowed {
            let fp = PublicKey::from(key.clone()).fingerprint(HashAlg::Sha256);
            return Err(format!("key {fp} is not allowed to sign as `{principal}`"));
        }
        PublicKey::from(key.clone())
            .verify(NAMESPACE, msg, &sig)
            .map_err(|e| format!("signature does not verify: {e}"))
    }
}

/// Sign `msg` in the gander namespace; the armored SSHSIG block.
pub fn sign(key: &PrivateKey, msg: &[u8]) -> Result<String, String> {
    key.sign(NAMESPACE, HashAlg::Sha512, msg)
        .and_then(|s| s.to_pem(LineEnding::LF))
        .map_err(|e| format!("cannot sign: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

    #[test]
    fn allowed_signers_lines_in_the_usual_shapes() {
        let text = format!(
            "# team keys\nalice@example.org {KEY} alice's laptop\n\"bob,robert\" namespaces=\"git,gander\" {KEY}\ncarol namespaces=\"git\" {KEY}\n\nbroken ssh-ed25519\n"
        );
        let e = AllowedSigners::parse(&text).unwrap_err();
        assert_eq!(
            e,
            vec!["line 6: expected `PRINCIPALS [OPTIONS] KEYTYPE KEY`"]
        );
        let text = text.replace("broken ssh-ed25519\n", "");
        let a = AllowedSigners::parse(&text).unwrap();
        assert_eq!(a.entries.len(), 3);
        assert_eq!(a.entries[1].principals, vec!["bob", "robert"]);
        assert_eq!(
            a.entries[1].namespaces.as_deref(),
            Some(&["git".to_string(), "gander".to_string()][..])
        );
        // carol's key is only for git: not a gander signer.
        assert_eq!(
            a.principal_for(&a.entries[2].key),
            Some("alice@example.org")
        );
        let only_carol = AllowedSigners {
            entries: vec![a.entries[2].clone()],
        };
        assert_eq!(only_carol.principal_for(&a.entries[2].key), None);
    }
}
