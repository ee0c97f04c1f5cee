//! The scriptable front end: one module per subcommand, all on the same engine.
//!
//! Exit codes (PRODUCT.md): 0 ok, 1 a check or gate failed, 2 bad usage or bad
//! config, 3 a source could not be reached.

pub mod demo;
pub mod evidence;
pub mod head;
pub mod init;
pub mod order;
pub mod output;
pub mod package;
pub mod promote;
pub mod promotions;
pub mod record;
pub mod runbook;
pub mod scrape;
pub mod status;
pub mod store;
pub mod validate;
pub mod verify;
pub mod whoami;

use crate::engine::authority::Vote;
use crate::engine::config::Config;
use crate::engine::diag::Diagnostic;
use crate::engine::facts::Facts;
use crate::io::config_dir::{self, Located};
use crate::ops::live::{LiveRound, LiveSource};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use crate::ops::{EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE};

#[derive(Debug, Parser)]
#[command(
    name = "gander",
    version,
    about = "The on-call console for multi-service compliance promotion",
    long_about = "gander decides what may be promoted, in which order, and why not.\n\n\
        Exit codes: 0 ok, 1 a check or gate failed, 2 bad usage or bad config, \
        3 a source could not be reached."
)]
pub struct Cli {
    /// Configuration directory (holds org-config.yaml, services/, policies/).
    /// Default: $GANDER_CONFIG, then the user config dir (~/.config/gander), then ./config
    #[arg(long, global = true, value_name = "DIR")]
    pub config: Option<PathBuf>,

    /// State directory (log, demo fleets, the copy of a team store, and the chain when no store is set).
    /// Default: $GANDER_STATE_DIR, then the user data dir (~/.local/share/gander)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Where the team's chain is: a shared directory, or PostgreSQL
    /// (`postgres://user@host/db`, or `pg:host=db1,db2 dbname=gander …`).
    /// Default: $GANDER_STORE, then org-config's `store:`, then the state directory
    #[arg(long, global = true, value_name = "DIR|URL")]
    pub store: Option<String>,

    /// The console only: hide and refuse every action (for observers)
    #[arg(long)]
    pub read_only: bool,

    /// The console only: theme (dark, light, high-contrast, mono; NO_COLOR picks mono)
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,

    /// The OpenSSH key that signs, for the console and every command (ed25519, ECDSA or RSA; a .pub whose private half is in ssh-agent)
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,

