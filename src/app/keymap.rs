//! Keys as data: every action has a name, a description and its keys. The help screen
//! and the hint bar are built from this table, so they cannot disagree with it.
//! `CONFIG/keymap.toml` remaps keys (`approve = ["A"]`); a key bound to two actions is
//! reported and the default binding kept.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    NextPanel,
    PrevPanel,
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Back,
    Filter,
    CommandLine,
    Help,
    Sort,
    Promote,
    Approve,
    Reject,
    Grid,
    Graph,
    Pipeline,
    Approvals,
    Alerts,
    Log,
    Runbooks,
    Packages,
    Silence,
}

impl Action {
    pub const ALL: [Action; 27] = [
        Action::Quit,
        Action::NextPanel,
        Action::PrevPanel,
        Action::Down,
        Action::Up,
        Action::Top,
        Action::Bottom,
        Action::PageDown,
        Action::PageUp,
        Action::Open,
        Action::Back,
        Action::Filter,
        Action::CommandLine,
        Action::Help,
        Action::Sort,
        Action::Promote,
        Action::Approve,
        Action::Reject,
        Action::Grid,
        Action::Graph,
        Action::Pipeline,
        Action::Approvals,
        Action::Alerts,
        Action::Log,
        Action::Runbooks,
        Action::Packages,
        Action::Silence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::NextPanel => "next_panel",
            Action::PrevPanel => "prev_panel",
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageDown => "page_down",
            Action::PageUp => "page_up",
            Action::Open => "open",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::CommandLine => "command_line",
            Action::Help => "help",
            Action::Sort => "sort",
            Action::Promote => "promote",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Grid => "grid",
            Action::Graph => "graph",
            Action::Pipeline => "pipeline",
            Action::Approvals => "approvals",
            Action::Alerts => "alerts",
            Action::Log => "log",
            Action::Runbooks => "runbooks",
            Action::Packages => "packages",
            Action::Silence => "silence",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::NextPanel => "next panel",
            Action::PrevPanel => "previous panel",
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "first",
            Action::Bottom => "last",
            Action::PageDown => "page down",
            Action::PageUp => "page up",
            Action::Open => "open / why",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::CommandLine => "command",
            Action::Help => "help",
            Action::Sort => "sort",
            Action::Promote => "promote",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Grid => "grid",
            Action::Graph => "graph",
            Action::Pipeline => "pipeline",
            Action::Approvals => "approvals",
            Action::Alerts => "alerts",
            Action::Log => "log",
            Action::Runbooks => "runbooks",
            Action::Packages => "packages",
            Action::Silence => "silence an alert (Alertmanager)",
        }
    }

    /// Actions that change the record; hidden and ignored under `--read-only`.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Promote | Action::Approve | Action::Reject | Action::Silence
        )
    }

    fn defaults(self) -> &'static [&'static str] {
        match self {
            Action::Quit => &["q", "ctrl-c"],
            Action::NextPanel => &["tab"],
            Action::PrevPanel => &["backtab"],
            Action::Down => &["j", "down"],
            Action::Up => &["k", "up"],
            Action::Top => &["g", "home"],
            Action::Bottom => &["G", "end"],
            Action::PageDown => &["pagedown", "ctrl-d"],
            Action::PageUp => &["pageup", "ctrl-u"],
            Action::Open => &["enter"],
            Action::Back => &["esc"],
            Action::Filter => &["/"],
            Action::CommandLine => &[":"],
            Action::Help => &["?"],
            Action::Sort => &["s"],
            Action::Promote => &["p"],
            Action::Approve => &["a"],
            Action::Reject => &["x"],
            Action::Grid => &["1"],
            Action::Graph => &["2"],
            Action::Pipeline => &["3"],
            Action::Approvals => &["4"],
            Action::Alerts => &["5"],
            Action::Log => &["6"],
            Action::Runbooks => &["7"],
            Action::Packages => &["8"],
            Action::Silence => &["S"],
        }
    }
}

/// A key as written in keymap.toml: `q`, `G`, `enter`, `ctrl-d`, `f5`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let (ctrl, rest) = match s.strip_prefix("ctrl-") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            other => {
                return Err(format!(
                    "`{other}` is not a key (try a letter, enter, esc, tab, up, pagedown, f5, ctrl-x)"
                ));
            }
        };
        Ok(Key { code, ctrl })
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        // Terminals send shift+letter as the upper-case letter, so no SHIFT here.
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "S-Tab".to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".to_string(),
        };
        if self.ctrl { format!("^{base}") } else { base }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::build(&BTreeMap::new()).0
    }
}

