//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

pub mod org;
pub mod pg;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Copy a directory tree (a config dir into a test's temp dir).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `gander demo --serve-only --steady` in its own process, with its config and state dir.
pub struct Demo {
    child: Child,
    pub config: PathBuf,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    pub fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--state-dir")
            .arg(dir.path())
            .args(["demo", "--serve-only", "--steady"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        Demo {
            child,
            config: PathBuf::from(v["config"].as_str().unwrap()),
            state: PathBuf::from(v["state_dir"].as_str().unwrap()),
            _dir: dir,
        }
    }

    /// Run gander on the demo's config and store as a demo operator (alice or bob).
    pub fn run(&self, who: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("GANDER_KEY", self.state.join("keys").join(who))
            .env("GANDER_HEADS_DIR", self.state.join("heads"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// `gander verify` must pass.
    pub fn verify_chain(&self) {
        let (code, out, _) = self.run("alice", &["verify"]);
        assert_eq!(code, 0, "{out}");
    }
}
