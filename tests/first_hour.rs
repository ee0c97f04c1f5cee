//! A new team's first hour, through the binary: `gander init` writes an org that
//! validates with the operator's own key enrolled, `gander enrol` adds a second operator
//! (and refuses a key that is already someone else's), the first promotion is requested
//! by one and approved by the other; completions and the man page are accepted by the
//! shells and by `man`.

use std::path::Path;
use std::process::Command;

fn gander(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .args(args)
        .current_dir(dir)
        .env_remove("GANDER_CONFIG")
        .env_remove("GANDER_STORE")
        .env_remove("SSH_AUTH_SOCK")
        .env("GANDER_STATE_DIR", dir.join("state"))
        .env("GANDER_HEADS_DIR", dir.join("heads"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keygen(dir: &Path, who: &str) {
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
            .arg(dir.join(who))
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn init_then_enrol_a_second_operator_then_a_first_promotion_approved_by_them() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "ana");
    keygen(d, "ben");
    let (code, out, err) = gander(
        d,
        &[
            "init",
            "org",
            "--org",
            "Acme",
            "--services",
            "api,db",
            "--name",
            "ana",
            "--key",
            "ana.pub",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("gander enrol NAME"),
        "the next step is said: {out}"
    );
    // The policies are written out to edit, and the whole thing validates.
    assert!(d.join("org/policies/promotion_gates.yaml").exists());
    let (code, out, err) = gander(d, &["validate", "--config", "org"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 services"), "{out}");
    // A second init over it writes nothing.
    let before = std::fs::read(d.join("org/org-config.yaml")).unwrap();
    let (code, _, err) = gander(d, &["init", "org", "--key", "ana.pub"]);
    assert_eq!(code, 1);
    assert!(err.contains("already holds an org"), "{err}");
    assert_eq!(
        std::fs::read(d.join("org/org-config.yaml")).unwrap(),
        before
    );

    // Ben is enrolled into the group; his key cannot be enrolled again under a new name.
    let (code, out, err) = gander(
        d,
        &[
            "enrol", "ben", "ben.pub", "--group", "sre", "--config", "org",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = gander(d, &["enrol", "mallory", "ben.pub", "--config", "org"]);
    assert_eq!(code, 1);
    assert!(err.contains("already enrolled as ben"), "{err}");
    // A missing file, and a private key, are said as such.
    let (code, _, err) = gander(d, &["enrol", "cat", "nowhere.pub", "--config", "org"]);
    assert_eq!(code, 2);
    assert!(err.contains("nowhere.pub: no such file"), "{err}");
    let (code, _, err) = gander(d, &["enrol", "ben", "ben", "--config", "org"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is a private key") && err.contains("ben.pub"),
        "{err}"
    );
    let signers = std::fs::read_to_string(d.join("org/allowed_signers")).unwrap();
    assert_eq!(signers.lines().count(), 2, "{signers}");
    assert!(!signers.contains("mallory"));
    let (code, out, _) = gander(d, &["whoami", "--config", "org", "--key", "ben"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ben") && out.contains("sre"), "{out}");
    // `--key` before the command is the same key (it once signed as someone else).
    let (code, out, err) = gander(d, &["--key", "ben", "whoami", "--config", "org"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("ben — key") && out.contains("chosen by: --key"),
        "{out}"
    );
    assert!(!out.contains("ana"), "{out}");
    let (code, _, err) = gander(
        d,
        &["--key", "ben", "whoami", "--key", "ana", "--config", "org"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("two keys"), "{err}");

    // Ana asks, Ana cannot approve, Ben approves.
    let (_, out, err) = gander(
        d,
        &[
            "promote",
            "api",
            "--to",
            "compliance_ready",
            "--reason",
            "first",
            "--config",
            "org",
            "--key",
            "ana",
        ],
    );
    let id = out.split(':').next().unwrap().trim().to_string();
    assert!(id.starts_with("PRM-"), "{out}{err}");
    let (code, _, err) = gander(d, &["approve", &id, "--config", "org", "--key", "ana"]);
    assert_eq!(code, 1);
    assert!(err.contains("four-eyes"), "{err}");
    let (code, out, err) = gander(d, &["approve", &id, "--config", "org", "--key", "ben"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("approved by ben"), "{out}");
    let (code, out, _) = gander(d, &["verify", "--config", "org"]);
    assert_eq!(code, 0, "{out}");

    // A second org set up on the same machine, with no `store:` of its own, shares the
    // default state directory; it neither reads nor extends Acme's chain as its own.
    let (code, out, err) = gander(
        d,
        &[
            "init",
            "other",
            "--org",
            "Globex",
            "--services",
            "api",
            "--name",
            "ana",
            "--key",
            "ana.pub",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let chain = std::fs::read(d.join("state/audit/chain.jsonl")).unwrap();
    let (code, _, err) = gander(
        d,
        &[
            "promote",
            "api",
            "--to",
            "compliance_ready",
            "--reason",
            "x",
            "--config",
            "other",
            "--key",
            "ana",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("holds the chain of org `Acme`") && err.contains("org `Globex`"),
        "{err}"
    );
    // (status says so, and shows its states and evidence as unknown, never Acme's.)
    let (_, _, err) = gander(d, &["status", "--offline", "--config", "other"]);
    assert!(err.contains("holds the chain of org `Acme`"), "{err}");
    assert_eq!(
        std::fs::read(d.join("state/audit/chain.jsonl")).unwrap(),
        chain
    );
    // With its own state directory it works.
    let (code, out, err) = gander(
        d,
        &[
            "promote",
            "api",
            "--to",
            "compliance_ready",
            "--reason",
            "x",
            "--config",
            "other",
            "--key",
            "ana",
            "--state-dir",
            "globex-state",
        ],
    );
    assert!(out.contains("PRM-"), "{code} {out}{err}");
}

#[test]
fn completions_parse_in_their_shells_and_the_man_page_renders() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (shell, check) in [
        ("bash", vec!["bash", "-n"]),
        ("zsh", vec!["zsh", "-n"]),
        ("fish", vec!["fish", "--no-execute"]),
    ] {
        let (code, out, err) = gander(d, &["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("promote") && out.contains("approve"),
            "{shell}: {out}"
        );
        let file = d.join(format!("gander.{shell}"));
        std::fs::write(&file, &out).unwrap();
        match Command::new(check[0]).args(&check[1..]).arg(&file).output() {
            Ok(o) => assert!(
                o.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(_) if shell != "bash" => {
                eprintln!("{shell} is not installed here; its completions were not parsed")
            }
            Err(e) => panic!("bash: {e}"),
        }
    }
    let (code, out, err) = gander(d, &["man"]);
    assert_eq!(code, 0, "{err}");
    let page = d.join("gander.1");
    std::fs::write(&page, &out).unwrap();
    let o = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("man is installed (scripts/test.sh installs man-db)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("SYNOPSIS") && text.contains("gander"),
        "{text}"
    );
    assert!(text.contains("on-call console"), "{text}");
    // One page: every command with its synopsis, no pointers to pages that do not exist,
    // and the environment, files and exit status a reader looks for.
    for want in [
        "gander evidence add [OPTIONS] <SERVICE> <FILES>...",
        "gander store init",
        "ENVIRONMENT",
        "GANDER_STORE",
        "EXIT STATUS",
        "FILES",
    ] {
        assert!(text.contains(want), "the man page has {want:?}:\n{text}");
    }
    assert!(!text.contains("gander-validate(1)"), "{text}");
    let warnings = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    let warned = String::from_utf8_lossy(&warnings.stderr);
    assert!(warned.trim().is_empty(), "groff warns: {warned}");
}