    /// Without a command, gander opens the console on the configured org.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration and report every problem with file:line:column
    Validate(validate::Args),
    /// Print the promotion order: every service after its dependencies
    Order(order::Args),
    /// Each service's state, dependencies, and what blocks its next promotion
    Status(status::Args),
    /// Evaluate a promotion: every requirement and gate with its verdict
    Promote(promote::Args),
    /// Approve an open promotion (signed; never your own)
    Approve(record::VoteArgs),
    /// Reject an open promotion, with a reason (signed)
    Reject(record::VoteArgs),
    /// List open and recent promotions with their gate verdicts
    Promotions(promotions::Args),
    /// Verify the evidence chain: hashes, links, sequence, signatures, artifacts, head
    Verify(verify::Args),
    /// Print the chain's head (SEQ:HASH) to check later with `verify --expect-head`
    Head(head::Args),
    /// Which key gander signs with, where it came from, who it is, what it may approve
    Whoami(whoami::Args),
    /// Add evidence files (SARIF, JUnit, Cobertura, LCOV, CycloneDX, SPDX, k6) or list them
    Evidence(evidence::Args),
    /// Runbooks: list, show, and walk them (checks run live, every step recorded)
    Runbook(runbook::Args),
    /// Golden Goose packages: create, verify, promote through stages, roll back, archive
    Package(package::Args),
    /// The team store: set up a shared directory, where the chain is, export, import
    Store(store::Args),
    /// Print every series a metrics page exports, as gander parses it
    Scrape(scrape::Args),
    /// Run the embedded demo fleet (real HTTP servers on loopback) and watch it
    Demo(demo::Args),
    /// Start a new org's config: policies to edit, services, your own key enrolled
    Init(init::InitArgs),
    /// Enrol an operator's public key (refused if the key is already someone else's)
    Enrol(init::EnrolArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `gander man > ~/.local/share/man/man1/gander.1`
    Man,
}

/// Run the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let state = state_dir(cli.state_dir.clone());
    if let Some(s) = cli.store.clone().filter(|s| !s.trim().is_empty()) {
        crate::ops::store::set_store_flag(s);
    }
    if let Some(dir) = &state {
        // The log is best effort: a read-only home must not stop a status query.
        let _ = crate::io::log::init(&dir.join("logs"));
        crate::io::log::event(
            "info",
            "start",
            serde_json::json!({"args": std::env::args().skip(1).map(|a| redact(&a)).collect::<Vec<_>>()}),
        );
    }
    // `--key` before the command signs for every command (it was once the console's
    // alone, and silently ignored elsewhere: a signature by the wrong person).
    if let Some(k) = cli.key.clone() {
        let own = match &cli.command {
            Some(Command::Promote(a)) => a.key.as_ref(),
            Some(Command::Approve(a)) | Some(Command::Reject(a)) => a.key.as_ref(),
            Some(Command::Whoami(a)) => a.key.as_ref(),
            _ => None,
        };
        if let Some(o) = own.filter(|o| **o != k) {
            crate::err!(
                "gander: two keys: --key {} before the command and --key {} after it; nothing done\n  help: give one",
                k.display(),
                o.display()
            );
            return EXIT_USAGE;
        }
        crate::io::keys::set_key_flag(k);
    }
    let Some(command) = cli.command else {
        return console(cli.config, state, cli.key, cli.read_only, cli.theme);
    };
    match command {
        Command::Validate(a) => validate::run(cli.config, a),
        Command::Order(a) => order::run(cli.config, state, a),
        Command::Status(a) => status::run(cli.config, state, a),
        Command::Promote(a) => promote::run(cli.config, state, a),
        Command::Approve(a) => record::vote(cli.config, state, a, Vote::Approve),
        Command::Reject(a) => record::vote(cli.config, state, a, Vote::Reject),
        Command::Promotions(a) => promotions::run(cli.config, state, a),
        Command::Verify(a) => verify::run(cli.config, state, a),
        Command::Head(a) => head::run(cli.config, state, a),
        Command::Whoami(a) => whoami::run(cli.config, a),
        Command::Evidence(a) => evidence::run(cli.config, state, a),
        Command::Runbook(a) => runbook::run(cli.config, state, a),
        Command::Package(a) => package::run(cli.config, state, a),
        Command::Store(a) => store::run(cli.config, state, a),
        Command::Scrape(a) => scrape::run(a),
        Command::Demo(a) => demo::run(state, a),
        Command::Init(a) => init::init(cli.config, a),
        Command::Enrol(a) => init::enrol(cli.config, a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "gander", &mut std::io::stdout());
            EXIT_OK
        }
        Command::Man => match man_page(&mut std::io::stdout()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                crate::err!("gander: {e}");
                EXIT_FAILED
            }
        },
    }
}

