"""The gateway pipeline in process: where the Monitor and the Gate plug in, ledger writes, the
streaming hold-back buffer and the SSE splitter."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from gateway_stubs import CANNED, DEFAULT_REPLY, anthropic_events, openai_events
from ledger_helpers import count_batches
from redline.decide import Decision
from redline.engine import Engine
from redline.gateway.ledger_writer import DecisionRecorder, Entry
from redline.gateway.metrics import Metrics
from redline.gateway.pipeline import GateResult, Pipeline
from redline.gateway.stream import HoldBack
from redline.gateway.wire import SSESplitter, ToolCall
from redline.ledger import Ledger, load_or_create_signing_key
from redline.tenants import Tenant
from redline.text import Conversation

TENANT = Tenant("t", (), "active", 0.0)


class EscalatingMonitor:
    """A monitor that turns every decision into a block (as a mosaic alert would)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def observe(
        self, tenant: Tenant, request_id: str, ts: float, conversation: Conversation, decision: Decision, request: object
    ) -> Decision:
        self.seen.append(request_id)
        return dataclasses.replace(decision, decision="block", red_line="mass_domestic_surveillance", rule="monitor.mosaic")


class HoldingGate:
    """Holds any call to a tool named in `held` (as the Gate holds lethal tools without an authorization)."""

    held = frozenset({"designate_grid"})

    def owns(self, tool: str) -> bool:
        return tool in self.held

    def check(self, tenant: Tenant, request_id: str, calls: Sequence[ToolCall], authorizations: Sequence[object]) -> GateResult | None:
        if not any(c.name in self.held for c in calls):
            return None
        return GateResult(Decision("review", "autonomous_weapons", {}, "gate.needs_authorization", "v"))


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", load_or_create_signing_key(str(tmp_path / "k")))


def run_stream(pipeline: Pipeline, api: str, events: list[bytes], holdback: int = 50) -> bytes:
    async def go() -> bytes:
        hold = HoldBack(api, pipeline, TENANT, "r1", holdback, hold_reviews=False)  # type: ignore[arg-type]
        splitter, out = SSESplitter(), b""
        stream = b"".join(events)
        for i in range(0, len(stream), 13):  # chunk boundaries fall anywhere, mid-event included
            for event in splitter.feed(stream[i : i + 13]):
                out += await hold.feed(event)
        return out + await hold.finish()

    return asyncio.run(go())


def test_monitor_escalates_and_every_decision_is_in_the_ledger(engine: Engine, ledger: Ledger) -> None:
    monitor = EscalatingMonitor()
    writer = DecisionRecorder(ledger, Metrics(), batch_max=4)
    pipeline = Pipeline(engine, writer, Metrics(), monitor=monitor)
    allowed = asyncio.run(Pipeline(engine, writer, Metrics()).decide_input(TENANT, "a", {"text": "What is the range of a 155mm howitzer?"}))
    escalated = asyncio.run(pipeline.decide_input(TENANT, "b", {"text": "What is the range of a 155mm howitzer?"}))
    assert allowed.decision.decision == "allow" and allowed.ledger_id is None  # allows do not wait for the disk
    assert escalated.decision.rule == "monitor.mosaic" and escalated.ledger_id is not None and monitor.seen == ["b"]
    writer.close()
    with Ledger.open(ledger.backend.url, ledger.key) as again:  # type: ignore[attr-defined]
        assert again.size() == 2
        assert again.verify().ok


def test_stream_passes_byte_for_byte_when_permitted(engine: Engine) -> None:
    pipeline = Pipeline(engine, None, Metrics())
    for api, events in (("openai", openai_events("m", DEFAULT_REPLY, None)), ("anthropic", anthropic_events("m", DEFAULT_REPLY, None))):
        assert run_stream(pipeline, api, events) == b"".join(events)


