"""The backend interface and the SQL both databases share (written with `?` placeholders)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from redline.ledger.merkle import pack_frontier, unpack_frontier
from redline.ledger.record import GENESIS_CHAIN
from redline.store import DatabaseURL


class StoredRow(NamedTuple):
    seq: int
    body: bytes
    chain: bytes


class StoredText(NamedTuple):
    seq: int
    salt: bytes
    text: str
    expires: float


@dataclass
class Head:
    """The tip of the log, kept in one row that every append locks: size, chain hash of the last
    record, the Merkle frontier (so the tree head is O(log n) away) and the last checkpoint."""

    size: int
    chain: bytes
    frontier: list[bytes]
    checkpoint_size: int
    checkpoint_time: float

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> Head:
        size, chain, frontier, cp_size, cp_time = row
        return cls(int(size), bytes(chain), unpack_frontier(bytes(frontier)), int(cp_size), float(cp_time))  # type: ignore[arg-type,call-overload]

    def as_params(self) -> tuple[object, ...]:
        return (self.size, self.chain, pack_frontier(self.frontier), self.checkpoint_size, self.checkpoint_time)


class Reader(Protocol):
    """A consistent snapshot of the log."""

    def head(self) -> Head: ...
    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRow]: ...
    def checkpoints(self) -> list[tuple[bytes, bytes]]: ...
    def texts(self) -> Iterator[StoredText]: ...
    def meta(self, key: str) -> str | None: ...


class Writer(Reader, Protocol):
    """A write transaction holding the head lock."""

    def insert(self, rows: list[StoredRow], texts: list[StoredText]) -> None: ...
    def add_checkpoint(self, tree_size: int, body: bytes, signature: bytes) -> None: ...
    def set_head(self, head: Head) -> None: ...


class Backend(Protocol):
    url: DatabaseURL

    def write(self) -> AbstractContextManager[Writer]: ...
    def read(self) -> AbstractContextManager[Reader]: ...
    def init_meta(self, key: str, value: str) -> str: ...
    def purge_texts(self, now: float) -> int: ...
    def execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]: ...
    def close(self) -> None: ...


def schema(blob: str, bigint: str, real: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS ledger_records (seq {bigint} PRIMARY KEY, body {blob} NOT NULL, chain {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS ledger_head (id INTEGER PRIMARY KEY CHECK (id = 1), size {bigint} NOT NULL,"
        f" chain {blob} NOT NULL, frontier {blob} NOT NULL, checkpoint_size {bigint} NOT NULL, checkpoint_time {real} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS ledger_checkpoints (tree_size {bigint} PRIMARY KEY, body {blob} NOT NULL, signature {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS ledger_texts (seq {bigint} PRIMARY KEY, salt {blob} NOT NULL, text TEXT NOT NULL, expires {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


HEAD_INIT = "INSERT INTO ledger_head VALUES (1, 0, ?, ?, 0, 0) ON CONFLICT (id) DO NOTHING"
HEAD_INIT_PARAMS: tuple[object, ...] = (GENESIS_CHAIN, b"")
SELECT_HEAD = "SELECT size, chain, frontier, checkpoint_size, checkpoint_time FROM ledger_head WHERE id = 1"
UPDATE_HEAD = "UPDATE ledger_head SET size = ?, chain = ?, frontier = ?, checkpoint_size = ?, checkpoint_time = ? WHERE id = 1"
INSERT_ROW = "INSERT INTO ledger_records (seq, body, chain) VALUES (?, ?, ?)"
INSERT_TEXT = "INSERT INTO ledger_texts (seq, salt, text, expires) VALUES (?, ?, ?, ?)"
INSERT_CHECKPOINT = "INSERT INTO ledger_checkpoints (tree_size, body, signature) VALUES (?, ?, ?)"
SELECT_CHECKPOINTS = "SELECT body, signature FROM ledger_checkpoints ORDER BY tree_size"
SELECT_TEXTS = "SELECT seq, salt, text, expires FROM ledger_texts ORDER BY seq"
SELECT_META = "SELECT value FROM ledger_meta WHERE key = ?"
INIT_META = "INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
PURGE_TEXTS = "DELETE FROM ledger_texts WHERE expires <= ?"


SELECT_ROWS_FROM = "SELECT seq, body, chain FROM ledger_records WHERE seq >= ? ORDER BY seq"
SELECT_ROWS_RANGE = "SELECT seq, body, chain FROM ledger_records WHERE seq >= ? AND seq < ? ORDER BY seq"


def select_rows(stop: int | None) -> str:
    return SELECT_ROWS_FROM if stop is None else SELECT_ROWS_RANGE
