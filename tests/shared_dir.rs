//! A store shared by two real Unix users on one host (made by the test with useradd,
//! commands run through runuser): alice requests under a strict umask, bob approves,
//! every file stays group-writable, and tampering with the directory's ownership or
//! mode is refused.

mod common;

use common::org::Org;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

struct Users {
    group: String,
    names: Vec<String>,
}

impl Users {
    /// A group with alice and bob in it, and mallory outside it.
    fn make() -> Users {
        let tag = std::process::id() % 100_000;
        let group = format!("gsre{tag}");
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("groupadd").arg(&group));
        let mut names = Vec::new();
        for who in ["alice", "bob", "mallory"] {
            let name = format!("g{}{tag}", &who[..3]);
            let mut c = Command::new("useradd");
            c.args(["-M", "-N", "-s", "/bin/sh"]);
            if who != "mallory" {
                c.args(["-G", &group]);
            }
            ok(c.arg(&name));
            names.push(name);
        }
        Users { group, names }
    }

    fn name(&self, who: &str) -> &str {
        match who {
            "alice" => &self.names[0],
            "bob" => &self.names[1],
            _ => &self.names[2],
        }
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("userdel").arg(n).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}

fn chown(path: &Path, user: &str) {
    assert!(
        Command::new("chown")
            .arg(user)
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

/// Run gander as a real Unix user, under `umask 077` (the strictest a user might have).
fn run_as(
    users: &Users,
    org: &Org,
    bin: &Path,
    who: &str,
    store: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let user = users.name(who);
    let heads = org.path(&format!("heads-{who}"));
    let state = org.path(&format!("state-{who}"));
    for d in [&heads, &state] {
        std::fs::create_dir_all(d).unwrap();
        chown(d, user);
    }
    let mut script = format!(
        "umask 077; exec '{}' --config '{}' --state-dir '{}' --store '{}'",
        bin.display(),
        org.path("config").display(),
        state.display(),
        store.display()
    );
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let out = Command::new("runuser")
        .args(["-u", user, "--", "sh", "-c", &script])
        .env_remove("GANDER_CONFIG")
        .env_remove("GANDER_STORE")
        .env("GANDER_HEADS_DIR", &heads)
        .env("GANDER_KEY", org.path(&format!("keys/{who}")))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn two_unix_users_share_one_chain_in_a_group_directory() {
    // SAFETY: a getter.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: making Unix users needs root (CI runs as root)");
        return;
    }
    let users = Users::make();
    let org = Org::new();
    std::fs::set_permissions(org.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The binary where every user can run it; each user's key readable by them only.
    let bin = org.path("gander");
    std::fs::copy(env!("CARGO_BIN_EXE_gander"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for who in ["alice", "bob", "mallory"] {
        chown(&org.path(&format!("keys/{who}")), users.name(who));
    }
    for d in ["keys", "config", "config/services", "config/policies"] {
        std::fs::set_permissions(org.path(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let store = org.path("team");
    let out = Command::new(&bin)
        .args(["store", "init"])
        .arg(&store)
        .args(["--group", &users.group])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::metadata(&store).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o2770);

    let (code, out, err) = run_as(
        &users,
        &org,
        &bin,
        "alice",
        &store,
        &["promote", "service-b", "--to", "compliant", "--reason", "r"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.split(':').next().unwrap().trim().to_string();
    // Bob, another Unix user, sees it, may not be refused by a file alice's umask made,
    // and approves.
    let (code, out, err) = run_as(&users, &org, &bin, "bob", &store, &["approve", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("now `compliant`"), "{out}");
    // Every file in the store belongs to the group and is group-readable and -writable.
    let gid = md.gid();
    let mut n = 0;
    for f in common_files(&store) {
        let m = std::fs::symlink_metadata(&f).unwrap();
        assert_eq!(m.gid(), gid, "{}", f.display());
        assert_eq!(
            m.mode() & 0o060,
            0o060,
            "{} mode {:o}",
            f.display(),
            m.mode()
        );
        assert_eq!(m.mode() & 0o007, 0, "{} is open to others", f.display());
        n += 1;
    }
    assert!(n >= 4, "{n} files");
    let (code, out, err) = run_as(&users, &org, &bin, "alice", &store, &["verify"]);
    assert_eq!(code, 0, "{out}{err}");

    // Mallory, outside the group, cannot read or write it.
    let (code, _, err) = run_as(&users, &org, &bin, "mallory", &store, &["promotions"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("ermission denied"), "{err}");

    // A chain owned by someone outside the group is refused...
    let chain = store.join("audit/chain.jsonl");
    chown(&chain, users.name("mallory"));
    let (code, _, err) = run_as(&users, &org, &bin, "bob", &store, &["promotions"]);
    assert_ne!(code, 0);
    assert!(err.contains("not in the store's group"), "{err}");
    chown(&chain, users.name("alice"));
    // ...and so is a world-writable directory.
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o2777)).unwrap();
    let (code, _, err) = run_as(
        &users,
        &org,
        &bin,
        "bob",
        &store,
        &["promote", "c1", "--to", "compliance_ready"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("world-writable"), "{err}");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o2770)).unwrap();
    // A symlink planted in the store is never followed by another member's write.
    std::fs::create_dir_all(store.join("audit/promotions")).unwrap();
    let elsewhere = org.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, store.join("audit/promotions/c1")).unwrap();
    let _ = run_as(
        &users,
        &org,
        &bin,
        "alice",
        &store,
        &["promote", "c1", "--to", "compliance_ready", "--reason", "x"],
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "wrote through the symlink"
    );
    // A store under a directory anyone may write to (no sticky bit) could be swapped.
    let open = org.path("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(&bin)
        .args(["store", "init"])
        .arg(open.join("team"))
        .args(["--group", &users.group])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without the sticky bit"));
}

/// Every file and directory under `root` (directories too: they must let the group in).
fn common_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}
