//! The embedded demo fleet: every service a real HTTP server on a loopback port with
//! the health endpoints and a `/metrics` page, live dynamics, fault switches on a
//! control port, and a generated config directory that points at it all.

pub mod evidence;
pub mod server;
pub mod sim;

use server::{Fault, FaultSwitch};
use sim::{Role, SimService};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// Probe paths of one service (some use `/health/started`).
#[derive(Debug, Clone)]
pub struct ProbePaths {
    pub live: String,
    pub ready: String,
    pub startup: String,
    pub health: String,
}

pub struct Fleet {
    pub sims: Vec<SimService>,
    pub faults: Vec<FaultSwitch>,
    pub addrs: Vec<SocketAddr>,
    pub probes: Vec<ProbePaths>,
}

impl Fleet {
    /// The service itself is up: not in a failing fault and not flapping down.
    pub fn up(&self, i: usize) -> bool {
        matches!(
            self.faults[i].get(),
            Fault::None | Fault::Garbage | Fault::BadUtf8 | Fault::Huge
        ) && self.sims[i].self_ready()
    }

    /// Its readiness probe: up, and so are its direct dependencies.
    pub fn ready(&self, i: usize) -> bool {
        self.up(i) && self.sims[i].deps.iter().all(|d| self.up(d.2))
    }
}

/// One service of the plan: name, version, state, role, baseline, dependencies.
struct Planned {
    name: String,
    version: String,
    state: &'static str,
    role: Role,
    p95: f64,
    deps: Vec<(usize, &'static str)>,
    started_path: bool,
}

/// The fleet's shape: the example org's seven services first, then generated ones that
/// depend on one to three earlier services (so the graph stays acyclic).
fn plan(n: usize) -> Vec<Planned> {
    type Base<'a> = (
        &'a str,
        &'a str,
        &'static str,
        Role,
        f64,
        &'a [(usize, &'static str)],
    );
    let base: [Base; 7] = [
        ("identity", "2.4.1", "compliant", Role::Steady, 200.0, &[]),
        (
            "ledger-db",
            "14.2.0",
            "compliant",
            Role::BackedUp,
            300.0,
            &[],
        ),
        (
            "service-a",
            "1.8.0",
            "compliant",
            Role::Steady,
            400.0,
            &[(0, "runtime"), (1, "data")],
        ),
        (
            "service-b",
            "1.3.2",
            "compliance_ready",
            Role::Flapping,
            // Clearly under the compliant baseline (500 ms): its promotion is decided by
            // its approval, not by a coin flip on latency.
            350.0,
            &[(2, "runtime")],
        ),
        (
            "service-c",
            "0.9.0",
            "sandbox",
            Role::Steady,
            500.0,
            &[(2, "runtime"), (3, "runtime"), (1, "data"), (0, "security")],
        ),
        (
            "notifications",
            "0.4.0",
            "sandbox",
            Role::Bursty,
            600.0,
            &[(3, "runtime"), (0, "security")],
        ),
        (
            "reporting",
            "3.1.0",
            "compliance_ready",
            Role::Drifting,
            1500.0,
            &[(1, "data"), (2, "data")],
        ),
    ];
    let mut out = Vec::with_capacity(n);
    for (i, (name, version, state, role, p95, deps)) in base.iter().enumerate().take(n) {
        out.push(Planned {
            name: name.to_string(),
            version: version.to_string(),
            state,
            role: *role,
            p95: *p95,
            deps: deps.iter().filter(|(d, _)| *d < n).copied().collect(),
            started_path: i == 5,
        });
    }
    // A fixed xorshift so the same N gives the same fleet.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    for i in base.len()..n {
        let k = 1 + rnd(3);
        let mut deps: Vec<(usize, &'static str)> = Vec::new();
        for _ in 0..k {
            // Prefer recent services so the graph has depth, not just a star.
            let d = i - 1 - rnd(i.min(40));
            let kind = ["runtime", "runtime", "data", "security"][rnd(4)];
            if !deps.iter().any(|(x, _)| *x == d) {
                deps.push((d, kind));
            }
        }
        let role = match i % 10 {
            3 => Role::Drifting,
            6 => Role::Bursty,
            8 => Role::Flapping,
            9 if i % 50 == 9 => Role::BackedUp,
            _ => Role::Steady,
        };
        out.push(Planned {
            name: format!("svc-{i:04}"),
            version: format!("1.{}.{}", i % 7, i % 13),
            state: ["sandbox", "compliance_ready", "compliant", "compliant"][rnd(4)],
            role,
            p95: [300.0, 400.0, 500.0, 800.0][rnd(4)],
            deps,
            started_path: i % 4 == 0,
        });
    }
    out
}

