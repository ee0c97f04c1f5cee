//! JSON-lines log under the state directory. Never written to the terminal: the
//! console draws there. One line per event: `{"ts", "level", "msg", ...fields}`.

use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

static LOG: OnceLock<Mutex<File>> = OnceLock::new();
static LOG_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Open (append) `dir/gander.log`. Later calls are ignored: one log per process.
pub fn init(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("gander.log");
    let f = OpenOptions::new().create(true).append(true).open(&path)?;
    let _ = LOG.set(Mutex::new(f));
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
    if let Ok(mut f) = log.lock() {
        // One write per line so concurrent consoles appending to one file interleave
        // whole lines.
        let _ = f.write_all(line.as_bytes());
    }
}
