//! JSON-lines log under the state directory. Never written to the terminal: the
//! console draws there. One line per event: `{"ts", "level", "msg", ...fields}`.

use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The log rolls over to `gander.log.1` past this size (one old file is kept), so a
/// console polling a thousand services for weeks does not fill the disk.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

struct Log {
    file: File,
    size: u64,
}

static LOG: OnceLock<Mutex<Log>> = OnceLock::new();
static LOG_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Open (append) `dir/gander.log`. Later calls are ignored: one log per process.
pub fn init(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("gander.log");
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = LOG.set(Mutex::new(Log { file, size }));
    let _ = LOG_PATH.set(path.clone());
    Ok(path)
}

pub fn path() -> Option<&'static Path> {
    LOG_PATH.get().map(PathBuf::as_path)
}

/// Write one event. Silently does nothing before `init` (tests, `--help`).
pub fn event(level: &str, msg: &str, fields: Value) {
    let Some(log) = LOG.get() else {
        return;
    };
    let mut obj = Map::new();
    obj.insert(
        "ts".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    obj.insert("level".into(), Value::String(level.into()));
    obj.insert("msg".into(), Value::String(msg.into()));
    if let Value::Object(f) = fields {
        obj.extend(f);
    }
    let mut line = Value::Object(obj).to_string();
    line.push('\n');
    if let Ok(mut l) = log.lock() {
        if l.size + line.len() as u64 > MAX_BYTES {
            if let Some(p) = LOG_PATH.get() {
                let _ = std::fs::rename(p, p.with_extension("log.1"));
                if let Ok(f) = OpenOptions::new().create(true).append(true).open(p) {
                    l.file = f;
                    l.size = 0;
                }
            }
        }
        // One write per line so concurrent consoles appending to one file interleave
        // whole lines.
        if l.file.write_all(line.as_bytes()).is_ok() {
            l.size += line.len() as u64;
        }
    }
}
