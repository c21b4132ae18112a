"""The ledger on PostgreSQL (psycopg 3): every append locks the single head row
(`SELECT ... FOR UPDATE`), so writers in any number of processes or hosts extend one chain; the
primary key on `seq` makes a fork impossible even if that lock were bypassed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redline.ledger.backend import base
from redline.ledger.backend.base import Head, StoredRow, StoredText
from redline.store import DatabaseURL
from redline.store.connect import connect_postgres

# pg_advisory_xact_lock key for creating the tables: CREATE TABLE IF NOT EXISTS races otherwise.
_SCHEMA_LOCK = 0x7265646C696E65  # "redline"


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _Tx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def head(self) -> Head:
        return Head.from_row(self.conn.execute(_pg(base.SELECT_HEAD)).fetchone())

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRow]:
        params = (start,) if stop is None else (start, stop)
        # A named (server-side) cursor streams the log instead of loading a million rows at once.
        with self.conn.cursor(name="ledger_rows") as cur:
            cur.itersize = 10_000
            cur.execute(_pg(base.select_rows(stop)), params)
            for seq, body, chain in cur:
                yield StoredRow(seq, body, chain)

    def checkpoints(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(b), bytes(s)) for b, s in self.conn.execute(_pg(base.SELECT_CHECKPOINTS))]

    def texts(self) -> Iterator[StoredText]:
        for seq, salt, text, expires in self.conn.execute(_pg(base.SELECT_TEXTS)):
            yield StoredText(seq, bytes(salt), text, expires)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute(_pg(base.SELECT_META), (key,)).fetchone()
        return None if row is None else str(row[0])

    def insert(self, rows: list[StoredRow], texts: list[StoredText]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(base.INSERT_ROW), rows)
            if texts:
                cur.executemany(_pg(base.INSERT_TEXT), texts)

    def add_checkpoint(self, tree_size: int, body: bytes, signature: bytes) -> None:
        self.conn.execute(_pg(base.INSERT_CHECKPOINT), (tree_size, body, signature))

    def set_head(self, head: Head) -> None:
        self.conn.execute(_pg(base.UPDATE_HEAD), head.as_params())


class PostgresBackend:
    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.conn = connect_postgres(url)
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for stmt in base.schema("BYTEA", "BIGINT", "DOUBLE PRECISION"):
                self.conn.execute(stmt)
            self.conn.execute(_pg(base.HEAD_INIT), base.HEAD_INIT_PARAMS)

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        with self.conn.transaction():
            tx = _Tx(self.conn)
            self.conn.execute(_pg(base.SELECT_HEAD) + " FOR UPDATE")
            yield tx

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        with self.conn.transaction():
            # One snapshot for head, rows and checkpoints (REPEATABLE READ in PostgreSQL).
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _Tx(self.conn)

    def init_meta(self, key: str, value: str) -> str:
        with self.write() as tx:
            self.conn.execute(_pg(base.INIT_META), (key, value))
            stored = tx.meta(key)
        assert stored is not None
        return stored

    def purge_texts(self, now: float) -> int:
        with self.conn.transaction():
            return int(self.conn.execute(_pg(base.PURGE_TEXTS), (now,)).rowcount)

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Raw SQL with `?` placeholders, for tests and tools."""
        with self.conn.transaction():
            cur = self.conn.execute(_pg(sql), params)
            return list(cur.fetchall()) if cur.description else []

    def close(self) -> None:
        self.conn.close()
