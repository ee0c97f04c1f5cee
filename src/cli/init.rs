//! `gander init`: a new org's config (policies written out to edit, the operator's own
//! key enrolled); `gander enrol`: add an operator's key (one key, one person).

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::engine::identity::{AllowedSigners, SignKey};
use crate::io::store::write_atomic;
use ssh_key::PublicKey;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write the config (default: $GANDER_CONFIG, else ~/.config/gander)
    pub dir: Option<PathBuf>,
    /// The organisation's name
    #[arg(long, default_value = "My Org")]
    pub org: String,
    /// The services to start with, comma-separated (each gets services/NAME.yaml)
    #[arg(long, value_delimiter = ',', default_value = "my-service")]
    pub services: Vec<String>,
    /// The approver group (you are its first member)
    #[arg(long, default_value = "sre")]
    pub group: String,
    /// Your name as an approver (default: $USER)
    #[arg(long)]
    pub name: Option<String>,
    /// Your public key (a .pub file); default: the ssh-agent's first key, else
    /// ~/.ssh/id_ed25519.pub
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EnrolArgs {
    /// The operator's name (their principal in allowed_signers and approver lists)
    pub name: String,
    /// Their public key: a .pub file, or the key text (`ssh-ed25519 AAAA…`)
    pub pubkey: String,
    /// Also add them to this approver group in org-config.yaml
    #[arg(long)]
    pub group: Option<String>,
}

fn the_operators_key(flag: Option<&Path>) -> Result<(String, String), String> {
    if let Some(p) = flag {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        return Ok((text, p.display().to_string()));
    }
    if let Some(sock) = crate::io::agent::socket()
        && let Ok(keys) = crate::io::agent::list(&sock)
        && let Some(k) = keys.iter().find(|k| !k.kind().contains("-cert-"))
        && let Ok(pk) = PublicKey::from_bytes(&k.blob)
        && let Ok(text) = pk.to_openssh()
    {
        return Ok((text, "the ssh-agent".into()));
    }
    let p = crate::io::keys::expand("~/.ssh/id_ed25519.pub");
    std::fs::read_to_string(&p)
        .map(|t| (t, p.display().to_string()))
        .map_err(|e| {
            format!(
                "no key to enrol: no ssh-agent key and {}: {e}\n  help: make one with `ssh-keygen -t ed25519`, or pass --key PUB",
                p.display()
            )
        })
}

/// A public key from a .pub file's text or the key itself: (key, `type base64`).
fn parse_pub(text: &str) -> Result<(PublicKey, String), String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or("no public key in it")?;
    let k = PublicKey::from_openssh(line).map_err(|e| format!("not an OpenSSH public key: {e}"))?;
    let mut parts = line.split_whitespace();
    let short = format!(
        "{} {}",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    );
    Ok((k, short))
}

fn service_yaml(name: &str, group: &str) -> String {
    format!(
        "service:
  name: {name}
  spec:
    api_version: v1
    compliance_mode: sandbox
    compliance_state: sandbox
    version: 0.1.0
    dependencies:
      runtime: []
      data: []
      security: []
  owners: [{group}]
  approvers: []
  # Where gander polls it: /health and the probes under this URL, and its metrics page.
  # endpoints:
  #   health_base_url: http://127.0.0.1:8080
  #   metrics_url: http://127.0.0.1:8080/metrics
  baseline:
    p95_latency_ms: 400
    error_rate: 0.01
"
    )
}

