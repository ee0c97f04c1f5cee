//! Keys that exist only in ssh-agent: a real `ssh-agent` per operator (as each would
//! have on their laptop, forwarded to the bastion), the private key files removed after
//! `ssh-add`, and a promotion requested by alice and approved by bob through their
//! agents. The records verify with gander and with `ssh-keygen -Y verify`, and each
//! signature names the agent key's fingerprint. A passphrase-protected key file signs
//! through the agent that holds it, and says how when none does.

mod common;
use common::org::Org;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent(dir: &Path, name: &str) -> Agent {
    let sock = dir.join(format!("{name}.sock"));
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent is installed (scripts/test.sh installs openssh-client)");
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Agent { child, sock }
}

fn add(a: &Agent, key: &Path, passphrase: Option<&str>) {
    let mut c = Command::new("ssh-add");
    c.arg(key)
        .env("SSH_AUTH_SOCK", &a.sock)
        .stdin(Stdio::null());
    if let Some(p) = passphrase {
        let askpass = key.with_extension("askpass");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{p}'\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        c.env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "ssh-add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// gander as someone whose only key is in `sock` (no key file, no $GANDER_KEY, a HOME
/// with no ~/.ssh).
fn run(org: &Org, sock: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(org.path("config"))
        .arg("--state-dir")
        .arg(org.path("state"))
        .args(args)
        .env_remove("GANDER_KEY")
        .env("HOME", org.path("home"))
        .env("SSH_AUTH_SOCK", sock)
        .env("GANDER_HEADS_DIR", org.path("heads"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fingerprint(pubkey: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pubkey)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn a_promotion_requested_and_approved_with_keys_only_in_ssh_agent() {
    let org = Org::new();
    std::fs::create_dir_all(org.path("home")).unwrap();
    let (a, b) = (agent(org.dir.path(), "alice"), agent(org.dir.path(), "bob"));
    add(&a, &org.path("keys/alice"), None);
    add(&b, &org.path("keys/bob"), None);
    // Nothing private on disk any more.
    std::fs::remove_file(org.path("keys/alice")).unwrap();
    std::fs::remove_file(org.path("keys/bob")).unwrap();

    let (code, out, err) = run(
        &org,
        &a.sock,
        &[
            "promote",
            "service-b",
            "--to",
            "compliant",
            "--reason",
            "agent",
            "--offline",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = out.split(':').next().unwrap().trim().to_string();
    // alice's agent cannot approve her own request.
    let (code, _, err) = run(&org, &a.sock, &["approve", &id, "--offline"]);
    assert_eq!(code, 1);
    assert!(err.contains("four-eyes"), "{err}");
    let (code, out, err) = run(&org, &b.sock, &["approve", &id, "--offline"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("approved by bob"), "{out}");
    assert_eq!(org.verify().0, 0);

    // Each signature names the agent key that made it, and ssh-keygen agrees.
    let recs = org.records();
    let alice_fp = fingerprint(&org.path("keys/alice.pub"));
    let bob_fp = fingerprint(&org.path("keys/bob.pub"));
    assert_eq!(
        recs[0].evidence.signatures[0].key.as_deref(),
        Some(alice_fp.as_str())
    );
    let approval = recs.iter().find(|r| r.evidence.kind == "approval").unwrap();
    assert_eq!(
        approval.evidence.signatures[0].key.as_deref(),
        Some(bob_fp.as_str())
    );
    let dir = org.path("audit-check");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("msg"), approval.signed_form()).unwrap();
    std::fs::write(dir.join("msg.sig"), &approval.evidence.signatures[0].sshsig).unwrap();
    let ok = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "gander", "-f"])
        .arg(org.path("config/allowed_signers"))
        .args(["-I", "bob", "-s"])
        .arg(dir.join("msg.sig"))
        .stdin(std::fs::File::open(dir.join("msg")).unwrap())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // whoami says where the key came from.
    let (code, out, _) = run(&org, &b.sock, &["whoami", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["principal"], "bob");
    assert_eq!(v["origin"], "agent");
    assert_eq!(v["fingerprint"], bob_fp);
}

#[test]
fn a_passphrase_protected_key_signs_through_the_agent_that_holds_it() {
    let org = Org::new();
    std::fs::create_dir_all(org.path("home")).unwrap();
    // A copy of alice's key with a passphrase.
    let enc = org.path("keys/alice-enc");
    std::fs::copy(org.path("keys/alice"), &enc).unwrap();
    std::fs::copy(org.path("keys/alice.pub"), enc.with_extension("pub")).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "s3cret", "-P", "", "-f"])
        .arg(&enc)
        .output()
        .unwrap();
    assert!(out.status.success());
    let empty = agent(org.dir.path(), "empty");
    let (code, _, err) = run(
        &org,
        &empty.sock,
        &[
            "promote",
            "c1",
            "--to",
            "compliance_ready",
            "--offline",
            "--key",
            enc.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("passphrase-protected and no ssh-agent holds it"),
        "{err}"
    );
    assert!(err.contains("ssh-add"), "{err}");
    add(&empty, &enc, Some("s3cret"));
    let (code, out, err) = run(
        &org,
        &empty.sock,
        &[
            "promote",
            "c1",
            "--to",
            "compliance_ready",
            "--offline",
            "--key",
            enc.to_str().unwrap(),
        ],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(!err.contains("passphrase"), "{err}");
    assert_eq!(org.verify().0, 0);
}

/// The on-call shape end to end: bob's key is in an agent on "his laptop"; he logs in to
/// "the bastion" (a real sshd on loopback) with `ssh -A` and runs `gander approve` there,
/// which signs through the forwarded agent.
#[test]
fn approve_on_a_bastion_through_a_forwarded_agent() {
    let sshd_bin = Path::new("/usr/sbin/sshd");
    assert!(
        sshd_bin.exists(),
        "sshd is installed (scripts/test.sh installs openssh-server)"
    );
    let org = Org::new();
    std::fs::create_dir_all(org.path("home")).unwrap();
    // alice requests with her key file (as before).
    let id = org.request();
    // Bob's laptop: an agent with his key; the file is gone.
    let laptop = agent(org.dir.path(), "laptop");
    add(&laptop, &org.path("keys/bob"), None);
    std::fs::remove_file(org.path("keys/bob")).unwrap();
    // The bastion: sshd on a free port, accepting bob's login key, allowing forwarding.
    let d = org.path("sshd");
    std::fs::create_dir_all(&d).unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    for k in ["host", "login"] {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join(k))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    add(&laptop, &d.join("login"), None);
    std::fs::copy(d.join("login.pub"), d.join("authorized_keys")).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let whoami = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin yes\nPasswordAuthentication no\nAllowAgentForwarding yes\nAllowUsers {}\n",
            d.join("host").display(),
            d.join("authorized_keys").display(),
            whoami.trim()
        ),
    )
    .unwrap();
    let mut sshd = Command::new(sshd_bin)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // On the bastion: no key file, only the forwarded agent.
    let remote = format!(
        "env -u GANDER_KEY HOME={} GANDER_HEADS_DIR={} {} --config {} --state-dir {} approve {id} --offline",
        org.path("home").display(),
        org.path("heads").display(),
        env!("CARGO_BIN_EXE_gander"),
        org.path("config").display(),
        org.path("state").display(),
    );
    let out = Command::new("ssh")
        .args(["-A", "-T", "-p", &port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=no",
        ])
        .arg(format!("{}@127.0.0.1", whoami.trim()))
        .arg(remote)
        .env("SSH_AUTH_SOCK", &laptop.sock)
        .output()
        .unwrap();
    let _ = sshd.kill();
    let _ = sshd.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}\nsshd: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
    );
    assert!(stdout.contains("approved by bob"), "{stdout}");
    let recs = org.records();
    let approval = recs.iter().find(|r| r.evidence.kind == "approval").unwrap();
    assert_eq!(
        approval.evidence.signatures[0].key.as_deref(),
        Some(fingerprint(&org.path("keys/bob.pub")).as_str())
    );
    assert_eq!(org.verify().0, 0);
}

/// A key the agent holds as an SSH user certificate from the org's CA signs as the
/// certificate, accepted through a `cert-authority` line; the plain key alone is not.
#[test]
fn an_agent_certificate_signs_through_a_cert_authority_line() {
    let org = Org::new();
    std::fs::create_dir_all(org.path("home")).unwrap();
    let d = org.path("ca");
    std::fs::create_dir_all(&d).unwrap();
    let keygen = |args: &[&str]| {
        let out = Command::new("ssh-keygen")
            .args(args)
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "ca"]);
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "dana"]);
    keygen(&[
        "-q",
        "-s",
        "ca",
        "-I",
        "dana@laptop",
        "-n",
        "alice",
        "-V",
        "-1h:+8h",
        "dana.pub",
    ]);
    // allowed_signers trusts the CA for alice (instead of alice's own key line).
    let ca = std::fs::read_to_string(d.join("ca.pub")).unwrap();
    let ca: Vec<&str> = ca.split_whitespace().take(2).collect();
    let signers = org.path("config/allowed_signers");
    let text = std::fs::read_to_string(&signers).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("alice "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &signers,
        format!("{text}alice cert-authority {} {}\n", ca[0], ca[1]),
    )
    .unwrap();
    let a = agent(org.dir.path(), "certs");
    add(&a, &d.join("dana"), None); // ssh-add loads dana-cert.pub beside it too
    std::fs::remove_file(d.join("dana")).unwrap();
    let (code, out, err) = run(&org, &a.sock, &["whoami", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["principal"], "alice");
    let (code, out, err) = run(
        &org,
        &a.sock,
        &["promote", "c1", "--to", "compliance_ready", "--offline"],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    assert_eq!(org.verify().0, 0);
    let rec = &org.records()[0];
    assert!(
        rec.evidence.signatures[0]
            .sshsig
            .contains("BEGIN SSH SIGNATURE")
    );
    // ssh-keygen agrees the record is alice's, through the CA.
    let dir = org.path("audit-check");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("msg"), rec.signed_form()).unwrap();
    std::fs::write(dir.join("msg.sig"), &rec.evidence.signatures[0].sshsig).unwrap();
    let ok = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "gander", "-f"])
        .arg(&signers)
        .args(["-I", "alice", "-s"])
        .arg(dir.join("msg.sig"))
        .stdin(std::fs::File::open(dir.join("msg")).unwrap())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
