"""`LedgerWriter`: group commit for callers that append concurrently (the gateway, replay).

A commit costs far more than hashing a record, so one writer thread takes everything pending and
appends it as one transaction: N concurrent appends cost about one commit. A caller's append is
acknowledged (its future resolved) only after the transaction holding it has committed, so the
crash guarantee of `Ledger.append` holds unchanged: every acknowledged record is in the ledger.
The queue is bounded; when the database cannot keep up, callers wait rather than memory growing.
A caller may hand over a function that builds the record, so redaction runs on the writer thread
rather than on a request's; and when traffic stops, the writer signs the checkpoint the time rule
asks for instead of leaving the tail unsigned until the next append. With a `linger_s`, a batch
that holds only records nobody waits for (`urgent=False`) is held open that long for more to
join it, so a busy writer commits (and wakes) once per period rather than once per record; an
urgent record ends the wait at once. A caller that batches on its own side (the gateway's event
loop) hands a whole batch over with `post`: one queue item, one wake-up, no future per record.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from redline.ledger.errors import LedgerError
from redline.ledger.log import Ledger
from redline.ledger.record import Receipt, Record

DEFAULT_MAX_BATCH = 512
DEFAULT_MAX_PENDING = 10_000

Pending = Record | Callable[[], Record]
_Item = tuple[Sequence[Pending], "Future[Receipt] | None", bool]  # (records, the future of a single one, urgent)


class _RecordQueue(queue.Queue[_Item | None]):
    """Bounded by records, not by hand-offs: a posted batch counts as its length (the stop
    marker as one), so `max_pending` means the same whether records come one by one or posted."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.records = 0

    def _qsize(self) -> int:
        return self.records

    def _put(self, item: _Item | None) -> None:
        self.records += 1 if item is None else len(item[0])
        super()._put(item)

    def _get(self) -> _Item | None:
        item: _Item | None = super()._get()
        self.records -= 1 if item is None else len(item[0])
        return item


class LedgerWriter:
    def __init__(
        self,
        ledger: Ledger,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_pending: int = DEFAULT_MAX_PENDING,
        idle_checkpoint_s: float | None = None,
        on_error: Callable[[int, BaseException], None] | None = None,
        linger_s: float = 0.0,
    ) -> None:
        """`idle_checkpoint_s`: after this long without appends, sign a checkpoint if any record
        is unsigned. `on_error(n, exc)`: told when n records could not be appended (metrics, logs).
        `linger_s`: how long a batch of non-urgent records waits for company before it commits."""
        if max_batch < 1 or max_pending < 1 or linger_s < 0:
            raise ValueError("max_batch and max_pending must be positive, linger_s not negative")
        self.ledger = ledger
        self._idle = idle_checkpoint_s
        self._linger = linger_s
        self._hurry = threading.Event()
        self._on_error = on_error
        self._max_batch = max_batch
        self._queue = _RecordQueue(max_pending)
        self._closed = False
        self._close_lock = threading.Lock()
        # for `health`: when the last batch committed and when (and how) the last one failed
        self._last_commit = time.monotonic()
        self._last_error: tuple[float, str] | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, record: Pending, block: bool = True, urgent: bool = True) -> Future[Receipt]:
        """Queue a record (or a function building it, called on the writer thread); the future
        resolves to its receipt once committed, or to the error. With `block=False` a full queue
        raises `queue.Full` instead of waiting. `urgent=False`: nobody is waiting for this
        commit, so it may linger (see `linger_s`)."""
        future: Future[Receipt] = Future()
        with self._close_lock:
            if self._closed:
                raise LedgerError("the ledger writer is closed")
            self._queue.put(((record,), future, urgent), block=block)
        if urgent and self._linger:
            self._hurry.set()
        return future

    def post(self, records: Sequence[Pending], block: bool = True) -> None:
        """Queue records nobody waits for, batched by the caller: committed together in the
        writer's next transaction without lingering again; a failure reaches only `on_error`.
        With `block=False` a full queue raises `queue.Full` instead of waiting."""
        if not records:
            return
        with self._close_lock:
            if self._closed:
                raise LedgerError("the ledger writer is closed")
            self._queue.put((tuple(records), None, True), block=block)

    def depth(self) -> int:
        """Records waiting for the writer."""
        return self._queue.qsize()

    def health(self) -> str | None:
        """What is wrong with the writer, or None: its thread stopped, or its last append failed
        and none has committed since (the exception type only: messages may quote records)."""
        if self._closed:
            return "the ledger writer is closed"
        if not self._thread.is_alive():
            return "the ledger writer thread stopped"
        error = self._last_error
        if error is not None and error[0] >= self._last_commit:
            return f"the last ledger append failed ({error[1]})"
        return None

    def append(self, record: Pending, timeout: float | None = None) -> Receipt:
        """Append and wait for the commit: the same contract as `Ledger.append`."""
        return self.submit(record).result(timeout)

    def close(self) -> None:
        """Commit everything queued, then stop the writer thread (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._hurry.set()
        self._thread.join()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self._idle)
            except queue.Empty:
                self._checkpoint()
                continue
            if first is None:
                break
            if self._linger and not first[2]:
                # Let the batch fill; an urgent submit (or close) sets the event and ends the wait.
                self._hurry.wait(self._linger)
            self._hurry.clear()
            batch, size = [first], len(first[0])
            while size < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True  # commit what is already queued, then stop
                    break
                batch.append(item)
                size += len(item[0])
            self._commit(batch)
        if self._idle is not None:
            self._checkpoint()

    def _commit(self, batch: list[_Item]) -> None:
        live: list[tuple[Record, Future[Receipt] | None]] = []
        for pendings, future, _ in batch:
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            for pending in pendings:
                try:
                    live.append((pending() if callable(pending) else pending, future))
                except Exception as e:  # a record that cannot be built fails alone, not its batch
                    self._failed(1, e)
                    if future is not None:
                        future.set_exception(e)
        if not live:
            return
        try:
            receipts = self.ledger.append_many([record for record, _ in live])
        except Exception as e:  # every waiting caller learns the append failed; none is left hanging
            self._failed(len(live), e)
            for _, future in live:
                if future is not None:
                    future.set_exception(e)
            return
        self._last_commit = time.monotonic()
        for (_, future), receipt in zip(live, receipts, strict=True):
            if future is not None:
                future.set_result(receipt)

    def _failed(self, n: int, e: BaseException) -> None:
        if n:
            self._last_error = (time.monotonic(), type(e).__name__)
        if self._on_error is not None:
            self._on_error(n, e)

    def _checkpoint(self) -> None:
        try:
            self.ledger.checkpoint()
        except Exception as e:  # retried at the next idle period
            self._failed(0, e)
