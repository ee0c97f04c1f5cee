//! The runtime: owns the terminal, runs one `tokio::select!` loop over key events, the
//! pollers' observations, the store's changes, Prometheus alerts, signals and a tick;
//! feeds each to `update`, runs the commands it returns on blocking tasks, and draws
//! only when the model changed (at most every 16 ms, so a burst of resizes is one draw).
//! The terminal is restored on quit, panic, SIGTERM and SIGHUP.

pub mod jobs;
mod store_view;
mod term_guard;

pub use store_view::load_store_view;
pub use term_guard::{TerminalGuard, restore_terminal};

use super::keymap::Keymap;
use super::model::Model;
use super::update::{Command, Msg, Outcome, update};
use crate::engine::config::Config;
use crate::engine::resolver::DepGraph;
use crate::io::poll;
use crate::ops::live::{CONCURRENCY, LiveAccess, LiveSource};
use crate::ops::store as store_ctx;
use crate::ops::{Ctx, Said, promotions, walks};
use crate::theme::Theme;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::{queue, terminal};
use futures_util::StreamExt;
use jobs::{Job, UseCase};
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

/// Run the console until the operator quits or a signal arrives; returns the exit code.
pub fn run(opts: Options) -> i32 {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => run_on(&rt, opts),
        Err(e) => {
            crate::err!("gander: cannot start the async runtime: {e}");
            2
        }
    }
}

/// As [`run`], on a runtime that is already running other work (the demo fleet).
pub fn run_on(rt: &tokio::runtime::Runtime, opts: Options) -> i32 {
    let theme = match Theme::choose(opts.theme.as_deref(), Some(&opts.config_dir)) {
        Ok(t) => t,
        Err(e) => {
            crate::err!("gander: {e}");
            return 2;
        }
    };
    let (keymap, problems) = Keymap::load(Some(&opts.config_dir));
    let signer = store_ctx::try_signer(&opts.config_dir, &opts.config, opts.key.as_deref());
    let identity_key = signer.as_ref().ok().map(|(s, _)| s.fingerprint.clone());
    let identity = signer.map(|(s, _)| s.principal);
    let mut model = Model::new(
        opts.config.clone(),
        keymap,
        theme,
        identity,
        opts.read_only,
        Utc::now(),
    );
    model.identity_key = identity_key;
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
    let live = match LiveSource::from_config(&opts.config) {
        Ok(l) => l,
        Err(e) => {
            crate::err!("gander: {e}");
            return e.code();
        }
    };
    let guard = match TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            crate::err!("gander: {e}");
            return 2;
        }
    };
    let backend = CrosstermBackend::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    let mut term = match Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => {
            drop(guard);
            crate::err!("gander: {e}");
            return 2;
        }
    };
    let code = rt.block_on(main_loop(&mut term, &mut model, &opts, live));
    drop(term);
    drop(guard);
    code
}

type Term = Terminal<CrosstermBackend<BufWriter<std::io::Stdout>>>;

