"""Redis for state that gateway replicas share (`redis://host:port/db`, also `rediss://`).

Opens a client with short timeouts, so an unreachable Redis is an error in milliseconds and the
caller applies its own fail mode instead of stalling requests. Must not hold any key layout:
each capability that keeps state in Redis owns its own keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from redline.store.url import StoreError

if TYPE_CHECKING:
    import redis

CONNECT_TIMEOUT_S = 0.5
SOCKET_TIMEOUT_S = 1.0


class RedisUnavailable(StoreError):  # noqa: N818 - named like the gate's GateUnavailable
    """Redis could not be reached or answered with an error."""


def redact_redis_url(url: str) -> str:
    """The URL for messages and logs: never the password."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_redis_url(url: str) -> str:
    """`url` when it is a Redis URL; a `StoreError` says what is wrong with it otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise StoreError(f"not a Redis URL: {redact_redis_url(url)!r} (expected redis://HOST:PORT/DB)")
    return url


def connect_redis(url: str) -> redis.Redis:
    """A client for `url` (connections are made lazily, on the first command)."""
    import redis

    try:
        return redis.Redis.from_url(
            check_redis_url(url),
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            health_check_interval=0,
        )
    except ValueError as e:
        raise StoreError(f"bad Redis URL {redact_redis_url(url)}: {e}") from None