/// A running fleet and where to find it.
pub struct Running {
    pub fleet: Arc<Fleet>,
    pub control: SocketAddr,
    pub config_dir: PathBuf,
    /// CI artifacts written for the named services (service, files), to be recorded as
    /// evidence by the operator `alice` (key under `STATE/keys/alice`).
    pub artifacts: Vec<(String, Vec<PathBuf>)>,
}

/// Raise the open-file limit to its hard maximum: a thousand listeners and their
/// connections need more than the usual 1024.
pub fn raise_fd_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Start `n` services and the control port on loopback, write the config that points
/// at them into `state_dir/config`, and return. Servers run on the current runtime.
pub async fn start(
    n: usize,
    state_dir: &Path,
    faults: &[(String, Fault)],
    prometheus_url: Option<&str>,
) -> std::io::Result<Running> {
    start_with(n, state_dir, faults, prometheus_url, false).await
}

/// As [`start`]; `steady` turns every dynamic off (for tests and measurements).
pub async fn start_with(
    n: usize,
    state_dir: &Path,
    faults: &[(String, Fault)],
    prometheus_url: Option<&str>,
    steady: bool,
) -> std::io::Result<Running> {
    start_named(
        n,
        state_dir,
        faults,
        prometheus_url,
        steady,
        sim::Naming::Gander,
    )
    .await
}

/// As [`start_with`], the services naming their metrics as `naming` says.
pub async fn start_named(
    n: usize,
    state_dir: &Path,
    faults: &[(String, Fault)],
    prometheus_url: Option<&str>,
    steady: bool,
    naming: sim::Naming,
) -> std::io::Result<Running> {
    raise_fd_limit();
    let mut planned = plan(n);
    if steady {
        for p in &mut planned {
            p.role = Role::Steady;
        }
    }
    let started = Instant::now();
    let mut listeners = Vec::with_capacity(n);
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        addrs.push(l.local_addr()?);
        listeners.push(l);
    }
    let sims: Vec<SimService> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| {
            SimService::new(
                p.name.clone(),
                p.version.clone(),
                p.state.to_string(),
                p.role,
                p.p95,
                p.deps
                    .iter()
                    .map(|&(d, k)| (planned[d].name.clone(), k, d))
                    .collect(),
                (i as f64 * 37.0) % sim::CYCLE_SECS,
                20.0 + (i % 30) as f64,
                started,
            )
        })
        .map(|mut s| {
            s.naming = naming;
            s
        })
        .collect();
    let probes = planned
        .iter()
        .map(|p| ProbePaths {
            live: "/health/live".into(),
            ready: "/health/ready".into(),
            startup: if p.started_path {
                "/health/started".into()
            } else {
                "/health/startup".into()
            },
            health: "/health".into(),
        })
        .collect();
    let fleet = Arc::new(Fleet {
        faults: (0..n).map(|_| FaultSwitch::default()).collect(),
        sims,
        addrs,
        probes,
    });
    for (name, f) in faults {
        match fleet.sims.iter().position(|s| &s.name == name) {
            Some(i) => fleet.faults[i].set(*f),
            None if name == "all" => fleet.faults.iter().for_each(|s| s.set(*f)),
            None => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("--fault: no demo service `{name}`"),
                ));
            }
        }
    }
    let control_listener = TcpListener::bind("127.0.0.1:0").await?;
    let control = control_listener.local_addr()?;
    for (i, l) in listeners.into_iter().enumerate() {
        tokio::spawn(server::run_service(fleet.clone(), i, l));
    }
    tokio::spawn(server::run_control(fleet.clone(), control_listener));
    let config_dir = state_dir.join("config");
    write_config(&config_dir, &planned, &fleet.addrs, prometheus_url, naming)?;
    write_identities(state_dir, &config_dir)?;
    let named: Vec<&str> = planned.iter().take(7).map(|p| p.name.as_str()).collect();
    let config = crate::io::config_dir::load_dir(&config_dir)
        .map_err(std::io::Error::other)?
        .config
        .ok_or_else(|| std::io::Error::other("the demo config does not load"))?;
    let artifacts = evidence::write_artifacts(state_dir, &config, &named)?;
    Ok(Running {
        fleet,
        control,
        config_dir,
        artifacts,
    })
}

fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// The demo operators: an ed25519 key each under `STATE/keys/`, and an
/// `allowed_signers` naming them, so a newcomer can request as one and approve as the
/// other (`--identity alice|bob`).
pub const OPERATORS: [&str; 2] = ["alice", "bob"];

fn write_identities(state_dir: &Path, config_dir: &Path) -> std::io::Result<()> {
    use ssh_key::{Algorithm, LineEnding, PrivateKey, rand_core::OsRng};
    let keys = state_dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    let mut signers = String::from("# The demo operators (keys in the demo state dir's keys/).\n");
    for who in OPERATORS {
        let path = keys.join(who);
        let key =
            PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(std::io::Error::other)?;
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(std::io::Error::other)?;
        std::fs::write(&path, text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        let public = key
            .public_key()
            .to_openssh()
            .map_err(std::io::Error::other)?;
        std::fs::write(
            path.with_extension("pub"),
            format!("{public} {who}@gander-demo\n"),
        )?;
        signers.push_str(&format!("{who} {public}\n"));
    }
    write_atomic(&config_dir.join("allowed_signers"), &signers)
}

/// Write the demo fleet's config for `n` services without starting anything (every
/// endpoint points at a closed port): for benchmarks and tests of the console at scale.
pub fn write_config_only(n: usize, dir: &Path) -> std::io::Result<()> {
    let planned = plan(n);
    let addrs = vec![SocketAddr::from(([127, 0, 0, 1], 9)); n];
    write_config(dir, &planned, &addrs, None, sim::Naming::Gander)
}

fn write_config(
    dir: &Path,
    planned: &[Planned],
    addrs: &[SocketAddr],
    prometheus_url: Option<&str>,
    naming: sim::Naming,
) -> std::io::Result<()> {
    let sdir = dir.join("services");
    std::fs::create_dir_all(&sdir)?;
    let mut org = String::from(
        "# Generated by `gander demo` for its embedded fleet.\norg:\n  name: Demo Fleet\nmodes:\n  sandbox:\n    thresholds: { p95_latency_ms: 800, error_rate: 0.05 }\n  compliant:\n    thresholds: { p95_latency_ms: 500, error_rate: 0.01 }\nmonitoring:\n",
    );
    if let Some(u) = prometheus_url {
        let _ = writeln!(org, "  prometheus_url: {u}");
        if naming == sim::Naming::Otel {
            org.push_str("  queries:\n    preset: opentelemetry\n");
        }
    }
    org.push_str("  poll_interval: 5s\n  request_timeout: 2s\napproval:\n  required_approvals: 1\n  four_eyes: true\n  expiry: 24h\n  soak_time: 0s\n  groups:\n    sre: [alice, bob]\n  default_approvers: [\"group:sre\"]\npackaging:\n  stages: [dev, staging, prod]\n  require_approval_for: [prod]\n  keep_per_stage: 2\n");
    write_atomic(&dir.join("org-config.yaml"), &org)?;
    for (i, p) in planned.iter().enumerate() {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "service:\n  name: {}\n  spec:\n    api_version: v1",
            p.name
        );
        let mode = if p.state == "compliant" {
            "compliant"
        } else {
            "sandbox"
        };
        let _ = writeln!(
            s,
            "    compliance_mode: {mode}\n    compliance_state: {}\n    version: {}\n    dependencies:",
            p.state, p.version
        );
        for kind in ["runtime", "data", "security"] {
            let names: Vec<&str> = p
                .deps
                .iter()
                .filter(|d| d.1 == kind)
                .map(|d| planned[d.0].name.as_str())
                .collect();
            let _ = writeln!(s, "      {kind}: [{}]", names.join(", "));
        }
        let addr = addrs[i];
        let _ = writeln!(
            s,
            "  owners: [team-demo]\n  endpoints:\n    health_base_url: http://{addr}"
        );
        if p.started_path {
            let _ = writeln!(s, "    probes:\n      startup: /health/started");
        }
        let _ = writeln!(
            s,
            "    metrics_url: http://{addr}/metrics\n  baseline:\n    p95_latency_ms: {}\n    error_rate: 0.01",
            p.p95
        );
        write_atomic(&sdir.join(format!("{}.yaml", p.name)), &s)?;
    }
    Ok(())
}
