"""The gate's tables: registered operators and issued challenges (the single-use nonce store).

SQLite (one file, WAL) or PostgreSQL through `redline.store`. A nonce is consumed by one
conditional UPDATE (`... WHERE consumed_at IS NULL`): the database decides which of two racing
verifiers wins, on one machine or many. Every database error becomes `GateUnavailable`, so callers
fail closed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

from redline.gate.errors import GateError, GateUnavailable
from redline.store import DatabaseURL, StoreError, parse_db_url
from redline.store.connect import connect_postgres, connect_sqlite

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS gate_operators (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        public_key TEXT NOT NULL,
        key_id TEXT NOT NULL,
        added_at {real} NOT NULL,
        revoked_at {real}
    )""",
    """CREATE TABLE IF NOT EXISTS gate_challenges (
        nonce TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        tool TEXT NOT NULL,
        digest TEXT NOT NULL,
        issued_at {real} NOT NULL,
        expires_at {real} NOT NULL,
        consumed_at {real},
        consumed_by TEXT
    )""",
)
# PostgreSQL: concurrent CREATE TABLE IF NOT EXISTS can still collide; serialize it.
_PG_SCHEMA_LOCK = 0x7265646C696E65  # "redline"


@dataclass(frozen=True)
class Operator:
    id: str
    role: str
    public_key: bytes
    key_id: str
    added_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedChallenge:
    nonce: str
    tenant: str
    tool: str
    digest: str
    issued_at: float
    expires_at: float
    consumed_at: float | None


class GateStore:
    """Operators and challenges on one database connection."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self._pg = url.scheme == "postgresql"
        self._lock = threading.Lock()  # one connection, possibly shared by a server's threads
        try:
            self.conn: Any = connect_postgres(url) if self._pg else connect_sqlite(url)
            self._create()
        except StoreError as e:
            raise GateUnavailable(f"gate store unavailable: {e}") from None
        except (sqlite3.Error, OSError) as e:
            raise GateUnavailable(f"gate store unavailable: {url}: {e}") from None
        except Exception as e:
            if self._pg and _is_psycopg_error(e):
                raise GateUnavailable(f"gate store unavailable: {url}: {_first_line(e)}") from None
            raise

    @classmethod
    def open(cls, db: str | DatabaseURL) -> GateStore:
        try:
            url = parse_db_url(db) if isinstance(db, str) else db
        except StoreError as e:
            raise GateError(str(e)) from None
        return cls(url)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection has nothing left to report
            self.conn.close()

    def __enter__(self) -> GateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------

    def _create(self) -> None:
        real = "DOUBLE PRECISION" if self._pg else "REAL"
        if self._pg:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                for stmt in _SCHEMA:
                    self.conn.execute(stmt.format(real=real))
        else:
            for stmt in _SCHEMA:
                self.conn.execute(stmt.format(real=real))

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Execute one statement; `?` placeholders are rewritten for psycopg."""
        try:
            with self._lock:
                cur = self.conn.execute(sql.replace("?", "%s") if self._pg else sql, params)
                rows = cur.fetchall() if cur.description is not None else None
                return _Result(rows, cur.rowcount)
        except sqlite3.IntegrityError as e:
            raise _ConflictError(str(e)) from None
        except sqlite3.Error as e:
            raise GateUnavailable(f"gate store unavailable: {self.url}: {e}") from None
        except Exception as e:
            if self._pg and _is_psycopg_error(e):
                import psycopg

                if isinstance(e, psycopg.errors.UniqueViolation):
                    raise _ConflictError(_first_line(e)) from None
                raise GateUnavailable(f"gate store unavailable: {self.url}: {_first_line(e)}") from None
            raise

    # -- operators -------------------------------------------------------------------------------

    def add_operator(self, operator: str, role: str, public_key: bytes, key_id: str) -> Operator:
        now = time.time()
        try:
            self._run(
                "INSERT INTO gate_operators (id, role, public_key, key_id, added_at) VALUES (?, ?, ?, ?, ?)",
                (operator, role, public_key.hex(), key_id, now),
            )
        except _ConflictError:
            raise GateError(f"operator {operator!r} is already registered (revoked ids are not reused)") from None
        return Operator(operator, role, public_key, key_id, now, None)

    def operator(self, operator: str) -> Operator | None:
        row = self._run(
            "SELECT id, role, public_key, key_id, added_at, revoked_at FROM gate_operators WHERE id = ?", (operator,)
        ).fetchone()
        return None if row is None else _operator(row)

    def operators(self) -> list[Operator]:
        rows = self._run("SELECT id, role, public_key, key_id, added_at, revoked_at FROM gate_operators ORDER BY id").fetchall()
        return [_operator(r) for r in rows]

    def revoke_operator(self, operator: str) -> bool:
        """Revoke `operator` from now on; False when no active operator has that id."""
        cur = self._run("UPDATE gate_operators SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (time.time(), operator))
        return bool(cur.rowcount == 1)

    # -- challenges / nonces ---------------------------------------------------------------------

    def add_challenge(self, nonce: str, tenant: str, tool: str, digest: str, issued_at: float, expires_at: float) -> None:
        try:
            self._run(
                "INSERT INTO gate_challenges (nonce, tenant, tool, digest, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (nonce, tenant, tool, digest, issued_at, expires_at),
            )
        except _ConflictError:
            raise GateUnavailable("nonce collision (the random source is broken)") from None

    def challenge(self, nonce: str) -> IssuedChallenge | None:
        row = self._run(
            "SELECT nonce, tenant, tool, digest, issued_at, expires_at, consumed_at FROM gate_challenges WHERE nonce = ?", (nonce,)
        ).fetchone()
        return None if row is None else IssuedChallenge(*row)

    def consume(self, nonce: str, by: str, now: float) -> bool:
        """Mark the nonce used, atomically: True for exactly one caller, however many race."""
        cur = self._run(
            "UPDATE gate_challenges SET consumed_at = ?, consumed_by = ? WHERE nonce = ? AND consumed_at IS NULL", (now, by, nonce)
        )
        return bool(cur.rowcount == 1)

    def purge(self, expired_before: float) -> int:
        """Delete the challenges that expired before `expired_before`; how many went. A purged
        nonce can never be redeemed (an authorization naming it was not issued by this gate)."""
        return int(self._run("DELETE FROM gate_challenges WHERE expires_at < ?", (expired_before,)).rowcount)

    def pending(self, now: float) -> list[IssuedChallenge]:
        """Challenges still awaiting a human decision (the approval queue)."""
        rows = self._run(
            "SELECT nonce, tenant, tool, digest, issued_at, expires_at, consumed_at FROM gate_challenges "
            "WHERE consumed_at IS NULL AND expires_at > ? ORDER BY issued_at",
            (now,),
        ).fetchall()
        return [IssuedChallenge(*r) for r in rows]


class _ConflictError(Exception):
    pass


class _Result:
    """A statement's rows (fetched under the lock) and row count."""

    def __init__(self, rows: list[Any] | None, rowcount: int) -> None:
        self.rows, self.rowcount = rows or [], rowcount

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


def _operator(row: tuple[Any, ...]) -> Operator:
    return Operator(row[0], row[1], bytes.fromhex(row[2]), row[3], row[4], row[5])


def _is_psycopg_error(e: Exception) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a pinned dependency
        return False
    return isinstance(e, psycopg.Error)


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
