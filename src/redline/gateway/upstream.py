"""Upstream providers: ordered failover with a circuit breaker per upstream.

A request goes to the first upstream of its API format whose breaker is closed (or half-open
after its cooldown). Connection errors, timeouts and 5xx answers count as failures and move the
request on to the next one; `failures` in a row open the breaker for `cooldown_s`. A streamed
request fails over only until the upstream has answered with headers: after that, bytes may have
reached the client and a retry could duplicate them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from redline.gateway.config import BreakerConfig, UpstreamConfig
from redline.gateway.errors import Api
from redline.gateway.metrics import Metrics
from redline.gateway.wire import ChatRequest

_PATHS: dict[Api, str] = {"openai": "/chat/completions", "anthropic": "/messages"}
_FORWARDED_HEADERS = {"openai": ("openai-organization", "openai-project"), "anthropic": ("anthropic-version", "anthropic-beta")}


class NoUpstreamError(Exception):
    """No upstream is configured for this API format."""


class UpstreamsFailedError(Exception):
    """Every upstream failed or has its breaker open."""


class Breaker:
    """Consecutive-failure circuit breaker; half-open lets one trial through after the cooldown."""

    def __init__(self, config: BreakerConfig) -> None:
        self.failures_to_open = config.failures
        self.cooldown_s = config.cooldown_s
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def closed(self) -> bool:
        return self.opened_at is None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.cooldown_s:
            self.opened_at = time.monotonic()  # half-open: one trial per cooldown period
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = time.monotonic()


@dataclass
class Upstream:
    config: UpstreamConfig
    breaker: Breaker
    key: str | None

    @property
    def name(self) -> str:
        return self.config.name

    @functools.cached_property
    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout_s, sock_read=self.config.timeout_s)

    def headers(self, client: Mapping[str, str]) -> dict[str, str]:
        out = {"content-type": "application/json", "accept": client.get("accept", "application/json")}
        for name in _FORWARDED_HEADERS[self.config.format]:
            if name in client:
                out[name] = client[name]
        if self.key:
            if self.config.format == "anthropic":
                out["x-api-key"] = self.key
            else:
                out["authorization"] = f"Bearer {self.key}"
        return out

    def body(self, request: ChatRequest, raw: bytes) -> bytes:
        """The request as received, or re-encoded with the model renamed by this upstream's mapping."""
        mapped = self.config.models.get(request.model)
        if mapped is None:
            return raw
        return orjson.dumps({**request.body, "model": mapped})


@dataclass
class Answer:
    """An upstream's answer: the open response (streams) or its whole body (everything else)."""

    upstream: Upstream
    response: aiohttp.ClientResponse
    body: bytes | None


class Router:
    def __init__(self, configs: list[UpstreamConfig], breaker: BreakerConfig, metrics: Metrics) -> None:
        self.upstreams = [Upstream(c, Breaker(breaker), c.api_key()) for c in configs]
        self.metrics = metrics
        self.session: aiohttp.ClientSession | None = None
        for u in self.upstreams:
            metrics.upstream_up.labels(u.name).set(1)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        # Answers are decompressed here (they are read and checked) and sent on uncompressed.
        self.session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def for_api(self, api: Api) -> list[Upstream]:
        return [u for u in self.upstreams if u.config.format == api]

    def _failed(self, u: Upstream, kind: str) -> None:
        u.breaker.failure()
        self.metrics.upstream_errors.labels(u.name, kind).inc()
        self.metrics.upstream_up.labels(u.name).set(1 if u.breaker.closed else 0)

    async def send(self, request: ChatRequest, raw: bytes, client_headers: Mapping[str, str]) -> Answer:
        """Send to the first healthy upstream, failing over in order. Non-streamed answers are read
        whole here, so a connection lost mid-body also fails over."""
        assert self.session is not None, "Router.start() was not awaited"
        candidates = self.for_api(request.api)
        if not candidates:
            raise NoUpstreamError(request.api)
        tried = 0
        for u in candidates:
            if not u.breaker.allow():
                continue
            if tried:
                self.metrics.failovers.labels(request.api).inc()
            tried += 1
            self.metrics.child(self.metrics.upstream_requests, u.name).inc()
            try:
                resp = await self.session.post(
                    u.config.url + _PATHS[request.api], data=u.body(request, raw), headers=u.headers(client_headers), timeout=u.timeout
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                self._failed(u, "timeout" if isinstance(e, TimeoutError) else "connect")
                continue
            if resp.status >= 500:
                resp.release()
                self._failed(u, "5xx")
                continue
            body = None
            event_stream = resp.headers.get("content-type", "").startswith("text/event-stream")
            if not request.stream or resp.status != 200 or not event_stream:  # a non-SSE answer to a stream request is checked whole
                try:
                    body = await resp.read()
                except (TimeoutError, aiohttp.ClientError, OSError) as e:
                    resp.release()
                    self._failed(u, "timeout" if isinstance(e, TimeoutError) else "read")
                    continue
            u.breaker.success()
            self.metrics.child(self.metrics.upstream_up, u.name).set(1)
            return Answer(u, resp, body)
        raise UpstreamsFailedError(f"all {len(candidates)} upstream(s) failed or are cooling down")
