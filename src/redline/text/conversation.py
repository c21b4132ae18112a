"""The canonical form of one request: normalized segments of a conversation.

Inputs arrive as a bare string or as chat messages in OpenAI or Anthropic form (string content,
content parts, tool calls, tool results). Each becomes a `Segment` of normalized text; decoded
payloads become segments of their own, so obfuscated content is read like the rest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from redline.text.decode import find_payloads
from redline.text.normalize import normalize

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class InputError(ValueError):
    """The input is not a text or conversation redline can read (wrong type, empty, too large)."""


@dataclass(frozen=True)
class Segment:
    """Normalized text from one message (or a payload decoded from it)."""

    role: str
    message: int
    source: str  # "text", or the encoding chain of a decoded payload ("base64", "hex+rot13")
    text: str


@dataclass(frozen=True)
class Conversation:
    segments: tuple[Segment, ...]
    raw_chars: int

    @property
    def text(self) -> str:
        """The whole conversation as one text, in order."""
        return "\n".join(s.text for s in self.segments)


def _content_text(content: Any, where: str) -> str:
    """Text of an OpenAI / Anthropic message content (string or list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if isinstance(part, str):
                parts.append(part)
                continue
            if not isinstance(part, Mapping):
                raise InputError(f"{where}.content[{i}] must be an object or a string")
            kind = part.get("type")
            if kind in ("text", "input_text", "output_text"):
                text = part.get("text")
                if not isinstance(text, str):
                    raise InputError(f"{where}.content[{i}].text must be a string")
                parts.append(text)
            elif kind == "tool_use":
                parts.append(f"{part.get('name', '')} {_json_text(part.get('input'))}")
            elif kind == "tool_result":
                parts.append(_content_text(part.get("content"), f"{where}.content[{i}]"))
            # images, audio and documents carry no text we can read here
        return "\n".join(p for p in parts if p)
    raise InputError(f"{where}.content must be a string, a list of parts or null")


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _tool_calls_text(calls: Any, where: str) -> str:
    if calls is None:
        return ""
    if not isinstance(calls, list):
        raise InputError(f"{where}.tool_calls must be a list")
    out = []
    for i, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping):
            raise InputError(f"{where}.tool_calls[{i}].function must be an object")
        out.append(f"{fn.get('name', '')} {_json_text(fn.get('arguments'))}")
    return "\n".join(out)


def _segments(role: str, index: int, raw: str) -> list[Segment]:
    raw = unicodedata.normalize("NFKC", raw)
    segs = [Segment(role, index, "text", normalize(raw))]
    segs.extend(Segment(role, index, p.encoding, normalize(p.text)) for p in find_payloads(raw))
    return [s for s in segs if s.text]


def _build(items: Iterable[tuple[str, str]], max_chars: int) -> Conversation:
    segments: list[Segment] = []
    total = 0
    for index, (role, raw) in enumerate(items):
        total += len(raw)
        if total > max_chars:
            raise InputError(f"input is {total:,}+ characters; the policy limit is {max_chars:,}")
        segments.extend(_segments(role, index, raw))
    if not segments:
        raise InputError("input has no text to classify")
    return Conversation(tuple(segments), total)


def conversation_from_text(text: Any, max_chars: int) -> Conversation:
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    return _build([("user", text)], max_chars)


def conversation_from_messages(messages: Any, max_chars: int, system: Any = None) -> Conversation:
    """Messages in OpenAI form (Anthropic's `system` may be passed separately)."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        raise InputError("messages must be a list")
    if not messages:
        raise InputError("messages is empty")
    items: list[tuple[str, str]] = []
    if system is not None:
        items.append(("system", _content_text(system, "system")))
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, Mapping):
            raise InputError(f"{where} must be an object")
        role = msg.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InputError(f"{where}.role must be one of {', '.join(sorted(ROLES))}")
        text = _content_text(msg.get("content"), where)
        calls = _tool_calls_text(msg.get("tool_calls"), where)
        items.append((role, f"{text}\n{calls}" if calls else text))
    return _build(items, max_chars)


def conversation_from_item(item: Any, max_chars: int) -> Conversation:
    """An input object: `{"text": ...}` or `{"messages": [...]}` (optional Anthropic-style `system`)."""
    if not isinstance(item, Mapping):
        raise InputError("each input must be a JSON object with `text` or `messages`")
    if "messages" in item:
        return conversation_from_messages(item["messages"], max_chars, system=item.get("system"))
    if "text" in item:
        return conversation_from_text(item["text"], max_chars)
    raise InputError("input needs a `text` or `messages` field")
