"""Console accounts: `console_users` (name, role, tenant binding, operator id, scrypt hash).

Passwords are hashed with scrypt (memory-hard, standard library): N=2^15, r=8, p=1 (32 MiB; 0.28 s
per hash on the shared 2-core VM), a 16-byte random salt per user; verified in constant time. A
user bound to a tenant sees only that tenant's rows; an unbound user is the provider's staff and
sees every tenant.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from typing import Literal, get_args

from redline.store.sql import ConflictError, TableStore

Role = Literal["reviewer", "approver", "auditor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_N, _R, _P, _DKLEN = 2**15, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS console_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        tenant TEXT,
        operator TEXT,
        password TEXT NOT NULL,
        disabled_at {real},
        created_at {real} NOT NULL
    )""",
)
_SELECT = "SELECT name, role, tenant, operator, password, disabled_at, created_at FROM console_users"


class AccountError(Exception):
    """An account operation that cannot be done (bad name, weak password, duplicate, unknown user)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    tenant: str | None  # None: every tenant (the provider's staff)
    operator: str | None  # the gate operator id whose key this user signs with (approvers)
    disabled_at: float | None
    created_at: float

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def sees(self, tenant: str | None) -> bool:
        """Whether this user may see a row of `tenant`."""
        return self.tenant is None or (tenant is not None and hmac.compare_digest(self.tenant.encode(), tenant.encode()))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(dk)}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, dk = stored.split("$")
        want = base64.b64decode(dk)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(want), maxmem=_MAXMEM)
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(got, want)


@functools.cache
def _dummy() -> str:
    """Verified against when the user does not exist, so an unknown name costs the same time."""
    return hash_password("redline-no-such-user")


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def _user(row: tuple[object, ...]) -> User:
    name, role, tenant, operator, _, disabled, created = row
    return User(str(name), role, tenant, operator, None if disabled is None else float(disabled), float(created))  # type: ignore[arg-type]


class UserStore(TableStore):
    WHAT = "console accounts"
    SCHEMA = _SCHEMA

    def add(self, name: str, role: str, password: str, tenant: str | None = None, operator: str | None = None) -> User:
        if not NAME.match(name):
            raise AccountError(f"bad user name {name!r}: 1-64 letters, digits, '_', '.', '@', '-', starting with a letter or digit")
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        check_new_password(password)
        try:
            self.db.run(
                "INSERT INTO console_users (name, role, tenant, operator, password, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, role, tenant, operator, hash_password(password), time.time()),
            )
        except ConflictError:
            raise AccountError(f"user {name!r} already exists") from None
        user = self.get(name)
        assert user is not None
        return user

    def get(self, name: str) -> User | None:
        row = self.db.run(f"{_SELECT} WHERE name = ?", (name,)).one()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        return [_user(r) for r in self.db.run(f"{_SELECT} ORDER BY name").rows]

    def disable(self, name: str) -> User:
        cur = self.db.run("UPDATE console_users SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL", (time.time(), name))
        if cur.rowcount != 1:
            raise AccountError(f"no active user {name!r}")
        user = self.get(name)
        assert user is not None
        return user

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None (same cost either way)."""
        row = self.db.run(f"{_SELECT} WHERE name = ?", (name,)).one() if len(name) <= 64 else None
        ok = check_password(password[:MAX_PASSWORD], str(row[4]) if row is not None else _dummy())
        if row is None or not ok:
            return None
        user = _user(row)
        return user if user.active else None