/// Text for roff: a leading `.` or `'` would be a request, `\` an escape, `-` a hyphen.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// The man page: clap's name, synopsis, description and options, then every command
/// with its own synopsis on this one page (there are no gander-COMMAND(1) pages), then
/// the environment, files and exit status.
fn man_page(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    writeln!(w, ".SH COMMANDS")?;
    let lines = |c: &clap::Command, w: &mut dyn std::io::Write| -> std::io::Result<()> {
        let usage = c.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        writeln!(w, ".TP\n\\fB{}\\fR", roff(usage))?;
        if let Some(about) = c.get_about() {
            writeln!(w, "{}", roff(&about.to_string()))?;
        }
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        if sub.has_subcommands() {
            for inner in sub.get_subcommands().filter(|c| c.get_name() != "help") {
                lines(inner, w)?;
            }
        } else {
            lines(sub, w)?;
        }
    }
    writeln!(
        w,
        ".PP\nEvery command takes \\fB\\-\\-help\\fR. README.md has the whole guide."
    )?;
    let env: [(&str, &str); 9] = [
        (
            "GANDER_CONFIG",
            "the config directory when --config is not given",
        ),
        (
            "GANDER_STATE_DIR",
            "the state directory (logs, demo fleets, the operator's own store) when --state-dir is not given",
        ),
        (
            "GANDER_STORE",
            "the team store (a shared directory or a postgres:// URL, no password in it) when --store is not given",
        ),
        (
            "GANDER_KEY",
            "the private key to sign with when --key is not given (else signing.key, else ssh-agent, else ~/.ssh/id_ed25519)",
        ),
        (
            "SSH_AUTH_SOCK",
            "the ssh-agent that holds the operator's key",
        ),
        (
            "GANDER_HEADS_DIR",
            "where the chain heads this user has seen are remembered (truncation is noticed)",
        ),
        ("NO_COLOR", "when set, the console draws without colour"),
        (
            "XDG_CONFIG_HOME, XDG_DATA_HOME",
            "the user config and data directories",
        ),
        (
            "PGPASSWORD",
            "the PostgreSQL store's password when org-config's store.password (env:NAME or file:PATH) is not set; never in a URL",
        ),
    ];
    writeln!(w, ".SH ENVIRONMENT")?;
    for (name, what) in env {
        writeln!(w, ".TP\n\\fB{}\\fR\n{}", roff(name), roff(what))?;
    }
    writeln!(w, ".SH FILES")?;
    for (name, what) in [
        (
            "CONFIG/org\x2dconfig.yaml, CONFIG/services/*.yaml, CONFIG/policies/",
            "the org: services, states, gates",
        ),
        (
            "CONFIG/allowed_signers",
            "who may sign, in ssh\x2dkeygen's format",
        ),
        ("CONFIG/keymap.toml", "the console's keys"),
        (
            "STATE/audit/chain.jsonl",
            "the evidence chain (the operator's own store)",
        ),
        (
            "STATE/logs/gander.log",
            "JSON lines, each HTTP request with its X\x2dCorrelation\x2dID",
        ),
    ] {
        writeln!(
            w,
            ".TP\n\\fI{}\\fR\n{}",
            roff(&name.replace("\\x2d", "-")),
            roff(what)
        )?;
    }
    writeln!(w, ".SH \"EXIT STATUS\"")?;
    for (code, what) in [
        ("0", "ok"),
        (
            "1",
            "a check or gate failed, or a write was refused; nothing recorded",
        ),
        ("2", "bad usage or bad config"),
        (
            "3",
            "a source (an endpoint, Prometheus, the store database) could not be reached",
        ),
    ] {
        writeln!(w, ".TP\n\\fB{code}\\fR\n{}", roff(what))?;
    }
    man.render_version_section(w)?;
    Ok(())
}

/// `gander` with no command: the console on the configured org.
fn console(
    config: Option<PathBuf>,
    state: Option<PathBuf>,
    key: Option<PathBuf>,
    read_only: bool,
    theme: Option<String>,
) -> i32 {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        crate::err!(
            "gander: the console needs a terminal; for scripts use `gander status --json` (gander --help lists the commands)"
        );
        return EXIT_USAGE;
    }
    let (config, located) = match load_or_report(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::app::runtime::run(crate::app::runtime::Options {
        config: std::sync::Arc::new(config),
        config_dir: located.dir,
        state_dir: state,
        key,
        read_only,
        theme,
    })
}

/// `--state-dir`, then `GANDER_STATE_DIR`, then the platform data dir.
pub fn state_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        std::env::var_os("GANDER_STATE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .or_else(|| {
        directories::ProjectDirs::from("", "", "gander").map(|d| d.data_dir().to_path_buf())
    })
}

/// A small multi-threaded runtime for commands that touch the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            crate::err!("gander: cannot start the async runtime: {e}");
            EXIT_USAGE
        })
}

