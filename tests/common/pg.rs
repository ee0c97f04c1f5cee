//! A real PostgreSQL for a test: Debian's server binaries, `initdb` on a temp dir with
//! SCRAM passwords, a free loopback port and its own socket dir, run as the `postgres`
//! user when the test runs as root (the server refuses root), stopped at the end.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Pg {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    /// Extra server options (TLS).
    extra: String,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server is installed (scripts/test.sh installs Debian's postgresql)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql/*/bin")
}

fn as_root() -> bool {
    // SAFETY: a getter.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    /// initdb, start, and create database `gander` owned by user `gander`.
    pub fn start() -> Pg {
        Pg::start_with(false)
    }

    /// As [`Pg::start`], serving TLS with a certificate for 127.0.0.1 signed by a CA
    /// made here (`ca.pem` in [`Pg::data_dir`]).
    pub fn start_tls() -> Pg {
        Pg::start_with(true)
    }

    fn start_with(tls: bool) -> Pg {
        let dir =
            std::env::temp_dir().join(format!("gander-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = Pg {
            dir,
            port: free_port(),
            bin: bin_dir(),
            extra: String::new(),
        };
        std::fs::write(pg.dir.join("pw"), PASSWORD).unwrap();
        let mut pg = pg;
        if tls {
            make_certs(&pg.dir);
            pg.extra = format!(
                "-c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
                pg.dir.display()
            );
        }
        if as_root() {
            assert!(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&pg.dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let init = pg.as_postgres("initdb", |c| {
            c.arg("-D")
                .arg(pg.dir.join("data"))
                .args(["-U", "gander", "--auth=scram-sha-256", "--no-sync"])
                .arg(format!("--pwfile={}", pg.dir.join("pw").display()));
        });
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        pg.ctl_start();
        let out = pg.psql("postgres", "CREATE DATABASE gander");
        assert!(out.contains("CREATE DATABASE"), "{out}");
        pg
    }

    fn as_postgres(&self, tool: &str, args: impl FnOnce(&mut Command)) -> std::process::Output {
        let mut c = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        args(&mut c);
        c.current_dir(&self.dir).output().unwrap()
    }

    /// A streaming standby of this server (pg_basebackup -R), started on its own port.
    pub fn standby(&self) -> Pg {
        let dir = std::env::temp_dir().join(format!(
            "gander-pg-standby-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sb = Pg {
            dir,
            port: free_port(),
            bin: self.bin.clone(),
            extra: String::new(),
        };
        if as_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&sb.dir)
                .status()
                .unwrap();
        }
        let out = sb.as_postgres("pg_basebackup", |c| {
            c.args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "gander",
                "-R",
                "-c",
                "fast",
                "-D",
            ])
            .arg(sb.dir.join("data"))
            .env("PGPASSWORD", PASSWORD);
        });
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sb.ctl_start();
        sb
    }

    /// Make a standby the primary.
    pub fn promote(&self) {
        let out = self.as_postgres("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-w", "promote"]);
        });
        assert!(
            out.status.success(),
            "pg_ctl promote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn ctl_start(&self) {
        let out = self.as_postgres("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.dir.join("data"))
                .arg("-o")
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {}",
                    self.port,
                    self.dir.display(),
                    self.extra
                ))
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-w", "start"]);
        });
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// Stop the server as a crash would (`pg_ctl stop -m immediate`).
    pub fn kill(&self) {
        self.as_postgres("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]);
        });
    }

    /// `postgres://gander@127.0.0.1:PORT/gander` (the password goes by reference).
    pub fn url(&self) -> String {
        format!("postgres://gander@127.0.0.1:{}/gander", self.port)
    }

    /// Run SQL as the superuser `gander`; stdout and stderr together.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "gander",
                "-d",
                db,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("psql is installed (postgresql-client)");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a server certificate for 127.0.0.1 (IP SAN), with openssl.
pub fn make_certs(dir: &Path) {
    let script = r#"
set -e
cd "$1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=gander-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' > ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=someone-else 2>/dev/null
chmod 600 server.key
"#;
    let ok = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("certs")
        .arg(dir)
        .status()
        .expect("openssl is installed");
    assert!(ok.success());
}
