"""`RedisStore`: monitor state shared by gateway replicas, so a campaign spread over replicas is
counted as one campaign.

A tenant's counters are the same `TenantState` a single process keeps (windows, sketches, subject
joins, open alerts), kept in Redis as a snapshot plus a log of the changes since (one small entry
per counted request: its time, subject hashes, categories, legal-process refs and the alerts it
raised). A replica changes a tenant only under the tenant's lock, which spans processes: lock,
apply the log entries it has not seen yet to its cached state (or read the snapshot when it is
too far behind), count the request, append its entry, unlock. Every replica thus applies the same
algorithm to the same sequence of requests as one process would, so an alert fires at the same
request whichever replica serves it, and a request costs O(1) Redis work: the snapshot is
rewritten once every `COMPACT_EVERY` entries.

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
COMPACT_EVERY = 256  # log entries before the snapshot is rewritten

# KEYS: lock, state hash, log. The state hash holds v (snapshot token), s (snapshot), t (when
# written), base (how many log entries the snapshot includes); log entry i is change base + i.
# Taking the lock and reading what changed is one round trip; writing and releasing is another.
_LOCK_LOAD = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local v = redis.call('HGET', KEYS[2], 'v')
if not v then return {} end
local base = tonumber(redis.call('HGET', KEYS[2], 'base'))
local known = tonumber(ARGV[4])
local len = redis.call('LLEN', KEYS[3])
if v == ARGV[3] and known >= base and known <= base + len then
  return {v, tostring(base), false, false, redis.call('LRANGE', KEYS[3], known - base, -1)}
end
return {v, tostring(base), redis.call('HGET', KEYS[2], 's'), redis.call('HGET', KEYS[2], 't'), redis.call('LRANGE', KEYS[3], 0, -1)}
"""
_APPEND_UNLOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local base = tonumber(redis.call('HGET', KEYS[2], 'base'))
local n = redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[1])
return base + n
"""
_SNAPSHOT_UNLOCK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'v', ARGV[2], 's', ARGV[3], 't', ARGV[4], 'base', ARGV[5])
redis.call('DEL', KEYS[3])
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Held:
    """A tenant's lock, held, and what Redis has for the tenant since the caller's position
    (`known`: snapshot token and changes applied). `missing`: Redis has nothing for the tenant.
    `snapshot`: a snapshot to start from (None: continue from the caller's cached state).
    `changes`: log entries to apply, in order."""

    def __init__(self, store: RedisStore, keys: list[str], token: bytes, known: tuple[str, int] | None, reply: Any) -> None:
        self._store = store
        self._keys = keys
        self._token = token
        self.released = False
        self.snapshot: dict[str, Any] | None = None
        self.changes: list[dict[str, Any]] = []
        self.saved_at = 0.0
        self.missing = not reply
        self.version, self.base = "", 0
        if reply:
            self.version, self.base = reply[0].decode(), int(reply[1])
            if reply[2] is not None:
                self.snapshot = orjson.loads(reply[2])
                self.saved_at = float(reply[3])
            self.changes = [orjson.loads(entry) for entry in reply[4]]
        self.position = (
            self.base + len(self.changes) if self.snapshot is not None or self.missing else (known[1] if known else 0) + len(self.changes)
        )

    def append(self, change: dict[str, Any], state: Any) -> tuple[str, int]:
        """Record `change` (already applied to `state`) and release the lock; every `COMPACT_EVERY`
        changes, and when Redis had nothing, the snapshot of `state` is written instead. Returns
        the new position (snapshot token, changes applied)."""
        if self.missing or self.position - self.base + 1 >= COMPACT_EVERY:
            version, now = os.urandom(8).hex(), time.time()
            args = [self._token, version, orjson.dumps(state.to_state()), repr(now), self.position + 1]
            if not self._store._call(self._store._snapshot, keys=self._keys, args=args):
                raise RedisUnavailable("the tenant's monitor lock expired before its state was written")
            self.released = True
            self.version, self.base, self.saved_at = version, self.position + 1, now
            self.position += 1
            return version, self.position
        position = int(self._store._call(self._store._append, keys=self._keys, args=[self._token, orjson.dumps(change)]))
        if position < 0:
            raise RedisUnavailable("the tenant's monitor lock expired before its state was written")
        self.released = True
        self.position, self.saved_at = position, time.time()
        return self.version, position


class RedisStore:
    """The monitor's store for replicas: Redis for the per-tenant state, `durable` (an `SqlStore`,
    PostgreSQL when scaled out) for the salt, alerts and snapshots."""

    def __init__(self, durable: SqlStore, redis_url: str, *, prefix: str | None = None) -> None:
        """`prefix` of the Redis keys; by default one per durable database (from its subject-hash
        salt), so deployments sharing a Redis never read each other's state."""
        self.durable = durable
        self.redis_url = redis_url
        self.prefix = prefix if prefix is not None else f"redline:monitor:{hashlib.sha256(durable.salt()).hexdigest()[:16]}:"
        self.client: redis.Redis = connect_redis(redis_url)
        self._load = self.client.register_script(_LOCK_LOAD)
        self._append = self.client.register_script(_APPEND_UNLOCK)
        self._snapshot = self.client.register_script(_SNAPSHOT_UNLOCK)
        self._release = self.client.register_script(_RELEASE)
        self._down_until = 0.0

    @classmethod
    def open(cls, db: DatabaseURL, redis_url: str) -> RedisStore:
        """Both stores; Redis is not contacted yet (a Redis that is down at start is handled by the
        monitor's fail mode like one that goes down later)."""
        return cls(SqlStore(db), redis_url)

    # A tenant's three keys share one hash tag: on a Redis Cluster they live in one slot, as the
    # scripts that touch them together require.
    def _key(self, tenant: str) -> str:
        return f"{self.prefix}{{{tenant}}}:state"

    def _log_key(self, tenant: str) -> str:
        return f"{self.prefix}{{{tenant}}}:log"

    def _lock_key(self, tenant: str) -> str:
        return f"{self.prefix}{{{tenant}}}:lock"

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as e:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise self._unavailable(e) from None

    def ping(self) -> None:
        """One round trip to Redis; `RedisUnavailable` (the URL without its password) when it fails."""
        import redis

        try:
            self.client.ping()
        except redis.RedisError as e:
            raise self._unavailable(e) from None

    def _unavailable(self, e: Exception) -> RedisUnavailable:
        """The error a failed Redis call becomes: the URL without its password, the error's type."""
        return RedisUnavailable(f"Redis at {redact_redis_url(self.redis_url)}: {type(e).__name__}")

    @contextmanager
    def hold(self, tenant: str, known: tuple[str, int] | None) -> Iterator[Held]:
        """Hold `tenant`'s lock (waiting up to `LOCK_WAIT_S`) with what changed since `known`;
        `RedisUnavailable` when Redis cannot be used, without waiting on it again for
        `RETRY_AFTER_S` after a failure. `Held.append` writes and releases; else it is released here."""
        import redis

        if time.monotonic() < self._down_until:
            raise RedisUnavailable(f"Redis at {redact_redis_url(self.redis_url)} failed less than {RETRY_AFTER_S:g} s ago")
        token = os.urandom(12).hex().encode()
        keys = [self._lock_key(tenant), self._key(tenant), self._log_key(tenant)]
        args = [token, LOCK_TTL_MS, known[0] if known else "", known[1] if known else -1]
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.0002
        while (reply := self._call(self._load, keys=keys, args=args)) == 0:
            if time.monotonic() > deadline:
                raise RedisUnavailable(f"tenant monitor lock busy for more than {LOCK_WAIT_S:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        held: Held | None = None
        try:
            held = Held(self, keys, token, known, reply)
            yield held
        finally:
            if held is None or not held.released:
                with contextlib.suppress(redis.RedisError):  # else the lock expires by itself
                    self._release(keys=keys[:1], args=[token])

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
