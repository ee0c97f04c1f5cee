//! The runtime: owns the terminal, runs one `tokio::select!` loop over key events, the
//! pollers' observations, the store's changes, Prometheus alerts, signals and a tick;
//! feeds each to `update`, runs the commands it returns on blocking tasks, and draws
//! only when the model changed (at most every 16 ms, so a burst of resizes is one draw).
//! The terminal is restored on quit, panic, SIGTERM and SIGHUP.

use super::keymap::Keymap;
use super::model::{Model, StoreView};
use super::update::{Command, Msg, update};
use crate::cli::store_ctx;
use crate::engine::config::Config;
use crate::engine::facts::Facts;
use crate::engine::ledger::Ledger;
use crate::io::http::{Http, HttpConfig};
use crate::io::poll::{self, Target};
use crate::io::prometheus::Prometheus;
use crate::ui::theme::Theme;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::{cursor, execute, queue, terminal};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct Options {
    pub config: Arc<Config>,
    pub config_dir: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub read_only: bool,
    pub theme: Option<String>,
}

/// Put the terminal back as it was. Safe to call twice.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(
        out,
        terminal::EndSynchronizedUpdate,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

/// The chain as the console shows it: ledger, chain facts, recent records.
pub fn load_store_view(
    opts_state: Option<&std::path::Path>,
    config_dir: &std::path::Path,
    config: &Config,
) -> StoreView {
    let Some(dir) = opts_state else {
        return StoreView::default();
    };
    if !dir.join("audit").join("chain.jsonl").exists() {
        // A state dir with no chain yet: an empty chain, which is valid.
        return StoreView {
            chain: Some(crate::engine::facts::Known::Known(
                crate::engine::ledger::chain_facts(0, None, 0),
            )),
            ..StoreView::default()
        };
    }
    let store = match crate::io::store::Store::open(dir) {
        Ok(s) => s,
        Err(e) => {
            return StoreView {
                error: Some(e.to_string()),
                ..StoreView::default()
            };
        }
    };
    let read = match store
        .lock(false, store_ctx::LOCK_WAIT)
        .and_then(|l| store.read(&l))
    {
        Ok(r) => r,
        Err(e) => {
            return StoreView {
                error: Some(e.to_string()),
                ..StoreView::default()
            };
        }
    };
    let (_, signers) = store_ctx::load_signers(config_dir, config);
    let mut facts = Facts::from_config(config, Utc::now());
    let ledger: Ledger = store_ctx::apply(&store, &read, signers.as_ref().ok(), &mut facts);
    let recent = read
        .records
        .iter()
        .rev()
        .take(50)
        .rev()
        .map(|(_, r)| {
            let by = r
                .evidence
                .signatures
                .first()
                .map_or("unsigned".to_string(), |s| s.principal.clone());
            format!(
                "chain #{} {} {} by {by} ({})",
                r.seq, r.service, r.evidence.kind, r.promotion_id
            )
        })
        .collect();
    StoreView {
        ledger,
        chain: Some(facts.chain),
        walks: crate::engine::walk::fold(&store_ctx::records(&read)),
        packages: crate::engine::package::fold(&store_ctx::records(&read)),
        recent,
        error: read.torn.as_ref().map(|t| format!("the chain ends in a torn record at line {} (crash mid-append); the next write sets it aside", t.line)),
    }
}

/// An action to run off the UI thread: poll the service it concerns once more (so the
/// decision is made on fresh facts, not on a poll that may be seconds old or not there
/// yet), then write to the store on a blocking thread, and report back.
struct Job {
    config: Arc<Config>,
    config_dir: PathBuf,
    state_dir: Option<PathBuf>,
    key: Option<PathBuf>,
    graph: Arc<crate::engine::resolver::DepGraph>,
    board: crate::engine::live::Board,
    http: Http,
    targets: Vec<Target>,
    tx: mpsc::Sender<Msg>,
}

type StoreWrite = Box<
    dyn FnOnce(
            &Config,
            &std::path::Path,
            Option<&std::path::Path>,
            Option<&std::path::Path>,
            &crate::engine::resolver::DepGraph,
            Facts,
        ) -> crate::cli::record::Said
        + Send,
>;

