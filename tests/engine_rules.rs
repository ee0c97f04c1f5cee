//! Every engine rule, decided on the shipped example org with facts set by hand:
//! the inputs later issues fill from real sources.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gander::engine::config::{Config, EvidenceKind};
use gander::engine::facts::{
    Activity, ActivityKind, Approval, ChainFacts, EvidenceVerdict, Facts, Health, Known,
    Performance, Rejection, Request, ServiceFacts,
};
use gander::engine::gates::{CheckResult, Status};
use gander::engine::plan::{self, Plan, Verdict};
use gander::engine::policy::Check;
use gander::engine::resolver::DepGraph;
use gander::io::config_dir::load_dir;
use std::collections::BTreeMap;
use std::path::Path;

fn config() -> Config {
    load_dir(Path::new("config"))
        .unwrap()
        .config
        .expect("config/ loads")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn verdict(
    kind: &str,
    passed: bool,
    summary: &str,
    age_days: i64,
    figure: Option<f64>,
) -> EvidenceVerdict {
    EvidenceVerdict {
        passed,
        summary: summary.into(),
        file: format!("audit/services/x/evidence/{kind}/report"),
        collected_at: now() - Duration::days(age_days),
        figure,
        counts: Default::default(),
    }
}

/// A service with everything in order: fresh passing evidence, good performance,
/// nothing running, long in its state, two eligible signed approvals.
fn good_facts(requester: &str) -> ServiceFacts {
    let mut ev = BTreeMap::new();
    ev.insert(
        EvidenceKind::Sast,
        verdict("sast", true, "0 findings", 1, None),
    );
    ev.insert(
        EvidenceKind::Tests,
        verdict("tests", true, "412 passed", 1, None),
    );
    ev.insert(
        EvidenceKind::Coverage,
        verdict("coverage", true, "86.0 %", 1, Some(86.0)),
    );
    ev.insert(
        EvidenceKind::Sbom,
        verdict("sbom", true, "31 components", 1, None),
    );
    ServiceFacts {
        state_since: Known::Known(now() - Duration::days(3)),
        evidence: Known::Known(ev),
        performance: Known::Known(Performance {
            p95_ms: 320.0,
            error_rate: 0.002,
            source: "prometheus".into(),
            observed_at: now() - Duration::minutes(1),
        }),
        activities: Known::Known(vec![]),
        request: Known::Known(Some(Request {
            requester: requester.into(),
            requester_key: Some(format!("SHA256:{requester}-key")),
            to: "compliant".into(),
            approvals: vec![
                Approval {
                    by: "alice".into(),
                    at: now() - Duration::hours(2),
                    signed: true,
                    key: None,
                },
                Approval {
                    by: "bob".into(),
                    at: now() - Duration::hours(1),
                    signed: true,
                    key: None,
                },
            ],
            rejections: vec![],
        })),
        health: Known::Known(Health {
            ready: true,
            summary: "up".into(),
        }),
    }
}

fn facts(config: &Config, service: &str, sf: ServiceFacts) -> Facts {
    let mut f = Facts::from_config(config, now());
    f.services.insert(service.into(), sf);
    f.chain = Known::Known(ChainFacts {
        records: 40,
        problem: None,
        unverified_signatures: 0,
    });
    f
}

fn plan_for(config: &Config, f: &Facts, service: &str, to: &str) -> Plan {
    plan::plan(config, &DepGraph::from_config(config), f, service, to).unwrap()
}

fn find(p: &Plan, check: Check) -> CheckResult {
    p.requirements
        .iter()
        .chain(p.gates.iter().flat_map(|g| g.checks.iter()))
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("{check} not evaluated in {p:#?}"))
        .clone()
}

#[test]
fn a_service_with_everything_in_order_is_ready() {
    let c = config();
    let f = facts(&c, "service-b", good_facts("dana"));
    let p = plan_for(&c, &f, "service-b", "compliant");
    assert_eq!(p.verdict, Verdict::Ready, "{:#?}", p.blockers);
    assert!(p.blockers.is_empty());
    assert_eq!(
        find(&p, Check::ApprovedPromotion).reason,
        "2 of 2 approvals (alice, bob)"
    );
}

