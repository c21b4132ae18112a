"""The gateway's HTTP surface (Starlette): chat endpoints of both providers, `/v1/check`,
`/healthz`, `/metrics`.

A chat request is authenticated, read (size and time limits), validated, decided as a whole
conversation, and only then forwarded; the answer is checked before it is returned (whole, or
through the streaming hold-back buffer). Every failure answers in the caller's provider's error
shape, never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from redline.engine import Engine
from redline.gate import Gate, GateError
from redline.gate.wire import BODY_FIELD as AUTH_BODY_FIELD
from redline.gate.wire import HEADER as AUTH_HEADER
from redline.gate.wire import authorizations_from, without_redline
from redline.gateway.auth import Authenticator
from redline.gateway.config import GatewayConfig
from redline.gateway.errors import Api, error_response
from redline.gateway.gating import GateHook
from redline.gateway.ledger_writer import DecisionRecorder
from redline.gateway.metrics import CONTENT_TYPE, Metrics
from redline.gateway.monitoring import ACCOUNT_HEADER, MonitorHook, note_account
from redline.gateway.pipeline import Pipeline, Verdict
from redline.gateway.reviewing import HEADER as REVIEW_HEADER
from redline.gateway.reviewing import ReviewHook
from redline.gateway.stream import HoldBack, refusal_code, refusal_message, refuses
from redline.gateway.upstream import Answer, NoUpstreamError, Router, UpstreamsFailedError
from redline.gateway.wire import ChatRequest, RequestError, SSESplitter, parse_request, response_output
from redline.ledger import Ledger
from redline.monitor import Monitor
from redline.tenants import Tenant, TenantStore
from redline.text import InputError

log = logging.getLogger("redline.gateway")


class RefusedError(Exception):
    """Stop handling a request with a provider-shaped error."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


HEALTH_TIMEOUT_S = 2.0


