//! SSHSIG blocks (`ssh-keygen -Y sign`), read whole: the signing key may be a plain key
//! or an OpenSSH certificate (a key held in ssh-agent as a certificate signs as it), and
//! the signature is checked against the key inside.

use ssh_encoding::Decode;
use ssh_key::certificate::Certificate;
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey, Signature, SshSig};

/// The key a signature was made with.
#[derive(Debug, Clone)]
pub enum SignKey {
    Plain(KeyData),
    Cert(Box<Cert>),
}

/// An OpenSSH certificate, as signed. ssh-key cannot represent a `valid_before` of
/// 2^64-1 (`ssh-keygen -s` without `-V`: valid forever), so such a certificate is read
/// with that field lowered and its CA signature checked over the bytes as they are.
#[derive(Debug, Clone)]
pub struct Cert {
    cert: Certificate,
    /// The original wire form, when the certificate is valid forever.
    forever: Option<Vec<u8>>,
}

impl std::ops::Deref for Cert {
    type Target = Certificate;
    fn deref(&self) -> &Certificate {
        &self.cert
    }
}

impl Cert {
    pub fn from_blob(blob: &[u8]) -> Result<Cert, String> {
        match Certificate::from_bytes(blob) {
            Ok(cert) => Ok(Cert {
                cert,
                forever: None,
            }),
            Err(first) => {
                // Find the `valid_before = FF…FF` field: lowering it must give a
                // certificate that decodes with exactly that field changed.
                let max = [0xFFu8; 8];
                let lowered = (i64::MAX as u64).to_be_bytes();
                for o in (0..blob.len().saturating_sub(7)).filter(|o| blob[*o..*o + 8] == max) {
                    let mut patched = blob.to_vec();
                    patched[o..o + 8].copy_from_slice(&lowered);
                    if let Ok(cert) = Certificate::from_bytes(&patched)
                        && cert.valid_before() == i64::MAX as u64
                    {
                        return Ok(Cert {
                            cert,
                            forever: Some(blob.to_vec()),
                        });
                    }
                }
                Err(format!("certificate: {first}"))
            }
        }
    }

    /// Is this certificate, signed by the CA `ca_fp`, valid at `t` (unix seconds)?
    pub fn valid_at(&self, t: i64, ca_fp: &ssh_key::Fingerprint) -> bool {
        let Some(original) = &self.forever else {
            return self.cert.validate_at(t.max(0) as u64, [ca_fp]).is_ok();
        };
        if self.cert.signature_key().fingerprint(HashAlg::Sha256) != *ca_fp {
            return false;
        }
        if (t.max(0) as u64) < self.cert.valid_after() {
            return false;
        }
        // The CA signed everything before the final `signature` string.
        let mut sig = Vec::new();
        if ssh_encoding::Encode::encode(self.cert.signature(), &mut sig).is_err() {
            return false;
        }
        let Some(tbs_len) = original.len().checked_sub(4 + sig.len()) else {
            return false;
        };
        if original[tbs_len + 4..] != sig[..] {
            return false;
        }
        signature::Verifier::verify(
            self.cert.signature_key(),
            &original[..tbs_len],
            self.cert.signature(),
        )
        .is_ok()
    }
}

impl SignKey {
    /// The public key that made the signature (a certificate's own key).
    pub fn key(&self) -> &KeyData {
        match self {
            SignKey::Plain(k) => k,
            SignKey::Cert(c) => c.public_key(),
        }
    }

    /// `SHA256:…` of the key that signed.
    pub fn fingerprint(&self) -> String {
        self.key().fingerprint(HashAlg::Sha256).to_string()
    }
}

/// A parsed SSHSIG.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub key: SignKey,
    pub namespace: String,
    hash_alg: HashAlg,
    signature: Signature,
}

