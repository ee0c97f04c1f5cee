//! Who did what: identities are the principals an `allowed_signers` file (the format
//! of `ssh-keygen -Y verify` and git) maps keys to; signatures are SSHSIG.

//! Who did what: identities are the principals an `allowed_signers` file (the format
//! of `ssh-keygen -Y verify` and git) maps keys to; signatures are SSHSIG.
//!
//! The file is read exactly as `ssh-keygen -Y verify` reads it (OpenSSH `sshsig.c`):
//! principals as pattern lists, quoted options (`cert-authority`, `namespaces=`,
//! `valid-after=`, `valid-before=`), comments, and a malformed line (or a key type this
//! build does not know) skipped and reported, never disabling the file. Signing and
//! verifying decide a principal with the same function, [`AllowedSigners::accepts`], at
//! the record's own time. People are their keys: [`Proven`] carries the fingerprint.

pub mod options;
pub mod sshsig;

use super::chain::NAMESPACE;
use chrono::{DateTime, Utc};
use options::{Options, match_pattern_list, next_token, options_field, parse_options};
use ssh_key::certificate::CertType;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, public::KeyData};
pub use sshsig::SignKey;

/// One usable line of the file.
#[derive(Debug, Clone)]
pub struct Line {
    pub line: usize,
    /// The principals field: a comma-separated pattern list.
    pub principals: String,
    pub options: Options,
    pub key: KeyData,
}

#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub lines: Vec<Line>,
    /// Lines ssh-keygen would skip too, with why (`line N: …`).
    pub skipped: Vec<String>,
    /// Revoked keys (`signing.revoked_keys`, as `ssh-keygen -Y verify -r` takes a list
    /// of public keys): a signature by one, or by a certificate of one or from one as
    /// CA, is refused.
    pub revoked: Vec<KeyData>,
}

/// What a verified signature proves: who, with which key, by which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub principal: String,
    /// `SHA256:…` of the key that signed (for a certificate: the certified key).
    pub fingerprint: String,
    /// A certificate's key id, when the key was a certificate.
    pub key_id: Option<String>,
    pub line: usize,
}

impl AllowedSigners {
    /// A digest of what this file trusts (every usable line, options and key, and the
    /// revoked keys) and of the verifier's version: a verification remembered under
    /// one digest says nothing under another.
    pub fn digest(&self) -> String {
        let text = format!(
            "{}\n{:?}\n{:?}",
            env!("CARGO_PKG_VERSION"),
            self.lines
                .iter()
                .map(|l| (&l.principals, &l.options, &l.key))
                .collect::<Vec<_>>(),
            self.revoked
        );
        crate::engine::chain::sha256_hex(text.as_bytes())
    }

