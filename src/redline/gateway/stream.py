"""Streaming output enforcement: a hold-back buffer between the upstream's events and the client.

Upstream events are forwarded byte for byte, but an event carrying output text is held until the
text it carries has been checked: once `holdback_chars` of unchecked text have accumulated, that
text and the classifier window before it are decided; at the end of the stream, the whole output. Allowed, the held events go out;
crossing a red line, they are dropped and the stream ends with a provider-shaped error event.
Tool calls are checked whole at the end of the stream (output classifier, then the Gate); from
the first event of a tool call on, nothing is released before that check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redline.gateway.errors import Api, stream_error_event
from redline.gateway.pipeline import Pipeline, Verdict
from redline.gateway.wire import Event, Output, stream_delta
from redline.tenants import Tenant


def refuses(verdict: Verdict | None, hold_reviews: bool) -> bool:
    if verdict is None:
        return False
    d = verdict.decision.decision
    return d == "block" or (d == "review" and hold_reviews)


def refusal_code(verdict: Verdict) -> str:
    """The error `code` of a refusal: an approval to obtain, a review hold, or a block."""
    if verdict.details.get("approval_required"):
        return "redline_approval_required"
    return "redline_review_hold" if verdict.decision.decision == "review" else "redline_blocked"


def refusal_message(verdict: Verdict, stage: str) -> str:
    d = verdict.decision
    what = {"input": "request refused", "check": "request refused", "output": "model output withheld", "tool_calls": "tool call withheld"}[
        stage
    ]
    held = verdict.details.get("approval_required")
    if held and d.decision == "review":
        tools = ", ".join(sorted({str(h.get("tool")) for h in held}))
        why = f"a lethal tool call ({tools}) needs a signed human authorization; the challenge is in redline.approval_required"
    elif d.decision == "review":
        why = "it is held for human review"
    elif d.red_line is not None:
        why = f"it crosses the red line {d.red_line}"
    else:
        why = "it was blocked"
    where = f" Ledger record {verdict.ledger_id}." if verdict.ledger_id is not None else ""
    return f"redline: {what}: {why} (rule {d.rule}).{where}"


class HoldBack:
    def __init__(
        self,
        api: Api,
        pipeline: Pipeline,
        tenant: Tenant,
        request_id: str,
        holdback_chars: int,
        hold_reviews: bool,
        authorizations: Sequence[Any] = (),
    ) -> None:
        self.authorizations = authorizations
        self.api = api
        self.pipeline = pipeline
        self.tenant = tenant
        self.request_id = request_id
        self.holdback_chars = holdback_chars
        self.hold_reviews = hold_reviews
        self.output = Output()
        self.pending: list[bytes] = []
        self.unchecked = 0
        self.done = False
        self.cut: Verdict | None = None

    def _flush(self) -> bytes:
        out = b"".join(self.pending)
        self.pending.clear()
        self.unchecked = 0
        return out

    async def _cut(self, verdict: Verdict, stage: str) -> bytes:
        if verdict.ledger_id is None:
            verdict = await self.pipeline.record(stage, verdict.decision, self.output.item(), self.tenant, self.request_id)
        self.cut, self.done = verdict, True
        self.pending.clear()
        return stream_error_event(
            self.api,
            refusal_message(verdict, stage),
            verdict.redline(stage, review_id=verdict.decision.decision == "review"),
            code=refusal_code(verdict),
        )

    def _recent(self) -> Output:
        """What an intermediate check reads: the unchecked text plus one classifier window before it
        (so a sentence cut by the last check is read whole), never the whole output again — that
        would make a long stream quadratic. The end-of-stream check reads everything."""
        text = "".join(self.output.text)
        return Output([text[-(self.unchecked + self.pipeline.engine.policy.document.limits.window_chars) :]], self.output.tool_calls)

    async def feed(self, event: Event) -> bytes:
        """Take one upstream event; return the bytes that may now go to the client."""
        if self.done:
            return b""
        added, end = stream_delta(self.api, event, self.output)
        self.pending.append(event.raw)
        self.unchecked += added
        if end:
            return await self.finish()
        if self.output.tool_calls:
            # Once a tool call has begun, nothing more goes out before the end of the stream: the
            # Gate judges whole calls, and a released fragment of a lethal call cannot be recalled.
            return b""
        if self.unchecked == 0:
            return self._flush()
        if self.unchecked < self.holdback_chars:
            return b""
        verdict = await self.pipeline.check_output(self.tenant, self.request_id, self._recent(), record=False)
        if refuses(verdict, self.hold_reviews):
            assert verdict is not None
            return await self._cut(verdict, "output")
        return self._flush()

    async def finish(self) -> bytes:
        """The end of the stream: decide the whole output (recorded) and its tool calls, then release or cut."""
        if self.done:
            return b""
        self.done = True
        verdict = await self.pipeline.check_output(self.tenant, self.request_id, self.output)
        if refuses(verdict, self.hold_reviews):
            assert verdict is not None
            self.done = False
            return await self._cut(verdict, "output")
        calls = [c for _, c in sorted(self.output.tool_calls.items())]
        gate = await self.pipeline.check_tool_calls(self.tenant, self.request_id, calls, self.authorizations)
        if refuses(gate, hold_reviews=True):
            assert gate is not None
            self.done = False
            return await self._cut(gate, "tool_calls")
        return self._flush()
