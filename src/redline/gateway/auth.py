"""Tenant authentication for each request: `Authorization: Bearer KEY` or `x-api-key: KEY`.

Answers are cached for a few seconds (by key digest, bounded in size) so that a PostgreSQL
round trip is not paid on every request; a revoked key stops working within that time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from redline.tenants import Tenant, TenantStore, hash_key

_CACHE_MAX = 10_000


def presented_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None
    return headers.get("x-api-key") or None


class Authenticator:
    def __init__(self, store: TenantStore | None, cache_s: float) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[Tenant | None, float]] = {}

    def tenant(self, headers: Mapping[str, str]) -> Tenant | None:
        key = presented_key(headers)
        if key is None or self.store is None:
            return None
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        tenant = self.store.authenticate(key)
        if self.cache_s > 0:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (tenant, now + self.cache_s)
        return tenant