    /// Read the file. Nothing here is fatal: a bad line is skipped and reported, as
    /// `ssh-keygen -Y verify` skips it.
    pub fn parse(text: &str) -> Self {
        let mut out = AllowedSigners::default();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some((principals, options, key))) => out.lines.push(Line {
                    line: n,
                    principals,
                    options,
                    key,
                }),
                Err(e) => out.skipped.push(format!("line {n}: {e}")),
            }
        }
        out
    }

    /// Does this file let `key` sign as `principal` in `namespace` at `at`? The line
    /// that does, or why none does.
    pub fn accepts(
        &self,
        key: &SignKey,
        principal: &str,
        namespace: &str,
        at: DateTime<Utc>,
    ) -> Result<usize, String> {
        let mut why = None;
        for l in &self.lines {
            match line_accepts(l, key, principal, namespace, at) {
                Ok(()) => return Ok(l.line),
                Err(Some(w)) => why = why.or(Some(format!("line {}: {w}", l.line))),
                Err(None) => {}
            }
        }
        Err(why.unwrap_or_else(|| {
            format!(
                "key {} is not allowed to sign as `{principal}`",
                key.fingerprint()
            )
        }))
    }

    /// Verify that `armored` is a valid SSHSIG of `msg` in the gander namespace by a key
    /// this file lets `principal` use at `at` (the record's own time).
    pub fn verify(
        &self,
        principal: &str,
        msg: &[u8],
        armored: &str,
        at: DateTime<Utc>,
    ) -> Result<Proven, String> {
        let sig = sshsig::parse(armored).map_err(|e| format!("unreadable signature: {e}"))?;
        if sig.namespace != NAMESPACE {
            return Err(format!(
                "signature is for namespace `{}`, not `{NAMESPACE}`",
                sig.namespace
            ));
        }
        sig.verify_crypto(msg)?;
        if let Some(k) = self.revoked_by(&sig.key) {
            return Err(format!("key {} is revoked", k.fingerprint(HashAlg::Sha256)));
        }
        let line = self.accepts(&sig.key, principal, NAMESPACE, at)?;
        Ok(Proven {
            principal: principal.to_string(),
            fingerprint: sig.key.fingerprint(),
            key_id: match &sig.key {
                SignKey::Cert(c) => Some(c.key_id().to_string()),
                SignKey::Plain(_) => None,
            },
            line,
        })
    }

    /// The revoked key that `key` is, or is certified by.
    pub fn revoked_by(&self, key: &SignKey) -> Option<&KeyData> {
        self.revoked.iter().find(|r| match key {
            SignKey::Plain(k) => *r == k,
            SignKey::Cert(c) => *r == c.public_key() || *r == c.signature_key(),
        })
    }

    /// Read a revocation list: one OpenSSH public key per line (comments and blank
    /// lines allowed). A binary KRL is refused with a clear message.
    pub fn read_revoked(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.starts_with(b"SSHKRL") {
            return Err("a binary KRL; gander reads a revocation list of public keys, one per line (`ssh-keygen -Q` can test keys against a KRL)".into());
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let k = PublicKey::from_openssh(l).map_err(|e| format!("line {}: {e}", i + 1))?;
            self.revoked.push(k.key_data().clone());
        }
        Ok(())
    }

    /// Every principal `key` may sign as at `at` (the literal names; patterns cannot be
    /// an identity), in file order. The first is the one it signs as.
    pub fn principals_for(&self, key: &SignKey, at: DateTime<Utc>) -> Vec<String> {
        let mut candidates: Vec<String> = match key {
            SignKey::Cert(c) => c.valid_principals().to_vec(),
            SignKey::Plain(_) => self
                .lines
                .iter()
                .flat_map(|l| l.principals.split(','))
                .filter(|p| !p.is_empty() && !p.contains(['*', '?', '!']))
                .map(str::to_string)
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|p| seen.insert(p.clone()));
        candidates
            .into_iter()
            .filter(|p| {
                self.revoked_by(key).is_none() && self.accepts(key, p, NAMESPACE, at).is_ok()
            })
            .collect()
    }

    /// The principal `key` signs as at `at`, if any.
    pub fn principal_for(&self, key: &SignKey, at: DateTime<Utc>) -> Option<String> {
        self.principals_for(key, at).into_iter().next()
    }

    /// Keys listed on more than one line (not `cert-authority`): one key is one person,
    /// so two names for it would let one person approve their own request.
    pub fn duplicate_keys(&self) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        for (i, a) in self.lines.iter().enumerate() {
            if a.options.cert_authority {
                continue;
            }
            if let Some(b) = self.lines[..i].iter().find(|b| {
                !b.options.cert_authority && b.key == a.key && b.principals != a.principals
            }) {
                out.push((
                    b.line,
                    a.line,
                    a.key.fingerprint(HashAlg::Sha256).to_string(),
                ));
            }
        }
        out
    }
}

/// One line: `Ok(None)` for a comment or a blank line.
fn parse_line(raw: &str) -> Result<Option<(String, Options, KeyData)>, String> {
    let mut cp = raw.trim_start_matches([' ', '\t']);
    if cp.is_empty() || cp.starts_with('#') {
        return Ok(None);
    }
    let principals = next_token(&mut cp).ok_or("invalid line")?;
    if principals.is_empty() {
        return Err("missing principals".into());
    }
    // A key here, or options and then a key.
    if let Some(k) = read_key(&mut cp) {
        return Ok(Some((principals, Options::default(), k?)));
    }
    let opts = options_field(&mut cp).ok_or("invalid options")?;
    let options = parse_options(opts)?;
    if cp.trim().is_empty() {
        return Err("missing key".into());
    }
    match read_key(&mut cp) {
        Some(Ok(k)) => Ok(Some((principals, options, k))),
        Some(Err(e)) => Err(e),
        None => Err("invalid key".into()),
    }
}

