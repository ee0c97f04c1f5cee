//! The console's state. Everything the screen shows is here; `ui::render` only reads
//! it, and `update` is the only thing that changes it.

use super::keymap::Keymap;
use crate::engine::alerts::LocalAlert;
use crate::engine::config::Config;
use crate::engine::facts::{ChainFacts, Facts, Known};
use crate::engine::ledger::Ledger;
use crate::engine::live::Board;
use crate::engine::plan::{self, ServiceStatus};
use crate::engine::resolver::DepGraph;
use crate::io::prometheus::Alert;
use crate::theme::Theme;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Arc;

mod alerts;
mod view;
pub use alerts::{AlertRow, pages, severity_rank};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Grid,
    Graph,
    Pipeline,
    Approvals,
    Alerts,
    Log,
    Runbooks,
    Packages,
}

impl Panel {
    pub const ALL: [Panel; 8] = [
        Panel::Grid,
        Panel::Graph,
        Panel::Pipeline,
        Panel::Approvals,
        Panel::Alerts,
        Panel::Log,
        Panel::Runbooks,
        Panel::Packages,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Grid => "Grid",
            Panel::Graph => "Graph",
            Panel::Pipeline => "Pipeline",
            Panel::Approvals => "Approvals",
            Panel::Alerts => "Alerts",
            Panel::Log => "Log",
            Panel::Runbooks => "Runbooks",
            Panel::Packages => "Packages",
        }
    }

    pub fn index(self) -> usize {
        Panel::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Promotion order (dependencies first).
    Order,
    Name,
    /// Worst health first.
    Health,
}

/// A line typed at the bottom: a filter or a `:` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Command(String),
}

/// What a confirmation dialog will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogAction {
    Promote {
        service: String,
        to: String,
    },
    Vote {
        id: String,
        approve: bool,
    },
    /// A package use case (the reason typed is added on confirming), and whether a
    /// reason is required.
    Package {
        cmd: crate::ops::packages::PackageCmd,
        needs_reason: bool,
    },
    /// Start a runbook walk (its start and each check are recorded in the chain).
    StartWalk {
        name: String,
        service: String,
        /// Other runbooks that apply (Tab chooses among them; the first was the
        /// alert's own runbook_url when it named one).
        others: Vec<String>,
    },
    /// Silence one alert in Alertmanager (its exact labels; the comment is the reason).
    Silence {
        alert: String,
        labels: std::collections::BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub action: DialogAction,
    /// What the operator should know before pressing the key (four-eyes, expiry…).
    pub info: Vec<String>,
    pub reason: String,
    /// Second step: the explicit y/n confirmation.
    pub confirming: bool,
    /// Set when the action is not allowed for this identity (shown, never sent).
    pub blocked: Option<String>,
}

/// At most one popup at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    Help,
    /// The drill-in view of one service.
    Detail(String),
    Dialog(Dialog),
    /// A message (an action's outcome), dismissed with any key.
    Message {
        title: String,
        lines: Vec<String>,
    },
    /// A runbook walk: its steps, where it is, and the keys to go on.
    Walk(WalkView),
}

/// The walk view's state: which walk, and a line being typed (a skip reason, a note) or
/// a command waiting for its explicit confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkView {
    pub id: String,
    pub typing: Option<(WalkInput, String)>,
    /// The last outcome lines of an action on this walk.
    pub said: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkInput {
    SkipReason,
    Note,
    ConfirmRun,
    /// Running the current check and recording what it found, asked before it runs.
    ConfirmCheck,
    /// A decision's answer, asked again before it is recorded.
    ConfirmAnswer(bool),
    /// An approval step, asked again before it is recorded.
    ConfirmApprove,
    /// A manual step's confirmation (with the note typed), asked again.
    ConfirmNote,
    /// A skip (with the reason typed), asked again.
    ConfirmSkip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub level: &'static str,
    pub text: String,
}

/// What the chain looked like when last read.
#[derive(Debug, Clone, Default)]
pub struct StoreView {
    pub ledger: Ledger,
    pub chain: Option<Known<ChainFacts>>,
    /// The last records, newest last, as one-line summaries for the Log panel.
    pub recent: Vec<String>,
    /// Runbook walks on record.
    pub walks: Vec<crate::engine::walk::Walk>,
    /// Golden Goose packages and what each stage runs.
    pub packages: crate::engine::package::Stages,
    pub error: Option<String>,
}

