"""The Monitor behind the pipeline's monitor hook: every input decision is counted into its
tenant's windows and may come back escalated; each new alert becomes an `alert` ledger record.

The adapter passes the tenant's authorities (a foreign-intelligence tenant's unknown subjects are
not presumed domestic) and the request as the client sent it (identifiers are read from the raw
text, before normalization folds it). For the account-level abuse detectors it also passes who
sent it — the `x-redline-account` header and the client address, noted by the app when it
authenticates the tenant (a context variable: the request's own task) — and the tenant's declared
`cyber_scope` from its profile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from contextvars import ContextVar
from typing import Any

from redline.decide import Decision
from redline.gateway.ledger_writer import DecisionRecorder
from redline.gateway.metrics import Metrics
from redline.monitor import Monitor
from redline.tenants import Tenant
from redline.text import Conversation

log = logging.getLogger("redline.gateway")

UNAVAILABLE_RULE = "monitor.unavailable"
ACCOUNT_HEADER = "x-redline-account"
_ACCOUNT: ContextVar[dict[str, Any] | None] = ContextVar("redline_account", default=None)


def note_account(account: str | None, client_ip: str | None) -> None:
    """Remember who sent the current request (called once per request, when the tenant is known)."""
    _ACCOUNT.set({"account": account, "client_ip": client_ip})


_RANK = {"allow": 0, "review": 1, "block": 2}


class MonitorHook:
    """`observe(tenant, request_id, ts, conversation, decision, request) -> Decision` over a `Monitor`."""

    def __init__(self, monitor: Monitor, recorder: DecisionRecorder | None, metrics: Metrics) -> None:
        self.monitor = monitor
        self.recorder = recorder
        self.metrics = metrics

    async def observe(
        self, tenant: Tenant, request_id: str, ts: float, conversation: Conversation, decision: Decision, request: Any
    ) -> Decision:
        count = functools.partial(
            self.monitor.observe,
            tenant.name,
            request_id,
            ts,
            request,
            decision,
            conversation=conversation,
            authorities=tenant.authorities,
            account=_ACCOUNT.get(),
            cyber_scope=tenant.profile.get("cyber_scope") or (),
        )
        try:
            # With state shared by replicas a request may wait for another replica's Redis lock:
            # that wait happens on a worker thread, not on the event loop every request shares.
            # Local state answers in microseconds: no thread hop for it.
            seen = await asyncio.to_thread(count) if self.monitor.shares_state else count()
        except Exception as e:
            # Fail closed: a request the monitor could not count is not let through unseen; it goes
            # to review (held or flagged as configured). The type name only: no request text in logs.
            log.error("monitor failed on request %s: %s", request_id, type(e).__name__)
            self.metrics.monitor_errors.inc()
            return _unavailable(decision, type(e).__name__)
        if seen.degraded is not None:
            # the policy chose `shared_state_down: local`: counted here only, and said loudly
            self.metrics.monitor_degraded.inc()
            log.error("monitor shared state unavailable, counting in this replica only: %s", seen.degraded)
        for alert in seen.alerts:
            self.metrics.alerts.labels(alert.kind, alert.rule).inc()
            if self.recorder is not None:
                self.recorder.append_alert(alert.to_dict(), alert.tenant)
        if seen.escalated_by is not None:
            self.metrics.escalations.labels(seen.escalated_by).inc()
        return seen.decision

    def close(self) -> None:
        """Write the tenants' counters so a restart resumes them."""
        self.monitor.close()


def _unavailable(decision: Decision, why: str) -> Decision:
    if _RANK[decision.decision] >= _RANK["review"]:
        return decision
    return dataclasses.replace(decision, decision="review", rule=UNAVAILABLE_RULE, error=f"monitor unavailable: {why}")
