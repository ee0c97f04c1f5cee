//! The operator's signing key and the allowed_signers file. The key is chosen as
//! `--key`, `$GANDER_KEY`, `signing.key`, else the first key in ssh-agent that
//! allowed_signers accepts (or the one `signing.agent_key` pins), else
//! `~/.ssh/id_ed25519`. A key file whose private half is passphrase-protected (or only
//! the `.pub`) signs through the agent that holds it.

use super::agent::{self, AgentKey};
use crate::engine::chain::NAMESPACE;
use crate::engine::identity::{self, AllowedSigners, SignKey, sshsig};
use chrono::{DateTime, Utc};
use ssh_encoding::Encode;
use ssh_key::{HashAlg, PrivateKey, PublicKey};
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

/// Read the file; lines ssh-keygen would skip are kept in `skipped`, never fatal.
pub fn load_allowed_signers(path: &Path) -> Result<AllowedSigners, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e}\n  help: create it in git's allowed_signers format, one line per person: `alice ssh-ed25519 AAAA…` (`gander enrol` is not built yet; `ssh-keygen -y -f KEY` prints a public key)",
            path.display()
        )
    })?;
    Ok(AllowedSigners::parse(&text))
}

/// Where the signing key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Flag,
    Env,
    Config,
    Agent,
    DefaultFile,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--key",
            Origin::Env => "$GANDER_KEY",
            Origin::Config => "signing.key in org-config.yaml",
            Origin::Agent => "ssh-agent ($SSH_AUTH_SOCK)",
            Origin::DefaultFile => "~/.ssh/id_ed25519 (the default)",
        }
    }
}

enum Backend {
    File(Box<PrivateKey>),
    Agent { sock: PathBuf, key: AgentKey },
}

/// Who signs: a key (in a file or in ssh-agent) and the principal allowed_signers gives it.
pub struct Signer {
    pub principal: String,
    /// `SHA256:…` of the key (for a certificate: the certified key).
    pub fingerprint: String,
    pub origin: Origin,
    /// The file, or the agent key's comment.
    pub source: String,
    pub key: SignKey,
    backend: Backend,
}

impl Signer {
    /// Sign `msg` in the gander namespace: the armored SSHSIG block.
    pub fn sign(&self, msg: &[u8]) -> Result<String, String> {
        match &self.backend {
            Backend::File(k) => identity::sign(k, msg),
            Backend::Agent { sock, key } => {
                let data = sshsig::signed_data(NAMESPACE, msg)?;
                let sig = agent::sign(sock, key, &data)?;
                Ok(sshsig::armor(&key.blob, NAMESPACE, &sig))
            }
        }
    }

    /// Where the key is, for people: `ssh-agent: alice@laptop` or a path.
    pub fn where_(&self) -> String {
        match &self.backend {
            Backend::File(_) => self.source.clone(),
            Backend::Agent { .. } => format!("ssh-agent: {}", self.source),
        }
    }
}

fn blob_of(k: &PublicKey) -> Vec<u8> {
    let mut b = Vec::new();
    let _ = k.key_data().encode(&mut b);
    b
}

/// The agent key whose blob is (or certifies) `public`.
fn agent_key_for(public: &PublicKey) -> Option<(PathBuf, AgentKey)> {
    let sock = agent::socket()?;
    let want = blob_of(public);
    agent::list(&sock)
        .ok()?
        .into_iter()
        .find(|k| k.blob == want)
        .map(|k| (sock, k))
}

fn from_file(path: &Path, origin: Origin) -> Result<(SignKey, Backend, String), String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the signing key {shown}: {e}\n  help: pass --key PATH, set GANDER_KEY or signing.key, or load your key into ssh-agent (`ssh-add`)"
        )
    })?;
    if let Ok(k) = PrivateKey::from_openssh(&text) {
        if k.is_encrypted() {
            return match agent_key_for(k.public_key()) {
                Some((sock, key)) => Ok((
                    SignKey::Plain(k.public_key().key_data().clone()),
                    Backend::Agent { sock, key },
                    shown,
                )),
                None => Err(format!(
                    "the signing key {shown} is passphrase-protected and no ssh-agent holds it\n  help: `ssh-add {shown}` (then gander signs through the agent; nothing is decrypted on disk)"
                )),
            };
        }
        match k.algorithm() {
            ssh_key::Algorithm::Ed25519
            | ssh_key::Algorithm::Rsa { .. }
            | ssh_key::Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP256,
            } => {}
            other => {
                return Err(format!(
                    "the signing key {shown} is {other}; gander signs with ed25519, ECDSA P-256 or RSA keys (or any key through ssh-agent)"
                ));
            }
        }
        let key = SignKey::Plain(k.public_key().key_data().clone());
        return Ok((key, Backend::File(Box::new(k)), shown));
    }
    // A public key (e.g. `id_ed25519.pub`, as git's user.signingkey): its private half
    // must be in the agent.
    match PublicKey::from_openssh(text.trim()) {
        Ok(public) => match agent_key_for(&public) {
            Some((sock, key)) => Ok((
                SignKey::Plain(public.key_data().clone()),
                Backend::Agent { sock, key },
                shown,
            )),
            None => Err(format!(
                "{shown} is a public key and no ssh-agent holds its private half\n  help: `ssh-add` the private key, or pass the private key file"
            )),
        },
        Err(_) => {
            let _ = origin;
            Err(format!("{shown} is not an OpenSSH private or public key"))
        }
    }
}

