"""The Gate behind the pipeline's gate hook: every tool call in model output, whole or streamed,
gets `Gate.check_call`'s verdict before the client sees it (POLICY.md section 5).

observe / recommend / nonlethal calls pass; a lethal call passes only when the request carried a
valid authorization bound to it (`released`, its nonce consumed); otherwise the answer is withheld
with the challenge (`approval_required`) or the reason (`denied`). The Gate records its own
approvals and consumptions in the ledger. Fails closed: without a Gate (it could not be opened at
start) every lethal call is `denied`; a Gate whose store fails denies lethal calls itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redline.decide import Decision
from redline.gate import Gate, HeldCall, ToolRegistry, Verdict, check_tool_call
from redline.gateway.metrics import Metrics
from redline.gateway.pipeline import GateResult
from redline.gateway.wire import ToolCall
from redline.policy import DecisionName, Policy, RedLineName
from redline.tenants import Tenant

APPROVAL_RULE = "gate.approval_required"
DENIED_RULE = "gate.denied"
RELEASED_RULE = "gate.released"


class GateHook:
    """`check(tenant, request_id, calls, authorizations) -> GateResult | None` over a `Gate`
    (None: the Gate could not be opened, and `unavailable` says why)."""

    def __init__(self, gate: Gate | None, policy: Policy, metrics: Metrics, unavailable: str = "") -> None:
        self.gate = gate
        self.registry = gate.registry if gate is not None else ToolRegistry.from_policy(policy)
        self.policy_version = policy.version
        self.metrics = metrics
        self.unavailable = unavailable or "the gate is not available"

    def owns(self, tool: str) -> bool:
        """Whether the Gate, not the output classifier, judges this tool's calls: the lethal ones.
        A human-authorized lethal call is lawful (POLICY.md sections 4-5), so a classifier must not
        block it on its arguments; every other call is read by the classifier as well."""
        return self.registry.classify(tool).lethal

    def _verdict(self, tenant: str, call: ToolCall, authorizations: Sequence[Any]) -> Verdict:
        if self.gate is None:
            cls = self.registry.classify(call.name)
            if cls.lethal:
                return Verdict("denied", call.name, cls.effect, f"gate unavailable: {self.unavailable}")
            return Verdict("pass", call.name, cls.effect, f"{cls.effect} tool")
        return check_tool_call(self.gate, tenant, call.name, call.arguments, authorizations)

    def check(self, tenant: Tenant, request_id: str, calls: Sequence[ToolCall], authorizations: Sequence[Any] = ()) -> GateResult | None:
        verdicts = [HeldCall(c.id, self._verdict(tenant.name, c, authorizations)) for c in calls]
        for v in verdicts:
            self.metrics.gate_calls.labels(v.verdict.status, v.verdict.effect).inc()
        statuses = {v.verdict.status for v in verdicts}
        if statuses <= {"pass"}:
            return None  # nothing the Gate needs to say or record
        decision: DecisionName
        rule: str
        if "denied" in statuses:
            decision, rule = "block", DENIED_RULE
        elif "approval_required" in statuses:
            decision, rule = "review", APPROVAL_RULE
        else:
            decision, rule = "allow", RELEASED_RULE
        evidence = [
            {"signal": "gate", "source": "gate", "text": f"{v.verdict.tool} ({v.verdict.effect}): {v.verdict.status}: {v.verdict.reason}"}
            for v in verdicts
            if v.verdict.status != "pass"
        ]
        red_line: RedLineName | None = None if decision == "allow" else "autonomous_weapons"
        details: dict[str, Any] = {"tool_calls": [_public(v) for v in verdicts]}
        held = [v.to_dict() for v in verdicts if v.verdict.status == "approval_required"]
        if held:
            details["approval_required"] = held
        return GateResult(Decision(decision, red_line, {}, rule, self.policy_version, evidence=evidence, backend="gate"), details)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.store.close()
            if self.gate.ledger is not None:
                self.gate.ledger.close()


def _public(held: HeldCall) -> dict[str, Any]:
    """One call's verdict for the client, without the challenge (that is under `approval_required`)."""
    out = held.to_dict()
    out.pop("challenge", None)
    return out
