"""Errors in each provider's own shape, so existing clients and SDKs raise their usual exceptions.

OpenAI: `{"error": {"message", "type", "param", "code"}}`. Anthropic: `{"type": "error", "error":
{"type", "message"}}`. A refusal adds a top-level `redline` object (decision, red line, rule,
ledger id). Messages never carry keys or request text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from starlette.responses import Response

Api = Literal["openai", "anthropic"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}


def error_body(api: Api, status: int, message: str, *, code: str | None = None, redline: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any]
    if api == "anthropic":
        body = {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"), "message": message},
        }
    else:
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    if redline is not None:
        body["redline"] = dict(redline)
    return body


def error_response(
    api: Api,
    status: int,
    message: str,
    *,
    code: str | None = None,
    redline: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        orjson.dumps(error_body(api, status, message, code=code, redline=redline)), status, headers=headers, media_type="application/json"
    )


def stream_error_event(api: Api, message: str, redline: Mapping[str, Any] | None = None, code: str = "redline_blocked") -> bytes:
    """The last event of a stream cut by redline: an SSE error each provider's SDK raises on.
    The OpenAI SDK hands the client only the `error` object of a stream error (`APIError.body`),
    so there the `redline` object is inside `error` as well."""
    body = error_body(api, 403, message, code=code, redline=redline)
    if api == "anthropic":
        return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
    if redline is not None:
        body["error"]["redline"] = body["redline"]
    return b"data: " + orjson.dumps(body) + b"\n\n"
