"""Write an OpenMetrics page and the same registry in the text format with the official
Python client (prometheus_client), covering the awkward cases gander must keep:
recording-rule names with ':', label values holding ',', '=', quotes, backslashes and
newlines, NaN and +Inf, histograms with exemplars, summaries, info, stateset and untyped.
Run by scripts/capture-metrics-fixtures.sh."""
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, Info, Enum
from prometheus_client.core import GaugeMetricFamily, CounterMetricFamily, UnknownMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_om

reg = CollectorRegistry()
req = Counter("http_requests", "Requests served.", ["service", "code", "path"], registry=reg)
req.labels("service-a", "200", "/api/v1/items?a=1,b=2").inc(1027)
req.labels("service-a", "500", '/say "hi"').inc(3)
req.labels("service-b", "200", "C:\\temp\\x").inc(42)
h = Histogram("http_request_duration_seconds", "Latency.", ["service"],
              buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=reg)
for v in (0.02, 0.07, 0.09, 0.2, 0.3, 0.45, 0.8, 3.0):
    h.labels("service-a").observe(v)
h.labels("service-a").observe(0.12, exemplar={"trace_id": "4bf92f3577b34da6"})
s = Summary("job_seconds", "Batch jobs.", registry=reg)
s.observe(1.5)
g = Gauge("compliance_state", "1 when the service is in this state.", ["service", "state"], registry=reg)
g.labels("service-a", "compliant").set(1)
g.labels("service-b", "compliance_ready").set(1)
nan = Gauge("temperature_celsius", "May be unknown.", ["sensor"], registry=reg)
nan.labels("a").set(float("nan"))
nan.labels("b").set(float("inf"))
Info("build", "Build information.", registry=reg).info({"version": "1.8.0", "commit": "abc=def"})
Enum("promotion_status", "Promotion state.", states=["idle", "pending", "approved"], registry=reg).state("pending")


class Custom:
    def collect(self):
        c = GaugeMetricFamily("job:http_requests:rate5m", "A recording rule.", labels=["job"])
        c.add_metric(["api"], 12.5)
        yield c
        u = UnknownMetricFamily("legacy_untyped", "No type.", labels=["note"])
        u.add_metric(["line one\nline two"], 7)
        yield u


reg.register(Custom())
out = sys.argv[1]
open(out + "/python_client.openmetrics", "wb").write(generate_om(reg))
open(out + "/python_client.prom", "wb").write(generate_latest(reg))