#[test]
fn unknown_is_never_a_pass() {
    let c = config();
    let mut sf = good_facts("dana");
    sf.evidence = Known::unknown("evidence store unreadable");
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    assert_eq!(p.verdict, Verdict::Blocked);
    let r = find(&p, Check::EvidenceCollected);
    assert_eq!(
        (r.status, r.reason.as_str()),
        (Status::Unknown, "evidence store unreadable")
    );
    assert_eq!(find(&p, Check::SastClean).status, Status::Unknown);
}

#[test]
fn dependencies_compliant_names_each_non_compliant_upstream_and_its_route() {
    let c = config();
    // service-c depends on service-b (compliance_ready) and, through it and directly, service-a.
    let mut f = facts(&c, "service-c", good_facts("dana"));
    f.states.insert("service-a".into(), "sandbox".into());
    let p = plan_for(&c, &f, "service-c", "compliance_ready");
    let r = find(&p, Check::DependenciesCompliant);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.reason,
        "service-a is sandbox, service-b is compliance_ready (needs compliant)"
    );
    // notifications reaches service-a only through service-b.
    let p = plan_for(&c, &f, "notifications", "compliance_ready");
    assert_eq!(
        find(&p, Check::DependenciesCompliant).reason,
        "service-a is sandbox (via service-b), service-b is compliance_ready (needs compliant)"
    );
    // All compliant: passes and lists them.
    let f = facts(&c, "service-a", good_facts("dana"));
    let p = plan_for(&c, &f, "reporting", "compliant");
    assert_eq!(find(&p, Check::DependenciesCompliant).status, Status::Pass);
}

#[test]
fn a_refused_transition_lists_every_unmet_requirement_and_the_route() {
    let c = config();
    let f = Facts::from_config(&c, now());
    let p = plan_for(&c, &f, "service-c", "compliant");
    assert_eq!(p.verdict, Verdict::Refused);
    assert_eq!(
        p.blockers[0],
        "`sandbox` cannot go to `compliant` directly; from `sandbox` the rules allow: \
         compliance_ready; promote step by step: sandbox -> compliance_ready -> compliant"
    );
    // Not only the first problem: the dependency failure and each unknown input too.
    let joined = p.blockers.join("\n");
    for needle in [
        "dependencies_compliant fail: service-b is compliance_ready",
        "requirement evidence_collected: unknown",
        "sast_clean unknown",
        "no_blackout unknown",
        "soak_time_elapsed unknown",
    ] {
        assert!(
            joined.contains(needle),
            "{needle:?} missing from:\n{joined}"
        );
    }
}

#[test]
fn stale_evidence_is_stale_not_pass() {
    let c = config();
    let mut sf = good_facts("dana");
    if let Known::Known(ev) = &mut sf.evidence {
        ev.insert(
            EvidenceKind::Tests,
            verdict("tests", true, "412 passed", 9, None),
        );
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::EvidenceCollected);
    assert_eq!(r.status, Status::Stale);
    assert_eq!(r.reason, "stale (max age 7d): tests (9d old)");
    assert_eq!(p.verdict, Verdict::Blocked);
}

#[test]
fn missing_evidence_fails_and_names_the_kinds() {
    let c = config();
    let mut sf = good_facts("dana");
    if let Known::Known(ev) = &mut sf.evidence {
        ev.remove(&EvidenceKind::Sbom);
        ev.remove(&EvidenceKind::Sast);
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::EvidenceCollected);
    assert_eq!(
        (r.status, r.reason.as_str()),
        (Status::Fail, "missing: sast, sbom")
    );
    assert_eq!(
        find(&p, Check::SastClean).reason,
        "no sast evidence on file"
    );
}

#[test]
fn sast_findings_fail_with_the_readers_summary_and_file() {
    let c = config();
    let mut sf = good_facts("dana");
    if let Known::Known(ev) = &mut sf.evidence {
        ev.insert(
            EvidenceKind::Sast,
            verdict(
                "sast",
                false,
                "2 errors: rust/unsafe-code in src/x.rs:14",
                1,
                None,
            ),
        );
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::SastClean);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.reason, "2 errors: rust/unsafe-code in src/x.rs:14");
    assert_eq!(
        r.file.as_deref(),
        Some("audit/services/x/evidence/sast/report")
    );
}

