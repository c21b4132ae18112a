"""`LedgerWriter`: group commit for callers that append concurrently (the gateway, replay).

A commit costs far more than hashing a record, so one writer thread takes everything pending and
appends it as one transaction: N concurrent appends cost about one commit. A caller's append is
acknowledged (its future resolved) only after the transaction holding it has committed, so the
crash guarantee of `Ledger.append` holds unchanged: every acknowledged record is in the ledger.
The queue is bounded; when the database cannot keep up, callers wait rather than memory growing.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from redline.ledger.errors import LedgerError
from redline.ledger.log import Ledger
from redline.ledger.record import Receipt, Record

DEFAULT_MAX_BATCH = 512
DEFAULT_MAX_PENDING = 10_000

_Item = tuple[Record, "Future[Receipt]"]


class LedgerWriter:
    def __init__(self, ledger: Ledger, max_batch: int = DEFAULT_MAX_BATCH, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_batch < 1 or max_pending < 1:
            raise ValueError("max_batch and max_pending must be positive")
        self.ledger = ledger
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(max_pending)
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, record: Record) -> Future[Receipt]:
        """Queue a record; the future resolves to its receipt once committed (or to the error)."""
        future: Future[Receipt] = Future()
        with self._close_lock:
            if self._closed:
                raise LedgerError("the ledger writer is closed")
            self._queue.put((record, future))
        return future

    def append(self, record: Record, timeout: float | None = None) -> Receipt:
        """Append and wait for the commit: the same contract as `Ledger.append`."""
        return self.submit(record).result(timeout)

    def close(self) -> None:
        """Commit everything queued, then stop the writer thread (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True  # commit what is already queued, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        live = [(record, future) for record, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            receipts = self.ledger.append_many([record for record, _ in live])
        except Exception as e:  # every waiting caller learns the append failed; none is left hanging
            for _, future in live:
                future.set_exception(e)
            return
        for (_, future), receipt in zip(live, receipts, strict=True):
            future.set_result(receipt)
