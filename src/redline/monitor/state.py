"""One tenant's counters: the windows the policy's rules read, per-subject category joins, the
identifier -> subject aliases, and which alerts are open or were cleared. Plain data that
serializes to JSON (no pickle): keys are keyed 64-bit hashes, never identifiers."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from redline.monitor.profile import RequestProfile
from redline.monitor.windows import CounterWindow, DistinctWindow
from redline.policy.schema import MonitorConfig

STATE_FORMAT = 1
_SUBJECT_METRICS = ("domestic_subjects", "joined_subjects", "process_refs")


class TenantState:
    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        used: dict[str, set[str]] = {}
        for rule in config.rules:
            used.setdefault(rule.window, set()).update(rule.when)
        self.distinct: dict[tuple[str, str], DistinctWindow] = {}
        self.counters: dict[str, CounterWindow] = {}
        for window, metrics in used.items():
            seconds = config.windows[window]
            for metric in metrics & set(_SUBJECT_METRICS):
                self.distinct[(metric, window)] = DistinctWindow(
                    seconds, config.exact_subjects, config.sketch_precision, config.sketch_buckets
                )
            self.counters[window] = CounterWindow(seconds, config.sketch_buckets)
        self.horizon = float(max(config.windows[w] for w in used)) if used else 0.0
        self.subjects: OrderedDict[int, list[float]] = OrderedDict()  # key -> [category mask, last seen]
        self.aliases: OrderedDict[int, int] = OrderedDict()  # identifier hash -> subject key
        self.samples: deque[tuple[float, str]] = deque(maxlen=max(1, config.sample_request_ids))
        self.open_alerts: dict[str, str] = {}  # rule id -> alert id
        self.cleared: dict[str, tuple[float, float]] = {}  # rule id -> (cleared at, value then)
        self.last_ts = float("-inf")
        self.category_bits = {name: 1 << i for i, name in enumerate(config.categories)}
        # the account-level abuse detectors' state (redline.abuse.AbuseState), kept in the same
        # snapshot; `abuse_saved` holds a loaded snapshot until the monitor first needs it
        self.abuse: Any = None
        self.abuse_saved: dict[str, Any] | None = None

    # -- updating ----------------------------------------------------------------------------------

    def resolve(self, hashes: tuple[int, ...]) -> int:
        """The subject key for a group of identifier hashes: the key an alias already gives any
        of them (the same person named twice is one subject), else the group's first hash."""
        key = next((self.aliases[h] for h in hashes if h in self.aliases), hashes[0])
        limit = self.config.tracked_subjects * 2
        for h in hashes:
            self.aliases[h] = key
            self.aliases.move_to_end(h)
        while len(self.aliases) > limit:
            self.aliases.popitem(last=False)
        return key

    def record(self, ts: float, request_id: str, profile: RequestProfile) -> int:
        """Count one surveillance-type request; returns how many domestic subjects it touched."""
        ts = max(ts, self.last_ts)  # clocks of several replicas may disagree a little: never go back
        self.last_ts = ts
        counted = profile.counted()
        keys = list(dict.fromkeys(self.resolve(s.hashes) for s in counted))
        amounts: dict[str, float] = {"surveillance_requests": 1.0}
        for name in profile.categories:
            amounts["cat:" + name] = 1.0
        if len(keys) >= self.config.bulk_request_subjects:
            amounts["bulk_subjects"] = float(len(keys))
        for counter in self.counters.values():
            counter.add(ts, amounts)
        mask = 0
        for name in profile.categories:
            mask |= self.category_bits.get(name, 0)
        joined: list[int] = []
        for key in keys:
            if self._join(key, mask, ts):
                joined.append(key)
        for (metric, _window), win in self.distinct.items():
            if metric == "domestic_subjects":
                for key in keys:
                    win.add(key, ts)
            elif metric == "joined_subjects":
                for key in joined:
                    win.add(key, ts)
            elif metric == "process_refs" and keys:
                for ref in profile.process_refs:
                    win.add(ref, ts)
        if keys:
            self.samples.append((ts, request_id))
        return len(keys)

    def _join(self, key: int, mask: int, ts: float) -> bool:
        """Add categories to a subject; True when it has (still) joined enough to be a profile."""
        entry = self.subjects.get(key)
        if entry is None or ts - entry[1] > self.horizon:
            entry = [0.0, ts]
        merged = int(entry[0]) | mask
        entry[0], entry[1] = float(merged), ts
        self.subjects[key] = entry
        self.subjects.move_to_end(key)
        while len(self.subjects) > self.config.tracked_subjects:
            self.subjects.popitem(last=False)
        return merged.bit_count() >= self.config.joined_categories

    def advance(self, ts: float) -> None:
        for win in self.distinct.values():
            win.expire(ts)
        for counter in self.counters.values():
            counter.expire(ts)

    # -- reading -----------------------------------------------------------------------------------

    def value(self, metric: str, window: str) -> int:
        win = self.distinct.get((metric, window))
        if win is not None:
            return win.count()
        counter = self.counters.get(window)
        return round(counter.total(metric)) if counter is not None else 0

    def categories(self, window: str) -> dict[str, int]:
        counter = self.counters[window]
        return {name[4:]: round(n) for name, n in sorted(counter.totals.items()) if name.startswith("cat:")}

    # -- persistence -------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "v": STATE_FORMAT,
            "distinct": [[m, w, win.to_state()] for (m, w), win in self.distinct.items()],
            "counters": [[w, c.to_state()] for w, c in self.counters.items()],
            "subjects": [[k, int(v[0]), v[1]] for k, v in self.subjects.items()],
            "aliases": [[h, k] for h, k in self.aliases.items()],
            "samples": [[t, r] for t, r in self.samples],
            "open_alerts": self.open_alerts,
            "cleared": {r: list(v) for r, v in self.cleared.items()},
            "last_ts": self.last_ts if self.last_ts != float("-inf") else None,
            "abuse": self.abuse.to_state() if self.abuse is not None else self.abuse_saved,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("v") != STATE_FORMAT:
            raise ValueError(f"unknown monitor state format {state.get('v')!r}")
        for metric, window, sub in state["distinct"]:
            if (metric, window) in self.distinct:  # a window the current policy still reads
                self.distinct[(metric, window)].load_state(sub)
        for window, sub in state["counters"]:
            if window in self.counters:
                self.counters[window].load_state(sub)
        self.subjects = OrderedDict((int(k), [float(m), float(t)]) for k, m, t in state["subjects"])
        self.aliases = OrderedDict((int(h), int(k)) for h, k in state["aliases"])
        self.samples.extend((float(t), str(r)) for t, r in state["samples"])
        self.open_alerts = dict(state["open_alerts"])
        self.cleared = {r: (float(v[0]), float(v[1])) for r, v in state["cleared"].items()}
        self.last_ts = float(state["last_ts"]) if state.get("last_ts") is not None else float("-inf")
        self.abuse_saved = state.get("abuse")
