"""The two wire formats: what a request must hold, and what text and tool calls a response carries.

OpenAI chat completions and Anthropic messages, whole or streamed (SSE). Only what enforcement
needs is read: the conversation to decide on, the `stream` flag, the model (for mappings), and
from responses the assistant's text and tool calls. Everything else passes through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from redline.gateway.errors import Api


class RequestError(ValueError):
    """A request body the API would reject: the message names the field."""


@dataclass
class ToolCall:
    """One tool call found in model output (arguments as the raw JSON text the model wrote)."""

    id: str
    name: str
    arguments: str = ""


@dataclass
class Output:
    """The assistant's text and tool calls, from a whole response or accumulated from a stream."""

    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, ToolCall] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.text) and not self.tool_calls

    def item(self) -> dict[str, Any]:
        """The output as an input item for the engine: one assistant message in OpenAI form."""
        calls = [{"function": {"name": c.name, "arguments": c.arguments}} for _, c in sorted(self.tool_calls.items())]
        return {"messages": [{"role": "assistant", "content": "".join(self.text), "tool_calls": calls or None}]}


@dataclass(frozen=True)
class ChatRequest:
    api: Api
    body: dict[str, Any]
    model: str
    stream: bool

    def item(self) -> dict[str, Any]:
        """The conversation to decide on: messages, system prompt, and declared tools (their names
        and descriptions say what an agent is being equipped to do)."""
        messages = self.body["messages"]
        tools = _tools_text(self.body.get("tools"))
        system = self.body.get("system") if self.api == "anthropic" else None
        if tools:
            tools_msg = {"role": "system", "content": "Tools available: " + tools}
            messages = [tools_msg, *messages]
        return {"messages": messages, "system": system} if system is not None else {"messages": messages}


def _tools_text(tools: Any) -> str:
    if not isinstance(tools, list):
        return ""
    parts = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function")
        spec: dict[str, Any] = fn if isinstance(fn, dict) else tool
        name, desc = spec.get("name"), spec.get("description")
        parts.append(f"{name if isinstance(name, str) else ''}: {desc if isinstance(desc, str) else ''}".strip(": "))
    return "; ".join(p for p in parts if p)


def _expect(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise RequestError(f"missing required field `{name}`")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(f"`{name}` must be {what}, not {type(value).__name__}")
    return value


def parse_request(api: Api, raw: bytes) -> ChatRequest:
    """Validate a chat request body (types only; the provider validates the rest)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise RequestError(f"request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model = _expect(body, "model", str, "a string")
    messages = _expect(body, "messages", list, "a list")
    if not messages:
        raise RequestError("`messages` must not be empty")
    stream = _expect(body, "stream", bool, "a boolean", required=False) or False
    _expect(body, "tools", list, "a list", required=False)
    if api == "anthropic":
        max_tokens = _expect(body, "max_tokens", int, "an integer")
        if max_tokens < 1:
            raise RequestError("`max_tokens` must be at least 1")
        _expect(body, "system", (str, list), "a string or a list of blocks", required=False)
    return ChatRequest(api, body, model, stream)


# -- responses -----------------------------------------------------------------------------------


def response_output(api: Api, body: Any) -> Output:
    """Text and tool calls of a whole (non-streamed) response."""
    out = Output()
    if not isinstance(body, dict):
        return out
    if api == "anthropic":
        for i, block in enumerate(body.get("content") or []):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                out.text.append(block["text"])
            elif block.get("type") == "tool_use":
                out.tool_calls[i] = ToolCall(
                    str(block.get("id", "")), str(block.get("name", "")), orjson.dumps(block.get("input")).decode()
                )
        return out
    n = 0
    for choice in body.get("choices") or []:
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("content"), str):
            out.text.append(msg["content"])
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                args = fn.get("arguments")
                out.tool_calls[n] = ToolCall(
                    str(call.get("id", "")), str(fn.get("name", "")), args if isinstance(args, str) else orjson.dumps(args).decode()
                )
                n += 1
    return out


@dataclass(frozen=True)
class Event:
    """One server-sent event: its raw bytes (forwarded unchanged), name and data."""

    raw: bytes
    name: str | None
    data: bytes


class SSESplitter:
    """Cuts an upstream byte stream into whole SSE events, keeping each event's exact bytes."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> Iterator[Event]:
        self._buf += chunk
        while True:
            cut, sep = _next_boundary(self._buf)
            if cut < 0:
                return
            raw, self._buf = self._buf[: cut + sep], self._buf[cut + sep :]
            yield _parse_event(raw)

    def rest(self) -> Event | None:
        """A last event the upstream did not terminate with a blank line."""
        if not self._buf.strip():
            return None
        raw, self._buf = self._buf, b""
        return _parse_event(raw)


def _next_boundary(buf: bytes) -> tuple[int, int]:
    found = [(i, len(sep)) for sep in (b"\n\n", b"\r\n\r\n") if (i := buf.find(sep)) >= 0]
    return min(found) if found else (-1, 0)


def _parse_event(raw: bytes) -> Event:
    name: str | None = None
    data: list[bytes] = []
    for line in raw.splitlines():
        if line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
        elif line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
    return Event(raw, name, b"\n".join(data))


def stream_delta(api: Api, event: Event, out: Output) -> tuple[int, bool]:
    """Add one streamed event's text and tool-call fragments to `out`.
    Returns (characters added, whether this event ends the stream)."""
    if api == "openai" and event.data.strip() == b"[DONE]":
        return 0, True
    if not event.data:
        return 0, False
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):  # not the provider's format: read it as text, so it is checked too
        text = event.data.decode("utf-8", "replace")
        out.text.append(text)
        return len(text), False
    return (_anthropic_delta(data, out), data.get("type") == "message_stop") if api == "anthropic" else (_openai_delta(data, out), False)


def _openai_delta(data: dict[str, Any], out: Output) -> int:
    added = 0
    for choice in data.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        if isinstance(delta.get("content"), str):
            out.text.append(delta["content"])
            added += len(delta["content"])
        for frag in delta.get("tool_calls") or []:
            if not isinstance(frag, dict):
                continue
            call = out.tool_calls.setdefault(int(frag.get("index") or 0), ToolCall("", ""))
            call.id = str(frag.get("id") or call.id)
            raw_fn = frag.get("function")
            fn: dict[str, Any] = raw_fn if isinstance(raw_fn, dict) else {}
            if isinstance(fn.get("name"), str):
                call.name += fn["name"]
                added += len(fn["name"])
            if isinstance(fn.get("arguments"), str):
                call.arguments += fn["arguments"]
                added += len(fn["arguments"])
    return added


def _anthropic_delta(data: dict[str, Any], out: Output) -> int:
    kind, index = data.get("type"), data.get("index")
    if kind == "content_block_start" and isinstance(data.get("content_block"), dict):
        block = data["content_block"]
        if block.get("type") == "tool_use":
            out.tool_calls[int(index or 0)] = ToolCall(str(block.get("id", "")), str(block.get("name", "")))
            return len(str(block.get("name", "")))
        if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
            out.text.append(block["text"])
            return len(block["text"])
    if kind == "content_block_delta" and isinstance(data.get("delta"), dict):
        delta = data["delta"]
        if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
            out.text.append(delta["text"])
            return len(delta["text"])
        if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            call = out.tool_calls.setdefault(int(index or 0), ToolCall("", ""))
            call.arguments += delta["partial_json"]
            return len(delta["partial_json"])
    return 0
