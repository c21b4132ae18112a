"""`TenantStore`: the `tenants` table on SQLite or PostgreSQL.

A key is 32 random bytes (URL-safe base64, prefixed `rl-`); only its SHA-256 is stored. A
high-entropy key needs no slow hash: nobody can brute-force 256 bits from the digest. Lookups go
by the digest's index and the stored digest is compared again with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import psycopg

from redline.store import DatabaseURL, StoreError, parse_db_url
from redline.store.connect import connect_postgres, connect_sqlite

# review: screening wants a human decision first; refused: screening refused it (kept for the record)
Status = Literal["active", "review", "revoked", "refused"]
KEY_PREFIX = "rl-"
_NAME_MAX = 200

_SCHEMA = """CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    authorities TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'review', 'revoked', 'refused')),
    created DOUBLE PRECISION NOT NULL,
    profile TEXT NOT NULL
)"""
_INSERT = "INSERT INTO tenants (name, key_hash, authorities, status, created, profile) VALUES (?, ?, ?, ?, ?, ?)"
_SELECT = "SELECT name, key_hash, authorities, status, created, profile FROM tenants"


class TenantError(Exception):
    """A tenant operation that cannot be done (duplicate or unknown name, bad authority, bad name)."""


@dataclass(frozen=True)
class Tenant:
    """One tenant. `profile` is free JSON for later capabilities (declared owners for screening)."""

    name: str
    authorities: tuple[str, ...]
    status: Status
    created: float
    profile: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "authorities": list(self.authorities),
            "status": self.status,
            "created": self.created,
            "profile": dict(self.profile),
        }


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row_tenant(row: Sequence[Any]) -> Tenant:
    name, _, authorities, status, created, profile = row
    return Tenant(str(name), tuple(orjson.loads(authorities)), status, float(created), orjson.loads(profile))


class TenantStore:
    """The tenants of one database. Safe to share between threads (one lock around the connection)."""

    def __init__(self, url: DatabaseURL, known_authorities: Sequence[str] | None = None) -> None:
        self.url = url
        self.known_authorities = None if known_authorities is None else frozenset(known_authorities)
        self._lock = threading.Lock()
        self._conn: Any = connect_sqlite(url) if url.scheme == "sqlite" else connect_postgres(url)
        self._param = "?" if url.scheme == "sqlite" else "%s"
        self._run(_SCHEMA)

    @classmethod
    def open(cls, db_url: str | DatabaseURL, known_authorities: Sequence[str] | None = None) -> TenantStore:
        """The store at `db_url` (table created on first use). `known_authorities`, when given,
        is the policy's authority list that `add` checks names against."""
        return cls(parse_db_url(db_url) if isinstance(db_url, str) else db_url, known_authorities)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> None:
        """One round trip to the database; `StoreError` when it does not answer."""
        try:
            self._run("SELECT 1")
        except (sqlite3.Error, StoreError) as e:
            raise StoreError(f"tenants database: {type(e).__name__}") from None

    def __enter__(self) -> TenantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._lock:
            try:
                yield self._conn.cursor()
            except psycopg.errors.UniqueViolation as e:
                raise sqlite3.IntegrityError(str(e).splitlines()[0]) from e
            except psycopg.Error as e:
                raise StoreError(f"tenants on {self.url}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        sql = sql.replace("?", self._param)
        with self._cursor() as cur:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall()) if cur.description is not None else []

    # -- writing ---------------------------------------------------------------------------------

    def add(
        self, name: str, authorities: Sequence[str] = (), *, status: Status = "active", profile: Mapping[str, Any] | None = None
    ) -> tuple[Tenant, str]:
        """Create a tenant; returns it and its new API key (shown once, stored only as a hash)."""
        unique = self.check_new(name, authorities)
        key = new_key()
        tenant = Tenant(name, unique, status, time.time(), dict(profile or {}))
        try:
            self._run(
                _INSERT,
                (name, hash_key(key), orjson.dumps(list(unique)).decode(), status, tenant.created, orjson.dumps(tenant.profile).decode()),
            )
        except sqlite3.IntegrityError as e:  # a concurrent add of the same name (psycopg's is mapped to it)
            raise TenantError(f"tenant {name!r} already exists") from e
        return tenant, key

    def check_new(self, name: str, authorities: Sequence[str] = ()) -> tuple[str, ...]:
        """Raise `TenantError` unless `name` is a valid, unused tenant name and every authority is
        known; returns the authorities without duplicates."""
        if not name or len(name) > _NAME_MAX or not name.isprintable() or name != name.strip():
            raise TenantError(f"tenant name must be 1-{_NAME_MAX} printable characters without leading or trailing spaces")
        if name == "*":  # the monitor's alerts on account networks spanning several tenants
            raise TenantError("tenant name '*' is reserved")
        unique = tuple(dict.fromkeys(authorities))
        if self.known_authorities is not None:
            unknown = [a for a in unique if a not in self.known_authorities]
            if unknown:
                raise TenantError(f"unknown authority {unknown[0]!r} (the policy knows: {', '.join(sorted(self.known_authorities))})")
        if self.get(name) is not None:
            raise TenantError(f"tenant {name!r} already exists")
        return unique

    def set_status(self, name: str, status: Status, screening: Mapping[str, Any] | None = None) -> Tenant:
        """Change a tenant's status (and record the screening that caused it, if any)."""
        current = self.get(name)
        if current is None:
            raise TenantError(f"no tenant {name!r}")
        if screening is None:
            self._run("UPDATE tenants SET status = ? WHERE name = ?", (status, name))
        else:
            profile = {**current.profile, "screening": dict(screening)}
            self._run("UPDATE tenants SET status = ?, profile = ? WHERE name = ?", (status, orjson.dumps(profile).decode(), name))
        tenant = self.get(name)
        assert tenant is not None
        return tenant

    def activate(self, name: str) -> Tenant:
        """A reviewer's decision: a tenant held for review by screening may use its key."""
        tenant = self.get(name)
        if tenant is None:
            raise TenantError(f"no tenant {name!r}")
        if tenant.status != "review":
            raise TenantError(f"tenant {name!r} is {tenant.status}; only a tenant held for review can be activated")
        return self.set_status(name, "active")

    def revoke(self, name: str) -> Tenant:
        """Revoke a tenant: its key stops working at once (the gateway caches for seconds at most)."""
        return self.set_status(name, "revoked")

    # -- reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> Tenant | None:
        rows = self._run(_SELECT + " WHERE name = ?", (name,))
        return _row_tenant(rows[0]) if rows else None

    def list(self) -> list[Tenant]:
        return [_row_tenant(r) for r in self._run(_SELECT + " ORDER BY created, name")]

    def authenticate(self, key: str) -> Tenant | None:
        """The active tenant holding `key`, or None (unknown key, revoked or refused tenant)."""
        if not key.startswith(KEY_PREFIX) or len(key) > 256:
            return None
        digest = hash_key(key)
        rows = self._run(_SELECT + " WHERE key_hash = ?", (digest,))
        if not rows or not hmac.compare_digest(str(rows[0][1]), digest):
            return None
        tenant = _row_tenant(rows[0])
        return tenant if tenant.active else None
