//! Running a runbook's command: argv directly (no shell), stdin closed, output bounded
//! and hashed, killed at its timeout.

use std::io::Read;
use std::time::{Duration, Instant};

/// The output kept of a command: at most this much (the rest is counted, not held).
pub const MAX_OUTPUT: usize = 64 * 1024;

pub struct CommandResult {
    pub code: Option<i32>,
    pub timed_out: bool,
    pub ms: u64,
    pub total: u64,
    pub output_text: String,
    pub sha256: String,
}

/// Run argv directly (no shell), stdout and stderr together, killed at the timeout; the
/// first 64 KiB kept, everything hashed and counted.
pub fn run_argv(argv: &[String], timeout: Duration) -> CommandResult {
    use sha2::{Digest, Sha256};
    let start = Instant::now();
    let Some((prog, rest)) = argv.split_first() else {
        return CommandResult {
            code: None,
            timed_out: false,
            ms: 0,
            total: 0,
            output_text: "empty argv".into(),
            sha256: String::new(),
        };
    };
    let child = std::process::Command::new(prog)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return CommandResult {
                code: None,
                timed_out: false,
                ms: 0,
                total: 0,
                output_text: format!("cannot run {prog}: {e}"),
                sha256: String::new(),
            };
        }
    };
    let collect = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut h = Sha256::new();
            let mut total = 0u64;
            let mut buf = [0u8; 8192];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                total += n as u64;
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            (kept, h.finalize().to_vec(), total)
        })
    };
    let out = collect(Box::new(child.stdout.take().expect("piped")));
    let err = collect(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    let code = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let (o, oh, ot) = out.join().unwrap_or_default();
    let (e, eh, et) = err.join().unwrap_or_default();
    let mut text = String::from_utf8_lossy(&o).into_owned();
    text.push_str(&String::from_utf8_lossy(&e));
    let total = ot + et;
    if total as usize > o.len() + e.len() {
        text.push_str(&format!(
            "\n[… {} more bytes not kept]",
            total as usize - o.len() - e.len()
        ));
    }
    if timed_out {
        text.push_str(&format!(
            "\n[stopped at the {}s timeout]",
            timeout.as_secs()
        ));
    }
    let sha = crate::engine::chain::sha256_hex(&[oh, eh].concat());
    CommandResult {
        code,
        timed_out,
        ms: start.elapsed().as_millis() as u64,
        total,
        output_text: text,
        sha256: sha,
    }
}
