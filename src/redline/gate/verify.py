"""Verification: does this set of authorizations release this exact call, now, once?

Every check must pass, in this order, and the nonce is consumed only after all the others did
(a bad authorization cannot burn a good challenge): the format; every binding of the challenge
against the call as it is about to run (tenant, tool, argument hash, effect, policy version,
required role, number of approvals); the time window; each signature against a registered,
unrevoked operator holding the required role; enough distinct operators; the challenge is one
this gate issued; and finally the nonce, consumed atomically. String comparisons of bindings,
key ids and digests are constant-time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redline.gate.authorization import check_authorization_shape, signed_message, unb64
from redline.gate.challenge import args_sha256, canonical, digest
from redline.gate.errors import GateError
from redline.gate.registry import ToolClass
from redline.gate.store import GateStore, IssuedChallenge
from redline.ledger import VerifyKey

# Tolerated clock difference between the issuing and the verifying machine.
CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class Call:
    """One tool call as it is about to execute."""

    tenant: str
    tool: ToolClass
    arguments: Mapping[str, Any]
    policy_version: str


@dataclass(frozen=True)
class Outcome:
    """The verifier's answer: `ok` with the operators who authorized, or the reason it is not."""

    ok: bool
    reason: str
    operators: tuple[str, ...] = ()
    nonce: str | None = None


def _same(a: Any, b: Any) -> bool:
    return hmac.compare_digest(canonical(a), canonical(b))


class Verifier:
    """Verify authorizations for calls against the operator registry and nonce store."""

    def __init__(self, store: GateStore, max_lifetime_s: int) -> None:
        self.store = store
        self.max_lifetime_s = max_lifetime_s

    def verify(self, call: Call, authorizations: Sequence[Any], now: float) -> Outcome:
        try:
            return self._verify(call, authorizations, now)
        except GateError as e:
            return Outcome(False, str(e))

    def _verify(self, call: Call, authorizations: Sequence[Any], now: float) -> Outcome:
        if not call.tool.lethal:
            return Outcome(False, f"{call.tool.tool} is {call.tool.effect}: it needs no authorization")
        auths, challenge = _one_challenge(authorizations)
        if reason := self._binding_mismatch(call, challenge):
            return Outcome(False, reason)
        if now + CLOCK_SKEW_S < challenge["issued_at"]:
            return Outcome(False, "the challenge is issued in the future")
        if now >= challenge["expires_at"]:
            return Outcome(False, "the authorization has expired")
        if challenge["expires_at"] - challenge["issued_at"] > self.max_lifetime_s:
            return Outcome(False, "the challenge claims a longer lifetime than the policy allows")
        signers: list[str] = []
        for auth in auths:
            if reason := self._signature_problem(auth, challenge["required_role"]):
                return Outcome(False, reason)
            if auth["operator"] not in signers:
                signers.append(auth["operator"])
        if len(signers) < challenge["approvals"]:
            return Outcome(False, f"two-person rule: {challenge['approvals']} distinct operators must sign, got {len(signers)}")
        issued = self._issued(challenge)
        if issued.consumed_at is not None or not self.store.consume(challenge["nonce"], ",".join(signers), now):
            return Outcome(False, "replay: this authorization has already been used")
        return Outcome(True, "released", tuple(signers), challenge["nonce"])

    def preflight(self, authorizations: Sequence[Any], now: float) -> Outcome:
        """Check authorizations before the call is retried, without consuming anything: the format,
        the arguments against their hash, the time window, every signature against a registered,
        unrevoked operator with the required role, and that this gate issued the challenge and its
        nonce is unused. The console runs this when an approver signs; the call itself is still
        released only by `verify`, which checks the bindings against the call and consumes the
        nonce."""
        try:
            auths, challenge = _one_challenge(authorizations)
            if not hmac.compare_digest(args_sha256(challenge["arguments"]).encode(), challenge["args_sha256"].encode()):
                return Outcome(False, "the challenge's arguments do not match its argument hash")
            if now >= challenge["expires_at"]:
                return Outcome(False, "the challenge has expired")
            signers: list[str] = []
            for auth in auths:
                if reason := self._signature_problem(auth, challenge["required_role"]):
                    return Outcome(False, reason)
                signers.append(auth["operator"])
            if self._issued(challenge).consumed_at is not None:
                return Outcome(False, "this challenge has already been used")
        except GateError as e:
            return Outcome(False, str(e))
        return Outcome(True, "signatures valid", tuple(signers), challenge["nonce"])

    def _issued(self, challenge: Mapping[str, Any]) -> IssuedChallenge:
        """This gate's record of the challenge it issued; GateError when it issued no such challenge."""
        issued = self.store.challenge(challenge["nonce"])
        if issued is None or not hmac.compare_digest(issued.digest.encode(), digest(challenge).encode()):
            raise GateError("the challenge was not issued by this gate")
        return issued

    def _binding_mismatch(self, call: Call, ch: Mapping[str, Any]) -> str | None:
        tool = call.tool
        expected: list[tuple[str, Any]] = [
            ("tenant", call.tenant),
            ("tool", tool.tool),
            ("effect", tool.effect),
            ("args_sha256", args_sha256(call.arguments)),
            ("policy_version", call.policy_version),
            ("required_role", tool.approver_role),
            ("approvals", tool.approvals),
        ]
        for name, value in expected:
            if not _same(ch[name], value):
                return f"the authorization is bound to a different {name.replace('_', ' ')}"
        # the displayed arguments and target must be the call's own (the signer saw them)
        if not _same(ch["arguments"], dict(call.arguments)):
            return "the authorization is bound to different arguments"
        target = call.arguments.get(tool.target_arg) if tool.target_arg else None
        if not _same(ch["target"], target):
            return "the authorization is bound to a different target"
        return None

    def _signature_problem(self, auth: Mapping[str, Any], role: str) -> str | None:
        op = self.store.operator(auth["operator"])
        if op is None:
            return f"operator {auth['operator']!r} is not registered"
        if not op.active:
            return f"operator {auth['operator']!r} has been revoked"
        if not hmac.compare_digest(op.role.encode(), role.encode()):
            return f"operator {auth['operator']!r} does not hold the role {role!r}"
        if not hmac.compare_digest(op.key_id.encode(), auth["key_id"].encode()):
            return f"the authorization names a key that is not operator {auth['operator']!r}'s"
        if not VerifyKey.from_raw(op.public_key).verify(unb64(auth["signature"]), signed_message(auth)):
            return "bad signature"
        return None


def _one_challenge(authorizations: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The authorizations, each of valid shape, and the one challenge they all sign; GateError otherwise."""
    if not authorizations:
        raise GateError("no authorization")
    auths = [check_authorization_shape(a) for a in authorizations]
    challenge = auths[0]["challenge"]
    if not all(_same(a["challenge"], challenge) for a in auths[1:]):
        raise GateError("the authorizations sign different challenges")
    return auths, challenge
