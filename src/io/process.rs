//! Running a runbook's command: argv directly (no shell), stdin closed, output bounded
//! and hashed. The command runs in a process group of its own: at its timeout the whole
//! group gets SIGTERM, then SIGKILL after a grace period, and whatever it left running
//! in the background is stopped the same way when it ends, so nothing outlives the step.

use std::io::Read;
use std::time::{Duration, Instant};

/// The output kept of a command: at most this much (the rest is counted, not held).
pub const MAX_OUTPUT: usize = 64 * 1024;

/// How long a command's process group has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

pub struct CommandResult {
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
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
            signal: None,
            timed_out: false,
            ms: 0,
            total: 0,
            output_text: "empty argv".into(),
            sha256: String::new(),
        };
    };
    let mut cmd = std::process::Command::new(prog);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd
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
                signal: None,
                timed_out: false,
                ms: 0,
                total: 0,
                output_text: format!("cannot run {prog}: {e}"),
                sha256: String::new(),
            };
        }
    };
    let group = child.id() as i32;
    let collect = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
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
            let _ = tx.send((kept, h.finalize().to_vec(), total));
        });
        rx
    };
    let out = collect(Box::new(child.stdout.take().expect("piped")));
    let err = collect(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                signal_group(group, SIGTERM);
                let deadline = Instant::now() + GRACE;
                let s = loop {
                    match child.try_wait() {
                        Ok(Some(s)) => break Some(s),
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        _ => {
                            signal_group(group, SIGKILL);
                            break child.wait().ok();
                        }
                    }
                };
                break s;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    // Whatever the command left running in its group (a backgrounded grandchild holding
    // the output pipes) is stopped now: politely, then for good.
    signal_group(group, SIGTERM);
    let reap = Instant::now() + GRACE;
    let wait = |rx: &std::sync::mpsc::Receiver<(Vec<u8>, Vec<u8>, u64)>| {
        let left = reap.saturating_duration_since(Instant::now());
        rx.recv_timeout(left).ok()
    };
    let (mut o, mut e) = (wait(&out), wait(&err));
    // Whatever ignored the SIGTERM is killed now, pipes closed or not.
    signal_group(group, SIGKILL);
    if o.is_none() || e.is_none() {
        o = o.or_else(|| out.recv_timeout(GRACE).ok());
        e = e.or_else(|| err.recv_timeout(GRACE).ok());
    }
    let (o, oh, ot) = o.unwrap_or_default();
    let (e, eh, et) = e.unwrap_or_default();
    #[cfg(unix)]
    let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    #[cfg(not(unix))]
    let signal = None;
    let code = if timed_out {
        None
    } else {
        status.and_then(|s| s.code())
    };
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
        signal,
        timed_out,
        ms: start.elapsed().as_millis() as u64,
        total,
        output_text: text,
        sha256: sha,
    }
}

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// Send `sig` to every process of the group `group` (it is gone: nothing happens).
fn signal_group(group: i32, sig: i32) {
    #[cfg(unix)]
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
    unsafe {
        libc::kill(-group, sig);
    }
    #[cfg(not(unix))]
    let _ = (group, sig);
}