impl Keymap {
    /// Defaults with `overrides` (action name -> keys) applied; returns the problems
    /// found (unknown actions or keys, a key bound twice).
    fn build(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut problems = Vec::new();
        for name in overrides.keys() {
            if !Action::ALL.iter().any(|a| a.name() == name) {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                problems.push(format!(
                    "keymap: unknown action `{name}`{}",
                    crate::engine::diag::suggest(name, names.iter().copied())
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ));
            }
        }
        let mut by_key: HashMap<Key, Action> = HashMap::new();
        let mut by_action: BTreeMap<Action, Vec<Key>> = BTreeMap::new();
        // Overridden actions first, so a user's binding wins over a default it collides with.
        let mut order: Vec<Action> = Action::ALL.to_vec();
        order.sort_by_key(|a| !overrides.contains_key(a.name()));
        for a in order {
            let specs: Vec<String> = match overrides.get(a.name()) {
                Some(v) => v.clone(),
                None => a.defaults().iter().map(|s| s.to_string()).collect(),
            };
            for spec in specs {
                match Key::parse(&spec) {
                    Ok(k) => match by_key.get(&k) {
                        Some(other) if *other != a => problems.push(format!(
                            "keymap: `{spec}` is bound to both `{}` and `{}`; kept for `{}`",
                            other.name(),
                            a.name(),
                            other.name()
                        )),
                        _ => {
                            by_key.insert(k, a);
                            by_action.entry(a).or_default().push(k);
                        }
                    },
                    Err(e) => problems.push(format!("keymap: {}: {e}", a.name())),
                }
            }
        }
        (Keymap { by_key, by_action }, problems)
    }

    /// `CONFIG/keymap.toml` over the defaults.
    pub fn load(config_dir: Option<&Path>) -> (Keymap, Vec<String>) {
        let Some(path) = config_dir.map(|d| d.join("keymap.toml")) else {
            return (Keymap::default(), Vec::new());
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return (Keymap::default(), Vec::new());
        };
        match toml::from_str::<KeymapFile>(&text) {
            Ok(f) => Keymap::build(&f.keys),
            Err(e) => (Keymap::default(), vec![format!("{}: {e}", path.display())]),
        }
    }

    pub fn from_overrides(o: &[(&str, &[&str])]) -> (Keymap, Vec<String>) {
        let map = o
            .iter()
            .map(|(a, ks)| (a.to_string(), ks.iter().map(|s| s.to_string()).collect()))
            .collect();
        Keymap::build(&map)
    }

    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        self.by_key.get(&Key::from_event(e)).copied()
    }

    /// The first key of an action, as shown in hints ("q", "Enter").
    pub fn label(&self, a: Action) -> String {
        self.by_action
            .get(&a)
            .and_then(|k| k.first())
            .map_or("-".into(), Key::label)
    }

    pub fn labels(&self, a: Action) -> String {
        let keys = self.key_labels(a);
        if keys.is_empty() {
            "-".into()
        } else {
            keys.join("/")
        }
    }

    /// Every key of an action, as shown ("j", "↓").
    pub fn key_labels(&self, a: Action) -> Vec<String> {
        self.by_action
            .get(&a)
            .map(|ks| ks.iter().map(Key::label).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_have_no_conflicts() {
        let (k, problems) = Keymap::build(&BTreeMap::new());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(k.action(&ev('q')), Some(Action::Quit));
        assert_eq!(
            k.action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(k.action(&ev('G')), Some(Action::Bottom));
        assert_eq!(k.labels(Action::Down), "j/↓");
    }

    #[test]
    fn remapping_and_conflicts_are_reported() {
        let (k, problems) =
            Keymap::from_overrides(&[("approve", &["A"]), ("sort", &["q"]), ("aprove", &["z"])]);
        assert_eq!(k.action(&ev('A')), Some(Action::Approve));
        assert_eq!(k.action(&ev('a')), None, "the default key is replaced");
        assert_eq!(
            k.action(&ev('q')),
            Some(Action::Sort),
            "the user's binding wins"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "keymap: `q` is bound to both `sort` and `quit`; kept for `sort`"),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.starts_with("keymap: unknown action `aprove` (did you mean `approve`?)")), "{problems:?}");
        let (_, problems) = Keymap::from_overrides(&[("quit", &["ctrl-shift-q"])]);
        assert!(problems[0].contains("is not a key"), "{problems:?}");
    }
}
