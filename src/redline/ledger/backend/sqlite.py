"""The ledger on SQLite (WAL): `BEGIN IMMEDIATE` takes the database's single write lock, so
appends from several processes on one file are serialized and each sees the current head."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from redline.ledger.backend import base
from redline.ledger.backend.base import Head, StoredRow, StoredText
from redline.store import DatabaseURL
from redline.store.connect import connect_sqlite, transaction


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def head(self) -> Head:
        row = self.conn.execute(base.SELECT_HEAD).fetchone()
        return Head.from_row(row)

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRow]:
        params = (start,) if stop is None else (start, stop)
        cur = self.conn.execute(base.select_rows(stop), params)
        while batch := cur.fetchmany(4096):
            for seq, body, chain in batch:
                yield StoredRow(seq, body, chain)

    def checkpoints(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(b), bytes(s)) for b, s in self.conn.execute(base.SELECT_CHECKPOINTS)]

    def texts(self) -> Iterator[StoredText]:
        for seq, salt, text, expires in self.conn.execute(base.SELECT_TEXTS):
            yield StoredText(seq, salt, text, expires)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute(base.SELECT_META, (key,)).fetchone()
        return None if row is None else str(row[0])

    def insert(self, rows: list[StoredRow], texts: list[StoredText]) -> None:
        self.conn.executemany(base.INSERT_ROW, rows)
        if texts:
            self.conn.executemany(base.INSERT_TEXT, texts)

    def add_checkpoint(self, tree_size: int, body: bytes, signature: bytes) -> None:
        self.conn.execute(base.INSERT_CHECKPOINT, (tree_size, body, signature))

    def set_head(self, head: Head) -> None:
        self.conn.execute(base.UPDATE_HEAD, head.as_params())


class SqliteBackend:
    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.conn = connect_sqlite(url)
        with transaction(self.conn):
            for stmt in base.schema("BLOB", "INTEGER", "REAL"):
                self.conn.execute(stmt)
            self.conn.execute(base.HEAD_INIT, base.HEAD_INIT_PARAMS)

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        with transaction(self.conn):
            yield _Tx(self.conn)

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        # A deferred transaction is one WAL snapshot: concurrent appends do not show up half-way.
        with transaction(self.conn, "BEGIN"):
            yield _Tx(self.conn)

    def init_meta(self, key: str, value: str) -> str:
        with self.write() as tx:
            self.conn.execute(base.INIT_META, (key, value))
            stored = tx.meta(key)
        assert stored is not None
        return stored

    def purge_texts(self, now: float) -> int:
        with self.write():
            return self.conn.execute(base.PURGE_TEXTS, (now,)).rowcount

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Raw SQL, for tests and tools (tamper tests edit the tables directly)."""
        return list(self.conn.execute(sql, params).fetchall())

    def close(self) -> None:
        self.conn.close()
