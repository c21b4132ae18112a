"""Which signals fire in a text: every pattern of the policy matched in one pass.

Hyperscan (the multi-pattern engine intrusion-detection systems use) answers in microseconds for
all ~150 patterns at once; RE2's multi-pattern DFA blows up on the bounded gaps the patterns
need ("remove ... confirmation"), costing ~1 ms per text. Compiling the Hyperscan database takes
seconds, so it is done on first use and cached on disk, keyed by the patterns' hash and the
engine version. Where Hyperscan is not available, each pattern is searched with RE2 (slower,
same answers; `tests/test_matcher.py` checks the two agree).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import re2

hyperscan: Any
try:  # optional accelerator; see module docstring
    import hyperscan
except ImportError:  # pragma: no cover - exercised where the wheel is missing
    hyperscan = None


def cache_dir() -> Path:
    """Where compiled pattern databases are kept (REDLINE_CACHE, else the user cache dir)."""
    base = os.environ.get("REDLINE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "redline")
    return Path(base)


class SignalMatcher:
    """Compiled patterns: `fired(text)` gives the names of the signals with at least one match."""

    def __init__(self, patterns: Sequence[tuple[str, str]], options: Any) -> None:
        """`patterns`: (signal name, pattern) pairs, RE2 syntax, already validated."""
        self._names = [name for name, _ in patterns]
        self._patterns = [p for _, p in patterns]
        self._options = options
        self._db: Any = None
        self._local = threading.local()  # Hyperscan scratch space is per thread and per database
        self._lock = threading.Lock()
        self._re2: list[Any] | None = None
        self._spans_db: Any = None
        self._no_som: frozenset[int] = frozenset()
        self.engine = "hyperscan" if hyperscan is not None else "re2"

    @property
    def key(self) -> str:
        h = hashlib.sha256()
        for name, p in zip(self._names, self._patterns, strict=True):
            h.update(f"{name}\x00{p}\x01".encode())
        h.update(str(getattr(hyperscan, "__version__", "")).encode())
        return h.hexdigest()[:32]

    def prepare(self) -> int | None:
        """Compile now (or load the cached database). Returns the index of a pattern the engine
        rejects, or None when all compile."""
        if self.engine != "hyperscan":
            return None
        try:
            with self._lock:
                if self._db is None:
                    self._load_hyperscan()
        except hyperscan.error:
            for i, p in enumerate(self._patterns):
                try:
                    hyperscan.Database().compile(expressions=[p.encode()], ids=[0], elements=1, flags=[hyperscan.HS_FLAG_SINGLEMATCH])
                except hyperscan.error:
                    return i
            raise
        return None

    def _cached_db(self, kind: str, build: Any) -> tuple[Any, list[int]]:
        """Load a compiled database from the cache, or build it and store it (atomically)."""
        path = cache_dir() / f"signals-{self.key}.{kind}.hsdb"
        sidecar = path.with_suffix(".json")
        try:
            db = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            return db, [int(i) for i in json.loads(sidecar.read_text())["excluded"]]
        except (OSError, hyperscan.error, TypeError, ValueError, KeyError):
            pass
        db, excluded = build()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for target, data in ((sidecar, json.dumps({"excluded": excluded}).encode()), (path, hyperscan.dumpb(db))):
                with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                    tmp.write(data)
                os.replace(tmp.name, target)  # a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only cache only costs the next process the compile time
        return db, excluded

    def _build_fired(self) -> tuple[Any, list[int]]:
        n = len(self._patterns)
        db = hyperscan.Database()
        db.compile(
            expressions=[p.encode() for p in self._patterns], ids=list(range(n)), elements=n, flags=[hyperscan.HS_FLAG_SINGLEMATCH] * n
        )
        return db, []

    def _build_spans(self) -> tuple[Any, list[int]]:
        """Start-of-match reporting, for evidence. A few patterns are too large for it; those are
        excluded here and located with RE2."""
        som = hyperscan.HS_FLAG_SOM_LEFTMOST
        excluded: list[int] = []
        for i, p in enumerate(self._patterns):
            try:
                hyperscan.Database().compile(expressions=[p.encode()], ids=[0], elements=1, flags=[som])
            except hyperscan.error:
                excluded.append(i)
        ids = [i for i in range(len(self._patterns)) if i not in excluded]
        db = hyperscan.Database()
        db.compile(expressions=[self._patterns[i].encode() for i in ids], ids=ids, elements=len(ids), flags=[som] * len(ids))
        return db, excluded

    def _load_hyperscan(self) -> None:
        self._db, _ = self._cached_db("fired", self._build_fired)

    def _scratch(self, db: Any, slot: str) -> Any:
        scratch = getattr(self._local, slot, None)
        if scratch is None:
            scratch = hyperscan.Scratch(db)
            setattr(self._local, slot, scratch)
        return scratch

    def fired(self, text: str) -> frozenset[str]:
        if self.engine != "hyperscan":
            return self.fired_re2(text)
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._load_hyperscan()
        hits: set[int] = set()

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            hits.add(pattern_id)

        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match, scratch=self._scratch(self._db, "fired"))
        return frozenset(self._names[i] for i in hits)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(signal, start, end) character spans: the leftmost (then longest) match of each pattern
        that fires."""
        if self.engine != "hyperscan":
            return self.spans_re2(text)
        if self._spans_db is None:
            with self._lock:
                if self._spans_db is None:
                    self._spans_db, excluded = self._cached_db("spans", self._build_spans)
                    self._no_som = frozenset(excluded)
        data = text.encode("utf-8", "surrogatepass")
        first: dict[int, tuple[int, int]] = {}

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            best = first.get(pattern_id)
            if best is None or start < best[0] or (start == best[0] and end > best[1]):
                first[pattern_id] = (start, end)

        self._spans_db.scan(data, match_event_handler=on_match, scratch=self._scratch(self._spans_db, "spans"))
        ascii_only = len(data) == len(text)
        out = []
        for i, (start, end) in sorted(first.items()):
            if not ascii_only:
                start, end = len(data[:start].decode("utf-8", "ignore")), len(data[:end].decode("utf-8", "ignore"))
            out.append((self._names[i], start, end))
        for i in self._no_som:
            m = self._regex(i).search(text)
            if m is not None:
                out.append((self._names[i], m.start(), m.end()))
        return out

    def spans_re2(self, text: str) -> list[tuple[str, int, int]]:
        out = []
        for i, name in enumerate(self._names):
            m = self._regex(i).search(text)
            if m is not None:
                out.append((name, m.start(), m.end()))
        return out

    def _regex(self, i: int) -> Any:
        if self._re2 is None:
            self._re2 = [re2.compile(p, self._options) for p in self._patterns]
        return self._re2[i]

    def fired_re2(self, text: str) -> frozenset[str]:
        """The reference answer: each pattern searched with RE2."""
        done: set[str] = set()
        for i, name in enumerate(self._names):
            if name not in done and self._regex(i).search(text):
                done.add(name)
        return frozenset(done)
