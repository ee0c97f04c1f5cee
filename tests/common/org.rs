//! The store-org fixture: a small org with real OpenSSH keys, run through the binary.

use super::copy_dir;
use gander::engine::chain::{Record, parse_line};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The store-org fixture in a temp dir, with keys for alice and bob (allowed) and
/// mallory (not), and the commands run as one of them.
pub struct Org {
    pub dir: tempfile::TempDir,
}

impl Org {
    /// The store-org fixture with keys for alice and bob (allowed) and mallory (not).
    pub fn new() -> Org {
        Org::with(|_| {})
    }

    pub fn with(edit: impl FnOnce(&Path)) -> Org {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        copy_dir(Path::new("tests/fixtures/store-org"), &cfg);
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        let mut signers = String::new();
        for who in ["alice", "bob", "mallory"] {
            let key = dir.path().join("keys").join(who);
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
                .arg(&key)
                .status()
                .expect("ssh-keygen is installed (scripts/test.sh installs openssh-client)");
            assert!(ok.success());
            if who != "mallory" {
                let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
                let mut parts = pubkey.split_whitespace();
                signers.push_str(&format!(
                    "{who} {} {}\n",
                    parts.next().unwrap(),
                    parts.next().unwrap()
                ));
            }
        }
        std::fs::write(cfg.join("allowed_signers"), signers).unwrap();
        edit(&cfg);
        Org { dir }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn chain(&self) -> PathBuf {
        self.path("state/audit/chain.jsonl")
    }

    pub fn chain_bytes(&self) -> Vec<u8> {
        std::fs::read(self.chain()).unwrap_or_default()
    }

    pub fn records(&self) -> Vec<Record> {
        String::from_utf8(self.chain_bytes())
            .unwrap()
            .lines()
            .map(|l| parse_line(l).unwrap())
            .collect()
    }

    pub fn cmd(&self, who: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gander"));
        c.arg("--config")
            .arg(self.path("config"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .args(args)
            .env_remove("GANDER_CONFIG")
            .env("GANDER_HEADS_DIR", self.path("heads"))
            .env("GANDER_KEY", self.path(&format!("keys/{who}")));
        c
    }

    /// Run as `who`; (exit code, stdout, stderr).
    pub fn run(&self, who: &str, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(who, args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `gander verify` (needs no key, but passing one is harmless).
    pub fn verify(&self) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_gander"))
            .arg("--config")
            .arg(self.path("config"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .arg("verify")
            .env("GANDER_HEADS_DIR", self.path("heads"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// A passing JUnit report in the org's directory, for `evidence add`.
    pub fn junit(&self) -> String {
        let p = self.path("ok.xml");
        std::fs::write(
            &p,
            r#"<testsuite name="t" tests="1"><testcase name="a" classname="c"/></testsuite>"#,
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    }

    /// Request service-b -> compliant as alice; returns the promotion ID.
    pub fn request(&self) -> String {
        let (code, out, err) = self.run(
            "alice",
            &[
                "promote",
                "service-b",
                "--to",
                "compliant",
                "--reason",
                "release 1.3.2",
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        out.split(':').next().unwrap().trim().to_string()
    }
}
