"""The versioned list store (SQLite or PostgreSQL) and the last decision per screened entity.

Owns three tables: `screen_list_versions` (one row per imported edition of a list),
`screen_entries` (the entities of each edition, as JSON) and `screen_subjects` (the last decision
per screened id, so a re-screen after an import can report what changed). An import is one
transaction: all of it lands, or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from redline.screen.lists import ParsedList
from redline.screen.model import ListEntry, ScreenDecision
from redline.store import DatabaseURL, StoreError, parse_db_url
from redline.store.connect import connect_postgres, connect_sqlite, transaction

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS screen_list_versions (
        list_name TEXT NOT NULL, version INTEGER NOT NULL, imported_at TEXT NOT NULL,
        sha256 TEXT NOT NULL, sources TEXT NOT NULL, entries INTEGER NOT NULL,
        PRIMARY KEY (list_name, version))""",
    """CREATE TABLE IF NOT EXISTS screen_entries (
        list_name TEXT NOT NULL, version INTEGER NOT NULL, entity_id TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (list_name, version, entity_id))""",
    """CREATE TABLE IF NOT EXISTS screen_subjects (
        subject_id TEXT PRIMARY KEY, decision TEXT NOT NULL, screened_at TEXT NOT NULL, list_versions TEXT NOT NULL)""",
)


@dataclass(frozen=True)
class ListVersion:
    """One imported edition of a list."""

    list_name: str
    version: int
    imported_at: str
    sha256: str
    sources: tuple[str, ...]
    entries: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "version": self.version,
            "imported_at": self.imported_at,
            "sha256": self.sha256,
            "sources": list(self.sources),
            "entries": self.entries,
        }


class ListStore:
    """Lists and last decisions in one database (`--db` URL)."""

    def __init__(self, db_url: str | DatabaseURL) -> None:
        self.url = db_url if isinstance(db_url, DatabaseURL) else parse_db_url(db_url)
        self._pg = self.url.scheme == "postgresql"
        self.conn: Any = connect_postgres(self.url) if self._pg else connect_sqlite(self.url)
        with transaction(self.conn):
            for stmt in SCHEMA:
                self._exec(stmt)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ListStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pg else sql

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            return self.conn.execute(self._sql(sql), params)
        except Exception as e:  # sqlite3.Error or psycopg.Error: both drivers, one message
            if isinstance(e, StoreError):
                raise
            raise StoreError(f"database error on {self.url}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e

    def import_list(self, parsed: ParsedList, *, fail_after: int | None = None) -> tuple[ListVersion, bool]:
        """Store a parsed list as its next version, in one transaction. Returns the version and
        whether it is new (an identical re-import keeps the current version).

        `fail_after` is for tests: raise after writing that many entries, to prove the rollback.
        """
        with transaction(self.conn):
            if self._pg:  # serialize concurrent imports of one list
                self._exec("SELECT pg_advisory_xact_lock(hashtext(?))", (parsed.name,))
            row = self._exec(
                "SELECT version, sha256 FROM screen_list_versions WHERE list_name = ? ORDER BY version DESC LIMIT 1", (parsed.name,)
            ).fetchone()
            if row is not None and row[1] == parsed.sha256:
                return self._version(parsed.name, int(row[0])), False
            version = 1 if row is None else int(row[0]) + 1
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._exec(
                "INSERT INTO screen_list_versions (list_name, version, imported_at, sha256, sources, entries) VALUES (?, ?, ?, ?, ?, ?)",
                (parsed.name, version, now, parsed.sha256, orjson.dumps(list(parsed.sources)).decode(), len(parsed.entries)),
            )
            for i, entry in enumerate(parsed.entries):
                if fail_after is not None and i >= fail_after:
                    raise StoreError("import interrupted (test)")
                self._exec(
                    "INSERT INTO screen_entries (list_name, version, entity_id, body) VALUES (?, ?, ?, ?)",
                    (parsed.name, version, entry.entity_id, orjson.dumps(entry.to_dict()).decode()),
                )
        return self._version(parsed.name, version), True

    def _version(self, name: str, version: int) -> ListVersion:
        row = self._exec(
            "SELECT list_name, version, imported_at, sha256, sources, entries FROM screen_list_versions WHERE list_name = ? AND version = ?",
            (name, version),
        ).fetchone()
        return ListVersion(row[0], int(row[1]), row[2], row[3], tuple(orjson.loads(row[4])), int(row[5]))

    def versions(self) -> list[ListVersion]:
        rows = self._exec(
            "SELECT list_name, version, imported_at, sha256, sources, entries FROM screen_list_versions ORDER BY list_name, version"
        ).fetchall()
        return [ListVersion(r[0], int(r[1]), r[2], r[3], tuple(orjson.loads(r[4])), int(r[5])) for r in rows]

    def current(self) -> tuple[list[ListEntry], dict[str, int]]:
        """The entries of the latest version of every list, and which versions those are."""
        latest: dict[str, int] = {}
        for v in self.versions():
            latest[v.list_name] = max(latest.get(v.list_name, 0), v.version)
        entries: list[ListEntry] = []
        for name, version in sorted(latest.items()):
            rows = self._exec(
                "SELECT body FROM screen_entries WHERE list_name = ? AND version = ? ORDER BY entity_id", (name, version)
            ).fetchall()
            entries.extend(ListEntry.from_dict(orjson.loads(r[0])) for r in rows)
        return entries, latest

    def last_decision(self, subject_id: str) -> ScreenDecision | None:
        row = self._exec("SELECT decision FROM screen_subjects WHERE subject_id = ?", (subject_id,)).fetchone()
        return None if row is None else row[0]

    def record_decision(self, subject_id: str, decision: ScreenDecision, list_versions: dict[str, int]) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with transaction(self.conn):
            self._exec(
                "INSERT INTO screen_subjects (subject_id, decision, screened_at, list_versions) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (subject_id) DO UPDATE SET decision = excluded.decision, screened_at = excluded.screened_at, "
                "list_versions = excluded.list_versions",
                (subject_id, decision, now, orjson.dumps(list_versions).decode()),
            )
