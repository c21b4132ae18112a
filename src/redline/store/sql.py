"""`Database`: one connection of either kind behind a lock, `?` placeholders on both, every driver
error as `StoreError`. For capabilities whose tables are small and whose statements are few (the
review queue, console accounts and sessions); the table layout stays with each capability."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from redline.store.connect import connect_postgres, connect_sqlite, transaction
from redline.store.url import DatabaseURL, StoreError, parse_db_url

# PostgreSQL: concurrent CREATE TABLE IF NOT EXISTS can still collide; serialize it.
_PG_SCHEMA_LOCK = 0x7265646C696E66


class ConflictError(StoreError):
    """A unique key that is already taken."""


@dataclass(frozen=True)
class Result:
    rows: list[tuple[Any, ...]]
    rowcount: int

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class Database:
    """One connection, shared by a server's threads under a lock."""

    def __init__(self, db: str | DatabaseURL, what: str) -> None:
        self.url = parse_db_url(db) if isinstance(db, str) else db
        self.what = what
        self._pg = self.url.scheme == "postgresql"
        self._lock = threading.Lock()
        self._conn: Any = connect_postgres(self.url) if self._pg else connect_sqlite(self.url)

    @property
    def postgres(self) -> bool:
        return self._pg

    def create(self, statements: Iterable[str]) -> None:
        """Run `CREATE ... IF NOT EXISTS` statements in one transaction. In them, `{real}`,
        `{bigint}` and `{blob}` stand for each database's own column types."""
        types = (
            {"real": "DOUBLE PRECISION", "bigint": "BIGINT", "blob": "BYTEA"}
            if self._pg
            else {"real": "REAL", "bigint": "INTEGER", "blob": "BLOB"}
        )
        with self._guard(), transaction(self._conn):
            if self._pg:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
            for statement in statements:
                self._conn.execute(statement.format(**types))

    def run(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Execute one statement; its rows (if it returns any) and the row count."""
        with self._guard():
            cur = self._conn.execute(sql.replace("?", "%s") if self._pg else sql, tuple(params))
            rows = [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
            return Result(rows, cur.rowcount)

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):  # a broken connection has nothing left to report
            self._conn.close()

    def _guard(self) -> _Guard:
        return _Guard(self)


class TableStore:
    """A capability's own tables in one `Database`: created when the store opens (the connection
    closed again if that fails), closed with the store. Subclasses name `WHAT` and `SCHEMA`."""

    WHAT: ClassVar[str]
    SCHEMA: ClassVar[Sequence[str]]

    def __init__(self, db: str | DatabaseURL) -> None:
        self.db = Database(db, self.WHAT)
        try:
            self.db.create(self.SCHEMA)
        except StoreError:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Guard:
    """The lock, and driver errors turned into `StoreError` (first line only: no SQL parameters)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db._lock.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.db._lock.release()
        if exc is None or isinstance(exc, StoreError) or not isinstance(exc, Exception):
            return
        if isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__ == "UniqueViolation":
            raise ConflictError(f"{self.db.what}: {_first_line(exc)}") from None
        if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
            raise StoreError(f"{self.db.what} on {self.db.url}: {_first_line(exc)}") from None


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
