"""Where the log lives: one interface (`Backend`), two databases (SQLite, PostgreSQL).

Owns the ledger's tables and the SQL that reads and writes them, including the lock that makes
every append see the current head so that concurrent writers extend one chain. Must not hash,
sign or interpret records: that is the ledger's job above it.
"""

from __future__ import annotations

from redline.ledger.backend.base import Backend, Head, Reader, StoredRow, Writer
from redline.store import DatabaseURL, StoreError, parse_db_url


def open_backend(url: str | DatabaseURL) -> Backend:
    """The backend for a `--db` URL (tables created on first use)."""
    db = parse_db_url(url) if isinstance(url, str) else url
    if db.scheme == "sqlite":
        from redline.ledger.backend.sqlite import SqliteBackend

        return SqliteBackend(db)
    if db.scheme == "postgresql":
        from redline.ledger.backend.postgres import PostgresBackend

        return PostgresBackend(db)
    raise StoreError(f"no ledger backend for {db.scheme}")  # pragma: no cover - parse_db_url checks


__all__ = ["Backend", "Head", "Reader", "StoredRow", "Writer", "open_backend"]