pub struct Model {
    pub config: Arc<Config>,
    pub graph: Arc<DepGraph>,
    pub board: Board,
    pub store: StoreView,
    pub prom_alerts: Vec<Alert>,
    /// Why Prometheus could not be read, while it cannot.
    pub prom_error: Option<String>,
    /// Since when Prometheus cannot be read.
    pub prom_down_since: Option<DateTime<Utc>>,
    /// Alertmanager's silences in force (when `monitoring.alertmanager_url` is set).
    pub silences: Vec<crate::io::alertmanager::Silence>,
    /// Why Alertmanager could not be read, if it could not.
    pub am_error: Option<String>,
    /// Since when, and why, the team store's database cannot be reached (PostgreSQL).
    pub store_down: Option<(DateTime<Utc>, String)>,
    pub now: DateTime<Utc>,
    /// Derived: each service's status, in promotion order (recomputed on refresh).
    pub statuses: Vec<ServiceStatus>,
    /// The facts the statuses were computed from, kept so that a poll of one service
    /// recomputes that service alone.
    facts: Option<Facts>,
    /// Services polled since the last refresh (only their live facts changed).
    pub live_changed: std::collections::HashSet<String>,
    /// When every status was last recomputed (time-based gates age with the clock).
    last_full: Option<DateTime<Utc>>,
    pub local_alerts: Vec<LocalAlert>,
    /// When each of gander's own alerts (`name\0service`) was first seen firing.
    pub alert_seen: std::collections::HashMap<String, DateTime<Utc>>,
    /// Derived: the graph's layers (depth from the roots), names sorted.
    pub layers: Vec<Vec<String>>,
    /// Derived: service name -> its index in `statuses`.
    pub index: std::collections::HashMap<String, usize>,
    /// Derived: service name -> the services that depend on it directly.
    pub dependents: std::collections::HashMap<String, Vec<String>>,
    pub panel: Panel,
    pub cursor: [usize; 8],
    pub filter: String,
    /// What `/` typed in the Log panel: only lines containing it (any case) are shown.
    pub log_search: String,
    pub input: Option<Input>,
    pub popup: Option<Popup>,
    /// How far the open popup (drill-in, help) is scrolled, in rows.
    pub popup_scroll: u16,
    /// The furthest it can scroll, as last drawn (the renderer knows the wrapped height).
    pub popup_max_scroll: std::cell::Cell<u16>,
    /// Where the walk view's steps were last drawn from (its ↑/↓ start there).
    pub popup_drawn_at: std::cell::Cell<u16>,
    /// `/` in a scrolling popup: the text searched, and whether it is still being typed.
    pub popup_search: Option<(String, bool)>,
    /// The rows (as last drawn) where the search matches, for `n` and `N`.
    pub popup_matches: std::cell::RefCell<Vec<u16>>,
    pub sort: Sort,
    pub log: VecDeque<LogLine>,
    pub read_only: bool,
    /// The principal the operator's key maps to, or why there is none.
    pub identity: Result<String, String>,
    /// The fingerprint of the operator's key (four-eyes is by key, not only by name).
    pub identity_key: Option<String>,
    pub busy: Option<String>,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The runbooks (built in and CONFIG/runbooks), for the Runbooks panel.
    pub runbooks: Vec<crate::engine::runbook::Named>,
    pub last_poll: Option<DateTime<Utc>>,
    /// When the first poll answered (a fleet that never answered is down since then).
    pub first_poll: Option<DateTime<Utc>>,
    pub poll_interval_secs: u64,
    /// Facts changed since the derived data was computed.
    pub stale: bool,
    /// The screen must be drawn again.
    pub dirty: bool,
    pub quit: bool,
}

impl Model {
    pub fn new(
        config: Arc<Config>,
        keymap: Keymap,
        theme: Theme,
        identity: Result<String, String>,
        read_only: bool,
        now: DateTime<Utc>,
    ) -> Model {
        let graph = Arc::new(DepGraph::from_config(&config));
        let layers = layers(&graph, &config);
        let mut m = Model {
            poll_interval_secs: config.org.monitoring.poll_interval.secs().max(1),
            config,
            graph,
            board: Board::default(),
            store: StoreView::default(),
            prom_alerts: Vec::new(),
            prom_error: None,
            prom_down_since: None,
            silences: Vec::new(),
            am_error: None,
            store_down: None,
            identity_key: None,
            now,
            statuses: Vec::new(),
            local_alerts: Vec::new(),
            alert_seen: std::collections::HashMap::new(),
            facts: None,
            live_changed: std::collections::HashSet::new(),
            last_full: None,
            layers,
            index: std::collections::HashMap::new(),
            dependents: std::collections::HashMap::new(),
            panel: Panel::Grid,
            cursor: [0; 8],
            filter: String::new(),
            log_search: String::new(),
            input: None,
            popup: None,
            popup_scroll: 0,
            popup_max_scroll: std::cell::Cell::new(0),
            popup_search: None,
            popup_drawn_at: std::cell::Cell::new(0),
            popup_matches: std::cell::RefCell::new(Vec::new()),
            sort: Sort::Order,
            log: VecDeque::new(),
            read_only,
            identity,
            busy: None,
            keymap,
            theme,
            runbooks: Vec::new(),
            last_poll: None,
            first_poll: None,
            stale: true,
            dirty: true,
            quit: false,
        };
        m.refresh();
        m
    }

