"""The enforcement pipeline of one request: input decision, output check, tool-call check.

Each step is one method, and each place another capability plugs in is one attribute:

- `monitor`: the cross-request Monitor — `await observe(tenant, request_id, ts, conversation,
  decision, request)` returns the (possibly escalated) decision; called once per input decision, in
  `decide_input` (`redline.gateway.monitoring.MonitorHook`).
- `gate`: the lethal-tool Gate — `check(tenant, request_id, calls, authorizations)` returns a
  `GateResult` (review when a lethal call needs an authorization, block when one was refused,
  allow when one was released) or None; called in `check_tool_calls` on every tool call found in
  model output, streamed or not. `owns(tool)` names the calls the Gate judges instead of the
  output classifier (`redline.gateway.gating.GateHook`).
- `reviews`: the review queue — `held(...)` queues a refused request or a lethal call's challenge
  (called once, in `record`); `redeem(...)` lets a retry naming a hold a reviewer released through
  once (in `decide_input`); `authorizations(...)` adds those approvers signed in the console to a
  lethal call's (in `check_tool_calls`) (`redline.gateway.reviewing.ReviewHook`).

Every decision is written to the ledger (stage `input`, `output`, `tool_calls` or `check`).
Must not speak HTTP: the app turns verdicts into responses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from redline.decide import Decision, decide_error
from redline.engine import Engine
from redline.gateway.ledger_writer import DecisionRecorder, Entry
from redline.gateway.metrics import Metrics
from redline.gateway.wire import Output, ToolCall
from redline.tenants import Tenant
from redline.text import Conversation, InputError


class Monitor(Protocol):
    async def observe(
        self, tenant: Tenant, request_id: str, ts: float, conversation: Conversation, decision: Decision, request: Any
    ) -> Decision: ...


@dataclass(frozen=True)
class GateResult:
    """The Gate's decision on the tool calls of one answer and what the client is told about them
    (`tool_calls`: each call's verdict; `approval_required`: the held calls with their challenges)."""

    decision: Decision
    details: Mapping[str, Any] = field(default_factory=dict)


class Reviews(Protocol):
    async def held(
        self, tenant: Tenant, request_id: str, stage: str, decision: Decision, ledger_id: int, request: Any, details: Mapping[str, Any]
    ) -> None: ...

    async def redeem(self, tenant: Tenant, review_id: str, request: Any, decision: Decision) -> Decision: ...

    async def authorizations(self, tenant: Tenant, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]: ...


class Gate(Protocol):
    def owns(self, tool: str) -> bool: ...

    def check(self, tenant: Tenant, request_id: str, calls: Sequence[ToolCall], authorizations: Sequence[Any]) -> GateResult | None: ...


@dataclass(frozen=True)
class Verdict:
    """A decision and, when the caller needed it, its ledger id (and, from the Gate, what the
    client is told about its tool calls)."""

    decision: Decision
    ledger_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def redline(self, stage: str, review_id: bool = False) -> dict[str, Any]:
        """The `redline` object of a refusal."""
        d = self.decision
        out: dict[str, Any] = {"decision": d.decision, "red_line": d.red_line, "rule": d.rule, "ledger_id": self.ledger_id, "stage": stage}
        if review_id:
            out["review_id"] = self.ledger_id
        out.update(self.details)
        return out


class Pipeline:
    def __init__(
        self,
        engine: Engine,
        ledger: DecisionRecorder | None,
        metrics: Metrics,
        monitor: Monitor | None = None,
        gate: Gate | None = None,
        reviews: Reviews | None = None,
    ):
        self.engine = engine
        self.ledger = ledger
        self.metrics = metrics
        self.monitor = monitor  # MONITOR HOOK: set to the Monitor once it lands
        self.gate = gate  # GATE HOOK: set to the Gate's tool-call check once it lands
        self.reviews = reviews
        self.max_chars = engine.policy.document.limits.max_input_chars

    async def record(
        self, stage: str, decision: Decision, request: Any, tenant: Tenant, request_id: str, details: Mapping[str, Any] | None = None
    ) -> Verdict:
        if self.ledger is None:
            return Verdict(decision, details=details or {})
        # The id of a refusal or review is returned to the client, so wait for its commit; an
        # allow is queued and the response does not wait for the disk.
        wait = decision.decision != "allow"
        ledger_id = await self.ledger.append(Entry(decision, request, tenant.name, request_id, stage), wait)
        if wait and ledger_id is not None and self.reviews is not None:
            await self.reviews.held(tenant, request_id, stage, decision, ledger_id, request, details or {})
        return Verdict(decision, ledger_id, details or {})

    def _decide(self, stage: str, conversation: Conversation) -> Decision:
        t0 = time.perf_counter()
        decision = self.engine.decide(conversation)
        self.metrics.decided(stage, decision, time.perf_counter() - t0)
        return decision

    async def decide_input(self, tenant: Tenant, request_id: str, item: Any, stage: str = "input", review_id: str | None = None) -> Verdict:
        """Decide a whole conversation before anything is forwarded. `InputError` for unreadable input.
        `review_id`: the hold this request retries (`x-redline-review-id`), let through once when a
        reviewer released it."""
        conversation = self.engine.conversation(item)
        decision = self._decide(stage, conversation)
        if self.monitor is not None:
            decision = await self.monitor.observe(tenant, request_id, time.time(), conversation, decision, item)
        if review_id is not None and self.reviews is not None:
            decision = await self.reviews.redeem(tenant, review_id, item, decision)
        return await self.record(stage, decision, item, tenant, request_id)

    async def check_output(self, tenant: Tenant, request_id: str, output: Output, record: bool = True) -> Verdict | None:
        """Decide model output (text and tool-call arguments) before it reaches the client; None
        when it holds nothing to decide. Output longer than the policy's input limit is decided
        in consecutive parts; the worst part wins."""
        item = output.item()
        msg = item["messages"][0]
        text: str = msg["content"]
        pieces: list[dict[str, Any]] = [
            {"role": "assistant", "content": text[i : i + self.max_chars]}
            for i in range(0, len(text), self.max_chars)
            if text[i : i + self.max_chars].strip()
        ]
        # Calls the Gate owns (lethal ones) are its job, not the classifier's: an authorized
        # engagement is lawful, and a classifier reading its arguments would refuse it anyway.
        calls = [c for c in msg["tool_calls"] or () if self.gate is None or not self.gate.owns(c["function"]["name"])]
        if calls:
            pieces.append({"role": "assistant", "content": "", "tool_calls": calls})
        worst: Decision | None = None
        for piece in pieces:
            try:
                decision = self._decide("output", self.engine.conversation({"messages": [piece]}))
            except InputError as e:  # output the engine cannot read is not let through unread
                decision = decide_error(self.engine.policy, f"output: {e}", self.engine.classifier.name)
            if worst is None or _rank(decision) > _rank(worst):
                worst = decision
        if worst is None:
            return None
        if not record:
            return Verdict(worst)
        return await self.record("output", worst, item, tenant, request_id)

    async def check_tool_calls(
        self, tenant: Tenant, request_id: str, calls: Sequence[ToolCall], authorizations: Sequence[Any] = ()
    ) -> Verdict | None:
        """The Gate's verdict on tool calls in model output (None: no gate, or nothing to say).
        `authorizations` are those the request carried (header or body), for lethal calls."""
        if self.gate is None or not calls:
            return None
        if self.reviews is not None and (lethal := [c for c in calls if self.gate.owns(c.name)]):
            authorizations = [*authorizations, *await self.reviews.authorizations(tenant, _named_arguments(lethal))]
        t0 = time.perf_counter()
        result = self.gate.check(tenant, request_id, calls, authorizations)
        if result is None:
            return None
        self.metrics.decided("tool_calls", result.decision, time.perf_counter() - t0)
        request = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        return await self.record("tool_calls", result.decision, request, tenant, request_id, result.details)


_RANK = {"allow": 0, "review": 1, "block": 2}


def _named_arguments(calls: Sequence[ToolCall]) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, arguments) of calls whose arguments are a JSON object (others the Gate denies)."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for c in calls:
        try:
            args = orjson.loads(c.arguments or "{}")
        except orjson.JSONDecodeError:
            continue
        if isinstance(args, dict):
            out.append((c.name, args))
    return out


def _rank(decision: Decision) -> int:
    return _RANK[decision.decision]
