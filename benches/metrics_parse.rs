//! Parser throughput on real exporter pages, ours against prometheus-parse.
//! Run: `cargo bench --bench metrics_parse` (criterion prints MiB/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    for name in ["node_exporter.prom", "prometheus.prom"] {
        let text = std::fs::read_to_string(format!("tests/fixtures/metrics/{name}")).unwrap();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("gander", |b| {
            b.iter(|| {
                black_box(
                    gander::metrics::text::parse(black_box(&text), None)
                        .unwrap()
                        .samples
                        .len(),
                )
            })
        });
        g.bench_function("prometheus-parse 0.2.5", |b| {
            b.iter(|| {
                black_box(
                    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
                        .unwrap()
                        .samples
                        .len(),
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