fn string<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], String> {
    if b.len() < 4 {
        return Err("truncated".into());
    }
    let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let rest = &b[4..];
    if rest.len() < n {
        return Err("truncated".into());
    }
    let (s, r) = rest.split_at(n);
    *b = r;
    Ok(s)
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = T.iter().position(|t| *t == c).ok_or("not base64")? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Read an armored SSHSIG block.
pub fn parse(armored: &str) -> Result<Parsed, String> {
    let body: String = armored
        .trim()
        .strip_prefix("-----BEGIN SSH SIGNATURE-----")
        .and_then(|b| b.trim_end().strip_suffix("-----END SSH SIGNATURE-----"))
        .ok_or("not an SSH SIGNATURE block")?
        .to_string();
    let bytes = base64_decode(&body)?;
    let mut b: &[u8] = &bytes;
    if b.len() < 10 || &b[..6] != b"SSHSIG" {
        return Err("not an SSHSIG".into());
    }
    let version = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
    if version != 1 {
        return Err(format!("SSHSIG version {version}"));
    }
    b = &b[10..];
    let key_blob = string(&mut b)?;
    let namespace =
        String::from_utf8(string(&mut b)?.to_vec()).map_err(|_| "namespace not UTF-8")?;
    let _reserved = string(&mut b)?;
    let hash = std::str::from_utf8(string(&mut b)?).map_err(|_| "hash not UTF-8")?;
    let hash_alg = HashAlg::new(hash).map_err(|e| format!("hash `{hash}`: {e}"))?;
    let mut sig_blob = string(&mut b)?;
    let signature = Signature::decode(&mut sig_blob).map_err(|e| format!("signature: {e}"))?;
    let mut kb = key_blob;
    let alg = std::str::from_utf8(string(&mut kb)?).map_err(|_| "key type not UTF-8")?;
    let key = if alg.ends_with("-cert-v01@openssh.com") {
        SignKey::Cert(Box::new(Cert::from_blob(key_blob)?))
    } else {
        let mut kb = key_blob;
        SignKey::Plain(KeyData::decode(&mut kb).map_err(|e| format!("key: {e}"))?)
    };
    Ok(Parsed {
        key,
        namespace,
        hash_alg,
        signature,
    })
}

impl Parsed {
    /// Does the signature verify for `msg`, made by its key in its namespace?
    pub fn verify_crypto(&self, msg: &[u8]) -> Result<(), String> {
        let inner = self.key.key().clone();
        let sig = SshSig::new(
            inner.clone(),
            &self.namespace,
            self.hash_alg,
            self.signature.clone(),
        )
        .map_err(|e| format!("unreadable signature: {e}"))?;
        PublicKey::from(inner)
            .verify(&self.namespace, msg, &sig)
            .map_err(|e| format!("signature does not verify: {e}"))
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What an SSHSIG signer signs for `msg` in `namespace` with SHA-512.
pub fn signed_data(namespace: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(|e| e.to_string())
}

/// The armored SSHSIG block for a signature made elsewhere (by ssh-agent): the signing
/// key's wire blob (a plain key or a certificate) and the signature blob, as
/// `ssh-keygen -Y sign` writes it (base64 wrapped at 70 columns).
pub fn armor(key_blob: &[u8], namespace: &str, sig_blob: &[u8]) -> String {
    let mut b = b"SSHSIG".to_vec();
    b.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut b, key_blob);
    put_string(&mut b, namespace.as_bytes());
    put_string(&mut b, b"");
    put_string(&mut b, b"sha512");
    put_string(&mut b, sig_blob);
    let text = base64_encode(&b);
    let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for line in text.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END SSH SIGNATURE-----\n");
    out
}

/// A key's wire blob (an agent's or a certificate's) as a [`SignKey`].
pub fn sign_key_of(blob: &[u8]) -> Result<SignKey, String> {
    let mut kb = blob;
    let alg = std::str::from_utf8(string(&mut kb)?).map_err(|_| "key type not UTF-8")?;
    if alg.ends_with("-cert-v01@openssh.com") {
        Ok(SignKey::Cert(Box::new(Cert::from_blob(blob)?)))
    } else {
        let mut kb = blob;
        Ok(SignKey::Plain(
            KeyData::decode(&mut kb).map_err(|e| format!("key: {e}"))?,
        ))
    }
}
