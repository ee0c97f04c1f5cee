//! Golden Goose packages on the demo fleet, through the binary: built from the compliant
//! services, verified with nothing but sha256sum and ssh-keygen, walked dev -> staging ->
//! prod with four-eyes approval, rolled back, archived; tampering and criteria failures
//! each refused with their reason. The chain verifies throughout.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{Demo, copy_dir};

fn demo() -> Demo {
    Demo::start()
}

trait Packages {
    fn pkg(&self, id: &str) -> PathBuf;
}

impl Packages for Demo {
    fn pkg(&self, id: &str) -> PathBuf {
        self.state.join("packages").join(id)
    }
}

#[test]
fn build_verify_with_standard_tools_promote_to_prod_roll_back_and_archive() {
    let d = demo();
    let (code, out, err) = d.run("alice", &["package", "create", "--version", "1.0.0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("gg-1.0.0: 3 services"), "{out}");
    d.verify_chain();
    // An auditor with sha256sum and ssh-keygen only.
    let p = d.pkg("gg-1.0.0");
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "gander", "-f"])
        .arg(d.config.join("allowed_signers"))
        .args(["-I", "alice", "-s"])
        .arg(p.join("manifest.json.sig"))
        .stdin(std::fs::File::open(p.join("manifest.json")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // By the ID `package list` shows.
    let (code, out, err) = d.run("alice", &["package", "verify", "gg-1.0.0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: gg-1.0.0"), "{out}");
    // gander on the tarball.
    let (code, out, _) = d.run(
        "alice",
        &[
            "package",
            "verify",
            d.state.join("packages/gg-1.0.0.tar.gz").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    // dev -> staging -> prod; prod needs bob.
    assert_eq!(
        d.run(
            "alice",
            &["package", "promote", "gg-1.0.0", "--to", "staging"]
        )
        .0,
        1,
        "dev first"
    );
    for stage in ["dev", "staging"] {
        assert_eq!(
            d.run("alice", &["package", "promote", "gg-1.0.0", "--to", stage])
                .0,
            0
        );
    }
    let (_, out, _) = d.run("alice", &["package", "promote", "gg-1.0.0", "--to", "prod"]);
    assert!(out.contains("needs an approval"), "{out}");
    let (code, _, err) = d.run(
        "alice",
        &["package", "approve", "gg-1.0.0", "--stage", "prod"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("four-eyes"), "{err}");
    let (code, out, _) = d.run(
        "bob",
        &["package", "approve", "gg-1.0.0", "--stage", "prod"],
    );
    assert_eq!(code, 0, "{out}");
    // A second package, to prod too; then roll prod back to the first.
    assert_eq!(
        d.run("alice", &["package", "create", "--version", "1.1.0"])
            .0,
        0
    );
    for stage in ["dev", "staging", "prod"] {
        d.run("alice", &["package", "promote", "gg-1.1.0", "--to", stage]);
    }
    assert_eq!(
        d.run(
            "bob",
            &["package", "approve", "gg-1.1.0", "--stage", "prod"]
        )
        .0,
        0
    );
    let (_, out, _) = d.run("alice", &["package", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["history"]["prod"].as_array().unwrap().last().unwrap()["package"],
        "gg-1.1.0"
    );
    let (code, _, err) = d.run("alice", &["package", "rollback", "prod"]);
    assert_eq!(code, 2, "a rollback needs a reason: {err}");
    let (code, out, _) = d.run(
        "alice",
        &[
            "package",
            "rollback",
            "prod",
            "--reason",
            "p95 regression in 1.1.0",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rolled back from gg-1.1.0 to gg-1.0.0"),
        "{out}"
    );
    let (_, out, _) = d.run("alice", &["package", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["history"]["prod"].as_array().unwrap().last().unwrap()["package"],
        "gg-1.0.0"
    );
    // Archive: with three packages and keep_per_stage 2, the oldest unused one goes.
    assert_eq!(
        d.run("alice", &["package", "create", "--version", "1.2.0"])
            .0,
        0
    );
    d.run("alice", &["package", "promote", "gg-1.2.0", "--to", "dev"]);
    let (code, out, _) = d.run("alice", &["package", "archive"]);
    assert_eq!(code, 0, "{out}");
    d.verify_chain();
}

#[test]
fn tampered_packages_are_refused_with_their_reason() {
    let d = demo();
    assert_eq!(
        d.run("alice", &["package", "create", "--version", "2.0.0"])
            .0,
        0
    );
    let good = d.pkg("gg-2.0.0");
    let verify = |p: &Path| d.run("alice", &["package", "verify", p.to_str().unwrap()]);
    let work = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let p = work.path().join(name).join("gg-2.0.0");
        copy_dir(&good, &p);
        p
    };
    // A changed artifact.
    let p = copy("changed");
    let f = p.join("summary.md");
    std::fs::write(&f, std::fs::read_to_string(&f).unwrap() + "tampered\n").unwrap();
    let (code, out, _) = verify(&p);
    assert_eq!(code, 1);
    assert!(
        out.contains("summary.md: ") && out.contains("the file changed"),
        "{out}"
    );
    // A removed file.
    let p = copy("removed");
    let victim = std::fs::read_dir(p.join("services/identity/sbom"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&victim).unwrap();
    let (_, out, _) = verify(&p);
    assert!(out.contains("listed in the manifest but missing"), "{out}");
    // An edited manifest: the signature no longer matches.
    let p = copy("manifest");
    let m = p.join("manifest.json");
    std::fs::write(
        &m,
        std::fs::read_to_string(&m)
            .unwrap()
            .replace("\"1.8.0\"", "\"9.9.9\""),
    )
    .unwrap();
    let (_, out, _) = verify(&p);
    assert!(
        out.contains("manifest.json.sig: signature does not verify"),
        "{out}"
    );
    // A bad signature (another file's).
    let p = copy("sig");
    std::fs::write(
        p.join("manifest.json.sig"),
        "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
    )
    .unwrap();
    let (_, out, _) = verify(&p);
    assert!(
        out.contains("manifest.json.sig: unreadable signature"),
        "{out}"
    );
    // A manifest path that escapes the package.
    let p = copy("escape");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("manifest.json")).unwrap()).unwrap();
    v["files"][0]["path"] = "../../etc/passwd".into();
    std::fs::write(
        p.join("manifest.json"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    let (_, out, _) = verify(&p);
    assert!(
        out.contains("manifest lists `../../etc/passwd`, a path outside the package"),
        "{out}"
    );
    // A tarball with a symlink, and one with a path that climbs out: refused, nothing
    // written outside.
    for (name, hostile) in [("symlink", true), ("climb", false)] {
        let tgz = work.path().join(format!("{name}.tar.gz"));
        let f = std::fs::File::create(&tgz).unwrap();
        let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::default(),
        ));
        for f in ["manifest.json", "manifest.json.sig", "SHA256SUMS"] {
            t.append_path_with_name(good.join(f), format!("gg-2.0.0/{f}"))
                .unwrap();
        }
        t.append_dir_all("gg-2.0.0", &good).unwrap();
        let mut h = tar::Header::new_gnu();
        if hostile {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            t.append_link(&mut h, "gg-2.0.0/evil", "/etc/passwd")
                .unwrap();
        } else {
            let data = b"owned";
            h.set_size(data.len() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            // tar::Builder refuses `..` in paths, so write the name field by hand.
            let name_bytes = b"gg-2.0.0/../../gander-escape.txt";
            h.as_old_mut().name[..name_bytes.len()].copy_from_slice(name_bytes);
            h.set_cksum();
            t.append(&h, &data[..]).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
        let (code, out, err) = verify(&tgz);
        assert_eq!(code, 1, "{name}: {out}{err}");
        let all = out + &err;
        assert!(all.contains("refused"), "{name}: {all}");
        assert!(!std::env::temp_dir().join("gander-escape.txt").exists());
    }
}

#[test]
fn release_criteria_failures_are_each_named() {
    let d = demo();
    // A non-compliant service.
    let (code, _, err) = d.run("alice", &["package", "create", "--services", "service-b"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("criterion services_compliant fails: service-b is `compliance_ready`"),
        "{err}"
    );
    // A dependency left out (service-a needs identity and ledger-db).
    let (_, _, err) = d.run("alice", &["package", "create", "--services", "service-a"]);
    assert!(
        err.contains("criterion dependencies_included fails: service-a depends on identity"),
        "{err}"
    );
    // An SBOM that fails: identity's newest SBOM has a component without a version.
    let bad = d.state.join("bad-bom.cdx.json");
    std::fs::write(&bad, r#"{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"type":"application","name":"identity","version":"2.4.1"}},"components":[{"type":"library","name":"libfoo"}]}"#).unwrap();
    assert_eq!(
        d.run(
            "alice",
            &["evidence", "add", "identity", bad.to_str().unwrap()]
        )
        .0,
        0
    );
    let (_, _, err) = d.run("alice", &["package", "create", "--services", "identity"]);
    assert!(err.contains("criterion sbom_present fails: identity's SBOM: 1 of 1 components have no version (libfoo)"), "{err}");
    // Stale evidence: with a max age of one hour, everything recorded is stale two hours
    // on. The use case runs in-process with its clock set there, instead of sleeping.
    let cfg = d.config.join("org-config.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}evidence:\n  max_age: 1h\n")).unwrap();
    let config = gander::io::config_dir::load_dir(&d.config)
        .unwrap()
        .config
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let ctx = gander::ops::Ctx::new(std::sync::Arc::new(config), &d.config, Some(&d.state))
        .with_key(Some(&d.state.join("keys").join("alice")))
        .with_clock(gander::ops::Clock::Fixed(later));
    let said = gander::ops::packages::create(&ctx, None, vec!["ledger-db".into()]);
    assert_eq!(said.code, 1, "{said:?}");
    let err = said.err.join("\n");
    assert!(
        err.contains("criterion evidence_fresh fails: ledger-db's"),
        "{err}"
    );

    assert!(
        !d.state.join("packages").exists()
            || std::fs::read_dir(d.state.join("packages")).unwrap().count() == 0
    );
    d.verify_chain();
}
