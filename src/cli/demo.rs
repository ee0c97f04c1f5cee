//! `gander demo`: the embedded fleet. `--serve-only` runs the fleet alone and prints
//! where its config is; otherwise gander polls it and prints live status each interval
//! (the full-screen console arrives with the console work).

use super::{EXIT_OK, EXIT_USAGE};
use crate::engine::facts::Facts;
use crate::engine::live::Board;
use crate::engine::plan;
use crate::engine::resolver::DepGraph;
use crate::io::demo::{self, server::Fault};
use crate::io::http::{Http, HttpConfig};
use crate::io::poll::{self, Target};
use chrono::Utc;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many services (the first seven are the example org's)
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub services: u32,
    /// Run the fleet only; print its config path and control URL, then serve until
    /// interrupted
    #[arg(long)]
    pub serve_only: bool,
    /// Make a service misbehave from the start: SERVICE=MODE (all=MODE for every
    /// service); modes: none, slow, 500, garbage, drop, cut, huge, bad-utf8, down
    #[arg(long = "fault", value_name = "SERVICE=MODE")]
    pub faults: Vec<String>,
    /// Write this Prometheus URL into the generated config
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// Write this Alertmanager URL into the generated config (silences from the console)
    #[arg(long, value_name = "URL")]
    pub alertmanager_url: Option<String>,
    /// Print the live status table instead of opening the console; stop after N rounds
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Turn the fleet's dynamics off (no drift, bursts, flapping or backups)
    #[arg(long)]
    pub steady: bool,
    /// Metrics pages with only the request counter and latency histogram (a few series
    /// each), for thousands of services scraped by a real Prometheus
    #[arg(long, conflicts_with = "otel")]
    pub lean: bool,
    /// Metrics in OpenTelemetry's HTTP conventions (http_server_request_duration_seconds,
    /// no service label; Prometheus's job names the service); the generated config uses
    /// the `opentelemetry` query preset
    #[arg(long)]
    pub otel: bool,
    /// Act as this demo operator (alice or bob): their key signs your actions
    #[arg(long, value_name = "NAME", default_value = "alice")]
    pub identity: String,
    /// Open the console read-only
    #[arg(long)]
    pub read_only: bool,
    /// Console theme (dark, light, high-contrast, mono)
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Keep the demo's directory (config, keys, chain, logs) after it stops; by default
    /// it is removed
    #[arg(long)]
    pub keep: bool,
}

fn fresh_state_dir(base: Option<PathBuf>) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S");
    let root = base.unwrap_or_else(std::env::temp_dir);
    root.join("demo")
        .join(format!("{stamp}-{}", std::process::id()))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut hup = signal(SignalKind::hangup()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {},
            _ = async { match hup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Hangup, TERM and interrupt, caught from the start (see [`run_in`]).
struct EarlySignals {
    #[cfg(unix)]
    streams: Vec<tokio::signal::unix::Signal>,
}

impl EarlySignals {
    fn listen() -> EarlySignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            EarlySignals {
                streams: [
                    SignalKind::hangup(),
                    SignalKind::terminate(),
                    SignalKind::interrupt(),
                ]
                .into_iter()
                .filter_map(|k| signal(k).ok())
                .collect(),
            }
        }
        #[cfg(not(unix))]
        EarlySignals {}
    }

    /// Did any of them arrive (without waiting)?
    fn arrived(&mut self) -> bool {
        #[cfg(unix)]
        {
            use futures_util::FutureExt;
            self.streams
                .iter_mut()
                .any(|s| s.recv().now_or_never().is_some())
        }
        #[cfg(not(unix))]
        false
    }
}

pub fn run(state: Option<PathBuf>, args: Args) -> i32 {
    if crate::ops::store::own_store_only() {
        crate::err!("demo: records into its own directory; --store / $GANDER_STORE is ignored");
    }
    // Removed however the demo ends, a panic included (its directory holds keys).
    struct Cleanup {
        dir: Option<PathBuf>,
        keep: bool,
    }
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Some(d) = &self.dir {
                if self.keep {
                    crate::err!("demo: kept {}", d.display());
                } else {
                    let _ = std::fs::remove_dir_all(d);
                }
            }
        }
    }
    let mut cleanup = Cleanup {
        dir: None,
        keep: args.keep,
    };
    run_in(state, args, &mut cleanup.dir)
}

