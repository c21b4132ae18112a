"""Console sessions: `console_sessions` (SHA-256 of the token, user, CSRF token, expiry).

The session token is 32 random bytes in an HttpOnly, SameSite=Strict cookie (Secure when the
console is served over https); only its SHA-256 is stored, so a copy of the database opens no
session. Each session has its own CSRF token, which every POST must echo (compared in constant
time). Sessions end on logout, after `IDLE_S` without a request, after `MAX_AGE_S`, or when the
user is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from redline.store.sql import TableStore

MAX_AGE_S = 12 * 3600
IDLE_S = 30 * 60
_TOUCH_S = 60  # last_seen is written at most once a minute per session

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS console_sessions (
        token_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at {real} NOT NULL,
        last_seen {real} NOT NULL
    )""",
)


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str
    created_at: float
    last_seen: float

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(self.csrf.encode(), sent.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore(TableStore):
    WHAT = "console sessions"
    SCHEMA = _SCHEMA

    def start(self, username: str, now: float | None = None) -> tuple[str, Session]:
        """A new session: (the token for the cookie, the session)."""
        now = time.time() if now is None else now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.db.run(
            "INSERT INTO console_sessions (token_sha256, username, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
            (_digest(token), username, csrf, now, now),
        )
        return token, Session(username, csrf, now, now)

    def get(self, token: str | None, now: float | None = None) -> Session | None:
        """The live session of this cookie token, or None (an expired one is deleted)."""
        if not token or len(token) > 128:
            return None
        now = time.time() if now is None else now
        key = _digest(token)
        row = self.db.run("SELECT username, csrf, created_at, last_seen FROM console_sessions WHERE token_sha256 = ?", (key,)).one()
        if row is None:
            return None
        session = Session(str(row[0]), str(row[1]), float(row[2]), float(row[3]))
        if now - session.created_at > MAX_AGE_S or now - session.last_seen > IDLE_S:
            self.db.run("DELETE FROM console_sessions WHERE token_sha256 = ?", (key,))
            return None
        if now - session.last_seen > _TOUCH_S:
            self.db.run("UPDATE console_sessions SET last_seen = ? WHERE token_sha256 = ?", (now, key))
        return session

    def end(self, token: str | None) -> None:
        if token:
            self.db.run("DELETE FROM console_sessions WHERE token_sha256 = ?", (_digest(token),))

    def end_user(self, username: str) -> None:
        """End every session of a user (disabled accounts)."""
        self.db.run("DELETE FROM console_sessions WHERE username = ?", (username,))
