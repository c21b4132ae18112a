"""`Gate`: the one call enforcement points make for a tool call found in model output or sent to
an MCP server, and the ledger records of what it decided.

`check_call` answers `pass` (observe / recommend / nonlethal per policy), `approval_required`
(a lethal call without a matching authorization: the challenge to take to a human), `released`
(a valid authorization, its nonce now consumed) or `denied` (with the reason). It fails closed:
any failure on the lethal path (store unavailable, ledger unwritable, bad input) is `denied`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redline.gate.challenge import args_sha256, build_challenge, digest
from redline.gate.errors import GateError, GateUnavailable
from redline.gate.registry import ToolClass, ToolRegistry
from redline.gate.store import GateStore, Operator
from redline.gate.verify import Call, Outcome, Verifier
from redline.ledger import Ledger, Record
from redline.policy import Policy

VerdictStatus = Literal["pass", "approval_required", "released", "denied"]


@dataclass(frozen=True)
class Verdict:
    """What to do with one tool call. Execute it only when `executable` is true."""

    status: VerdictStatus
    tool: str
    effect: str
    reason: str
    challenge: dict[str, Any] | None = None
    operators: tuple[str, ...] = field(default=())

    @property
    def executable(self) -> bool:
        return self.status in ("pass", "released")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "tool": self.tool, "effect": self.effect, "reason": self.reason}
        if self.challenge is not None:
            out["challenge"] = self.challenge
        if self.operators:
            out["operators"] = list(self.operators)
        return out


def as_list(authorization: Mapping[str, Any] | Sequence[Any] | None) -> list[Any]:
    """An authorization, a list of them (two-person rule), or none."""
    if authorization is None:
        return []
    if isinstance(authorization, Mapping):
        return [dict(authorization)]
    if isinstance(authorization, Sequence) and not isinstance(authorization, str | bytes):
        return list(authorization)
    return [authorization]  # malformed: the verifier names what is wrong


def _binds(auth: Any, tool: str, arg_hash: str) -> bool:
    ch = auth.get("challenge") if isinstance(auth, dict) else None
    return isinstance(ch, dict) and ch.get("tool") == tool and ch.get("args_sha256") == arg_hash


# Challenge rows outlive their expiry by a week (the console's recent history; the ledger keeps the
# approval_required / released records for good), and the sweep runs at most once an hour, on
# issuance: without it the table grew by one row per lethal call forever.
CHALLENGE_RETENTION_S = 7 * 86400.0
PURGE_EVERY_S = 3600.0


class Gate:
    """The gate for one policy, one store and (optionally) the ledger that records its decisions."""

    def __init__(self, policy: Policy, store: GateStore, ledger: Ledger | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.registry = ToolRegistry.from_policy(policy)
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.verifier = Verifier(store, self.registry.challenge_seconds)
        self._last_purge = float("-inf")

    def classify(self, tool: str, annotations: Mapping[str, Any] | None = None) -> ToolClass:
        return self.registry.classify(tool, annotations)

    # -- the three operations --------------------------------------------------------------------

    def challenge(
        self, tenant: str, tool: str, arguments: Mapping[str, Any], annotations: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Issue (store and record) a challenge for a lethal call."""
        cls = self.classify(tool, annotations)
        ch = build_challenge(
            tenant=tenant,
            tool=cls,
            arguments=arguments,
            policy_version=self.policy.version,
            now=self.clock(),
            lifetime_s=self.registry.challenge_seconds,
        )
        self.store.add_challenge(ch["nonce"], tenant, tool, digest(ch), ch["issued_at"], ch["expires_at"])
        self._record("approval_required", tenant, tool, ch["args_sha256"], nonce=ch["nonce"], required_role=ch["required_role"])
        if ch["issued_at"] - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = ch["issued_at"]
            self.store.purge(ch["issued_at"] - CHALLENGE_RETENTION_S)
        return ch

    def verify(
        self,
        tenant: str,
        tool: str,
        arguments: Mapping[str, Any],
        authorization: Mapping[str, Any] | Sequence[Any] | None,
        annotations: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Verify and, when valid, consume. The library form of `redline gate verify`."""
        cls = self.classify(tool, annotations)
        arg_hash = args_sha256(arguments)
        outcome = self.verifier.verify(Call(tenant, cls, arguments, self.policy.version), as_list(authorization), self.clock())
        if outcome.ok:
            self._record("released", tenant, tool, arg_hash, nonce=outcome.nonce, operators=list(outcome.operators))
        else:
            self._record("rejected", tenant, tool, arg_hash, reason=outcome.reason, operators=_claimed_operators(authorization))
        return outcome

    def check_call(
        self,
        tenant: str,
        tool_name: str,
        arguments: Mapping[str, Any],
        authorization: Mapping[str, Any] | Sequence[Any] | None = None,
        annotations: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """The verdict for one tool call about to execute. Authorizations that bind a different
        call (another tool or other arguments) are ignored, so a client may send all it holds."""
        try:
            cls = self.classify(tool_name, annotations)
        except Exception as e:
            return Verdict("denied", tool_name, "unknown", f"gate unavailable: {type(e).__name__}")
        if not cls.lethal:
            return Verdict("pass", tool_name, cls.effect, f"{cls.effect} tool")
        try:
            arg_hash = args_sha256(arguments)
            mine = [a for a in as_list(authorization) if _binds(a, tool_name, arg_hash)]
            if not mine:
                ch = self.challenge(tenant, tool_name, arguments, annotations)
                note = "a lethal tool call needs a signed human authorization"
                if authorization:
                    note += " (the authorization supplied binds a different call)"
                return Verdict("approval_required", tool_name, cls.effect, note, challenge=ch)
            outcome = self.verify(tenant, tool_name, arguments, mine, annotations)
        except (GateError, GateUnavailable) as e:
            return Verdict("denied", tool_name, cls.effect, str(e))
        except Exception as e:  # fail closed on anything unforeseen; never leak its details
            return Verdict("denied", tool_name, cls.effect, f"gate unavailable: {type(e).__name__}")
        if outcome.ok:
            return Verdict("released", tool_name, cls.effect, "authorized", operators=outcome.operators)
        return Verdict("denied", tool_name, cls.effect, outcome.reason)

    # -- ledger ----------------------------------------------------------------------------------

    def _record(self, event: str, tenant: str, tool: str, arg_hash: str, **extra: Any) -> None:
        """Append a `gate` record: hashes of the arguments and nonce, never arguments or keys.
        A failure to record is a failure of the gate (the caller fails closed)."""
        if self.ledger is None:
            return
        payload: dict[str, Any] = {"event": event, "tool": tool, "args_sha256": arg_hash, "policy_version": self.policy.version}
        nonce = extra.pop("nonce", None)
        if nonce is not None:
            payload["nonce_sha256"] = hashlib.sha256(nonce.encode()).hexdigest()
        payload.update({k: v for k, v in extra.items() if v})
        append_gate_record(self.ledger, payload, tenant)


def append_gate_record(ledger: Ledger, payload: dict[str, Any], tenant: str | None = None) -> None:
    """One `gate` record; `GateUnavailable` when it cannot be written (callers fail closed)."""
    try:
        ledger.append(Record(kind="gate", payload=payload, tenant=tenant))
    except Exception as e:
        raise GateUnavailable(f"cannot record the gate decision in the ledger: {type(e).__name__}") from None


def record_operator_change(ledger: Ledger, event: Literal["operator_added", "operator_revoked"], operator: Operator | str) -> None:
    """Record a change to who may authorize (the key id is a hash of the public key, not key material)."""
    if isinstance(operator, str):
        append_gate_record(ledger, {"event": event, "operator": operator})
    else:
        append_gate_record(ledger, {"event": event, "operator": operator.id, "role": operator.role, "key_id": operator.key_id})


def _claimed_operators(authorization: Any) -> list[str]:
    return [a["operator"] for a in as_list(authorization) if isinstance(a, dict) and isinstance(a.get("operator"), str)][:4]


def open_gate(db: str, policy_path: str | None = None, ledger_key: str | None = None) -> Gate:
    """A gate on the `--db` database with the given policy (default: the built-in one), recording
    into the ledger of the same database when `ledger_key` (the ledger's signing key file) is given.
    `GateUnavailable` when the policy cannot be read or the store or ledger cannot be opened."""
    from redline.ledger import LedgerError, load_or_create_signing_key
    from redline.policy import PolicyError, load_policy
    from redline.store import StoreError

    try:
        policy = load_policy(policy_path)
    except PolicyError as e:
        raise GateUnavailable(f"policy cannot be read: {e}") from None
    store = GateStore.open(db)
    ledger = None
    if ledger_key is not None:
        try:
            ledger = Ledger.open(db, load_or_create_signing_key(ledger_key))
        except (StoreError, LedgerError) as e:
            store.close()
            raise GateUnavailable(f"ledger unavailable: {e}") from None
    return Gate(policy, store, ledger)
