//! A full console frame at 1,000 and 10,000 services on a 200×50 screen, and what a
//! change of facts costs: every status recomputed (a store change), or one service's
//! (a poll of it). Run: `cargo bench --bench render`.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use gander::app::keymap::Keymap;
use gander::app::model::{Model, Panel};
use gander::app::update::{Msg, update};
use gander::engine::live::{HealthReport, Observation, Probe};
use gander::metrics::derive::Summary;
use gander::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::sync::Arc;

fn model(n: usize) -> Model {
    let dir = tempfile::tempdir().unwrap();
    gander::io::demo::write_config_only(n, dir.path()).unwrap();
    let config = gander::io::config_dir::load_dir(dir.path())
        .unwrap()
        .config
        .expect("valid");
    let mut m = Model::new(
        Arc::new(config),
        Keymap::default(),
        Theme::load("dark", None).unwrap(),
        Ok("alice".into()),
        false,
        Utc::now(),
    );
    let names: Vec<String> = m.statuses.iter().map(|s| s.service.clone()).collect();
    for (i, s) in names.iter().enumerate() {
        let pass = Probe::Pass { code: 200, ms: 2 };
        let o = Observation {
            service: s.clone(),
            at: Utc::now(),
            health: Some(HealthReport {
                live: pass.clone(),
                ready: if i % 13 == 0 {
                    Probe::Fail { code: 503, ms: 2 }
                } else {
                    pass.clone()
                },
                startup: pass,
                status: None,
                components: vec![],
                detail_error: None,
            }),
            metrics: Some(Ok(Summary {
                series: 40,
                requests: Some(1000.0 + i as f64),
                errors: Some(2.0),
                buckets: vec![
                    (0.1, 500.0),
                    (0.5, 990.0),
                    (f64::INFINITY, 1000.0 + i as f64),
                ],
                activities: Some(vec![]),
            })),
            unreachable: false,
        };
        update(&mut m, Msg::Observation(Box::new(o)));
    }
    update(&mut m, Msg::Tick(Utc::now()));
    m
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[1000, 10_000] } else { &[50] };
    for &n in sizes {
        let mut m = model(n);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        for p in [Panel::Grid, Panel::Graph, Panel::Pipeline] {
            m.panel = p;
            c.bench_function(
                &format!("frame {} at {n} services, 200x50", p.title()),
                |b| {
                    b.iter(|| {
                        term.draw(|f| gander::ui::render(f, black_box(&m))).unwrap();
                    })
                },
            );
        }
        c.bench_function(&format!("recompute every status at {n} services"), |b| {
            b.iter(|| m.refresh())
        });
        // What a poll of one service costs the console: its status alone, and the
        // alerts over the board.
        let one = m.statuses[n / 2].service.clone();
        c.bench_function(
            &format!("recompute after one service's poll at {n} services"),
            |b| {
                b.iter(|| {
                    m.live_changed.insert(one.clone());
                    m.refresh_live();
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
