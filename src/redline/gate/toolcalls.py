"""Gate the tool calls in a model's output (OpenAI and Anthropic message forms) for the gateway.

Each tool call goes through `Gate.check_call`; calls that may execute stay in the message, the
others are removed and listed as held, each with its verdict (the challenge, for
`approval_required`). The gateway returns the filtered message and the held list (e.g. as
`"redline": {"held_tool_calls": [...]}`); see docs/gate.md for the retry convention.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from redline.gate.gate import Gate, Verdict


@dataclass(frozen=True)
class HeldCall:
    """A tool call withheld from the client, by id, with the verdict that held it."""

    id: str | None
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"tool_call_id": self.id, **self.verdict.to_dict()}


def _arguments(raw: Any) -> dict[str, Any] | None:
    """OpenAI sends arguments as a JSON string; Anthropic as an object. None when unreadable."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw or "{}")
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    return None


def check_tool_call(gate: Gate, tenant: str, name: Any, raw_args: Any, authorizations: Sequence[Any] = ()) -> Verdict:
    """The verdict for one tool call as a model wrote it: `raw_args` is the JSON text (OpenAI) or
    the object (Anthropic). Unreadable arguments on a lethal call are `denied`."""
    tool = name if isinstance(name, str) else ""
    args = _arguments(raw_args)
    if args is None:
        cls = gate.classify(tool)
        if not cls.lethal:
            return Verdict("pass", tool, cls.effect, f"{cls.effect} tool")
        return Verdict("denied", tool, cls.effect, "the tool call's arguments are not a JSON object")
    return gate.check_call(tenant, tool, args, authorizations)


def gate_openai_message(
    gate: Gate, tenant: str, message: Mapping[str, Any], authorizations: Sequence[Any] = ()
) -> tuple[dict[str, Any], list[HeldCall]]:
    """An assistant message (`tool_calls[].function.{name, arguments}`) with held calls removed."""
    out = copy.deepcopy(dict(message))
    kept, held = [], []
    for call in out.get("tool_calls") or []:
        fn = call.get("function") or {}
        verdict = check_tool_call(gate, tenant, fn.get("name"), fn.get("arguments"), authorizations)
        if verdict.executable:
            kept.append(call)
        else:
            held.append(HeldCall(call.get("id"), verdict))
    if "tool_calls" in out:
        if kept:
            out["tool_calls"] = kept
        else:
            del out["tool_calls"]
    return out, held


def gate_anthropic_content(
    gate: Gate, tenant: str, content: Sequence[Mapping[str, Any]], authorizations: Sequence[Any] = ()
) -> tuple[list[dict[str, Any]], list[HeldCall]]:
    """Anthropic content blocks (`tool_use` with `name`, `input`) with held calls removed."""
    kept, held = [], []
    for block in copy.deepcopy([dict(b) for b in content]):
        if block.get("type") != "tool_use":
            kept.append(block)
            continue
        verdict = check_tool_call(gate, tenant, block.get("name"), block.get("input"), authorizations)
        if verdict.executable:
            kept.append(block)
        else:
            held.append(HeldCall(block.get("id"), verdict))
    return kept, held
