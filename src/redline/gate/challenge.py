"""Challenges: what a human is asked to approve, bound to one exact tool call.

A challenge names the tenant, the tool, the SHA-256 of the RFC 8785 canonical arguments (and the
arguments themselves, so the operator sees what they sign), the target, the policy version, the
required role, how many operators must sign, issued-at / expires-at (Unix seconds) and a
single-use nonce. Its digest is stored when it is issued, so only challenges this gate issued
can ever be redeemed.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from collections.abc import Mapping
from typing import Any

import rfc8785

from redline.gate.errors import GateError
from redline.gate.registry import ToolClass
from redline.ledger.canonical import dumps as canonical_json

CHALLENGE_TYPE = "redline.gate.challenge/v1"
NONCE_BYTES = 32
# Fields every challenge carries, and nothing else: an unknown field is an altered challenge.
CHALLENGE_FIELDS = frozenset(
    {
        "type",
        "tenant",
        "tool",
        "effect",
        "arguments",
        "args_sha256",
        "target",
        "policy_version",
        "required_role",
        "approvals",
        "issued_at",
        "expires_at",
        "nonce",
    }
)


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON (the ledger's fast encoder, held to the reference by its property
    test); `GateError` for values JSON cannot carry (NaN, huge integers)."""
    try:
        return canonical_json(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise GateError(f"arguments are not canonical JSON: {e}") from None


def args_sha256(arguments: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the RFC 8785 canonical form of a call's arguments."""
    return hashlib.sha256(canonical(dict(arguments))).hexdigest()


def digest(challenge: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(challenge))).hexdigest()


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).rstrip(b"=").decode()


def build_challenge(
    *, tenant: str, tool: ToolClass, arguments: Mapping[str, Any], policy_version: str, now: float, lifetime_s: int
) -> dict[str, Any]:
    """A new challenge for one lethal call (not yet stored: the gate stores it when it issues it)."""
    if not tool.lethal or tool.approver_role is None:
        raise GateError(f"{tool.tool} is {tool.effect}: only lethal calls need an authorization")
    issued = math.floor(now)
    target = arguments.get(tool.target_arg) if tool.target_arg else None
    return {
        "type": CHALLENGE_TYPE,
        "tenant": tenant,
        "tool": tool.tool,
        "effect": tool.effect,
        "arguments": dict(arguments),
        "args_sha256": args_sha256(arguments),
        "target": target,
        "policy_version": policy_version,
        "required_role": tool.approver_role,
        "approvals": tool.approvals,
        "issued_at": issued,
        "expires_at": issued + lifetime_s,
        "nonce": new_nonce(),
    }


def check_challenge_shape(challenge: Any) -> dict[str, Any]:
    """The challenge as a dict with exactly the expected fields and types, or `GateError`."""
    if not isinstance(challenge, dict):
        raise GateError("challenge must be a JSON object")
    if set(challenge) != CHALLENGE_FIELDS:
        missing, extra = CHALLENGE_FIELDS - set(challenge), set(challenge) - CHALLENGE_FIELDS
        raise GateError(f"challenge fields do not match (missing {sorted(missing)}, unexpected {sorted(extra)})")
    for name in ("type", "tenant", "tool", "effect", "args_sha256", "policy_version", "required_role", "nonce"):
        if not isinstance(challenge[name], str):
            raise GateError(f"challenge.{name} must be a string")
    for name in ("approvals", "issued_at", "expires_at"):
        if not isinstance(challenge[name], int) or isinstance(challenge[name], bool):
            raise GateError(f"challenge.{name} must be an integer")
    if not isinstance(challenge["arguments"], dict):
        raise GateError("challenge.arguments must be an object")
    if challenge["type"] != CHALLENGE_TYPE:
        raise GateError(f"not a redline challenge (type {challenge['type']!r})")
    return challenge
