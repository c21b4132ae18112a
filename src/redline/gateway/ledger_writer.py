"""Decisions into the ledger without a disk commit on the request path, unless the answer needs one.

The group-commit writer (`redline.ledger.LedgerWriter`) appends in batches from its own thread. A
caller that needs the record's id (a block, a held review — the id goes into the 403) awaits the
batch's commit, which then starts at once; an allow is collected on the event loop (a list append:
no lock, no future, no thread wake-up) and the response goes out at once. The allows collected
over `linger_s` are handed to the writer as one batch — one wake-up and one commit per period
instead of a hand-off per record — or sooner when `batch_max` are waiting or a refusal needs its
id (the allows before it go first, so the ledger keeps their order). Redaction runs on the writer
thread. A full queue pushes back on callers instead of dropping records: every decision is
recorded. Only the event loop calls `append` and `append_alert`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
from collections.abc import Callable
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
        # The lingering happens here, on the loop; the writer commits what it is handed at once.
        self._writer = LedgerWriter(ledger, batch_max, queue_size, idle_checkpoint_s, on_error=self._on_error)
        self._linger = linger_s
        self._batch_max = batch_max
        self._queue_size = queue_size
        self._pending: list[Callable[[], Record]] = []  # allows not yet handed to the writer
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handing = False  # a hand-off is waiting for room in a full queue

    def depth(self) -> int:
        return self._writer.depth() + len(self._pending)

    def health(self) -> str | None:
        """What keeps decisions from being recorded, or None (see `LedgerWriter.health`); a queue
        nine-tenths full counts too: requests are about to wait for the disk."""
        problem = self._writer.health()
        if problem is None and self._writer.depth() >= 0.9 * self._queue_size:
            problem = f"the ledger queue is nearly full ({self._writer.depth()} of {self._queue_size})"
        return problem

    async def append(self, entry: Entry, wait: bool) -> int | None:
        """Record a decision; with `wait`, return its ledger id once committed (None if the append failed)."""
        build = functools.partial(self._record, entry)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a timer armed on another (closed) loop would never fire
            self._hand_off()
            self._loop = loop
        if not wait:
            self._pending.append(build)
            if len(self._pending) >= self._batch_max or not self._linger:
                await self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self._linger, self._on_timer)
            return None
        await self._flush()  # the allows before this record go first
        try:
            fut = self._writer.submit(build, block=False)
        except queue.Full:
            fut = await asyncio.to_thread(self._writer.submit, build, True)
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
        """Write what is queued, then stop (after the loop's last append)."""
        if self._pending:
            self._writer.post(self._pending)
            self._pending = []
        self._writer.close()
        self.ledger.close()

    def _hand_off(self) -> bool:
        """Hand the collected allows to the writer if its queue has room; False if it is full."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._handing:
            return not self._pending
        try:
            self._writer.post(self._pending, block=False)
        except queue.Full:
            return False
        self._pending = []
        return True

    def _on_timer(self) -> None:
        self._timer = None
        if not self._hand_off() and self._loop is not None:  # full: try again a period later
            self._timer = self._loop.call_later(self._linger or 0.001, self._on_timer)

    async def _flush(self) -> None:
        """Hand the collected allows over, waiting for room in the queue (callers are pushed back)."""
        while not self._hand_off():
            if self._handing:  # another request is already waiting for room: wait with it
                await asyncio.sleep(self._linger or 0.001)
                continue
            batch, self._pending = self._pending, []
            self._handing = True
            try:
                await asyncio.to_thread(self._writer.post, batch, True)
            finally:
                self._handing = False

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
