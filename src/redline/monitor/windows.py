"""Sliding time windows per tenant: distinct keys (exact up to a bound, then bucketed HyperLogLog)
and bucketed counters. Each update is O(1) amortized; memory is bounded by the exact bound, the
bucket count and the sketch size, however many keys a tenant touches.

Bucketed windows keep the bucket the window's trailing edge falls in, so they cover between one
window and one window plus one bucket (1/24 of it by default): they may over-count by that much,
never under-count — the side that does not let a campaign slip under a threshold."""

from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any

import numpy as np

from redline.monitor.sketch import HyperLogLog, estimate

_RECOUNT_EVERY = 64  # a sketch-mode count is recomputed after this many adds (or a bucket change)


class DistinctWindow:
    """Distinct keys seen in the last `seconds`: exact (key -> last seen) while at most `exact_limit`
    keys are live, then `buckets` HyperLogLog sketches of `seconds / buckets` each."""

    def __init__(self, seconds: float, exact_limit: int, precision: int, buckets: int) -> None:
        self.seconds = float(seconds)
        self.exact_limit = exact_limit
        self.precision = precision
        self.buckets = buckets
        self.width = self.seconds / buckets
        self.exact: OrderedDict[int, float] | None = OrderedDict()
        self.sketches: dict[int, HyperLogLog] = {}
        self._cached: float | None = None
        self._adds = 0

    def add(self, key: int, ts: float) -> None:
        """Count `key` at `ts` (the caller expires the window once per request with `expire`)."""
        if self.exact is not None:
            if key in self.exact:
                self.exact.move_to_end(key)
            self.exact[key] = ts
            if len(self.exact) > self.exact_limit:
                self._to_sketch()
            return
        bucket = int(ts // self.width)
        sketch = self.sketches.get(bucket)
        if sketch is None:
            sketch = self.sketches[bucket] = HyperLogLog(self.precision)
            self._cached = None
        sketch.add(key)
        self._adds += 1

    def _to_sketch(self) -> None:
        assert self.exact is not None
        for key, seen in self.exact.items():
            bucket = int(seen // self.width)
            sketch = self.sketches.get(bucket)
            if sketch is None:
                sketch = self.sketches[bucket] = HyperLogLog(self.precision)
            sketch.add(key)
        self.exact = None
        self._cached = None

    def expire(self, now: float) -> None:
        horizon = now - self.seconds
        if self.exact is not None:
            exact = self.exact
            while exact:
                _key, seen = next(iter(exact.items()))
                if seen > horizon:
                    break
                exact.popitem(last=False)
            return
        oldest = int(horizon // self.width)  # the bucket the horizon falls in is kept (see module doc)
        stale = [b for b in self.sketches if b < oldest]
        for b in stale:
            del self.sketches[b]
        if stale:
            self._cached = None
        if not self.sketches:  # everything expired: back to exact counting
            self.exact = OrderedDict()

    def count(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        if self._cached is None or self._adds >= _RECOUNT_EVERY:
            stacked = np.maximum.reduce([s.registers for s in self.sketches.values()]) if self.sketches else None
            self._cached = 0.0 if stacked is None else estimate(stacked)
            self._adds = 0
        return round(self._cached)

    @property
    def sketched(self) -> bool:
        return self.exact is None

    def to_state(self) -> dict[str, Any]:
        if self.exact is not None:
            return {"exact": [[k, t] for k, t in self.exact.items()]}
        return {"sketches": [[b, base64.b64encode(s.to_bytes()).decode()] for b, s in sorted(self.sketches.items())]}

    def load_state(self, state: dict[str, Any]) -> None:
        if "exact" in state:
            self.exact = OrderedDict((int(k), float(t)) for k, t in state["exact"])
            self.sketches = {}
        else:
            self.exact = None
            self.sketches = {int(b): HyperLogLog.from_bytes(self.precision, base64.b64decode(data)) for b, data in state["sketches"]}
        self._cached = None


class CounterWindow:
    """Named sums over the last `seconds`, kept in `buckets` time buckets, with the first and last
    event time of the live buckets (the time span an alert reports)."""

    def __init__(self, seconds: float, buckets: int) -> None:
        self.seconds = float(seconds)
        self.width = self.seconds / buckets
        self.buckets: dict[int, dict[str, float]] = {}
        self.totals: dict[str, float] = {}
        self._low: int | None = None  # the oldest live bucket: `expire` has nothing to do until it falls out

    def add(self, ts: float, amounts: dict[str, float]) -> None:
        self.expire(ts)
        b = int(ts // self.width)
        bucket = self.buckets.get(b)
        if bucket is None:
            bucket = self.buckets[b] = {"_first": ts}
            if self._low is None or b < self._low:
                self._low = b
        bucket["_last"] = ts
        for name, n in amounts.items():
            bucket[name] = bucket.get(name, 0.0) + n
            self.totals[name] = self.totals.get(name, 0.0) + n

    def expire(self, now: float) -> None:
        oldest = int((now - self.seconds) // self.width)
        if self._low is None or self._low >= oldest:  # no bucket older than the window
            return
        for b in [b for b in self.buckets if b < oldest]:
            for name, n in self.buckets.pop(b).items():
                if not name.startswith("_"):
                    self.totals[name] = self.totals.get(name, 0.0) - n
                    if self.totals[name] <= 1e-9:
                        del self.totals[name]
        self._low = min(self.buckets) if self.buckets else None

    def total(self, name: str) -> float:
        return self.totals.get(name, 0.0)

    def span(self) -> tuple[float, float] | None:
        if not self.buckets:
            return None
        return self.buckets[min(self.buckets)]["_first"], self.buckets[max(self.buckets)]["_last"]

    def to_state(self) -> dict[str, Any]:
        return {"buckets": [[b, v] for b, v in sorted(self.buckets.items())]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.buckets = {int(b): {k: float(x) for k, x in v.items()} for b, v in state["buckets"]}
        self._low = min(self.buckets) if self.buckets else None
        self.totals = {}
        for values in self.buckets.values():
            for name, n in values.items():
                if not name.startswith("_"):
                    self.totals[name] = self.totals.get(name, 0.0) + n
