"""Ledger appends off the event loop: a writer thread drains a bounded queue in batches.

One `append_many` per batch is about 4x cheaper per record than one transaction per record on
SQLite, and the request never waits for a disk commit unless it must. A caller that needs the
record's id (a block, a held review — the id goes into the 403) awaits the batch's commit; an
allow is queued and the response goes out at once. A full queue pushes back on callers instead of
dropping records: every decision is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from redline.decide import Decision
from redline.gateway.metrics import Metrics
from redline.ledger import Ledger, LedgerError, Receipt
from redline.store import StoreError

log = logging.getLogger("redline.gateway")


@dataclass(frozen=True)
class Entry:
    """What the writer turns into a redacted `decision` record (redaction happens in its thread)."""

    decision: Decision
    request: Any
    tenant: str | None
    request_id: str
    stage: str


class LedgerWriter:
    def __init__(
        self, ledger: Ledger, metrics: Metrics, queue_size: int = 10_000, batch_max: int = 256, idle_checkpoint_s: float = 60.0
    ) -> None:
        self.ledger = ledger
        self.batch_max = batch_max
        self.idle_checkpoint_s = idle_checkpoint_s
        self.metrics = metrics
        self._queue: queue.Queue[tuple[Entry, Future[Receipt]] | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._run, name="redline-ledger-writer", daemon=True)
        self._thread.start()

    def depth(self) -> int:
        return self._queue.qsize()

    async def append(self, entry: Entry, wait: bool) -> int | None:
        """Queue a decision; with `wait`, return its ledger id once committed (None if the append failed)."""
        fut: Future[Receipt] = Future()
        try:
            self._queue.put_nowait((entry, fut))
        except queue.Full:
            await asyncio.to_thread(self._queue.put, (entry, fut))
        if not wait:
            return None
        try:
            return (await asyncio.wrap_future(fut)).seq
        except (LedgerError, StoreError, OSError):
            return None

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        self.ledger.close()

    def _record(self, e: Entry) -> Any:
        rec = self.ledger.redactor.decision(e.decision, request=e.request, tenant=e.tenant, request_id=e.request_id)
        return dataclasses.replace(rec, payload={**rec.payload, "stage": e.stage})

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self.idle_checkpoint_s)
            except queue.Empty:
                self._checkpoint()
                continue
            batch: list[tuple[Entry, Future[Receipt]]] = []
            item = first
            while True:
                if item is None:
                    stop = True
                    break
                batch.append(item)
                if len(batch) >= self.batch_max:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
        self._checkpoint()

    def _write(self, batch: list[tuple[Entry, Future[Receipt]]]) -> None:
        try:
            receipts = self.ledger.append_many([self._record(e) for e, _ in batch])
        except Exception as err:  # the writer must survive any failure; callers see it on their future
            self.metrics.ledger_errors.inc(len(batch))
            log.error("ledger append failed for %d decision(s): %s", len(batch), type(err).__name__)
            for _, fut in batch:
                fut.set_exception(err if isinstance(err, LedgerError | StoreError | OSError) else LedgerError(type(err).__name__))
            return
        for (_, fut), receipt in zip(batch, receipts, strict=True):
            fut.set_result(receipt)

    def _checkpoint(self) -> None:
        try:
            self.ledger.checkpoint()
        except Exception as err:  # a failed checkpoint is retried at the next idle period
            log.error("ledger checkpoint failed: %s", type(err).__name__)
