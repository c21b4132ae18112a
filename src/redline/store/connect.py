"""Open a connection for a `DatabaseURL`, configured the way every capability expects."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from redline.store.url import DatabaseURL, StoreError

if TYPE_CHECKING:
    import psycopg

SQLITE_BUSY_TIMEOUT_S = 30.0
_SYNCHRONOUS = ("off", "normal", "full", "extra")


def connect_sqlite(url: DatabaseURL) -> sqlite3.Connection:
    """SQLite in WAL mode (readers never block the writer), autocommit so callers own their
    transactions (`BEGIN IMMEDIATE`), and a busy timeout so several processes can share a file.

    The default `?synchronous=normal` survives a crash of the process but may lose the last commits
    if the machine loses power; `?synchronous=full` syncs the WAL at every commit, so an
    acknowledged write survives that too, at a few thousand commits per second (docs/ledger.md).
    """
    assert url.scheme == "sqlite"
    sync = (url.option("synchronous") or "normal").lower()
    if sync not in _SYNCHRONOUS:
        raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {sync!r}")
    try:
        conn = sqlite3.connect(url.target, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open {url}: {e}") from e
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync.upper()}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def connect_postgres(url: DatabaseURL) -> psycopg.Connection[tuple[object, ...]]:
    """A psycopg 3 connection (autocommit: callers open explicit transactions)."""
    assert url.scheme == "postgresql"
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - psycopg is a pinned dependency
        raise StoreError("PostgreSQL support needs psycopg 3 (pip install 'psycopg[binary]')") from e
    try:
        return psycopg.connect(url.target, autocommit=True)
    except psycopg.Error as e:
        # Name the server by its redacted URL: the conninfo may carry a password.
        raise StoreError(f"cannot connect to {url}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e


@contextmanager
def transaction(conn: Any, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """One transaction on a connection opened here (both are autocommit): psycopg's own block on
    PostgreSQL; on SQLite `begin` (`BEGIN IMMEDIATE` takes the write lock up front, plain `BEGIN`
    reads one WAL snapshot), rolled back on any error."""
    if not isinstance(conn, sqlite3.Connection):
        with conn.transaction():
            yield
        return
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