async def _probe(check: Callable[[], None]) -> str | None:
    """Run a blocking check off the event loop: None when it passes in time, else what failed."""
    try:
        await asyncio.wait_for(asyncio.to_thread(check), HEALTH_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {HEALTH_TIMEOUT_S:g} s"
    except Exception as e:  # the check's own message names the store, never a secret
        return str(e) or type(e).__name__
    return None


class Gateway:
    """Everything one running gateway holds; `app()` is its ASGI application."""

    def __init__(
        self,
        config: GatewayConfig,
        engine: Engine,
        tenants: TenantStore | None,
        ledger: Ledger | None,
        *,
        monitor: Monitor | None = None,
        gate: Gate | None = None,
        gate_unavailable: str = "",
        reviews: ReviewHook | None = None,
    ) -> None:
        """`monitor`: the Monitor (None: the policy has none). `gate`: the Gate; None means it could
        not be opened (`gate_unavailable` says why) and lethal tool calls are withheld. `reviews`: the
        review queue the console answers (None: holds are only ledger records)."""
        self.config = config
        self.engine = engine
        self.metrics = Metrics()
        self.tenants = tenants
        self.auth = Authenticator(tenants, config.tenant_cache_s)
        self.writer = (
            DecisionRecorder(ledger, self.metrics, config.ledger.queue_size, config.ledger.batch_max, linger_s=config.ledger.linger_s)
            if ledger is not None
            else None
        )
        self.monitor = MonitorHook(monitor, self.writer, self.metrics) if monitor is not None else None
        self.gate = GateHook(gate, engine.policy, self.metrics, gate_unavailable)
        self.pipeline = Pipeline(engine, self.writer, self.metrics, monitor=self.monitor, gate=self.gate, reviews=reviews)
        self.router = Router(config.upstreams, config.breaker, self.metrics)
        self.hold_reviews = config.on_review == "hold"
        # Request ids: a random per-process prefix and a counter (uuid4 costs a getrandom call per
        # request). The prefix is drawn once: inside the generator expression it was drawn per id.
        prefix = secrets.token_hex(6)
        self._ids = (f"{prefix}{n:010x}" for n in itertools.count())

    # -- plumbing --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.router.start()
        try:
            yield
        finally:
            await self.router.close()
            if self.monitor is not None:
                await asyncio.to_thread(self.monitor.close)
            await asyncio.to_thread(self.gate.close)
            if self.writer is not None:
                await asyncio.to_thread(self.writer.close)

    def app(self, mounts: Sequence[BaseRoute] = ()) -> Starlette:
        """`mounts`: more routes beside the API (the console under `/console`)."""
        routes = [
            Route("/v1/chat/completions", self._endpoint("openai", self.chat), methods=["POST"]),
            Route("/v1/messages", self._endpoint("anthropic", self.chat), methods=["POST"]),
            Route("/v1/check", self._endpoint("openai", self.check), methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            *mounts,
        ]
        handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {HTTPException: self._http_error, Exception: self._crash}
        return Starlette(routes=routes, exception_handlers=handlers, lifespan=self.lifespan)

    def _endpoint(self, api: Api, handler: Callable[[Api, Request, str], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            t0 = time.perf_counter()
            request_id = next(self._ids)
            try:
                response = await handler(api, request, request_id)
            except RefusedError as e:
                response = error_response(api, e.status, e.message, code=e.code)
            except Exception:
                log.exception("request %s failed", request_id)
                response = error_response(api, 500, "redline: internal error", code="redline_internal_error")
            response.headers["x-redline-request-id"] = request_id
            self.metrics.served(request.scope["path"], response.status_code, time.perf_counter() - t0)
            return response

        return endpoint

    @staticmethod
    def _api_of(request: Request) -> Api:
        return "anthropic" if "anthropic-version" in request.headers or request.url.path.endswith("/messages") else "openai"

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        message = {404: f"redline: no endpoint {request.url.path}", 405: f"redline: {request.method} is not allowed on {request.url.path}"}
        self.metrics.requests.labels("other", str(status)).inc()
        return error_response(self._api_of(request), status, message.get(status, str(exc.detail)))

    async def _crash(self, request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        return error_response(self._api_of(request), 500, "redline: internal error", code="redline_internal_error")

    def _tenant(self, request: Request) -> Tenant:
        tenant = self.auth.tenant(request.headers)
        if tenant is None:
            self.metrics.auth_failures.inc()
            raise RefusedError(
                401, "redline: missing or unknown API key (send Authorization: Bearer KEY or x-api-key: KEY)", "invalid_api_key"
            )
        note_account(request.headers.get(ACCOUNT_HEADER), request.client.host if request.client else None)
        return tenant

    async def _body(self, request: Request) -> bytes:
        limit = self.config.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RefusedError(413, f"redline: request body is larger than the limit of {limit:,} bytes", "request_too_large")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.config.limits.client_body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise RefusedError(413, f"redline: request body is larger than the limit of {limit:,} bytes", "request_too_large")
                    chunks.append(chunk)
        except TimeoutError:
            raise RefusedError(408, "redline: the request body did not arrive in time", "request_timeout") from None
        return b"".join(chunks)

    def _refusal(self, api: Api, verdict: Verdict, stage: str, headers: dict[str, str]) -> Response:
        code = refusal_code(verdict)
        # review_id: the hold a reviewer can release (a held review, or a blocked request's input)
        redline = verdict.redline(stage, review_id=verdict.decision.decision == "review" or stage == "input")
        return error_response(api, 403, refusal_message(verdict, stage), code=code, redline=redline, headers=headers)

    # -- endpoints -------------------------------------------------------------------------------

    async def chat(self, api: Api, request: Request, request_id: str) -> Response:
        tenant = self._tenant(request)
        raw = await self._body(request)
        try:
            chat = parse_request(api, raw)
            # Authorizations for lethal tool calls ride on the retry; they never go upstream.
            authorizations = authorizations_from(request.headers.get(AUTH_HEADER), chat.body)
            if AUTH_BODY_FIELD in chat.body:
                chat = dataclasses.replace(chat, body=without_redline(chat.body))
                raw = orjson.dumps(chat.body)
            verdict = await self.pipeline.decide_input(tenant, request_id, chat.item(), review_id=request.headers.get(REVIEW_HEADER))
        except (RequestError, InputError, GateError) as e:
            raise RefusedError(400, f"redline: {e}", "invalid_request") from None
        headers: dict[str, str] = {"x-redline-decision": verdict.decision.decision}
        if refuses(verdict, self.hold_reviews):
            return self._refusal(api, verdict, "input", headers)
        if verdict.ledger_id is not None:
            headers["x-redline-ledger-id"] = str(verdict.ledger_id)
        try:
            answer = await self.router.send(chat, raw, request.headers)
        except NoUpstreamError:
            raise RefusedError(
                503, f"redline: no upstream configured for the {api} API (start with --upstream URL or name one in --config)", "no_upstream"
            ) from None
        except UpstreamsFailedError as e:
            raise RefusedError(502, f"redline: {e}", "upstream_unavailable") from None
        if answer.body is None:
            return self._stream(api, chat, answer, tenant, request_id, headers, authorizations)
        return await self._whole(api, answer, tenant, request_id, headers, authorizations)

    async def _whole(
        self, api: Api, answer: Answer, tenant: Tenant, request_id: str, headers: dict[str, str], authorizations: Sequence[Any]
    ) -> Response:
        assert answer.body is not None
        status, content_type = answer.response.status, answer.response.headers.get("content-type", "application/json")
        if status == 200:
            try:
                body = orjson.loads(answer.body)
            except orjson.JSONDecodeError:
                raise RefusedError(
                    502, "redline: the upstream's answer is not JSON; it cannot be checked, so it is withheld", "upstream_unreadable"
                ) from None
            output = response_output(api, body)
            verdict = await self.pipeline.check_output(tenant, request_id, output)
            if verdict is not None and refuses(verdict, self.hold_reviews):
                return self._refusal(api, verdict, "output", headers)
            if verdict is not None:
                headers["x-redline-output-decision"] = verdict.decision.decision
            calls = [c for _, c in sorted(output.tool_calls.items())]
            gate = await self.pipeline.check_tool_calls(tenant, request_id, calls, authorizations)
            if gate is not None and refuses(gate, hold_reviews=True):
                return self._refusal(api, gate, "tool_calls", headers)
            if gate is not None:
                headers["x-redline-tool-calls"] = gate.decision.rule
        return Response(answer.body, status, headers=headers, media_type=content_type)

    def _stream(
        self,
        api: Api,
        chat: ChatRequest,
        answer: Answer,
        tenant: Tenant,
        request_id: str,
        headers: dict[str, str],
        authorizations: Sequence[Any],
    ) -> Response:
        hold = HoldBack(api, self.pipeline, tenant, request_id, self.config.stream.holdback_chars, self.hold_reviews, authorizations)
        resp = answer.response

        async def events() -> AsyncIterator[bytes]:
            splitter = SSESplitter()
            try:
                async for chunk in resp.content.iter_any():
                    for event in splitter.feed(chunk):
                        out = await hold.feed(event)
                        if out:
                            yield out
                        if hold.done:
                            break
                    if hold.done:
                        break
                if not hold.done and (last := splitter.rest()) is not None:
                    yield await hold.feed(last)
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.metrics.upstream_errors.labels(answer.upstream.name, "stream").inc()
            finally:
                resp.release()
            if not hold.done:
                yield await hold.finish()
            if hold.cut is not None:
                self.metrics.stream_cuts.labels(api).inc()

        headers = {**headers, "cache-control": "no-cache"}
        return StreamingResponse(events(), resp.status, headers=headers, media_type=resp.headers.get("content-type", "text/event-stream"))

    async def check(self, api: Api, request: Request, request_id: str) -> Response:
        tenant = self._tenant(request)
        raw = await self._body(request)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RefusedError(400, f"redline: request body is not valid JSON: {e}", "invalid_request") from None
        if not isinstance(body, dict):
            raise RefusedError(400, "redline: request body must be a JSON object with `text` or `messages`", "invalid_request")
        item = {k: body[k] for k in ("text", "messages", "system") if k in body}
        try:
            verdict = await self.pipeline.decide_input(tenant, request_id, item, stage="check")
        except InputError as e:
            raise RefusedError(400, f"redline: {e}", "invalid_request") from None
        out = verdict.decision.to_dict(body.get("id"))
        out["ledger_id"] = verdict.ledger_id
        return Response(orjson.dumps(out), media_type="application/json")

    async def healthz(self, request: Request) -> Response:
        """Liveness and readiness in one: 200 when decisions can be made and recorded, 503 (same
        body) when the ledger writer or the tenants database is not working, or the replicas'
        shared monitor state is down and the policy fails closed without it — so a load balancer
        stops sending traffic that would be refused. Upstreams are reported, not judged: a
        provider outage is failover's business, and /v1/check works without one."""
        checks: dict[str, str | None] = {}
        if self.writer is not None:
            checks["ledger"] = self.writer.health()
        if self.tenants is not None:
            checks["tenants"] = await _probe(self.tenants.ping)
        ok = all(problem is None for problem in checks.values())
        if self.monitor is not None and self.monitor.monitor.shares_state:
            # replicas' monitor state (Redis): fatal only when the policy fails closed without it
            problem = await _probe(self.monitor.monitor.ping_shared_state)
            fatal = problem is not None and self.monitor.monitor.config.shared_state_down != "local"
            checks["monitor_state"] = problem if problem is None or fatal else f"{problem} (counting locally: shared_state_down is local)"
            ok = ok and not fatal
        upstreams = [{"name": u.name, "format": u.config.format, "up": u.breaker.closed} for u in self.router.upstreams]
        body = {
            "status": "ok" if ok else "degraded",
            "policy_version": self.engine.policy.version,
            "checks": {name: problem or "ok" for name, problem in checks.items()},
            "upstreams": upstreams,
        }
        return Response(orjson.dumps(body), 200 if ok else 503, media_type="application/json")

    async def metrics_endpoint(self, request: Request) -> Response:
        if self.writer is not None:
            self.metrics.ledger_queue.set(self.writer.depth())
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)