    /// Recompute what is derived from the facts.
    pub fn refresh(&mut self) {
        let mut facts = Facts::from_config(&self.config, self.now);
        self.board.fill(&mut facts, &|_| "live metrics".into());
        self.store.ledger.fill(&mut facts);
        if let Some(c) = &self.store.chain {
            facts.chain = c.clone();
        }
        self.statuses = plan::status_with(&self.config, &self.graph, &facts, false);
        self.facts = Some(facts);
        self.live_changed.clear();
        self.last_full = Some(self.now);
        self.index = self
            .statuses
            .iter()
            .enumerate()
            .map(|(i, s)| (s.service.clone(), i))
            .collect();
        self.dependents.clear();
        for s in &self.statuses {
            for d in &s.dependencies {
                self.dependents
                    .entry(d.service.clone())
                    .or_default()
                    .push(s.service.clone());
            }
        }
        self.refresh_alerts();
        self.stale = false;
        self.dirty = true;
    }

    /// Recompute only the services polled since the last refresh: a service's status
    /// reads its own live facts and the others' states (which only the store changes,
    /// and a store change refreshes everything). Everything is recomputed at least
    /// every 30 s, since time-based checks (evidence age, soak, expiry) age anyway.
    pub fn refresh_live(&mut self) {
        let half = self.statuses.len() / 2;
        let due = self
            .last_full
            .is_none_or(|t| self.now - t >= chrono::Duration::seconds(30));
        let Some(mut facts) = self
            .facts
            .take()
            .filter(|_| !due && self.live_changed.len() <= half)
        else {
            return self.refresh();
        };
        facts.now = self.now;
        let sm = crate::engine::state_machine::StateMachine::new(&self.config.rules);
        for name in std::mem::take(&mut self.live_changed) {
            self.board
                .fill_one(&name, &mut facts, &|_| "live metrics".into());
            if let (Some(&i), Some(svc)) = (self.index.get(&name), self.config.service(&name)) {
                self.statuses[i] =
                    plan::status_of(&self.config, &self.graph, &facts, &sm, svc, false);
            }
        }
        self.facts = Some(facts);
        self.refresh_alerts();
        self.dirty = true;
    }

    /// gander's own alerts from the board, and since when each has fired.
    fn refresh_alerts(&mut self) {
        self.local_alerts = crate::engine::alerts::evaluate(&self.config, &self.board);
        let now = self.now;
        let mut seen = std::mem::take(&mut self.alert_seen);
        self.alert_seen = self
            .local_alerts
            .iter()
            .map(|a| {
                let key = format!("{}\0{}", a.alert, a.service);
                let first = seen.remove(&key).unwrap_or(now);
                // A service that started failing before gander saw it: its own figure.
                let first = match a.since {
                    Some(s) if a.alert.starts_with("Service") => s.min(first),
                    _ => first,
                };
                (key, first)
            })
            .collect();
    }

    /// Add to the Log. The Log follows the newest entry, unless the operator has moved
    /// up to read an older one (then it stays on that entry as older ones roll off).
    pub fn push_log(&mut self, level: &'static str, text: impl Into<String>) {
        let i = Panel::Log.index();
        let shown = self.log_view().len();
        let following = shown == 0 || self.cursor[i] + 1 >= shown;
        self.log.push_back(LogLine {
            at: self.now,
            level,
            text: crate::diag::visible(&text.into()).into_owned(),
        });
        let mut dropped = 0;
        while self.log.len() > 500 {
            if let Some(old) = self.log.pop_front() {
                dropped += usize::from(self.log_matches(&old));
            }
        }
        self.cursor[i] = if following {
            self.log_view().len().saturating_sub(1)
        } else {
            self.cursor[i].saturating_sub(dropped)
        };
        self.dirty = true;
    }