fn run_in(state: Option<PathBuf>, args: Args, made: &mut Option<PathBuf>) -> i32 {
    let mut faults = Vec::new();
    for f in &args.faults {
        let Some((svc, mode)) = f.split_once('=') else {
            crate::err!("gander: --fault {f}: write SERVICE=MODE");
            return EXIT_USAGE;
        };
        let Some(mode) = Fault::parse(mode) else {
            crate::err!(
                "gander: --fault {f}: unknown mode; one of: {}",
                Fault::NAMES.join(", ")
            );
            return EXIT_USAGE;
        };
        faults.push((svc.to_string(), mode));
    }
    let rt = match super::runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    // A hangup, TERM or Ctrl-C while the fleet starts and its evidence is recorded
    // (before the console or the watch listens) must not kill the process and leave its
    // directory behind: caught from here on, and answered once start-up is done.
    let mut early = {
        let _in = rt.enter();
        EarlySignals::listen()
    };
    let dir = fresh_state_dir(state);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        crate::err!("gander: {}: {e}", dir.display());
        return EXIT_USAGE;
    }
    *made = Some(dir.clone());
    if !demo::OPERATORS.contains(&args.identity.as_str()) {
        crate::err!(
            "gander: --identity {}: the demo operators are {}",
            args.identity,
            demo::OPERATORS.join(" and ")
        );
        return EXIT_USAGE;
    }
    let naming = if args.lean {
        demo::sim::Naming::Lean
    } else if args.otel {
        demo::sim::Naming::Otel
    } else {
        demo::sim::Naming::Gander
    };
    let running = match rt.block_on(demo::start_named(
        args.services as usize,
        &dir,
        &faults,
        args.prometheus_url.as_deref(),
        args.steady,
        naming,
    )) {
        Ok(r) => r,
        Err(e) => {
            crate::err!("gander: cannot start the demo fleet: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(u) = &args.alertmanager_url {
        let path = running.config_dir.join("org-config.yaml");
        let added = std::fs::read_to_string(&path).map(|t| {
            t.replacen(
                "monitoring:\n",
                &format!("monitoring:\n  alertmanager_url: {u}\n"),
                1,
            )
        });
        if let Err(e) = added.and_then(|t| std::fs::write(&path, t)) {
            crate::err!("gander: {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    if let Err(e) = crate::ops::evidence::seed_demo(&dir, &running.config_dir, &running.artifacts) {
        crate::err!("gander: cannot record the demo's evidence: {e}");
        return EXIT_USAGE;
    }
    if early.arrived() {
        crate::err!("demo: stopped by a signal while starting");
        return EXIT_OK;
    }
    drop(early);
    use std::io::IsTerminal;
    if !args.serve_only && args.rounds.is_none() && std::io::stdout().is_terminal() {
        let config = match crate::io::config_dir::load_dir(&running.config_dir).map(|l| l.config) {
            Ok(Some(c)) => c,
            _ => {
                crate::err!(
                    "gander: the generated demo config does not load ({})",
                    running.config_dir.display()
                );
                return EXIT_USAGE;
            }
        };
        return crate::app::runtime::run_on(
            &rt,
            crate::app::runtime::Options {
                config: std::sync::Arc::new(config),
                config_dir: running.config_dir.clone(),
                state_dir: Some(dir.clone()),
                key: Some(dir.join("keys").join(&args.identity)),
                read_only: args.read_only,
                theme: args.theme.clone(),
            },
        );
    }
    rt.block_on(async move {
        // With the operator's key, so what is pasted acts as someone (the console
        // without it says "no identity").
        let paste = format!(
            "--config {} --state-dir {} --key {}",
            running.config_dir.display(),
            dir.display(),
            dir.join("keys").join(&args.identity).display()
        );
        let info = serde_json::json!({
            "config": running.config_dir.display().to_string(),
            "control": format!("http://{}", running.control),
            "state_dir": dir.display().to_string(),
            "services": args.services,
            "args": paste,
        });
        if args.serve_only {
            // Exactly one JSON line on stdout (for `| jq`); the hints go to stderr.
            crate::out!("{info}");
            crate::err!("demo fleet: {} services on 127.0.0.1; try:", args.services);
            crate::err!("  gander {paste} status");
            crate::err!("  curl http://{}/services", running.control);
            crate::err!(
                "  curl http://{}/fault/service-b/down     (modes: {})",
                running.control,
                Fault::NAMES.join(", ")
            );
            crate::err!("serving until interrupted (Ctrl-C)");
            wait_for_signal().await;
            return EXIT_OK;
        }
        watch(&running.config_dir, &dir, args.rounds).await
    })
}

/// Poll the fleet continuously and print a live status table each interval.
async fn watch(config_dir: &std::path::Path, state: &std::path::Path, rounds: Option<u32>) -> i32 {
    let loaded = match crate::io::config_dir::load_dir(config_dir) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    let Some(config) = loaded.config else {
        super::print_diagnostics(&loaded.diagnostics);
        return EXIT_USAGE;
    };
    let interval = Duration::from_secs(config.org.monitoring.poll_interval.secs().max(1));
    let http = match Http::new(HttpConfig {
        timeout: Duration::from_secs(config.org.monitoring.request_timeout.secs().max(1)),
        ..HttpConfig::default()
    }) {
        Ok(h) => h,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    let targets = Target::from_config(&config);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let window = Duration::from_secs(config.org.monitoring.window.secs());
    poll::spawn(
        http,
        targets,
        interval,
        window,
        crate::ops::live::CONCURRENCY,
        tx,
    );
    let graph = DepGraph::from_config(&config);
    let mut board = Board::default();
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    let mut printed = 0u32;
    crate::out!(
        "gander demo: {} services; config in {}; Ctrl-C to stop",
        config.services.len(),
        config_dir.display()
    );
    loop {
        tokio::select! {
            Some(o) = rx.recv() => board.apply(&o),
            _ = tick.tick() => {
                let now = Utc::now();
                let mut facts = Facts::from_config(&config, now);
                board.fill(&mut facts, &|_| "live metrics".into());
                // States, approvals and evidence from the demo's store, as `status` does.
                let mut notes = Vec::new();
                crate::ops::store::read_into(Some(state), config_dir, &config, &mut facts, &mut notes);
                for n in notes {
                    crate::err!("{n}");
                }
                print_round(&config, &graph, &facts, &board, now);
                printed += 1;
                if rounds.is_some_and(|r| printed >= r) {
                    return EXIT_OK;
                }
            }
            _ = wait_for_signal() => return EXIT_OK,
        }
    }
}

fn print_round(
    config: &crate::engine::config::Config,
    graph: &DepGraph,
    facts: &Facts,
    board: &Board,
    now: chrono::DateTime<Utc>,
) {
    let statuses = plan::status(config, graph, facts);
    let w = statuses
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(7)
        .max(7);
    crate::out!();
    crate::out!("{}  {}", config.org.org.name, now.format("%H:%M:%S UTC"));
    crate::out!(
        "  {:<w$}  {:<16}  {:>7}  {:>6}  {:<28}  HEALTH",
        "SERVICE",
        "STATE",
        "P95",
        "ERRORS",
        "NEXT"
    );
    for s in statuses.iter().take(40) {
        let l = board.services.get(&s.service);
        let p95 = l
            .and_then(|l| l.p95_ms)
            .map_or("-".into(), |v| format!("{v:.0}ms"));
        let err = l
            .and_then(|l| l.error_rate)
            .map_or("-".into(), |v| format!("{:.1}%", v * 100.0));
        let health = l.map_or("not polled yet".into(), |l| l.cell(now));
        let next = s
            .next
            .as_ref()
            .map_or("-".into(), |p| format!("{}: {}", p.to, p.verdict.as_str()));
        crate::out!(
            "  {:<w$}  {:<16}  {p95:>7}  {err:>6}  {next:<28}  {health}",
            s.service,
            s.state
        );
    }
    if statuses.len() > 40 {
        let down = board
            .services
            .values()
            .filter(|l| l.health != crate::engine::live::HealthState::Up)
            .count();
        crate::out!(
            "  … and {} more ({} of {} not up)",
            statuses.len() - 40,
            down,
            statuses.len()
        );
    }
}