def test_stream_cut_holds_back_the_violation(engine: Engine) -> None:
    pipeline = Pipeline(engine, None, Metrics())
    for api, events in (
        ("openai", openai_events("m", CANNED["weapons"], None)),
        ("anthropic", anthropic_events("m", CANNED["weapons"], None)),
    ):
        out = run_stream(pipeline, api, events)
        assert b"redline_blocked" in out or b"permission_error" in out
        text = "".join(
            (d.get("choices") or [{}])[0].get("delta", {}).get("content") or d.get("delta", {}).get("text") or ""
            for line in out.split(b"\n")
            if line.startswith(b"data: {")
            for d in [orjson.loads(line[6:])]
        )
        assert text and CANNED["weapons"].startswith(text) and "fires on anyone" not in text


def test_gate_holds_a_tool_call_in_streams(engine: Engine) -> None:
    pipeline = Pipeline(engine, None, Metrics(), gate=HoldingGate())
    out = run_stream(pipeline, "openai", openai_events("m", "", "designate_grid"))
    assert b"gate.needs_authorization" in out and b"[DONE]" not in out
    fine = openai_events("m", "", "get_weather")
    assert run_stream(pipeline, "openai", fine) == b"".join(fine)


def test_sse_splitter_keeps_exact_bytes() -> None:
    raw = b'event: a\r\ndata: 1\r\n\r\ndata: {"x": 2}\n\n: comment\n\ndata: tail'
    splitter = SSESplitter()
    events = [e for i in range(len(raw)) for e in splitter.feed(raw[i : i + 1])]
    last = splitter.rest()
    assert last is not None
    assert b"".join(e.raw for e in [*events, last]) == raw
    assert (events[0].name, events[0].data, events[1].data, last.data) == ("a", b"1", b'{"x": 2}', b"tail")


def test_no_fragment_of_a_held_call_goes_out_before_the_gate(engine: Engine) -> None:
    """Arguments far longer than the hold-back window: without holding tool-call events to the end
    of the stream, their first fragments would be released before the Gate saw the whole call."""
    pipeline = Pipeline(engine, None, Metrics(), gate=HoldingGate())
    for api, events in (
        ("openai", openai_events("m", "", [("designate_grid", {"grid": "4" * 600})])),
        ("anthropic", anthropic_events("m", "", [("designate_grid", {"grid": "4" * 600})])),
    ):
        out = run_stream(pipeline, api, events, holdback=50)
        assert b"gate.needs_authorization" in out
        assert b"4444444" not in out and b"designate_grid" not in out.split(b"gate.needs_authorization")[0]


def test_allows_are_handed_to_the_writer_in_one_batch_and_a_refusal_takes_them_first(ledger: Ledger) -> None:
    batches = count_batches(ledger)
    recorder = DecisionRecorder(ledger, Metrics(), linger_s=30.0)  # only a refusal or close hands them over
    allow = Decision("allow", None, {}, "default.allow", "v")
    block = Decision("block", "autonomous_weapons", {}, "aw.block", "v")

    async def go() -> tuple[list[int | None], int, int | None]:
        ids = [await recorder.append(Entry(allow, {"text": f"a{i}"}, "t", f"r{i}", "input"), wait=False) for i in range(3)]
        waiting = recorder.depth()
        await asyncio.sleep(0.2)
        refused = await recorder.append(Entry(block, {"text": "b"}, "t", "rb", "input"), wait=True)
        return ids, waiting, refused

    ids, waiting, refused = asyncio.run(go())
    assert ids == [None, None, None] and waiting == 3 and batches[0] >= 3  # collected, then one hand-off (the refusal may join it)
    assert refused == 3  # the allows before it went first: the refusal's id follows them
    asyncio.run(recorder.append(Entry(allow, {"text": "late"}, "t", "rl", "output"), wait=False))
    recorder.close()  # what is still collected is written on close
    with Ledger.open(ledger.backend.url, ledger.key) as again:  # type: ignore[attr-defined]
        assert again.size() == 5 and again.verify().ok
        rows = [orjson.loads(bytes(b))["payload"] for (b,) in again.backend.execute("SELECT body FROM ledger_records ORDER BY seq")]  # type: ignore[arg-type]
    assert [r["decision"] for r in rows] == ["allow", "allow", "allow", "block", "allow"]
