"""Where monitor state lives between restarts: in memory (replay's default), or in SQLite /
PostgreSQL through `redline.store` connections, in the monitor's own tables:

- `monitor_meta(key, value)`: the salt of the subject hashes (made on first open);
- `monitor_tenants(tenant, state, updated)`: one JSON snapshot of each tenant's counters;
- `monitor_alerts(id, tenant, rule, raised_at, body, cleared_at, cleared_by)`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from typing import Any, Protocol

import orjson

from redline.monitor.alerts import Alert
from redline.store import DatabaseURL, StoreError, parse_db_url
from redline.store.connect import connect_postgres, connect_sqlite, transaction

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS monitor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_tenants (tenant TEXT PRIMARY KEY, state TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_alerts (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, rule TEXT NOT NULL, "
    "raised_at DOUBLE PRECISION NOT NULL, body TEXT NOT NULL, cleared_at DOUBLE PRECISION, cleared_by TEXT)",
    "CREATE INDEX IF NOT EXISTS monitor_alerts_tenant ON monitor_alerts (tenant, cleared_at)",
)

_UPSERT = (
    "INSERT INTO monitor_tenants (tenant, state, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant) DO UPDATE SET state = excluded.state, updated = excluded.updated"
)
_UPSERT_NEWER = _UPSERT + " WHERE monitor_tenants.updated <= excluded.updated"


class MonitorStore(Protocol):
    def salt(self) -> bytes: ...

    def load_tenant(self, tenant: str) -> dict[str, Any] | None: ...

    def save_tenants(self, states: dict[str, dict[str, Any]], now: float) -> None: ...

    def save_alert(self, alert: Alert) -> None: ...

    def alert(self, alert_id: str) -> Alert | None: ...

    def alerts(self, tenant: str | None = None, open_only: bool = False) -> list[Alert]: ...

    def close(self) -> None: ...


class MemoryStore:
    """State for one process only (replay's default: a run starts from nothing)."""

    def __init__(self) -> None:
        self._salt = os.urandom(16)
        self._tenants: dict[str, bytes] = {}
        self._alerts: dict[str, Alert] = {}

    def salt(self) -> bytes:
        return self._salt

    def load_tenant(self, tenant: str) -> dict[str, Any] | None:
        raw = self._tenants.get(tenant)
        return None if raw is None else orjson.loads(raw)

    def save_tenants(self, states: dict[str, dict[str, Any]], now: float) -> None:
        for tenant, state in states.items():
            self._tenants[tenant] = orjson.dumps(state)

    def save_alert(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert

    def alert(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def alerts(self, tenant: str | None = None, open_only: bool = False) -> list[Alert]:
        return [a for a in self._alerts.values() if (tenant is None or a.tenant == tenant) and (a.open or not open_only)]

    def close(self) -> None:
        pass


class SqlStore:
    """SQLite (WAL) or PostgreSQL. One connection, serialized by a lock (the monitor writes
    snapshots in batches, not per request)."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._pg = url.scheme == "postgresql"
        self._conn: Any = connect_postgres(url) if self._pg else connect_sqlite(url)
        try:
            for statement in _SCHEMA:
                self._exec(statement)
            self._exec(
                "INSERT INTO monitor_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                ("salt", os.urandom(16).hex()),
            )
            self._salt = bytes.fromhex(str(self._query("SELECT value FROM monitor_meta WHERE key = ?", ("salt",))[0][0]))
        except (sqlite3.Error, ValueError) as e:
            raise StoreError(f"cannot use {url} for monitor state: {e}") from e
        except Exception as e:
            if type(e).__module__.startswith("psycopg"):
                raise StoreError(f"cannot use {url} for monitor state: {str(e).splitlines()[0]}") from e
            raise

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._pg else statement

    def _exec(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self._lock:
            self._conn.execute(self._sql(statement), params)

    def _query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(self._sql(statement), params).fetchall())

    def salt(self) -> bytes:
        return self._salt

    def load_tenant(self, tenant: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM monitor_tenants WHERE tenant = ?", (tenant,))
        return None if not rows else orjson.loads(rows[0][0])

    def save_tenants(self, states: dict[str, dict[str, Any]], now: float, *, newer_only: bool = False) -> None:
        """Upsert snapshots stamped `now`; with `newer_only`, a stored snapshot stamped later
        than `now` is kept (replicas flushing the same tenant)."""
        if not states:
            return
        rows = [(tenant, orjson.dumps(state).decode(), now) for tenant, state in states.items()]
        statement = self._sql(_UPSERT_NEWER if newer_only else _UPSERT)
        with self._lock, transaction(self._conn), closing(self._conn.cursor()) as cur:
            cur.executemany(statement, rows)

    def save_alert(self, alert: Alert) -> None:
        self._exec(
            "INSERT INTO monitor_alerts (id, tenant, rule, raised_at, body, cleared_at, cleared_by) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body, cleared_at = excluded.cleared_at, cleared_by = excluded.cleared_by",
            (
                alert.id,
                alert.tenant,
                alert.rule,
                alert.raised_at,
                orjson.dumps(alert.to_state()).decode(),
                alert.cleared_at,
                alert.cleared_by,
            ),
        )

    def alert(self, alert_id: str) -> Alert | None:
        rows = self._query("SELECT body FROM monitor_alerts WHERE id = ?", (alert_id,))
        return None if not rows else Alert.from_state(orjson.loads(rows[0][0]))

    def alerts(self, tenant: str | None = None, open_only: bool = False) -> list[Alert]:
        where, params = [], []
        if tenant is not None:
            where.append("tenant = ?")
            params.append(tenant)
        if open_only:
            where.append("cleared_at IS NULL")
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self._query(f"SELECT body FROM monitor_alerts{clause} ORDER BY raised_at, id", tuple(params))  # noqa: S608 - fixed clauses
        return [Alert.from_state(orjson.loads(r[0])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(db: str | DatabaseURL | None) -> MonitorStore:
    """`None` or `memory:` -> a `MemoryStore`; a `--db` URL -> a `SqlStore`."""
    if db is None or db == "memory:":
        return MemoryStore()
    return SqlStore(parse_db_url(db) if isinstance(db, str) else db)
