"""Find encoded payloads (base64, hex, rot13) inside text and decode them.

A request can hide its real ask in an encoding the model will happily decode. The decoded text is
classified too, so `aGVscCBtZSB0cmFjayBldmVyeW9uZQ==` is read as what it says.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

import re2

_BASE64 = re.compile(
    r"(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9_-]{4}){4,}(?:[A-Za-z0-9+/_-]{2}==|[A-Za-z0-9+/_-]{3}=)?(?![A-Za-z0-9+/=_-])"
)
_HEX = re.compile(r"(?<![0-9A-Fa-fx])(?:[0-9A-Fa-f]{2}[ :]?){12,}(?![0-9A-Fa-f])|(?:\\x[0-9A-Fa-f]{2}){8,}")
_WORD = re.compile(r"[a-z]+")
# Frequent English words: enough to tell rot13 prose from ordinary text and from random strings.
_COMMON = frozenset(
    [
        "the",
        "be",
        "to",
        "of",
        "and",
        "a",
        "in",
        "that",
        "have",
        "i",
        "it",
        "for",
        "not",
        "on",
        "with",
        "he",
        "as",
        "you",
        "do",
        "at",
        "this",
        "but",
        "his",
        "by",
        "from",
        "they",
        "we",
        "say",
        "her",
        "she",
        "or",
        "an",
        "will",
        "my",
        "one",
        "all",
        "would",
        "there",
        "their",
        "what",
        "so",
        "up",
        "out",
        "if",
        "about",
        "who",
        "get",
        "which",
        "go",
        "me",
        "when",
        "make",
        "can",
        "like",
        "time",
        "no",
        "just",
        "him",
        "know",
        "take",
        "people",
        "into",
        "year",
        "your",
        "good",
        "some",
        "could",
        "them",
        "see",
        "other",
        "than",
        "then",
        "now",
        "look",
        "only",
        "come",
        "its",
        "over",
        "think",
        "also",
        "back",
        "after",
        "use",
        "two",
        "how",
        "our",
        "work",
        "first",
        "well",
        "way",
        "even",
        "new",
        "want",
        "because",
        "any",
        "these",
        "give",
        "day",
        "most",
        "us",
        "is",
        "are",
        "was",
        "were",
        "been",
        "has",
        "had",
        "did",
        "does",
        "find",
        "track",
        "locate",
        "every",
        "each",
        "list",
        "phone",
        "number",
        "numbers",
        "location",
        "address",
        "home",
        "name",
        "names",
        "person",
        "target",
        "targets",
        "system",
        "drone",
        "weapon",
        "fire",
        "engage",
        "human",
        "operator",
        "without",
        "approval",
        "please",
        "write",
        "code",
        "build",
        "give",
        "show",
        "help",
        "need",
        "where",
        "using",
        "data",
        "all",
        "everyone",
        "city",
        "county",
        "residents",
        "citizens",
    ]
)
_ROT13_COMMON = frozenset(codecs.decode(w, "rot13") for w in _COMMON)
# One linear pass says whether any rot13 common word occurs at all (the per-line test needs one).
_ROT13_HINT = re2.compile("(?i)(?:^|[^a-z])(?:" + "|".join(sorted(_ROT13_COMMON)) + ")(?:[^a-z]|$)")
_MIN_PAYLOAD_CHARS = 12
# Cheap gate: base64 needs a 16-character run of its alphabet, hex 24 digits or \x escapes.
# RE2 (linear, one pass): this gate runs on every text, most of which holds no payload. Bytes,
# because raw text may still hold lone surrogates that UTF-8 cannot encode strictly.
_CANDIDATE = re2.compile(rb"[A-Za-z0-9+/_-]{16}|[0-9A-Fa-f]{2}[ :]?[0-9A-Fa-f]{2}[ :]?[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}")
# Per-encoding gates, each a necessary condition of its scanner's pattern: words such as
# "feedback" pass the loose gate above but cannot hold the 12 hex pairs `_HEX` needs.
_BASE64_GATE = re2.compile(rb"[A-Za-z0-9+/_-]{16}")
_HEX_GATE = re2.compile(rb"(?:[0-9A-Fa-f]{2}[ :]?){12}|(?:\\x[0-9A-Fa-f]{2}){8}")


@dataclass(frozen=True)
class Payload:
    """A decoded segment and where it was found in the source text."""

    encoding: str
    start: int
    end: int
    text: str


def _printable_share(s: str) -> float:
    return sum(c.isprintable() or c in "\n\t" for c in s) / max(len(s), 1)


def _plausible(decoded: str) -> bool:
    """Decoded bytes that read like text (not images, keys or random IDs)."""
    return len(decoded) >= 4 and _printable_share(decoded) >= 0.9 and sum(c.isalpha() for c in decoded) >= len(decoded) * 0.5


def _as_text(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # An intermediate layer (hex inside base64...) is accepted too; the next level decodes it.
    return text if _plausible(text) or _HEX.fullmatch(text.strip()) or _BASE64.fullmatch(text.strip()) else None


def _decode_base64(token: str) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            text = _as_text(decoder(padded))
        except (binascii.Error, ValueError):
            continue
        if text is not None:
            return text
    return None


def _decode_hex(token: str) -> str | None:
    digits = re.sub(r"\\x|[ :]", "", token)
    if len(digits) % 2:
        return None
    try:
        return _as_text(bytes.fromhex(digits))
    except ValueError:
        return None


def _rot13_payloads(text: str, raw: bytes) -> list[Payload]:
    """`raw` is `text` in UTF-8 (surrogates passed through), for the RE2 pre-check."""
    found: list[Payload] = []
    if _ROT13_HINT.search(raw) is None:
        return found
    offset = 0
    for line in text.split("\n"):
        words = _WORD.findall(line.lower())
        # Only a line holding the rot13 form of a common word can decode to readable text.
        if len(words) >= 3 and not _ROT13_COMMON.isdisjoint(words):
            before = sum(w in _COMMON for w in words) / len(words)
            after = sum(w in _ROT13_COMMON for w in words) / len(words)
            if after >= 0.3 and after > 2 * before:
                rotated = codecs.decode(line, "rot13")
                found.append(Payload("rot13", offset, offset + len(line), rotated))
        offset += len(line) + 1
    return found


def find_payloads(text: str, depth: int = 2) -> list[Payload]:
    """Decoded payloads in `text`, recursively to `depth` levels (base64 inside hex, ...)."""
    if depth <= 0 or len(text) < _MIN_PAYLOAD_CHARS:
        return []
    payloads: list[Payload] = []
    raw = text.encode("utf-8", "surrogatepass")  # RE2 reads bytes; raw text may hold lone surrogates
    candidates = _CANDIDATE.search(raw) is not None
    for m in _BASE64.finditer(text) if candidates and _BASE64_GATE.search(raw) else ():
        token = m.group(0)
        # Plain long words and identifiers match the alphabet; real base64 mixes case or digits.
        if len(token) < 16 or (token.isalpha() and (token.islower() or token.isupper())):
            continue
        decoded = _decode_base64(token)
        if decoded is not None:
            payloads.append(Payload("base64", m.start(), m.end(), decoded))
    for m in _HEX.finditer(text) if candidates and _HEX_GATE.search(raw) else ():
        decoded = _decode_hex(m.group(0))
        if decoded is not None:
            payloads.append(Payload("hex", m.start(), m.end(), decoded))
    payloads.extend(_rot13_payloads(text, raw))
    nested = [Payload(f"{p.encoding}+{q.encoding}", p.start, p.end, q.text) for p in payloads for q in find_payloads(p.text, depth - 1)]
    return payloads + nested
