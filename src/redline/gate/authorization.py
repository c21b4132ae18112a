"""Authorizations: an operator's Ed25519 signature over one challenge.

The signed message is the RFC 8785 canonical JSON of the authorization without its `signature`
field (type, challenge, operator, key id, signed-at). Signing happens in the operator's own
process with their own key; redline's server side only ever holds public keys.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from collections.abc import Mapping
from typing import Any

from redline.gate.challenge import args_sha256, canonical, check_challenge_shape
from redline.gate.errors import GateError
from redline.ledger import SigningKey

AUTHORIZATION_TYPE = "redline.gate.authorization/v1"
AUTHORIZATION_FIELDS = frozenset({"type", "challenge", "operator", "key_id", "signed_at", "signature"})
SIGNATURE_BYTES = 64


def signed_message(authorization: Mapping[str, Any]) -> bytes:
    return canonical({k: v for k, v in authorization.items() if k != "signature"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise GateError(f"signature is not base64url: {e}") from None


def authorize(challenge: Mapping[str, Any], key: SigningKey, operator: str, *, now: float | None = None) -> dict[str, Any]:
    """Sign `challenge` as `operator`. Refuses a challenge whose arguments do not hash to the
    digest it binds (the operator would be shown one call and sign another) or that has expired."""
    ch = check_challenge_shape(dict(challenge))
    if not hmac.compare_digest(args_sha256(ch["arguments"]).encode(), ch["args_sha256"].encode()):
        raise GateError("challenge.arguments do not match challenge.args_sha256: refusing to sign")
    now = time.time() if now is None else now
    if now >= ch["expires_at"]:
        raise GateError("the challenge has expired: ask for a new one")
    auth: dict[str, Any] = {
        "type": AUTHORIZATION_TYPE,
        "challenge": ch,
        "operator": operator,
        "key_id": key.id,
        "signed_at": math.floor(now),
    }
    auth["signature"] = b64(key.sign(signed_message(auth)))
    return auth


def check_authorization_shape(authorization: Any) -> dict[str, Any]:
    """The authorization as a dict with exactly the expected fields and types, or `GateError`."""
    if not isinstance(authorization, dict):
        raise GateError("authorization must be a JSON object")
    if set(authorization) != AUTHORIZATION_FIELDS:
        raise GateError("authorization fields do not match the format")
    if authorization["type"] != AUTHORIZATION_TYPE:
        raise GateError("not a redline authorization")
    for name in ("operator", "key_id", "signature"):
        if not isinstance(authorization[name], str):
            raise GateError(f"authorization.{name} must be a string")
    if not isinstance(authorization["signed_at"], int) or isinstance(authorization["signed_at"], bool):
        raise GateError("authorization.signed_at must be an integer")
    check_challenge_shape(authorization["challenge"])
    if len(unb64(authorization["signature"])) != SIGNATURE_BYTES:
        raise GateError("signature has the wrong length")
    return authorization
