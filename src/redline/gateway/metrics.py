"""Prometheus metrics of one gateway, in its own registry (no process-global state).

prometheus_client rather than a hand-written exposition: it gets the text format, label escaping
and cumulative histogram buckets right. `labels(...)` validates and looks up its child under a
lock on every call, so the per-request metrics keep their children in plain dicts (the label
values are bounded: routes, statuses, stages, policy rules).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from redline.decide import Decision

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("redline_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r)
        self.latency = Histogram(
            "redline_request_seconds", "Time to response headers, by endpoint", ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.decisions = Counter(
            "redline_decisions", "Decisions by stage, verdict, red line and rule", ["stage", "decision", "red_line", "rule"], registry=r
        )
        self.decision_latency = Histogram(
            "redline_decision_seconds", "Time to decide, by stage", ["stage"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.upstream_requests = Counter("redline_upstream_requests", "Requests sent to each upstream", ["upstream"], registry=r)
        self.upstream_errors = Counter(
            "redline_upstream_errors", "Upstream failures (connect, timeout, 5xx, read)", ["upstream", "kind"], registry=r
        )
        self.upstream_up = Gauge("redline_upstream_up", "1 while the upstream's circuit breaker is closed", ["upstream"], registry=r)
        self.failovers = Counter("redline_failovers", "Requests moved on to the next upstream", ["api"], registry=r)
        self.auth_failures = Counter("redline_auth_failures", "Requests with a missing or unknown key", registry=r)
        self.stream_cuts = Counter("redline_stream_cuts", "Streams ended by an output violation", ["api"], registry=r)
        self.ledger_queue = Gauge("redline_ledger_queue", "Decisions waiting for the ledger writer", registry=r)
        self.ledger_errors = Counter("redline_ledger_errors", "Ledger appends that failed", registry=r)
        self.alerts = Counter("redline_monitor_alerts", "Monitor alerts raised, by kind and rule", ["kind", "rule"], registry=r)
        self.escalations = Counter(
            "redline_monitor_escalations", "Input decisions escalated by an open monitor alert, by rule", ["rule"], registry=r
        )
        self.monitor_errors = Counter("redline_monitor_errors", "Requests the monitor failed to count (sent to review)", registry=r)
        self.monitor_degraded = Counter(
            "redline_monitor_degraded", "Requests counted in this replica only: the shared monitor state was unavailable", registry=r
        )
        self.gate_calls = Counter(
            "redline_gate_calls", "Tool calls in model output by gate verdict and effect", ["status", "effect"], registry=r
        )
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Counter | Histogram | Gauge, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def decided(self, stage: str, decision: Decision, seconds: float) -> None:
        self.child(self.decisions, stage, decision.decision, decision.red_line or "none", decision.rule).inc()
        self.child(self.decision_latency, stage).observe(seconds)

    def served(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request on a route of the gateway."""
        self.child(self.requests, endpoint, str(status)).inc()
        self.child(self.latency, endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
