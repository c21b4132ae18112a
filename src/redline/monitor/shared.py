"""`RedisStore`: monitor state shared by gateway replicas, so a campaign spread over replicas is
counted as one campaign.

Each tenant's counters (the same `TenantState` a single process keeps: windows, sketches, subject
joins, open alerts) live in one Redis hash, changed only under a per-tenant lock that spans
processes: lock, read the state if another replica changed it since this one last saw it (a
random version token says so), count, write it back with a new token, unlock. Every replica thus
applies the same algorithm to the same sequence of requests as one process would, and an alert
fires at the same request whichever replica serves it.

Durable state stays in the SQL store (PostgreSQL when scaled out): the subject-hash salt, alerts,
and the tenants' snapshots, written every flush as before. They are the recovery point when Redis
loses its data (a restart without persistence): a tenant Redis does not know is read from there.

Owns the `redline:monitor:<deployment>:*` keys. Must not count anything itself (that is `TenantState`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from redline.monitor.alerts import Alert
from redline.monitor.store import SqlStore
from redline.store import DatabaseURL
from redline.store.redis import RedisUnavailable, connect_redis, redact_redis_url

if TYPE_CHECKING:
    import redis

LOCK_TTL_MS = 5_000  # a replica killed while holding a tenant's lock blocks that tenant this long at most
LOCK_WAIT_S = 2.0  # then the request is handled by the monitor's fail mode
RETRY_AFTER_S = 1.0  # after Redis failed, requests do not wait on it again for this long

# Write the new state only if this holder still owns the lock (it may have expired meanwhile).
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'v', ARGV[2], 's', ARGV[3], 't', ARGV[4])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# The state only when it changed since the caller's version: {version} or {version, state, saved}.
_LOAD = """
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return {} end
if v == ARGV[1] then return {v} end
return redis.call('HMGET', KEYS[1], 'v', 's', 't')
"""


class Held:
    """A tenant's lock, held: `state` is the tenant's shared state (None when Redis has none, or
    when it is unchanged since `known`); `save` writes it back."""

    def __init__(self, store: RedisStore, tenant: str, token: bytes, known: str | None) -> None:
        self._store = store
        self._tenant = tenant
        self._token = token
        self.version: str | None = None
        self.state: dict[str, Any] | None = None
        self.saved_at = 0.0
        reply = store._call(store._load, keys=[store._key(tenant)], args=[known or ""])
        if reply:
            self.version = reply[0].decode()
            if len(reply) == 3:
                self.state = orjson.loads(reply[1])
                self.saved_at = float(reply[2])

    def save(self, state: dict[str, Any]) -> str:
        """Write `state` as the tenant's new shared state; returns its version token."""
        version = os.urandom(8).hex()
        now = time.time()
        args = [self._token, version, orjson.dumps(state), repr(now)]
        if not self._store._call(self._store._save, keys=[self._store._lock_key(self._tenant), self._store._key(self._tenant)], args=args):
            raise RedisUnavailable("the tenant's monitor lock expired before its state was written")
        self.version, self.saved_at = version, now
        return version


class RedisStore:
    """The monitor's store for replicas: Redis for the per-tenant state, `durable` (an `SqlStore`,
    PostgreSQL when scaled out) for the salt, alerts and snapshots."""

    shared = True

    def __init__(self, durable: SqlStore, redis_url: str, *, prefix: str | None = None) -> None:
        """`prefix` of the Redis keys; by default one per durable database (from its subject-hash
        salt), so deployments sharing a Redis never read each other's state."""
        self.durable = durable
        self.redis_url = redis_url
        self.prefix = prefix if prefix is not None else f"redline:monitor:{hashlib.sha256(durable.salt()).hexdigest()[:16]}:"
        self.client: redis.Redis = connect_redis(redis_url)
        self._save = self.client.register_script(_SAVE)
        self._release = self.client.register_script(_RELEASE)
        self._load = self.client.register_script(_LOAD)
        self._down_until = 0.0

    @classmethod
    def open(cls, db: DatabaseURL, redis_url: str) -> RedisStore:
        """Both stores; Redis is not contacted yet (a Redis that is down at start is handled by the
        monitor's fail mode like one that goes down later)."""
        return cls(SqlStore(db), redis_url)

    def _key(self, tenant: str) -> str:
        return f"{self.prefix}tenant:{tenant}"

    def _lock_key(self, tenant: str) -> str:
        return f"{self.prefix}lock:{tenant}"

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as e:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise RedisUnavailable(f"Redis at {redact_redis_url(self.redis_url)}: {type(e).__name__}") from None

    def ping(self) -> bool:
        import redis

        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    @contextmanager
    def hold(self, tenant: str, known: str | None) -> Iterator[Held]:
        """Hold `tenant`'s lock (waiting up to `LOCK_WAIT_S`); `RedisUnavailable` when Redis cannot
        be used, without waiting on it again for `RETRY_AFTER_S` after a failure."""
        import redis

        if time.monotonic() < self._down_until:
            raise RedisUnavailable(f"Redis at {redact_redis_url(self.redis_url)} failed less than {RETRY_AFTER_S:g} s ago")
        token = os.urandom(12).hex().encode()
        lock = self._lock_key(tenant)
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.0005
        try:
            while not self.client.set(lock, token, nx=True, px=LOCK_TTL_MS):
                if time.monotonic() > deadline:
                    raise RedisUnavailable(f"tenant monitor lock busy for more than {LOCK_WAIT_S:g} s")
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        except redis.RedisError as e:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise RedisUnavailable(f"Redis at {redact_redis_url(self.redis_url)}: {type(e).__name__}") from None
        try:
            yield Held(self, tenant, token, known)
        finally:
            with contextlib.suppress(redis.RedisError):  # else the lock expires by itself
                self._release(keys=[lock], args=[token])

    # -- the MonitorStore protocol: durable state in SQL ------------------------------------------

    def salt(self) -> bytes:
        return self.durable.salt()

    def load_tenant(self, tenant: str) -> dict[str, Any] | None:
        return self.durable.load_tenant(tenant)

    def save_tenants(self, states: dict[str, dict[str, Any]], now: float) -> None:
        # Replicas flush the snapshot each holds of a tenant; only a newer one replaces what is stored.
        self.durable.save_tenants(states, now, newer_only=True)

    def save_alert(self, alert: Alert) -> None:
        self.durable.save_alert(alert)

    def alert(self, alert_id: str) -> Alert | None:
        return self.durable.alert(alert_id)

    def alerts(self, tenant: str | None = None, open_only: bool = False) -> list[Alert]:
        return self.durable.alerts(tenant, open_only)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.durable.close()