fn org_yaml(org: &str, group: &str, name: &str) -> String {
    format!(
        "# {org}: written by `gander init`; edit freely, then `gander validate`.
org:
  name: {org:?}

modes:
  sandbox:
    thresholds: {{ p95_latency_ms: 800, error_rate: 0.05 }}
  compliant:
    thresholds: {{ p95_latency_ms: 500, error_rate: 0.01 }}

monitoring:
  # prometheus_url: http://127.0.0.1:9090
  poll_interval: 15s
  request_timeout: 3s

approval:
  # One approval besides the requester's own (four-eyes): enrol a second operator with
  # `gander enrol NAME KEY.pub --group {group}` before the first promotion.
  required_approvals: 1
  four_eyes: true
  expiry: 72h
  soak_time: 0s
  groups:
    {group}: [{name}]
  default_approvers: [\"group:{group}\"]

evidence:
  max_age: 7d
  coverage_threshold: 80
  sast_fail_level: error
  required: []

signing:
  allowed_signers: allowed_signers
"
    )
}

pub fn init(flag_dir: Option<PathBuf>, args: InitArgs) -> i32 {
    if let (Some(d), Some(f)) = (&args.dir, &flag_dir)
        && d != f
    {
        crate::err!(
            "gander: two directories for the new org: DIR {} and --config {}; nothing written\n  help: give one of them",
            d.display(),
            f.display()
        );
        return EXIT_USAGE;
    }
    let dir = match args.dir.clone().or(flag_dir).or_else(|| {
        std::env::var_os("GANDER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) {
        Some(d) => d,
        None => match directories::ProjectDirs::from("", "", "gander") {
            Some(d) => d.config_dir().to_path_buf(),
            None => {
                crate::err!("gander: no config directory: pass DIR");
                return EXIT_USAGE;
            }
        },
    };
    if dir.join("org-config.yaml").exists() {
        crate::err!(
            "gander: {} already holds an org (org-config.yaml); nothing written\n  help: `gander enrol NAME KEY.pub` adds an operator to it",
            dir.display()
        );
        return EXIT_FAILED;
    }
    let name = args
        .name
        .clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(login_name);
    for n in std::iter::once(&name)
        .chain(std::iter::once(&args.group))
        .chain(&args.services)
    {
        if let Err(why) = crate::engine::names::check(n) {
            crate::err!("gander: `{}` is not a valid name: {why}", n.escape_debug());
            return EXIT_USAGE;
        }
    }
    let (text, from) = match the_operators_key(args.key.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    let (_, short) = match parse_pub(&text) {
        Ok(k) => k,
        Err(e) => {
            crate::err!("gander: {from}: {e}");
            return EXIT_USAGE;
        }
    };
    let mut files: Vec<(PathBuf, String)> = vec![
        (
            dir.join("org-config.yaml"),
            org_yaml(&args.org, &args.group, &name),
        ),
        (
            dir.join("policies/compliance_rules.yaml"),
            crate::engine::policy::DEFAULT_RULES.to_string(),
        ),
        (
            dir.join("policies/promotion_gates.yaml"),
            crate::engine::policy::DEFAULT_GATES.to_string(),
        ),
        (dir.join("allowed_signers"), format!("{name} {short}\n")),
    ];
    for s in &args.services {
        files.push((
            dir.join(format!("services/{s}.yaml")),
            service_yaml(s, &args.group),
        ));
    }
    for (p, text) in &files {
        if let Some(d) = p.parent()
            && let Err(e) = std::fs::create_dir_all(d)
        {
            crate::err!("gander: {}: {e}", d.display());
            return EXIT_FAILED;
        }
        if let Err(e) = write_atomic(p, text.as_bytes()) {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    }
    // What was written must load: a bad name or template would be our bug, said here.
    match crate::io::config_dir::load_dir(&dir) {
        Ok(l) if l.config.is_some() => {}
        Ok(l) => {
            super::print_diagnostics(&l.diagnostics);
            return EXIT_FAILED;
        }
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
    }
    crate::out!(
        "wrote {} for {} ({} service{}, approver group {} with {name}, whose key from {from} is enrolled)",
        dir.display(),
        args.org,
        args.services.len(),
        if args.services.len() == 1 { "" } else { "s" },
        args.group
    );
    crate::out!("next:");
    crate::out!(
        "  gander enrol NAME THEIR_KEY.pub --group {} --config {}   # a second operator: four-eyes needs two",
        args.group,
        dir.display()
    );
    crate::out!(
        "  gander validate --config {}   # after editing services/*.yaml (endpoints, dependencies)",
        dir.display()
    );
    EXIT_OK
}

pub fn enrol(config_flag: Option<PathBuf>, args: EnrolArgs) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(why) = crate::engine::names::check(&args.name) {
        crate::err!(
            "gander: `{}` is not a valid name: {why}",
            args.name.escape_debug()
        );
        return EXIT_USAGE;
    }
    let looks_like_a_path =
        args.pubkey.contains('/') || args.pubkey.ends_with(".pub") || !args.pubkey.contains(' ');
    if looks_like_a_path && !Path::new(&args.pubkey).exists() {
        crate::err!(
            "gander: {}: no such file\n  help: give their public key file (NAME.pub) or the key text in quotes",
            args.pubkey
        );
        return EXIT_USAGE;
    }
    let text = if Path::new(&args.pubkey).is_file() {
        match std::fs::read_to_string(&args.pubkey) {
            Ok(t) => t,
            Err(e) => {
                crate::err!("gander: {}: {e}", args.pubkey);
                return EXIT_USAGE;
            }
        }
    } else {
        args.pubkey.clone()
    };
    if text.contains("PRIVATE KEY") {
        crate::err!(
            "gander: {} is a private key; nothing written\n  help: enrol the public half ({}.pub); a private key never leaves its owner",
            args.pubkey,
            args.pubkey
        );
        return EXIT_USAGE;
    }
    let (key, short) = match parse_pub(&text) {
        Ok(k) => k,
        Err(e) => {
            crate::err!("gander: {}: {e}", args.pubkey);
            return EXIT_USAGE;
        }
    };
    let path = crate::ops::store::signers_path(&located.dir, &config);
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let signers = AllowedSigners::parse(&existing);
    let names = signers.principals_for(&SignKey::Plain(key.key_data().clone()), chrono::Utc::now());
    if let Some(other) = names.iter().find(|n| **n != args.name) {
        crate::err!(
            "gander: this key is already enrolled as {other}; one key is one person, so it cannot also be {}; nothing written",
            args.name
        );
        return EXIT_FAILED;
    }
    let mut wrote = Vec::new();
    if names.is_empty() {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{} {short}\n", args.name));
        if let Err(e) = write_atomic(&path, text.as_bytes()) {
            crate::err!("gander: {e}");
            return EXIT_FAILED;
        }
        wrote.push(format!("enrolled {} in {}", args.name, path.display()));
        let before = existing
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(args.name.as_str()))
            .count();
        if before > 0 {
            wrote.push(format!(
                "note: {} now has {} keys, and every one of them may sign; to retire an old one, list it in signing.revoked_keys",
                args.name,
                before + 1
            ));
        }
    } else {
        wrote.push(format!("{} is already enrolled with this key", args.name));
    }
    if let Some(g) = &args.group {
        match add_to_group(&located.dir, g, &args.name) {
            Ok(Some(m)) => wrote.push(m),
            Ok(None) => wrote.push(format!("{} is already in group {g}", args.name)),
            Err(e) => {
                for w in &wrote {
                    crate::out!("{w}");
                }
                crate::err!("gander: {e}");
                return EXIT_FAILED;
            }
        }
    }
    for w in &wrote {
        crate::out!("{w}");
    }
    EXIT_OK
}

/// Add `name` to `approval.groups.GROUP: [..]` (a flow list, as `init` writes it), then
/// check the config still loads; put it back if not.
fn add_to_group(dir: &Path, group: &str, name: &str) -> Result<Option<String>, String> {
    let path = dir.join("org-config.yaml");
    let before = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = format!("{group}:");
    let mut done = None;
    let mut out = String::with_capacity(before.len() + name.len() + 2);
    for line in before.split_inclusive('\n') {
        let t = line.trim_start();
        if done.is_none()
            && t.starts_with(&key)
            && let (Some(open), Some(close)) = (line.find('['), line.rfind(']'))
            && open < close
        {
            let members: Vec<&str> = line[open + 1..close]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if members.contains(&name) {
                return Ok(None);
            }
            let mut all = members.clone();
            all.push(name);
            out.push_str(&line[..open + 1]);
            out.push_str(&all.join(", "));
            out.push_str(&line[close..]);
            done = Some(format!(
                "added {name} to approver group {group} in {}",
                path.display()
            ));
            continue;
        }
        out.push_str(line);
    }
    let Some(msg) = done else {
        return Err(format!(
            "no `{group}: [..]` list in {}; add {name} to approval.groups.{group} by hand",
            path.display()
        ));
    };
    write_atomic(&path, out.as_bytes()).map_err(|e| e.to_string())?;
    match crate::io::config_dir::load_dir(dir) {
        Ok(l) if l.config.is_some() => Ok(Some(msg)),
        _ => {
            let _ = write_atomic(&path, before.as_bytes());
            Err(format!(
                "adding {name} to group {group} would break {}; left as it was",
                path.display()
            ))
        }
    }
}

/// The login name of this process's user (as `id -un`).
fn login_name() -> String {
    #[cfg(unix)]
    {
        // SAFETY: a getter.
        crate::io::store::shared::user_name(unsafe { libc::geteuid() })
    }
    #[cfg(not(unix))]
    {
        "me".into()
    }
}