#[test]
fn coverage_is_compared_with_the_configured_threshold() {
    let c = config();
    assert_eq!(c.org.evidence.coverage_threshold, 80.0);
    let mut sf = good_facts("dana");
    if let Known::Known(ev) = &mut sf.evidence {
        ev.insert(
            EvidenceKind::Coverage,
            verdict("coverage", true, "72.5 %", 1, Some(72.5)),
        );
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::TestCoverageThreshold);
    assert_eq!(
        (r.status, r.reason.as_str()),
        (Status::Fail, "line coverage 72.5 % < threshold 80 %")
    );
}

#[test]
fn performance_is_compared_with_the_services_baseline() {
    let c = config();
    let mut sf = good_facts("dana");
    sf.performance = Known::Known(Performance {
        p95_ms: 640.0,
        error_rate: 0.025,
        source: "k6 summary".into(),
        observed_at: now(),
    });
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::PerformanceBaselineMet);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.reason,
        "p95 640 ms > baseline 500 ms; error rate 2.5 % > baseline 1.0 %"
    );
}

#[test]
fn a_running_backup_load_test_or_scan_is_a_blackout() {
    let c = config();
    for kind in [
        ActivityKind::Backup,
        ActivityKind::LoadTest,
        ActivityKind::SecurityScan,
    ] {
        let mut sf = good_facts("dana");
        sf.activities = Known::Known(vec![
            // Finished: does not count.
            Activity {
                kind: ActivityKind::LoadTest,
                started_at: now() - Duration::hours(5),
                until: Some(now() - Duration::hours(4)),
            },
            Activity {
                kind,
                started_at: now() - Duration::hours(1),
                until: Some(now() + Duration::hours(1)),
            },
        ]);
        let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
        let r = find(&p, Check::NoBlackout);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(
            r.reason,
            format!(
                "blackout: {} running since 2026-11-22 11:00 UTC (until 13:00 UTC)",
                kind.as_str()
            )
        );
    }
}

#[test]
fn soak_time_holds_a_service_that_just_arrived() {
    let c = config();
    let mut sf = good_facts("dana");
    sf.state_since = Known::Known(now() - Duration::hours(3));
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::SoakTimeElapsed);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.reason,
        "in `compliance_ready` for 3h, soak time is 1d (21h to go)"
    );
}

#[test]
fn four_eyes_expiry_signatures_and_eligibility_decide_what_counts() {
    let c = config();
    let mut sf = good_facts("alice");
    if let Known::Known(Some(req)) = &mut sf.request {
        req.approvals = vec![
            Approval {
                by: "alice".into(),
                at: now(),
                signed: true,
                key: None,
            }, // requester
            Approval {
                by: "bob".into(),
                at: now() - Duration::hours(80),
                signed: true,
                key: None,
            }, // expired (72h)
            Approval {
                by: "dana".into(),
                at: now(),
                signed: false,
                key: None,
            }, // unsigned
            Approval {
                by: "mallory".into(),
                at: now(),
                signed: true,
                key: None,
            }, // not eligible
            Approval {
                by: "dana".into(),
                at: now(),
                signed: true,
                key: None,
            }, // counts
            Approval {
                by: "dana".into(),
                at: now(),
                signed: true,
                key: None,
            }, // same person again
            Approval {
                by: "bob".into(),
                at: now(),
                signed: true,
                key: Some("SHA256:alice-key".into()),
            }, // alice's own key listed as "bob" too: still alice
        ];
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::ApprovedPromotion);
    assert_eq!(r.status, Status::Pending);
    assert_eq!(
        r.reason,
        "1 of 2 approvals (dana); needs 1 more from bob; alice's approval does not count (the requester's own (by name or key)); \
         bob's approval does not count (expired); dana's approval does not count (unsigned); \
         mallory's approval does not count (not an eligible approver); \
         dana's approval does not count (a second approval by the same person); \
         bob's approval does not count (the requester's own (by name or key))"
    );
    assert_eq!(p.verdict, Verdict::AwaitingApproval);
}

#[test]
fn a_rejection_fails_the_manual_gate() {
    let c = config();
    let mut sf = good_facts("dana");
    if let Known::Known(Some(req)) = &mut sf.request {
        req.rejections.push(Rejection {
            by: "bob".into(),
            at: now(),
            reason: "p95 regressed".into(),
        });
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::ApprovedPromotion);
    assert_eq!(
        (r.status, r.reason.as_str()),
        (Status::Fail, "rejected by bob: p95 regressed")
    );
    assert_eq!(p.verdict, Verdict::Blocked);
}

