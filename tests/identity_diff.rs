//! gander reads `allowed_signers` exactly as `ssh-keygen -Y verify` does: a matrix of
//! allowed_signers variants × signatures made by ssh-keygen itself (ed25519, ECDSA P-256
//! and RSA keys; user certificates from a CA, valid, expired, not yet valid, for other
//! principals, from another CA; a host certificate; another namespace), each checked by
//! both at the same verify time (`-Overify-time=`), and every disagreement reported.

use chrono::{DateTime, TimeZone, Utc};
use gander::engine::identity::AllowedSigners;
use std::path::{Path, PathBuf};
use std::process::Command;

fn keygen(dir: &Path, args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ssh-keygen is installed (scripts/test.sh installs openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn public(dir: &Path, name: &str) -> String {
    let t = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    t.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

struct Sig {
    name: &'static str,
    path: PathBuf,
}

fn sign(dir: &Path, name: &'static str, key_file: &str, namespace: &str) -> Sig {
    let msg = dir.join("msg");
    let out = dir.join(format!("{name}.sig"));
    let _ = std::fs::remove_file(dir.join("msg.sig"));
    keygen(
        dir,
        &["-Y", "sign", "-q", "-n", namespace, "-f", key_file, "msg"],
    );
    std::fs::rename(msg.with_extension("sig"), &out).unwrap();
    Sig { name, path: out }
}

/// ssh-keygen's verdict: does it accept `sig` as `principal` at `at`?
fn ssh_keygen_accepts(
    dir: &Path,
    signers: &Path,
    sig: &Path,
    principal: &str,
    at: DateTime<Utc>,
) -> bool {
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "gander", "-f"])
        .arg(signers)
        .args(["-I", principal, "-s"])
        .arg(sig)
        .arg(format!("-Overify-time={}", at.format("%Y%m%d%H%M%SZ")))
        .stdin(std::fs::File::open(dir.join("msg")).unwrap())
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn gander_and_ssh_keygen_agree_on_every_case() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("msg"), "{\"a record\":\"signed form\"}").unwrap();
    for (name, kind) in [
        ("alice", vec!["-t", "ed25519"]),
        ("bob", vec!["-t", "ed25519"]),
        ("carol", vec!["-t", "ecdsa", "-b", "256"]),
        ("dave", vec!["-t", "rsa", "-b", "2048"]),
        ("ca", vec!["-t", "ed25519"]),
        ("ca2", vec!["-t", "ed25519"]),
    ] {
        let mut args = vec!["-q", "-N", "", "-C", name, "-f", name];
        args.extend(kind);
        keygen(d, &args);
    }
    // Certificates for alice's key, each in a copy of it (ssh-keygen finds the private
    // key next to the certificate).
    let certs: [(&str, &str, Vec<&str>); 8] = [
        // No -V: valid forever (valid_before 2^64-1), ssh-keygen's default.
        ("cforever", "ca", vec!["-n", "alice"]),
        ("cforever2", "ca2", vec!["-n", "alice"]),
        (
            "cvalid",
            "ca",
            vec!["-n", "alice", "-V", "20200101:20990101"],
        ),
        ("cold", "ca", vec!["-n", "alice", "-V", "20200101:20200201"]),
        (
            "cfuture",
            "ca",
            vec!["-n", "alice", "-V", "20980101:20990101"],
        ),
        ("ceve", "ca", vec!["-n", "eve", "-V", "20200101:20990101"]),
        (
            "chost",
            "ca",
            vec!["-h", "-n", "alice", "-V", "20200101:20990101"],
        ),
        (
            "cca2",
            "ca2",
            vec!["-n", "alice", "-V", "20200101:20990101"],
        ),
    ];
    for (name, ca, extra) in &certs {
        std::fs::copy(d.join("alice"), d.join(name)).unwrap();
        std::fs::copy(d.join("alice.pub"), d.join(format!("{name}.pub"))).unwrap();
        let mut args = vec!["-q", "-s", ca, "-I", name];
        args.extend(extra.iter().copied());
        args.push(*name);
        let pubname = format!("{name}.pub");
        args.pop();
        args.push(&pubname);
        keygen(d, &args);
    }
    let sigs = vec![
        sign(d, "alice", "alice", "gander"),
        sign(d, "alice-git", "alice", "git"),
        sign(d, "bob", "bob", "gander"),
        sign(d, "carol", "carol", "gander"),
        sign(d, "dave", "dave", "gander"),
        sign(d, "cert-valid", "cvalid-cert.pub", "gander"),
        sign(d, "cert-old", "cold-cert.pub", "gander"),
        sign(d, "cert-future", "cfuture-cert.pub", "gander"),
        sign(d, "cert-eve", "ceve-cert.pub", "gander"),
        sign(d, "cert-host", "chost-cert.pub", "gander"),
        sign(d, "cert-ca2", "cca2-cert.pub", "gander"),
        sign(d, "cert-forever", "cforever-cert.pub", "gander"),
        sign(d, "cert-forever-ca2", "cforever2-cert.pub", "gander"),
    ];
    let (a, c, r, ca, ca2) = (
        public(d, "alice"),
        public(d, "carol"),
        public(d, "dave"),
        public(d, "ca"),
        public(d, "ca2"),
    );
    let variants: Vec<String> = vec![
        format!("alice {a}"),
        format!("alice,bob {a}"),
        format!("\"alice,bob\" {a}"),
        format!("al* {a}"),
        format!("a?ice {a}"),
        format!("*,!alice {a}"),
        format!("!alice {a}"),
        format!("\"alice\" {a}"),
        format!("bob {a}"),
        format!("alice namespaces=\"gander\" {a}"),
        format!("alice namespaces=\"git\" {a}"),
        format!("alice namespaces=\"git,gan*\" {a}"),
        format!("alice NAMESPACES=\"gander\" {a}"),
        format!("alice namespaces=gander {a}"),
        format!("alice namespaces=\"gander\", {a}"),
        format!("alice valid-after=\"20200101\" {a}"),
        format!("alice valid-after=\"20980101\" {a}"),
        format!("alice valid-before=\"20200201\" {a}"),
        format!("alice valid-before=\"20980101Z\" {a}"),
        format!("alice valid-after=\"20200101\",valid-before=\"20980101\" {a}"),
        format!("alice valid-before=\"20200101\",valid-after=\"20980101\" {a}"),
        format!("alice valid-after=\"202001010000Z\" {a}"),
        format!("alice valid-after=\"20200101000000Z\" {a}"),
        format!("alice Valid-Before=\"20200115\" {a}"),
        format!("alice valid-after=\"2020\" {a}"),
        format!("alice valid-after=\"19700101Z\" {a}"),
        format!("alice valid-after=\"19690101\" {a}"),
        format!("alice unknown=\"x\" {a}"),
        format!("alice cert-authority {a}"),
        format!("alice cert-authority {ca}"),
        format!("* cert-authority {ca}"),
        format!("eve cert-authority {ca}"),
        format!("alice cert-authority {ca2}"),
        format!("alice cert-authority,namespaces=\"git\" {ca}"),
        format!("alice Cert-Authority {ca}"),
        format!("alice cert-authority,valid-before=\"20200110\" {ca}"),
        format!("broken\nalice {a}"),
        format!("bob ssh-ed25519 AAAAC3Nza\nalice {a}"),
        format!("alice ssh-foo AAAA\nalice {a}"),
        format!("alice {c}"),
        format!("alice {r}"),
        format!("# team\n\n   alice {a}   # laptop"),
        format!("alice2 {a}\nalice {a}"),
        format!("alice valid-before=\"20200101\" {a}\nalice {a}"),
        format!("alice namespaces=\"git\" {a}\nalice {a}"),
        format!("alice namespaces=\"gander\",valid-after=\"20200101\" {a}"),
        format!("alice,carol {c}\ndave {r}"),
        format!("alice {a}\nalice cert-authority {ca}"),
    ];
    let now = Utc::now();
    let in_2020 = Utc.with_ymd_and_hms(2020, 1, 15, 12, 0, 0).unwrap();
    let times = [now, in_2020];
    let principals = ["alice", "eve", "dave"];
    let mut cases = 0;
    let mut accepted = 0;
    let mut disagreements = Vec::new();
    for (vi, v) in variants.iter().enumerate() {
        let file = d.join(format!("as{vi}"));
        std::fs::write(&file, format!("{v}\n")).unwrap();
        let ours = AllowedSigners::parse(&format!("{v}\n"));
        let msg = std::fs::read(d.join("msg")).unwrap();
        for s in &sigs {
            let armored = std::fs::read_to_string(&s.path).unwrap();
            for p in principals {
                for at in times {
                    let theirs = ssh_keygen_accepts(d, &file, &s.path, p, at);
                    let gander = ours.verify(p, &msg, &armored, at);
                    cases += 1;
                    accepted += usize::from(theirs);
                    if theirs != gander.is_ok() {
                        disagreements.push(format!(
                            "variant {vi} `{}` × {} as {p} at {at}: ssh-keygen {}, gander {:?}",
                            v.replace('\n', " ⏎ "),
                            s.name,
                            if theirs { "accepts" } else { "refuses" },
                            gander
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "{} variants × {} signatures × {} principals × {} times: {cases} cases, {accepted} accepted by ssh-keygen",
        variants.len(),
        sigs.len(),
        principals.len(),
        times.len()
    );
    assert!(cases >= 60, "{cases} cases");
    assert!(
        accepted >= 20,
        "only {accepted} accepted: the matrix tests little"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {cases} cases disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
