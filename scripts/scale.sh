#!/usr/bin/env bash
# Scale runs that do not fit CI's budget: 10,000 services through a real Prometheus,
# and the benches with their full sizes. Figures are printed; see the closing notes.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 10,000 sockets in one process
cargo test --release --test prometheus_scale -- --ignored --nocapture
cargo bench --bench chain_verify
cargo bench --bench poll_round
cargo bench --bench render
cargo bench --bench tty_io
