//! The chain lock: `flock` on `audit/chain.lock`, exclusive for writers and shared for
//! readers, with a note naming the holder so a waiter can say who it waits for and a
//! lock left by a dead process is reported as taken over. The two kinds are two types,
//! so appending under a shared lock (or none) does not compile.

use super::{Store, StoreError, io_err};
use chrono::Utc;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

/// A held lock on the chain; released on drop (or by the kernel if the process dies).
pub struct Lock {
    file: File,
    pub exclusive: bool,
    /// Set when the previous holder's note names a process that no longer runs.
    pub recovered_from: Option<String>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.exclusive {
            // A clean release leaves no holder note, so a note found later means the
            // holder died with the lock (SIGKILL, power loss).
            let _ = self.file.set_len(0);
        }
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: unlocking our own open descriptor.
            unsafe {
                libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
            }
        }
    }
}

/// The exclusive lock: the only key to appending, setting a torn tail aside.
pub struct ExclusiveLock(pub(super) Lock);

/// A shared lock: readers never see an append half-written.
pub struct SharedLock(pub(super) Lock);

impl ExclusiveLock {
    /// Set when the previous holder's note names a process that no longer runs.
    pub fn recovered_from(&self) -> Option<&str> {
        self.0.recovered_from.as_deref()
    }
}

/// Either lock: what reading the chain needs.
pub trait Held {
    fn held(&self) -> &Lock;
}

impl Held for ExclusiveLock {
    fn held(&self) -> &Lock {
        &self.0
    }
}

impl Held for SharedLock {
    fn held(&self) -> &Lock {
        &self.0
    }
}

pub(super) fn pid_alive(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence.
        unsafe {
            libc::kill(pid, 0) == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl Store {
    /// Take the chain lock for writing, waiting up to `wait`.
    pub fn lock_exclusive(&self, wait: Duration) -> Result<ExclusiveLock, StoreError> {
        self.lock(true, wait).map(ExclusiveLock)
    }

    /// Take the chain lock for reading, waiting up to `wait`.
    pub fn lock_shared(&self, wait: Duration) -> Result<SharedLock, StoreError> {
        self.lock(false, wait).map(SharedLock)
    }

    /// Take the chain lock, waiting up to `wait`. Writers take it exclusive, readers
    /// shared (so they never see an append half-written).
    fn lock(&self, exclusive: bool, wait: Duration) -> Result<Lock, StoreError> {
        let path = self.audit.join("chain.lock");
        let mut opts = OpenOptions::new();
        opts.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            // A symlinked lock file could make a writer create or truncate any file.
            use std::os::unix::fs::OpenOptionsExt;
            opts.custom_flags(libc::O_NOFOLLOW);
        }
        let mut file = opts.open(&path).map_err(io_err(&path))?;
        let start = Instant::now();
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let op = if exclusive {
                libc::LOCK_EX
            } else {
                libc::LOCK_SH
            } | libc::LOCK_NB;
            loop {
                // SAFETY: flock on our own descriptor.
                if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                    break;
                }
                if start.elapsed() >= wait {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = if holder.trim().is_empty() {
                        "another gander process".to_string()
                    } else {
                        holder.trim().to_string()
                    };
                    return Err(StoreError::Busy {
                        holder,
                        waited: wait.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut recovered_from = None;
        if exclusive {
            let mut note = String::new();
            let _ = file.read_to_string(&mut note);
            if let Some(pid) = note
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok())
            {
                if pid != std::process::id() as i32 && !pid_alive(pid) && note.contains("holding") {
                    recovered_from = Some(note.trim().to_string());
                }
            }
            let me = format!(
                "pid {} holding since {} ({})\n",
                std::process::id(),
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                std::env::args()
                    .skip(1)
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let _ = file.set_len(0);
            let _ = file.seek(SeekFrom::Start(0));
            let _ = file.write_all(me.as_bytes());
        }
        Ok(Lock {
            file,
            exclusive,
            recovered_from,
        })
    }
}
