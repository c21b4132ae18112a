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

    def _cached_db(self) -> Any:
        """Load the compiled database from the cache, or compile it and store it (atomically)."""
        path = cache_dir() / f"signals-{self.key}.hsdb"
        try:
            return hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        except (OSError, hyperscan.error, TypeError, ValueError):
            pass
        db = self._build()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                tmp.write(hyperscan.dumpb(db))
            os.replace(tmp.name, path)  # a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only cache only costs the next process the compile time
        return db

    def _build(self) -> Any:
        n = len(self._patterns)
        db = hyperscan.Database()
        db.compile(
            expressions=[p.encode() for p in self._patterns], ids=list(range(n)), elements=n, flags=[hyperscan.HS_FLAG_SINGLEMATCH] * n
        )
        return db

    def _load_hyperscan(self) -> None:
        self._db = self._cached_db()

    def _scratch(self, db: Any, slot: str) -> Any:
        scratch = getattr(self._local, slot, None)
        if scratch is None:
            scratch = hyperscan.Scratch(db)
            setattr(self._local, slot, scratch)
        return scratch

    def _fired_ids(self, text: str) -> set[int]:
        last: tuple[str, set[int]] | None = getattr(self._local, "last", None)
        if last is not None and last[0] is text:  # evidence re-reads the text just classified
            return last[1]
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._load_hyperscan()
        hits: set[int] = set()

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            hits.add(pattern_id)

        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match, scratch=self._scratch(self._db, "fired"))
        self._local.last = (text, hits)
        return hits

    def fired(self, text: str) -> frozenset[str]:
        if self.engine != "hyperscan":
            return self.fired_re2(text)
        return frozenset(self._names[i] for i in self._fired_ids(text))

    def spans(self, text: str, signals: frozenset[str] | None = None) -> list[tuple[str, int, int]]:
        """(signal, start, end): the first match of each pattern that fires (of `signals`, if
        given). The fast scan says which patterns fired; RE2 locates just those (start-of-match
        reporting in Hyperscan costs more than it saves here)."""
        if self.engine != "hyperscan":
            return self.spans_re2(text, signals)
        out = []
        for i in sorted(self._fired_ids(text)):
            if signals is not None and self._names[i] not in signals:
                continue
            m = self._regex(i).search(text)
            if m is not None:
                out.append((self._names[i], m.start(), m.end()))
        return out

    def spans_re2(self, text: str, signals: frozenset[str] | None = None) -> list[tuple[str, int, int]]:
        out = []
        for i, name in enumerate(self._names):
            if signals is not None and name not in signals:
                continue
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
