//! `gander whoami`: which key gander would sign with, where it came from, the
//! principals allowed_signers gives it, the groups those are in, and for each service
//! whether it may approve promotions (and why not).

use super::{EXIT_OK, EXIT_USAGE, output};
use crate::engine::authority;
use crate::ops::store::{load_signers, try_signer};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub json: bool,
    /// The key to ask about (else $GANDER_KEY, signing.key, ssh-agent, ~/.ssh/id_ed25519)
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
}

pub fn run(config_flag: Option<PathBuf>, args: Args) -> i32 {
    let (config, located) = match super::load_or_report(config_flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (sp, signers) = load_signers(&located.dir, &config);
    if let Ok(s) = &signers {
        for w in &s.skipped {
            crate::err!(
                "gander: warning: {}:{w} (skipped, as ssh-keygen skips it)",
                sp.display()
            );
        }
    }
    let (signer, signers) = match try_signer(&located.dir, &config, args.key.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            crate::err!("gander: {e}");
            return EXIT_USAGE;
        }
    };
    let now = chrono::Utc::now();
    let principals = signers.principals_for(&signer.key, now);
    let groups: Vec<&String> = config
        .org
        .approval
        .groups
        .iter()
        .filter(|(_, members)| members.iter().any(|m| principals.contains(m)))
        .map(|(g, _)| g)
        .collect();
    let services: Vec<serde_json::Value> = config
        .services
        .iter()
        .map(|s| {
            let eligible = authority::approvers(&config, s.name());
            let may = eligible.contains(&signer.principal);
            json!({
                "service": s.name(),
                "may_approve": may,
                "why_not": if may { None } else {
                    Some(format!("{} is not among its approvers ({})", signer.principal,
                        if eligible.is_empty() { "none configured".to_string() } else { eligible.join(", ") }))
                },
            })
        })
        .collect();
    if args.json {
        output::print_json(
            "whoami",
            &json!({
                "principal": signer.principal,
                "principals": principals,
                "fingerprint": signer.fingerprint,
                "origin": signer.origin,
                "key": signer.where_(),
                "allowed_signers": sp.display().to_string(),
                "groups": groups,
                "services": services,
            }),
        );
        return EXIT_OK;
    }
    crate::out!(
        "{} — key {} ({})",
        signer.principal,
        signer.fingerprint,
        signer.where_()
    );
    crate::out!("  chosen by: {}", signer.origin.describe());
    crate::out!(
        "  accepted by {} as: {}",
        sp.display(),
        principals.join(", ")
    );
    crate::out!(
        "  groups: {}",
        if groups.is_empty() {
            "none".to_string()
        } else {
            groups
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    for s in &services {
        match s["why_not"].as_str() {
            None => crate::out!(
                "  may approve {}",
                s["service"].as_str().unwrap_or_default()
            ),
            Some(w) => crate::out!(
                "  may not approve {}: {w}",
                s["service"].as_str().unwrap_or_default()
            ),
        }
    }
    EXIT_OK
}