/// Render the model and write what changed. A frame identical to the one on screen
/// writes nothing at all (not even the synchronized-update or cursor sequences), so an
/// idle console on a steady fleet costs an SSH link zero bytes.
fn draw(
    term: &mut Term,
    model: &Model,
    shown: &mut Option<ratatui::buffer::Buffer>,
) -> std::io::Result<()> {
    term.autoresize()?;
    let mut frame = term.get_frame();
    crate::ui::render(&mut frame, model);
    if shown.as_ref() == Some(term.current_buffer_mut()) {
        // The previous buffer already matches the screen; keep the pair consistent.
        term.swap_buffers();
        return Ok(());
    }
    // Synchronized output: the terminal shows the frame at once, not as it arrives.
    queue!(term.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    term.flush()?;
    queue!(term.backend_mut(), terminal::EndSynchronizedUpdate)?;
    *shown = Some(term.current_buffer_mut().clone());
    term.swap_buffers();
    term.backend_mut().flush()
}

async fn main_loop(term: &mut Term, model: &mut Model, opts: &Options, live: LiveSource) -> i32 {
    let config = opts.config.clone();
    let interval = Duration::from_secs(config.org.monitoring.poll_interval.secs().max(1));
    // Pollers, on the org's one HTTP client.
    let (obs_tx, mut obs_rx) = mpsc::channel(4096);
    let (prom_tx, mut prom_rx) = mpsc::channel(4);
    if live.through_prometheus() {
        // Too many services to poll each: the fleet comes from Prometheus, in a few
        // queries a round. (An action still re-checks its own service directly.)
        drop(obs_tx);
        let source = live.clone();
        let tx = prom_tx.clone();
        tokio::spawn(async move {
            loop {
                if let Some((figures, errors)) = source.prometheus_figures().await {
                    let msg = Msg::PromFigures(Box::new((figures, errors)));
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
    } else if live.has_targets() {
        poll::spawn(
            live.http().clone(),
            live.targets().to_vec(),
            interval,
            Duration::from_secs(config.org.monitoring.window.secs()),
            CONCURRENCY,
            obs_tx,
        );
    } else {
        drop(obs_tx);
    }
    // Prometheus alerts; an error (unreachable, auth refused, TLS) is a visible state.
    if let Some(p) = live.prometheus().cloned() {
        tokio::spawn(async move {
            loop {
                let msg = match p.alerts().await {
                    Ok(a) => vec![Msg::PromError(None), Msg::PromAlerts(a)],
                    Err(e) => vec![Msg::PromError(Some(e.to_string()))],
                };
                for m in msg {
                    if prom_tx.send(m).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    // Alertmanager's silences, read on the same interval; an error is shown, not hidden.
    let alertmanager = config.org.monitoring.alertmanager_url.as_deref().map(|u| {
        crate::io::alertmanager::Alertmanager::new(
            live.http().clone(),
            u,
            crate::io::http::Auth::None,
        )
    });
    let (silences_tx, mut silences_rx) = mpsc::channel::<Msg>(4);
    if let Some(am) = alertmanager.clone() {
        let tx = silences_tx.clone();
        tokio::spawn(async move {
            loop {
                let r = am.silences().await.map_err(|e| e.to_string());
                if tx.send(Msg::Silences(r)).await.is_err() {
                    return;
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    let ctx = Ctx::new(config.clone(), &opts.config_dir, opts.state_dir.as_deref())
        .with_key(opts.key.as_deref());
    let (link_tx, mut link_rx) = mpsc::channel::<Msg>(8);
    let done_link = link_tx;
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
        let location = crate::ops::store::locate(&config, state.as_deref()).ok();
        let chain_file = location
            .as_ref()
            .map(|l| l.root().join("audit").join("chain.jsonl"));
        // PostgreSQL: another operator's write arrives as a notification and reloads
        // the view (which brings this bastion's copy up to date); a lost connection is
        // a visible state.
        if let Some(crate::ops::store::Location::Postgres { spec, .. }) = &location {
            let (reload, link) = (reload.clone(), done_link.clone());
            let spec = spec.clone();
            tokio::spawn(async move {
                crate::io::pg::listen(
                    spec,
                    || {
                        reload.notify_one();
                        !link.is_closed()
                    },
                    |e| {
                        let _ = link.try_send(Msg::StoreLink(e));
                    },
                )
                .await;
            });
        }
        tokio::spawn(async move {
            let mut last: Option<(u64, Option<std::time::SystemTime>)> = None;
            loop {
                let stamp = chain_file
                    .as_ref()
                    .and_then(|f| std::fs::metadata(f).ok())
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
    let mut shown = None;
    if draw(term, model, &mut shown).is_err() {
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
            Some(p) = prom_rx.recv() => Some(p),
            Some(a) = silences_rx.recv() => Some(a),
            Some(l) = link_rx.recv() => Some(l),
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
                    Command::Silence {
                        alert,
                        matchers,
                        minutes,
                        created_by,
                        comment,
                    } => {
                        // Alertmanager, not the chain: a network call on its own task.
                        let (am, tx) = (alertmanager.clone(), done_tx.clone());
                        let am_tx = silences_tx.clone();
                        tokio::spawn(async move {
                            let mut said = Said::default();
                            match am {
                                None => {
                                    said.code = crate::ops::EXIT_USAGE;
                                    said.err
                                        .push("no monitoring.alertmanager_url configured".into());
                                }
                                Some(am) => {
                                    let now = Utc::now();
                                    let ends = now + chrono::Duration::minutes(minutes);
                                    match am.silence(&matchers, now, ends, &created_by, &comment).await {
                                        Ok(id) => said.out.push(format!(
                                            "silence {id} in {} until {} (by {created_by}: {comment})",
                                            am.url(),
                                            ends.format("%Y-%m-%d %H:%M UTC")
                                        )),
                                        Err(e) => {
                                            said.code = crate::ops::EXIT_UNREACHABLE;
                                            said.err.push(e.to_string());
                                        }
                                    }
                                    let _ = am_tx
                                        .send(Msg::Silences(
                                            am.silences().await.map_err(|e| e.to_string()),
                                        ))
                                        .await;
                                }
                            }
                            let _ = tx
                                .send(Msg::Done {
                                    what: format!("silence {alert}"),
                                    kind: Outcome::Silence,
                                    said,
                                })
                                .await;
                        });
                    }
                    cmd => {
                        let (what, kind, service, use_case) = use_case(model, cmd);
                        let job = Job {
                            ctx: ctx.clone(),
                            live: live.clone(),
                            graph: model.graph.clone(),
                            board: model.board.clone(),
                            service,
                            tx: done_tx.clone(),
                        };
                        tokio::spawn(job.run(what, kind, use_case));
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
                if draw(term, model, &mut shown).is_err() {
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

/// The use case a command asks for: what to call it, its kind of outcome, the service
/// to re-check first, and the call into `ops`.
fn use_case(model: &Model, cmd: Command) -> (String, Outcome, Option<String>, UseCase) {
    let books = Arc::new(model.runbooks.clone());
    match cmd {
        Command::Request {
            service,
            to,
            reason,
        } => (
            format!("promote {service} -> {to}"),
            Outcome::Promotion,
            Some(service.clone()),
            Box::new(move |ctx: &Ctx, _: &LiveAccess, graph: &DepGraph, facts| {
                promotions::request(ctx, graph, facts, &service, &to, &reason)
            }),
        ),
        Command::Vote {
            id,
            approve,
            reason,
        } => {
            let service = model.store.ledger.get(&id).map(|p| p.service.clone());
            let vote = if approve {
                crate::engine::authority::Vote::Approve
            } else {
                crate::engine::authority::Vote::Reject
            };
            (
                format!("{} {id}", if approve { "approve" } else { "reject" }),
                Outcome::Promotion,
                service,
                Box::new(move |ctx: &Ctx, _: &LiveAccess, _: &DepGraph, facts| {
                    promotions::cast(ctx, facts, &id, &reason, vote)
                }),
            )
        }
        Command::Package(p) => (
            p.describe(),
            Outcome::Package,
            None,
            Box::new(move |ctx: &Ctx, _: &LiveAccess, _: &DepGraph, _| p.run(ctx)),
        ),
        Command::RunbookStart { name, service } => (
            format!("runbook {name} for {service}"),
            Outcome::Walk,
            None,
            Box::new(move |ctx: &Ctx, live: &LiveAccess, _: &DepGraph, _| {
                walks::start(ctx, live, &books, &name, &service, Default::default())
            }),
        ),
        Command::RunbookResume { id } => (
            format!("runbook resume {id}"),
            Outcome::Walk,
            None,
            Box::new(move |ctx: &Ctx, live: &LiveAccess, _: &DepGraph, _| {
                walks::resume(ctx, live, &books, &id)
            }),
        ),
        Command::RunbookStep { id, action, note } => (
            format!("runbook step {id}"),
            Outcome::Walk,
            None,
            Box::new(move |ctx: &Ctx, live: &LiveAccess, _: &DepGraph, _| {
                walks::complete(ctx, live, &books, &id, action, &note)
            }),
        ),
        // Handled by the main loop itself, never as a use case.
        Command::Quit | Command::ReloadStore | Command::Silence { .. } => (
            String::new(),
            Outcome::Promotion,
            None,
            Box::new(|_: &Ctx, _: &LiveAccess, _: &DepGraph, _| Said::default()),
        ),
    }
}