impl Job {
    fn new(
        model: &Model,
        config: &Arc<Config>,
        opts: &Options,
        http: &Http,
        tx: mpsc::Sender<Msg>,
        service: &str,
    ) -> Job {
        Job {
            config: config.clone(),
            config_dir: opts.config_dir.clone(),
            state_dir: opts.state_dir.clone(),
            key: opts.key.clone(),
            graph: model.graph.clone(),
            board: model.board.clone(),
            http: http.clone(),
            targets: Target::from_config(config)
                .into_iter()
                .filter(|t| t.service == service)
                .collect(),
            tx,
        }
    }

    async fn run<F>(mut self, what: String, write: F)
    where
        F: FnOnce(
                &Config,
                &std::path::Path,
                Option<&std::path::Path>,
                Option<&std::path::Path>,
                &crate::engine::resolver::DepGraph,
                Facts,
            ) -> crate::cli::record::Said
            + Send
            + 'static,
    {
        for t in &self.targets {
            let o = poll::observe(&self.http, t).await;
            self.board.apply(&o);
        }
        let mut live = Facts::from_config(&self.config, Utc::now());
        self.board.fill(&mut live, &|_| "live metrics".into());
        let Job {
            config,
            config_dir,
            state_dir,
            key,
            graph,
            tx,
            ..
        } = self;
        let write: StoreWrite = Box::new(write);
        let said = tokio::task::spawn_blocking(move || {
            write(
                &config,
                &config_dir,
                state_dir.as_deref(),
                key.as_deref(),
                &graph,
                live,
            )
        })
        .await;
        let said = said.unwrap_or_else(|e| crate::cli::record::Said {
            err: vec![format!("the action failed: {e}")],
            code: 2,
            ..Default::default()
        });
        let _ = tx.send(Msg::Done { what, said }).await;
    }
}

/// Run `gander package ARGS…` as a child process of this very binary (argv, no shell),
/// so the console and the CLI share one code path; its output becomes what it said.
fn run_package(
    config_dir: &std::path::Path,
    state: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
    args: &[String],
) -> crate::cli::record::Said {
    let mut cmd =
        std::process::Command::new(std::env::current_exe().unwrap_or_else(|_| "gander".into()));
    cmd.arg("--config").arg(config_dir);
    if let Some(s) = state {
        cmd.arg("--state-dir").arg(s);
    }
    cmd.arg("package")
        .args(args)
        .stdin(std::process::Stdio::null());
    if let Some(k) = key {
        cmd.env("GANDER_KEY", k);
    }
    match cmd.output() {
        Ok(o) => crate::cli::record::Said {
            out: String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
            err: String::from_utf8_lossy(&o.stderr)
                .lines()
                .map(|l| l.trim_start_matches("gander: ").to_string())
                .collect(),
            code: o.status.code().unwrap_or(2),
        },
        Err(e) => crate::cli::record::Said {
            err: vec![format!("cannot run gander package: {e}")],
            code: 2,
            ..Default::default()
        },
    }
}

/// Run the console until the operator quits or a signal arrives; returns the exit code.
pub fn run(opts: Options) -> i32 {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => run_on(&rt, opts),
        Err(e) => {
            eprintln!("gander: cannot start the async runtime: {e}");
            2
        }
    }
}

/// As [`run`], on a runtime that is already running other work (the demo fleet).
pub fn run_on(rt: &tokio::runtime::Runtime, opts: Options) -> i32 {
    let theme = match Theme::choose(opts.theme.as_deref(), Some(&opts.config_dir)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gander: {e}");
            return 2;
        }
    };
    let (keymap, problems) = Keymap::load(Some(&opts.config_dir));
    let identity = store_ctx::try_signer(&opts.config_dir, &opts.config, opts.key.as_deref())
        .map(|(s, _)| s.principal);
    let mut model = Model::new(
        opts.config.clone(),
        keymap,
        theme,
        identity,
        opts.read_only,
        Utc::now(),
    );
    let (books, book_problems) = crate::io::runbooks::load(&opts.config_dir);
    model.runbooks = books;
    for d in book_problems {
        model.push_log("warn", d.to_string());
    }
    for p in problems {
        model.push_log("warn", p);
    }
    if let Err(e) = &model.identity {
        model.push_log(
            "info",
            format!(
                "no identity, so no actions: {}",
                e.lines().next().unwrap_or_default()
            ),
        );
    }
    // Terminal setup, with a panic hook that restores it first.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
    if let Err(e) = terminal::enable_raw_mode() {
        eprintln!("gander: this is not a terminal ({e}); try `gander status`");
        return 2;
    }
    let mut stdout = std::io::stdout();
    if let Err(e) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
        restore_terminal();
        eprintln!("gander: {e}");
        return 2;
    }
    let backend = CrosstermBackend::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    let mut term = match Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => {
            restore_terminal();
            eprintln!("gander: {e}");
            return 2;
        }
    };
    let code = rt.block_on(main_loop(&mut term, &mut model, &opts));
    drop(term);
    restore_terminal();
    let _ = std::panic::take_hook();
    code
}

