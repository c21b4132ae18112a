"""Decisions into the ledger without a disk commit on the request path, unless the answer needs one.

The group-commit writer (`redline.ledger.LedgerWriter`) appends in batches from its own thread. A
caller that needs the record's id (a block, a held review — the id goes into the 403) awaits the
batch's commit, which then starts at once; an allow is queued and the response goes out at once,
and its batch waits up to `linger_s` for more records (fewer commits and writer wake-ups). Redaction runs on the
writer thread. A full queue pushes back on callers instead of dropping records: every decision is
recorded.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from dataclasses import dataclass
from typing import Any

from redline.decide import Decision
from redline.gateway.metrics import Metrics
from redline.ledger import Ledger, LedgerError, LedgerWriter, Receipt, Record
from redline.store import StoreError

log = logging.getLogger("redline.gateway")


@dataclass(frozen=True)
class Entry:
    """What becomes a redacted `decision` record."""

    decision: Decision
    request: Any
    tenant: str | None
    request_id: str
    stage: str


class DecisionRecorder:
    def __init__(
        self,
        ledger: Ledger,
        metrics: Metrics,
        queue_size: int = 10_000,
        batch_max: int = 256,
        idle_checkpoint_s: float = 60.0,
        linger_s: float = 0.0,
    ) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self._writer = LedgerWriter(ledger, batch_max, queue_size, idle_checkpoint_s, on_error=self._on_error, linger_s=linger_s)

    def depth(self) -> int:
        return self._writer.depth()

    async def append(self, entry: Entry, wait: bool) -> int | None:
        """Queue a decision; with `wait`, return its ledger id once committed (None if the append failed)."""

        def build() -> Record:
            return self._record(entry)

        try:
            fut = self._writer.submit(build, block=False, urgent=wait)
        except queue.Full:
            fut = await asyncio.to_thread(self._writer.submit, build, True, wait)
        if not wait:
            return None
        try:
            receipt: Receipt = await asyncio.wrap_future(fut)
        except (LedgerError, StoreError, OSError):
            return None
        return receipt.seq

    def append_alert(self, alert: dict[str, Any], tenant: str) -> None:
        """Queue a monitor alert's `alert` record (`Redactor.alert`, as `redline replay` writes it).
        Nothing waits for it; a full queue makes the caller wait for room (alerts are rare)."""
        redactor = self.ledger.redactor

        def build() -> Record:
            return redactor.alert(alert, tenant)

        try:
            self._writer.submit(build, block=False, urgent=False)
        except queue.Full:
            self._writer.submit(build, urgent=False)

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._writer.close()
        self.ledger.close()

    def _record(self, e: Entry) -> Record:
        rec = self.ledger.redactor.decision(e.decision, request=e.request, tenant=e.tenant, request_id=e.request_id)
        return Record(rec.kind, {**rec.payload, "stage": e.stage}, rec.tenant, rec.full_text, rec.retain_until)

    def _on_error(self, n: int, err: BaseException) -> None:
        # type names only: a driver's message may quote the record
        if n:
            self.metrics.ledger_errors.inc(n)
            log.error("ledger append failed for %d decision(s): %s", n, type(err).__name__)
        else:
            log.error("ledger checkpoint failed: %s", type(err).__name__)