static KEY_FLAG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The global `--key` (given before the command): every command that signs uses it.
pub fn set_key_flag(path: PathBuf) {
    let _ = KEY_FLAG.set(path);
}

/// The explicit key path, if one is given: `--key` (the command's, else the global
/// one), `$GANDER_KEY`, `signing.key`.
pub fn explicit_key(flag: Option<&Path>, config_key: Option<&str>) -> Option<(PathBuf, Origin)> {
    flag.or(KEY_FLAG.get().map(PathBuf::as_path))
        .map(|p| (p.to_path_buf(), Origin::Flag))
        .or_else(|| {
            std::env::var_os("GANDER_KEY")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), Origin::Env))
        })
        .or_else(|| config_key.map(|k| (expand(k), Origin::Config)))
}

/// Choose the key and the principal it signs as at `now`, or say why there is none.
pub fn choose_signer(
    flag: Option<&Path>,
    config_key: Option<&str>,
    agent_pin: Option<&str>,
    signers: &AllowedSigners,
    signers_path: &Path,
    now: DateTime<Utc>,
) -> Result<Signer, String> {
    let (key, backend, source, origin) = match explicit_key(flag, config_key) {
        Some((path, origin)) => {
            let (k, b, s) = from_file(&path, origin)?;
            (k, b, s, origin)
        }
        None => match from_agent(agent_pin, signers, now)? {
            Some((k, b, s)) => (k, b, s, Origin::Agent),
            None => {
                let path = expand("~/.ssh/id_ed25519");
                let (k, b, s) = from_file(&path, Origin::DefaultFile)?;
                (k, b, s, Origin::DefaultFile)
            }
        },
    };
    let fingerprint = key.fingerprint();
    let principal = signers.principal_for(&key, now).ok_or_else(|| {
        let line = match &key {
            SignKey::Plain(k) => PublicKey::from(k.clone()).to_openssh().unwrap_or_default(),
            SignKey::Cert(c) => format!("(a certificate `{}`) cert-authority <CA public key>", c.key_id()),
        };
        format!(
            "your key {fingerprint} ({source}, from {}) is not accepted by {}: nothing it signs would count\n  help: add a line `YOUR_NAME {line}`",
            origin.describe(),
            signers_path.display()
        )
    })?;
    Ok(Signer {
        principal,
        fingerprint,
        origin,
        source,
        key,
        backend,
    })
}

/// The first agent key allowed_signers accepts (or the pinned one).
fn from_agent(
    pin: Option<&str>,
    signers: &AllowedSigners,
    now: DateTime<Utc>,
) -> Result<Option<(SignKey, Backend, String)>, String> {
    let Some(sock) = agent::socket() else {
        return Ok(None);
    };
    let keys = match agent::list(&sock) {
        Ok(k) => k,
        // A stale SSH_AUTH_SOCK (a dropped forwarding) is not fatal: fall through.
        Err(_) if pin.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    for k in keys {
        let Ok(sk) = sshsig::sign_key_of(&k.blob) else {
            continue;
        };
        if pin.is_some_and(|p| p != sk.fingerprint()) {
            continue;
        }
        if pin.is_some() || signers.principal_for(&sk, now).is_some() {
            let shown = if k.comment.is_empty() {
                sk.fingerprint()
            } else {
                k.comment.clone()
            };
            return Ok(Some((sk, Backend::Agent { sock, key: k }, shown)));
        }
    }
    match pin {
        Some(p) => Err(format!(
            "signing.agent_key {p}: the agent at {} does not hold that key",
            sock.display()
        )),
        None => Ok(None),
    }
}

/// `SHA256:…` of a public key.
pub fn fingerprint(k: &PublicKey) -> String {
    k.fingerprint(HashAlg::Sha256).to_string()
}