type Term = Terminal<CrosstermBackend<BufWriter<std::io::Stdout>>>;

fn draw(term: &mut Term, model: &Model) -> std::io::Result<()> {
    // Synchronized output: the terminal shows the frame at once, not as it arrives.
    queue!(term.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    term.draw(|f| crate::ui::render(f, model))?;
    queue!(term.backend_mut(), terminal::EndSynchronizedUpdate)?;
    term.backend_mut().flush()
}

async fn main_loop(term: &mut Term, model: &mut Model, opts: &Options) -> i32 {
    let config = opts.config.clone();
    let interval = Duration::from_secs(config.org.monitoring.poll_interval.secs().max(1));
    let http = match Http::new(HttpConfig {
        timeout: Duration::from_secs(config.org.monitoring.request_timeout.secs().max(1)),
        ..HttpConfig::default()
    }) {
        Ok(h) => h,
        Err(e) => {
            model.push_log("error", format!("http: {e}"));
            return 2;
        }
    };
    // Pollers.
    let (obs_tx, mut obs_rx) = mpsc::channel(4096);
    let targets = Target::from_config(&config);
    if targets
        .iter()
        .any(|t| t.live.is_some() || t.metrics.is_some())
    {
        poll::spawn(
            http.clone(),
            targets,
            interval,
            crate::cli::live::CONCURRENCY,
            obs_tx,
        );
    } else {
        drop(obs_tx);
    }
    // Prometheus alerts.
    let (prom_tx, mut prom_rx) = mpsc::channel(4);
    if let Some(url) = config.org.monitoring.prometheus_url.clone() {
        let auth = crate::io::http::resolve_auth(config.org.monitoring.prometheus_auth.as_ref())
            .unwrap_or(crate::io::http::Auth::None);
        let p = Prometheus::new(http.clone(), &url, auth);
        tokio::spawn(async move {
            loop {
                if let Ok(a) = p.alerts().await {
                    if prom_tx.send(a).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    // The store: reloaded when the chain file changes (by us or another console).
    let (store_tx, mut store_rx) = mpsc::channel(4);
    let reload = Arc::new(tokio::sync::Notify::new());
    {
        let (state, dir, cfg, reload) = (
            opts.state_dir.clone(),
            opts.config_dir.clone(),
            config.clone(),
            reload.clone(),
        );
        tokio::spawn(async move {
            let mut last: Option<(u64, Option<std::time::SystemTime>)> = None;
            loop {
                let stamp = state
                    .as_ref()
                    .and_then(|s| std::fs::metadata(s.join("audit").join("chain.jsonl")).ok())
                    .map(|md| (md.len(), md.modified().ok()));
                let now = stamp.unwrap_or((0, None));
                if last != Some(now) {
                    last = Some(now);
                    let (s, d, c) = (state.clone(), dir.clone(), cfg.clone());
                    if let Ok(view) =
                        tokio::task::spawn_blocking(move || load_store_view(s.as_deref(), &d, &c))
                            .await
                    {
                        if store_tx.send(Box::new(view)).await.is_err() {
                            return;
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = reload.notified() => { last = None; }
                }
            }
        });
    }
    let (done_tx, mut done_rx) = mpsc::channel::<Msg>(8);
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    #[cfg(unix)]
    let (mut sigterm, mut sighup) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::hangup()).ok(),
        )
    };
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let frame = Duration::from_millis(16);
    let mut draw_at: Option<tokio::time::Instant> = None;
    if draw(term, model).is_err() {
        return 2;
    }
    model.dirty = false;
    loop {
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
                Some(Ok(Event::Resize(_, _))) => Some(Msg::Resize),
                Some(Ok(_)) => None,
                // The terminal is gone (a dropped SSH session): stop, writing nothing.
                Some(Err(_)) | None => return 0,
            },
            Some(o) = obs_rx.recv() => Some(Msg::Observation(Box::new(o))),
            Some(s) = store_rx.recv() => Some(Msg::Store(s)),
            Some(a) = prom_rx.recv() => Some(Msg::PromAlerts(a)),
            Some(d) = done_rx.recv() => Some(d),
            _ = tick.tick() => Some(Msg::Tick(Utc::now())),
            _ = async { match draw_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                draw_at = None;
                None
            },
            _ = async {
                #[cfg(unix)]
                match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await }
                #[cfg(not(unix))]
                std::future::pending::<()>().await
            } => return 0,
            _ = async {
                #[cfg(unix)]
                match sighup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await }
                #[cfg(not(unix))]
                std::future::pending::<()>().await
            } => return 0,
        };
        if let Some(msg) = msg {
            for cmd in update(model, msg) {
                match cmd {
                    Command::Quit => return 0,
                    Command::ReloadStore => reload.notify_one(),
                    Command::Request {
                        service,
                        to,
                        reason,
                    } => {
                        let job = Job::new(model, &config, opts, &http, done_tx.clone(), &service);
                        tokio::spawn(job.run(
                            format!("promote {service} -> {to}"),
                            move |cfg, dir, state, key, graph, live| {
                                crate::cli::record::request(
                                    cfg, dir, state, graph, live, &service, &to, &reason, key,
                                )
                            },
                        ));
                    }
                    Command::RunbookStart { name, service } => {
                        let books = model.runbooks.clone();
                        let job = Job::new(model, &config, opts, &http, done_tx.clone(), "");
                        tokio::spawn(job.run(
                            format!("runbook {name} for {service}"),
                            move |cfg, dir, state, key, _g, _live| {
                                crate::cli::runbook::start(
                                    cfg,
                                    dir,
                                    state,
                                    &books,
                                    &name,
                                    &service,
                                    Default::default(),
                                    key,
                                )
                            },
                        ));
                    }
                    Command::Package { what, args } => {
                        let (dir, state, key, tx) = (
                            opts.config_dir.clone(),
                            opts.state_dir.clone(),
                            opts.key.clone(),
                            done_tx.clone(),
                        );
                        tokio::task::spawn_blocking(move || {
                            let said = run_package(&dir, state.as_deref(), key.as_deref(), &args);
                            let _ = tx.blocking_send(Msg::Done { what, said });
                        });
                    }
                    Command::RunbookResume { id } => {
                        let books = model.runbooks.clone();
                        let job = Job::new(model, &config, opts, &http, done_tx.clone(), "");
                        tokio::spawn(job.run(
                            format!("runbook resume {id}"),
                            move |cfg, dir, state, key, _g, _live| {
                                crate::cli::runbook::resume(cfg, dir, state, &books, &id, key)
                            },
                        ));
                    }
                    Command::RunbookStep { id, action, note } => {
                        let books = model.runbooks.clone();
                        let job = Job::new(model, &config, opts, &http, done_tx.clone(), "");
                        tokio::spawn(job.run(
                            format!("runbook step {id}"),
                            move |cfg, dir, state, key, _g, _live| {
                                crate::cli::runbook::complete(
                                    cfg, dir, state, &books, &id, action, &note, key,
                                )
                            },
                        ));
                    }
                    Command::Vote {
                        id,
                        approve,
                        reason,
                    } => {
                        let service = model
                            .store
                            .ledger
                            .get(&id)
                            .map(|p| p.service.clone())
                            .unwrap_or_default();
                        let job = Job::new(model, &config, opts, &http, done_tx.clone(), &service);
                        let verb = if approve { "approve" } else { "reject" };
                        tokio::spawn(job.run(
                            format!("{verb} {id}"),
                            move |cfg, dir, state, key, _graph, live| {
                                crate::cli::record::cast(
                                    cfg, dir, state, live, &id, &reason, key, approve,
                                )
                            },
                        ));
                    }
                }
            }
        }
        if model.quit {
            return 0;
        }
        if model.dirty {
            let now = Instant::now();
            if now.duration_since(last_draw) >= frame {
                if draw(term, model).is_err() {
                    return 0;
                }
                model.dirty = false;
                last_draw = now;
            } else if draw_at.is_none() {
                draw_at = Some(tokio::time::Instant::from_std(last_draw + frame));
            }
        }
    }
}
