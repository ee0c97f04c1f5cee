//! Loading the operator's signing key and the allowed_signers file.

use super::store::Signer;
use crate::engine::identity::AllowedSigners;
use ssh_key::{HashAlg, PrivateKey};
use std::path::{Path, PathBuf};

/// `~/…` expanded with $HOME.
pub fn expand(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => PathBuf::from(path),
    }
}

pub fn load_allowed_signers(path: &Path) -> Result<AllowedSigners, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e}\n  help: create it in git's allowed_signers format, one line per person: `alice ssh-ed25519 AAAA…`",
            path.display()
        )
    })?;
    AllowedSigners::parse(&text).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Load the private key and find the principal allowed_signers gives it.
pub fn load_signer(
    key_path: &Path,
    signers: &AllowedSigners,
    signers_path: &Path,
) -> Result<Signer, String> {
    let key = PrivateKey::read_openssh_file(key_path).map_err(|e| {
        format!(
            "cannot read the signing key {}: {e}\n  help: pass --key PATH (an OpenSSH ed25519 private key), set GANDER_KEY, or signing.key in org-config.yaml",
            key_path.display()
        )
    })?;
    if key.is_encrypted() {
        return Err(format!(
            "the signing key {} is passphrase-protected, and gander cannot ask ssh-agent yet\n  help: use a dedicated unencrypted ed25519 key for gander (chmod 600)",
            key_path.display()
        ));
    }
    if key.algorithm() != ssh_key::Algorithm::Ed25519 {
        return Err(format!(
            "the signing key {} is {}, not ed25519",
            key_path.display(),
            key.algorithm()
        ));
    }
    let fp = key.public_key().fingerprint(HashAlg::Sha256);
    let principal = signers
        .principal_for(key.public_key().key_data())
        .ok_or_else(|| {
            format!(
                "your key {fp} ({}) is not in {}: nothing it signs would count\n  help: add a line `YOUR_NAME {}`",
                key_path.display(),
                signers_path.display(),
                key.public_key().to_openssh().unwrap_or_default()
            )
        })?
        .to_string();
    Ok(Signer { key, principal })
}
