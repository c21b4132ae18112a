"""How a client hands authorizations back to an HTTP enforcement point (the gateway) on retry.

Either the header `x-redline-authorization` holding base64url(JSON) of one authorization or a
list of them, or a request body field `"redline": {"authorizations": [...]}` (OpenAI SDK:
`extra_body`). Both may be used; the gateway strips the body field before forwarding upstream and
passes the whole list to `Gate.check_call` for every tool call, which uses only the ones bound to
that call.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from redline.gate.errors import GateError

HEADER = "x-redline-authorization"
BODY_FIELD = "redline"
MAX_HEADER_BYTES = 64 * 1024


def encode_header(authorizations: Any) -> str:
    """The header value for one authorization or a list of them."""
    return base64.urlsafe_b64encode(orjson.dumps(authorizations)).rstrip(b"=").decode()


def authorizations_from(header: str | None, body: Mapping[str, Any] | None) -> list[Any]:
    """All authorizations a request carries (header first, then body); `GateError` if malformed."""
    found: list[Any] = []
    if header:
        if len(header) > MAX_HEADER_BYTES:
            raise GateError(f"{HEADER} is too large")
        try:
            value = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except (binascii.Error, ValueError) as e:
            raise GateError(f"{HEADER} is not base64url JSON: {type(e).__name__}") from None
        found.extend(value if isinstance(value, list) else [value])
    section = body.get(BODY_FIELD) if body is not None else None
    if section is not None:
        if not isinstance(section, dict) or not isinstance(section.get("authorizations", []), list):
            raise GateError('the body field "redline" must be {"authorizations": [...]}')
        found.extend(section.get("authorizations", []))
    return found


def without_redline(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request body to forward upstream: the redline field removed."""
    return {k: v for k, v in body.items() if k != BODY_FIELD}
