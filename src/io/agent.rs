//! An ssh-agent client (draft-miller-ssh-agent): list the keys the agent holds and ask it
//! to sign. On call over SSH the agent is usually the engineer's own, forwarded with
//! `ssh -A` from a laptop (often with the key on a hardware token), so nothing private
//! ever lies on the bastion.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
const FAILURE: u8 = 5;
/// `SSH_AGENT_RSA_SHA2_512`: RSA keys sign with rsa-sha2-512.
const RSA_SHA2_512: u32 = 4;
/// A hardware token may wait for a touch.
const TIMEOUT: Duration = Duration::from_secs(60);
/// No answer from an agent is larger than this.
const MAX_MESSAGE: usize = 256 * 1024;

/// One key the agent holds: its wire blob (a plain key or a certificate) and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKey {
    pub blob: Vec<u8>,
    pub comment: String,
}

impl AgentKey {
    /// The key's type, e.g. `ssh-ed25519` or `ssh-ed25519-cert-v01@openssh.com`.
    pub fn kind(&self) -> String {
        let mut b: &[u8] = &self.blob;
        string(&mut b)
            .ok()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default()
    }
}

/// The agent at `SSH_AUTH_SOCK`, if one is set.
pub fn socket() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn string<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], String> {
    if b.len() < 4 {
        return Err("truncated agent message".into());
    }
    let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if b.len() - 4 < n {
        return Err("truncated agent message".into());
    }
    let s = &b[4..4 + n];
    *b = &b[4 + n..];
    Ok(s)
}

fn call(sock: &Path, msg: &[u8]) -> Result<Vec<u8>, String> {
    let mut s =
        UnixStream::connect(sock).map_err(|e| format!("ssh-agent at {}: {e}", sock.display()))?;
    s.set_read_timeout(Some(TIMEOUT)).ok();
    s.set_write_timeout(Some(TIMEOUT)).ok();
    let mut frame = (msg.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(msg);
    s.write_all(&frame)
        .map_err(|e| format!("ssh-agent at {}: {e}", sock.display()))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| format!("ssh-agent at {}: no answer: {e}", sock.display()))?;
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > MAX_MESSAGE {
        return Err(format!(
            "ssh-agent at {}: an answer of {n} bytes",
            sock.display()
        ));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)
        .map_err(|e| format!("ssh-agent at {}: {e}", sock.display()))?;
    Ok(body)
}

/// The keys the agent holds.
pub fn list(sock: &Path) -> Result<Vec<AgentKey>, String> {
    let body = call(sock, &[REQUEST_IDENTITIES])?;
    if body[0] != IDENTITIES_ANSWER {
        return Err(format!(
            "ssh-agent refused to list its keys (answer {})",
            body[0]
        ));
    }
    let mut b: &[u8] = &body[1..];
    if b.len() < 4 {
        return Err("truncated agent message".into());
    }
    let count = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    b = &b[4..];
    let mut out = Vec::new();
    for _ in 0..count.min(1024) {
        let blob = string(&mut b)?.to_vec();
        let comment = String::from_utf8_lossy(string(&mut b)?).into_owned();
        out.push(AgentKey { blob, comment });
    }
    Ok(out)
}

/// Ask the agent to sign `data` with `key`; the signature blob.
pub fn sign(sock: &Path, key: &AgentKey, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut msg = vec![SIGN_REQUEST];
    put_string(&mut msg, &key.blob);
    put_string(&mut msg, data);
    let flags = if key.kind().starts_with("ssh-rsa") {
        RSA_SHA2_512
    } else {
        0
    };
    msg.extend_from_slice(&flags.to_be_bytes());
    let body = call(sock, &msg)?;
    match body[0] {
        SIGN_RESPONSE => {
            let mut b: &[u8] = &body[1..];
            Ok(string(&mut b)?.to_vec())
        }
        FAILURE => Err(format!(
            "ssh-agent at {} refused to sign with {} (a confirmation declined, a token not touched, or the key removed)",
            sock.display(),
            if key.comment.is_empty() {
                key.kind()
            } else {
                key.comment.clone()
            }
        )),
        other => Err(format!("ssh-agent: unexpected answer {other}")),
    }
}