    fn log_matches(&self, l: &LogLine) -> bool {
        self.log_search.is_empty()
            || l.text
                .to_lowercase()
                .contains(&self.log_search.to_lowercase())
            || l.level.contains(&self.log_search.to_lowercase())
    }

    /// The Log lines shown (indices into `log`): those matching the search, oldest first.
    pub fn log_view(&self) -> Vec<usize> {
        (0..self.log.len())
            .filter(|i| self.log_matches(&self.log[*i]))
            .collect()
    }

    /// The grid's rows: statuses filtered and sorted.
    pub fn rows(&self) -> Vec<&ServiceStatus> {
        let f = self.filter.to_lowercase();
        let mut rows: Vec<&ServiceStatus> = self
            .statuses
            .iter()
            .filter(|s| {
                f.is_empty()
                    || s.service.to_lowercase().contains(&f)
                    || s.state.to_lowercase().contains(&f)
                    || self.health_word(&s.service).contains(&f)
            })
            .collect();
        match self.sort {
            Sort::Order => {}
            Sort::Name => rows.sort_by(|a, b| a.service.cmp(&b.service)),
            Sort::Health => rows.sort_by_key(|s| std::cmp::Reverse(self.health_rank(&s.service))),
        }
        rows
    }

    pub fn status_of(&self, service: &str) -> Option<&ServiceStatus> {
        self.index.get(service).and_then(|i| self.statuses.get(*i))
    }

    pub fn health_word(&self, service: &str) -> &'static str {
        use crate::engine::live::HealthState::*;
        match self.board.services.get(service).map(|l| l.health) {
            Some(Up) => "up",
            Some(Degraded) => "degraded",
            Some(Down) => "down",
            _ => "unknown",
        }
    }

    fn health_rank(&self, service: &str) -> u8 {
        match self.health_word(service) {
            "down" => 3,
            "degraded" => 2,
            "unknown" => 1,
            _ => 0,
        }
    }

    /// A service's mode thresholds: (p95 ms, error rate), as its alerts use them.
    pub fn thresholds(&self, service: &str) -> Option<(f64, f64)> {
        let svc = self.config.service(service)?;
        let t = &self
            .config
            .org
            .modes
            .get(svc.def.spec.compliance_mode)
            .thresholds;
        Some((t.p95_latency_ms, t.error_rate))
    }

    /// Open promotions (the Approvals panel's rows).
    pub fn open_promotions(&self) -> Vec<&crate::engine::ledger::Promotion> {
        self.store
            .ledger
            .promotions
            .iter()
            .filter(|p| p.status == crate::engine::ledger::PromotionStatus::Open)
            .collect()
    }

    /// All promotions, newest first (the Pipeline panel's rows).
    pub fn pipeline(&self) -> Vec<&crate::engine::ledger::Promotion> {
        self.store.ledger.promotions.iter().rev().collect()
    }

    /// How many rows the current panel has (for the cursor).
    pub fn row_count(&self) -> usize {
        match self.panel {
            Panel::Grid => self.rows().len(),
            Panel::Graph => self.graph_order().len(),
            Panel::Pipeline => self.pipeline().len(),
            Panel::Approvals => self.open_promotions().len(),
            Panel::Alerts => self.alerts().len(),
            Panel::Log => self.log_view().len(),
            Panel::Runbooks => self.runbooks.len() + self.walk_rows().len(),
            Panel::Packages => self.store.packages.packages.len(),
        }
    }

    /// Services in graph-panel order: layer by layer.
    pub fn graph_order(&self) -> Vec<&str> {
        let f = self.filter.to_lowercase();
        self.layers
            .iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| f.is_empty() || s.to_lowercase().contains(&f))
            .collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor[self.panel.index()]
    }
}

/// Layers: a service's layer is one more than its deepest dependency's.
pub fn layers(graph: &DepGraph, config: &Config) -> Vec<Vec<String>> {
    let Ok(order) = graph.order() else {
        return vec![
            config
                .services
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
        ];
    };
    let mut depth: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for name in order {
        let d = graph
            .direct(name)
            .iter()
            .filter_map(|(dep, _)| depth.get(dep))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        depth.insert(name, d);
        if out.len() <= d {
            out.resize(d + 1, Vec::new());
        }
        out[d].push(name.to_string());
    }
    for l in &mut out {
        l.sort();
    }
    out
}
