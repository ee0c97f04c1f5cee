//! A 200 MB JUnit file through `gander evidence add`: read as a stream, so memory stays
//! bounded. The peak RSS of the gander process is measured (getrusage of the only child
//! this test binary runs) and printed; the bound asserted is generous.

use std::io::Write;
use std::process::Command;

#[test]
fn a_200_mb_junit_file_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::create_dir_all(cfg.join("services")).unwrap();
    std::fs::write(
        cfg.join("org-config.yaml"),
        "org: {name: Big}\nmodes: {sandbox: {}, compliant: {}}\n",
    )
    .unwrap();
    std::fs::write(
        cfg.join("services/big.yaml"),
        "service:\n  name: big\n  spec: {api_version: v1, compliance_mode: sandbox}\n",
    )
    .unwrap();
    let key = dir.path().join("k");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut p = pubkey.split_whitespace();
    std::fs::write(
        cfg.join("allowed_signers"),
        format!("ops {} {}\n", p.next().unwrap(), p.next().unwrap()),
    )
    .unwrap();

    let big = dir.path().join("big.junit.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    writeln!(
        f,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"big\">"
    )
    .unwrap();
    let mut n = 0u64;
    let mut written = 0usize;
    while written < 200 * 1024 * 1024 {
        let line = if n % 100_000 == 7 {
            format!(
                "<testcase classname=\"big::suite\" name=\"case_{n}\" time=\"0.001\"><failure message=\"boom\">assertion failed at line {n}</failure></testcase>\n"
            )
        } else {
            format!(
                "<testcase classname=\"big::suite\" name=\"case_{n}\" time=\"0.001\"><system-out>ok</system-out></testcase>\n"
            )
        };
        written += line.len();
        f.write_all(line.as_bytes()).unwrap();
        n += 1;
    }
    writeln!(f, "</testsuite></testsuites>").unwrap();
    drop(f);

    let out = Command::new(env!("CARGO_BIN_EXE_gander"))
        .arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["evidence", "add", "big"])
        .arg(&big)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failures = n.div_ceil(100_000);
    assert!(
        stdout.contains(&format!(
            "{} passed, {failures} failed, 0 errors, 0 skipped of {n} tests",
            n - failures
        )),
        "{stdout}"
    );
    // SAFETY: getrusage fills a local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    // ssh-keygen ran as a child too; it is far smaller than gander.
    let peak_mb = ru.ru_maxrss as f64 / 1024.0;
    println!(
        "peak RSS of `gander evidence add` on a {} MB JUnit file ({n} test cases): {peak_mb:.1} MB",
        written / (1024 * 1024)
    );
    assert!(
        peak_mb < 64.0,
        "peak RSS {peak_mb:.1} MB for a 200 MB file: not streaming"
    );
}
