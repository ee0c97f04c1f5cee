#!/usr/bin/env bash
# Capture real exporter pages for the parser's tests and bench (run once; the outputs
# are committed under tests/fixtures/metrics/). Needs Debian's prometheus and
# prometheus-node-exporter.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/metrics
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >"$tmp/ne.log" 2>&1 &
cat >"$tmp/prom.yml" <<YAML
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['127.0.0.1:19100'] }]
YAML
prometheus --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address=127.0.0.1:19090 >"$tmp/prom.log" 2>&1 &
for _ in $(seq 50); do
  curl -fs http://127.0.0.1:19100/metrics >/dev/null && curl -fs http://127.0.0.1:19090/-/ready >/dev/null && break
  sleep 0.2
done
sleep 3
curl -fsS http://127.0.0.1:19100/metrics >"$out/node_exporter.prom"
curl -fsS http://127.0.0.1:19090/metrics >"$out/prometheus.prom"
# Prometheus serves its own page in OpenMetrics when asked (exemplar-capable, # EOF).
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' http://127.0.0.1:19090/metrics >"$out/prometheus.openmetrics"
wc -c "$out"/*

# OpenMetrics and text pages of awkward cases, written by the official Python client.
python3 -c 'import prometheus_client' 2>/dev/null || pip install prometheus_client
python3 scripts/openmetrics_fixture.py "$out"