#[test]
fn group_approvers_expand_per_service() {
    let c = config();
    let svc = c.service("service-c").unwrap();
    assert_eq!(
        c.approvers_of(&svc.def),
        vec!["alice", "bob", "carol", "dana", "erin"]
    );
    let svc = c.service("service-b").unwrap();
    assert_eq!(c.approvers_of(&svc.def), vec!["alice", "bob", "dana"]);
}

#[test]
fn a_broken_chain_or_unsigned_records_fail_the_audit_trail() {
    let c = config();
    let mut f = facts(&c, "service-b", good_facts("dana"));
    f.chain = Known::Known(ChainFacts {
        records: 40,
        problem: Some("record 12: prev_hash does not match record 11".into()),
        unverified_signatures: 3,
    });
    let p = plan_for(&c, &f, "service-b", "compliant");
    assert_eq!(
        find(&p, Check::EvidenceChainValid).reason,
        "record 12: prev_hash does not match record 11"
    );
    assert_eq!(
        find(&p, Check::SignaturesVerified).reason,
        "3 of 40 records have no signature from an allowed signer"
    );
    assert_eq!(p.verdict, Verdict::Blocked);
}

#[test]
fn a_demotion_is_never_held_by_gates() {
    let c = config();
    let mut sf = good_facts("dana");
    sf.activities = Known::Known(vec![Activity {
        kind: ActivityKind::Backup,
        started_at: now(),
        until: None,
    }]);
    let f = facts(&c, "service-a", sf);
    let p = plan_for(&c, &f, "service-a", "sandbox");
    assert_eq!(p.verdict, Verdict::Ready);
    assert_eq!(p.demotion.as_deref(), Some("compliance_violation"));
    assert!(p.gates.is_empty());
}

#[test]
fn status_lists_services_in_promotion_order_with_their_next_step() {
    let c = config();
    let f = Facts::from_config(&c, now());
    let s = plan::status(&c, &DepGraph::from_config(&c), &f);
    let names: Vec<&str> = s.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        names,
        [
            "identity",
            "ledger-db",
            "service-a",
            "reporting",
            "service-b",
            "notifications",
            "service-c"
        ]
    );
    let c_status = s.iter().find(|s| s.service == "service-c").unwrap();
    let next = c_status.next.as_ref().unwrap();
    assert_eq!(
        (next.to.as_str(), next.verdict),
        ("compliance_ready", Verdict::Blocked)
    );
    assert!(
        s.iter()
            .find(|s| s.service == "service-a")
            .unwrap()
            .next
            .is_none()
    );
    assert_eq!(
        s.iter()
            .find(|s| s.service == "service-a")
            .unwrap()
            .downstream,
        ["notifications", "reporting", "service-b", "service-c"]
    );
}

/// Once alice has requested, the approvers she is told to ask never include herself.
#[test]
fn the_pending_reason_never_lists_the_requester() {
    let c = config();
    let mut sf = good_facts("alice");
    if let Known::Known(Some(req)) = &mut sf.request {
        req.approvals.clear();
    }
    let p = plan_for(&c, &facts(&c, "service-b", sf), "service-b", "compliant");
    let r = find(&p, Check::ApprovedPromotion);
    assert!(
        r.reason.starts_with("0 of 2 approvals; needs 2 from "),
        "{}",
        r.reason
    );
    assert!(!r.reason.contains("alice"), "{}", r.reason);
}

/// Someone who may not approve is told whom to ask instead, and that list never names
/// the requester (she cannot approve her own request).
#[test]
fn a_refused_approver_is_pointed_at_the_others_never_the_requester() {
    use gander::engine::authority::{Vote, may_vote};
    use gander::engine::ledger::{Promotion, PromotionStatus};
    let c = config();
    let p = Promotion {
        id: "PRM-20261122-000001".into(),
        service: "service-b".into(),
        from: "compliance_ready".into(),
        to: "compliant".into(),
        requester: "alice".into(),
        requester_key: None,
        requested_at: now(),
        expires_at: None,
        status: PromotionStatus::Open,
        approvals: vec![],
        rejections: vec![],
        validation: None,
        closed_at: None,
        closed_reason: None,
        records: vec![],
    };
    let e = may_vote(&c, &p, "mallory", None, Vote::Approve).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("mallory is not an approver of service-b"),
        "{text}"
    );
    assert!(text.contains("bob") && text.contains("dana"), "{text}");
    assert!(!text.contains("alice"), "{text}");
}
