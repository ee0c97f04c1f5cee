//! Promotion order and cycle check at fleet scale: 10,000 services, 50,000 edges.
//! Run: `cargo bench --bench resolver`.

use criterion::{Criterion, criterion_group, criterion_main};
use gander::engine::config::DepKind;
use gander::engine::resolver::DepGraph;
use std::hint::black_box;

const SERVICES: usize = 10_000;
const EDGES: usize = 50_000;

/// A deterministic pseudo-random DAG: every edge goes from a higher-numbered service to
/// a lower-numbered one, so there is no cycle; names are not in index order.
fn fleet(extra_cycle: bool) -> (Vec<String>, Vec<(usize, usize)>) {
    let names: Vec<String> = (0..SERVICES)
        .map(|i| format!("svc-{:05}", (i * 7919) % SERVICES))
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut edges = Vec::with_capacity(EDGES + 1);
    while edges.len() < EDGES {
        let a = (next() % SERVICES as u64) as usize;
        let b = (next() % SERVICES as u64) as usize;
        if a != b {
            edges.push((a.max(b), a.min(b)));
        }
    }
    if extra_cycle {
        // One back edge closing a long path somewhere in the middle.
        let (a, b) = edges[EDGES / 2];
        edges.push((b, a));
    }
    (names, edges)
}

fn build(names: &[String], edges: &[(usize, usize)]) -> DepGraph {
    DepGraph::new(
        names.iter().map(String::as_str),
        edges
            .iter()
            .map(|&(a, b)| (names[a].as_str(), names[b].as_str(), DepKind::Runtime)),
    )
}

fn bench(c: &mut Criterion) {
    let (names, edges) = fleet(false);
    let g = build(&names, &edges);
    assert_eq!((g.len(), g.edge_count()), (SERVICES, EDGES));
    c.bench_function("order+cycle check, 10k services / 50k edges", |b| {
        b.iter(|| black_box(g.order().expect("acyclic").len()))
    });
    c.bench_function("build graph + order, 10k / 50k", |b| {
        b.iter(|| black_box(build(&names, &edges).order().expect("acyclic").len()))
    });
    let (names, edges) = fleet(true);
    let cyclic = build(&names, &edges);
    c.bench_function(
        "order on a cyclic graph (finds and lists the cycle), 10k / 50k",
        |b| b.iter(|| black_box(cyclic.order().expect_err("cyclic").cycles.len())),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