/// Find the config directory from `--config`, then `GANDER_CONFIG`, then the defaults.
pub fn locate(flag: Option<PathBuf>) -> Result<Located, config_dir::ConfigDirError> {
    match flag {
        Some(p) => config_dir::locate(Some(&p), false),
        None => match std::env::var_os("GANDER_CONFIG").filter(|v| !v.is_empty()) {
            Some(v) => config_dir::locate(Some(PathBuf::from(v).as_path()), true),
            None => config_dir::locate(None, false),
        },
    }
}

pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        crate::err!("{d}");
    }
}

/// Load a valid config or explain on stderr why not (the caller exits 2).
pub fn load_or_report(flag: Option<PathBuf>) -> Result<(Config, Located), i32> {
    let located = locate(flag).map_err(|e| {
        crate::err!("gander: {e}");
        EXIT_USAGE
    })?;
    let loaded = config_dir::load_dir(&located.dir).map_err(|e| {
        crate::err!("gander: {e}");
        EXIT_USAGE
    })?;
    match loaded.config {
        Some(c) => Ok((c, located)),
        None => {
            print_diagnostics(&loaded.diagnostics);
            let n = loaded.errors().count();
            crate::err!(
                "gander: the configuration in {} has {n} error{}; run `gander validate` for the full report",
                located.dir.display(),
                if n == 1 { "" } else { "s" }
            );
            Err(EXIT_USAGE)
        }
    }
}

/// One live round over the whole org (services and Prometheus) folded into `facts`;
/// a config problem (an unreadable `ca_file`, an unresolved auth reference) is reported.
pub fn poll_once(config: &Config, facts: &mut Facts) -> Result<LiveRound, i32> {
    LiveSource::from_config(config)
        .and_then(|src| src.round_blocking(None, facts))
        .map_err(|e| {
            crate::err!("gander: {e}");
            e.code()
        })
}

/// Fold the configured store into `facts`, saying on stderr what the reader must know
/// (a store that cannot be opened, a copy that is old).
pub fn read_store_into(
    state: Option<&std::path::Path>,
    config_dir: &std::path::Path,
    config: &Config,
    facts: &mut Facts,
) {
    let mut notes = Vec::new();
    crate::ops::store::read_into(state, config_dir, config, facts, &mut notes);
    for n in &notes {
        crate::err!("{n}");
    }
}

/// The configured store for reading (a shared directory checked, a PostgreSQL copy
/// brought up to date or said to be old), or a clear error (exit 2).
pub fn open_store(
    config: &Config,
    config_dir: &std::path::Path,
    state: Option<&std::path::Path>,
) -> Result<crate::io::store::Store, i32> {
    match crate::ops::store::open_read(config, config_dir, state) {
        Ok(o) => {
            if let Some(s) = &o.stale {
                // No copy at all yet: an empty answer would look like an empty chain.
                if let crate::ops::store::Location::Postgres { mirror, .. } = &o.location
                    && crate::ops::store::pulled_at(mirror).is_none()
                {
                    crate::err!(
                        "gander: {}\n  this bastion has no copy of the team's chain yet; nothing to show",
                        s.lines().next().unwrap_or(s)
                    );
                    return Err(if s.contains("unreachable") {
                        EXIT_UNREACHABLE
                    } else {
                        EXIT_FAILED
                    });
                }
                crate::err!("warning: {s}");
            }
            Ok(o.store)
        }
        Err(e) => {
            crate::err!("gander: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// An argument as logged: a password in a connection string or URL masked.
pub fn redact(arg: &str) -> String {
    let mut out = arg.to_string();
    // postgres://user:SECRET@host
    if let Some(scheme) = out.find("://") {
        let rest = &out[scheme + 3..];
        if let Some(at) = rest.find('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let (a, b) = (scheme + 3 + colon + 1, scheme + 3 + at);
            out.replace_range(a..b, "***");
        }
    }
    // password=SECRET (key=value strings and URL queries)
    let lower = out.to_ascii_lowercase();
    if let Some(i) = lower.find("password=") {
        let start = i + "password=".len();
        let end = out[start..]
            .find([' ', '&'])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}