/// `TYPE BASE64` at the start of `cp`: `None` when it is not a key at all (so it may be
/// options), `Some(Err)` for a key type this build cannot verify.
fn read_key(cp: &mut &str) -> Option<Result<KeyData, String>> {
    let mut t = *cp;
    let kind = next_token(&mut t)?;
    let known = kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
    if !known {
        return None;
    }
    let blob = next_token(&mut t)?;
    match PublicKey::from_openssh(&format!("{kind} {blob}")) {
        Ok(k) => {
            *cp = t;
            Some(Ok(k.key_data().clone()))
        }
        Err(e) => {
            *cp = t;
            Some(Err(format!("invalid key ({kind}: {e})")))
        }
    }
}

/// Why line `l` does not accept: `Err(None)` when it is about another key or principal,
/// `Err(Some(why))` when it is this key and principal but refused (expired, namespace…).
fn line_accepts(
    l: &Line,
    key: &SignKey,
    principal: &str,
    namespace: &str,
    at: DateTime<Utc>,
) -> Result<(), Option<String>> {
    let now = at.timestamp();
    match (key, l.options.cert_authority) {
        (SignKey::Plain(k), false) if *k == l.key => {
            if match_pattern_list(principal, &l.principals) != 1 {
                return Err(None);
            }
        }
        (SignKey::Cert(c), true) if *c.signature_key() == l.key => {
            if match_pattern_list(principal, &l.principals) != 1 {
                return Err(None);
            }
            if c.cert_type() != CertType::User {
                return Err(Some("a host certificate cannot sign".into()));
            }
            if !c.valid_principals().iter().any(|p| p == principal) {
                return Err(Some(format!("the certificate is not for `{principal}`")));
            }
            let fp = l.key.fingerprint(HashAlg::Sha256);
            if !c.valid_at(now, &fp) {
                return Err(Some(format!(
                    "certificate `{}` is not valid at {}",
                    c.key_id(),
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )));
            }
        }
        _ => return Err(None),
    }
    if let Some(ns) = &l.options.namespaces
        && match_pattern_list(namespace, ns) != 1
    {
        return Err(Some(format!("not allowed in namespace `{namespace}`")));
    }
    if l.options.valid_after.is_some_and(|a| now < a) {
        return Err(Some("key is not yet valid".into()));
    }
    if l.options.valid_before.is_some_and(|b| now > b) {
        return Err(Some("key has expired".into()));
    }
    Ok(())
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
            "# team keys\nalice@example.org {KEY} alice's laptop\n\"bob,robert\" namespaces=\"git,gander\" {KEY}\ncarol namespaces=\"git\" {KEY}\n\nbroken ssh-ed25519\ndave unknown=\"x\" {KEY}\n"
        );
        let a = AllowedSigners::parse(&text);
        assert_eq!(a.lines.len(), 3);
        assert_eq!(a.skipped.len(), 2, "{:?}", a.skipped);
        assert!(a.skipped[0].starts_with("line 6:"), "{:?}", a.skipped);
        assert!(
            a.skipped[1].starts_with("line 7: unknown key option"),
            "{:?}",
            a.skipped
        );
        assert_eq!(a.lines[1].principals, "bob,robert");
        assert_eq!(a.lines[1].options.namespaces.as_deref(), Some("git,gander"));
        let key = SignKey::Plain(a.lines[0].key.clone());
        let now = Utc::now();
        assert_eq!(
            a.principals_for(&key, now),
            vec!["alice@example.org", "bob", "robert"],
            "carol's line is for git only"
        );
        assert_eq!(a.duplicate_keys().len(), 2);
    }
}
