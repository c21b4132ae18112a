"""The `--db` URL: `sqlite:///relative/path`, `sqlite:////absolute/path`, `sqlite:///:memory:`,
`postgresql://user@host:port/dbname` (also `postgres://`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit


class StoreError(Exception):
    """A database that cannot be used: bad URL, missing driver, unreachable server."""


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed `--db` URL. `target` is the SQLite file path or the PostgreSQL conninfo URL."""

    scheme: Literal["sqlite", "postgresql"]
    target: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.options:
            if key == name:
                return value
        return default

    def redacted(self) -> str:
        """The URL for messages and logs: never the password."""
        if self.scheme == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def __str__(self) -> str:
        return self.redacted()


def parse_db_url(url: str) -> DatabaseURL:
    """Parse a `--db` URL; a `StoreError` says what is wrong with it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreError(f"not a database URL: {url!r} (expected sqlite:///PATH or postgresql://...)")
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///x.db -> "x.db"; sqlite:////abs/x.db -> "/abs/x.db" (SQLAlchemy's convention).
        if not rest.startswith("/"):
            raise StoreError(f"SQLite URL needs three slashes: sqlite:///PATH, not {url!r}")
        path, _, query = rest[1:].partition("?")
        if not path:
            raise StoreError(f"SQLite URL without a path: {url!r}")
        return DatabaseURL("sqlite", path, tuple(parse_qsl(query)))
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        if not parts.hostname and "host=" not in parts.query:
            raise StoreError("PostgreSQL URL without a host")
        return DatabaseURL("postgresql", urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, "")))
    raise StoreError(f"unsupported database scheme {scheme!r} (use sqlite or postgresql)")
