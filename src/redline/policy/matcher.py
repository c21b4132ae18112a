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
        self._local = threading.local()  # Hyperscan scratch space is per thread
        self._lock = threading.Lock()
        self._re2: list[Any] | None = None
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

    def _compile(self) -> tuple[Any, list[int]]:
        """A database reporting each pattern's first match with its start (SOM) where the engine
        allows it; returns the ids of patterns compiled without start offsets."""
        n = len(self._patterns)
        single, som = hyperscan.HS_FLAG_SINGLEMATCH, hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_SOM_LEFTMOST
        encoded = [p.encode() for p in self._patterns]
        no_som: list[int] = []
        try:
            db = hyperscan.Database()
            db.compile(expressions=encoded, ids=list(range(n)), elements=n, flags=[som] * n)
            return db, no_som
        except hyperscan.error:
            pass
        for i, p in enumerate(encoded):
            try:
                hyperscan.Database().compile(expressions=[p], ids=[0], elements=1, flags=[som])
            except hyperscan.error:
                no_som.append(i)
        db = hyperscan.Database()
        db.compile(expressions=encoded, ids=list(range(n)), elements=n, flags=[single if i in no_som else som for i in range(n)])
        return db, no_som

    def _load_hyperscan(self) -> None:
        path = cache_dir() / f"signals-{self.key}.hsdb"
        sidecar = path.with_suffix(".json")
        db = None
        try:
            db = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            no_som = [int(i) for i in json.loads(sidecar.read_text())["no_som"]]
        except (OSError, hyperscan.error, TypeError, ValueError, KeyError):
            db = None
        if db is None:
            db, no_som = self._compile()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                for target, data in ((sidecar, json.dumps({"no_som": no_som}).encode()), (path, hyperscan.dumpb(db))):
                    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                        tmp.write(data)
                    os.replace(tmp.name, target)  # atomic: a concurrent reader never sees half a file
            except OSError:
                pass  # a read-only cache only costs the next process the compile time
        self._no_som = frozenset(no_som)
        self._db = db

    def _scan(self, data: bytes) -> list[tuple[int, int, int]]:
        """(pattern id, start, end) of each pattern's first match, in byte offsets."""
        if self._db is None:
            with self._lock:
                if self._db is None:
                    self._load_hyperscan()
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        found: list[tuple[int, int, int]] = []

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((pattern_id, start, end))

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        return found

    def fired(self, text: str) -> frozenset[str]:
        if self.engine == "hyperscan":
            return frozenset(self._names[i] for i, _, _ in self._scan(text.encode("utf-8", "surrogatepass")))
        return self.fired_re2(text)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(signal, start, end) character spans: the first match of each pattern that fires."""
        if self.engine != "hyperscan":
            return self.spans_re2(text)
        data = text.encode("utf-8", "surrogatepass")
        ascii_only = len(data) == len(text)
        out = []
        for i, start, end in self._scan(data):
            if i in self._no_som:  # the engine gave no start offset for this one: ask RE2
                m = self._regex(i).search(text)
                if m is not None:
                    out.append((self._names[i], m.start(), m.end()))
                continue
            if not ascii_only:
                start, end = len(data[:start].decode("utf-8", "ignore")), len(data[:end].decode("utf-8", "ignore"))
            out.append((self._names[i], start, end))
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
