"""Canonical form of text before any detector reads it.

Obfuscation is how red-line requests slip past lexical checks, so every reader sees the same
canonical form: NFKC, no zero-width or control characters, code identifiers split into words, confusable
letters folded to Latin, leetspeak and spaced-out words rejoined, lower case, single spaces.
"""

from __future__ import annotations

import re
import unicodedata

import re2

# Letters from other scripts that render like Latin ones. Folded only inside words whose every
# letter is ASCII or in this table, so genuine Cyrillic or Greek words are left as they are.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ӏ": "l", "һ": "h", "ɡ": "g", "ս": "u", "ո": "n", "օ": "o", "ց": "g",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ϳ": "j", "ω": "w", "μ": "u",
    # Latin look-alikes and IPA
    "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ƅ": "b", "ɑ": "a", "ɩ": "i",
    "ʀ": "r", "ʏ": "y", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m", "ᴏ": "o", "ᴘ": "p",
    "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}  # fmt: skip
_CONFUSABLE_CLASS = "".join(sorted(_CONFUSABLES))

# Leetspeak digits and symbols, folded only in tokens that are mostly letters already.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"})

_INVISIBLE_CHARS = [
    0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), *range(0x200B, 0x2010),
    *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0x3164, *range(0xFE00, 0xFE10), 0xFEFF, 0xFFA0,
]  # fmt: skip
_CONTROL_CHARS = [c for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)]
# Lone surrogates (possible in strings built in Python, never in valid UTF-8) become U+FFFD so no
# downstream encoder can fail on them.
_STRIP_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_INVISIBLE_CHARS),
    **dict.fromkeys(_CONTROL_CHARS, " "),
    **dict.fromkeys(range(0xD800, 0xE000), "\ufffd"),
}
# Cheap pre-check for the translate pass, which costs a dict lookup per character even when
# there is nothing to strip (the usual case).
_STRIPPABLE = re.compile("[" + "".join(f"\\U{c:08x}" for c in sorted(_STRIP_TABLE)) + "]")
_ANY_CONFUSABLE = re.compile(f"[{_CONFUSABLE_CLASS}]")
_WORD_WITH_FOREIGN = re.compile(rf"[a-z{_CONFUSABLE_CLASS}\w]*[{_CONFUSABLE_CLASS}][a-z{_CONFUSABLE_CLASS}\w]*")
# Only tokens mixing letters with digits or @/$ are candidates.
_LEET_TOKEN = re.compile(r"(?<![\w@$])[a-z0-9@$]*(?:[a-z][0-9@$]|[0-9@$][a-z])[a-z0-9@$]*(?![\w@$])")
_HAS_LEET = re2.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")  # RE2: one linear pass (Python's re tries both branches per position)
_EMAIL_TAIL = re.compile(r"\.[a-z]")
# A legitimate alphanumeric designator ("f35", "mq9", "155mm", "sm-3") is not leetspeak.
_DESIGNATOR = re.compile(r"^(?:[a-z]{1,4}\d+[a-z]?|\d+[a-z]{1,3})$")
_SPACED = re.compile(r"(?<![\w])(?:[a-z][ ._*·\-]){3,}[a-z](?![\w])")
# Cheap linear pre-check (RE2): four single letters in a row, which every spaced-out word has.
_MAYBE_SPACED = re2.compile(r"[a-z][ ._*·\-][a-z][ ._*·\-][a-z][ ._*·\-][a-z]")
# Code identifiers carry intent ("skipOperatorConfirm", "auto_fire"): read them as words.
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_MAYBE_CAMEL = re2.compile(r"[a-z][A-Z]")  # pre-check (RE2): the lookbehind pattern is slow to scan
_SNAKE = re.compile(r"(?<=[A-Za-z0-9])_+(?=[A-Za-z0-9])")
_WS = re.compile(r"[ \t\r\f\v]+")
_NEWLINES = re.compile(r"\n{3,}")
_WS_RUNS = ("  ", "\t", "\r", "\f", "\v")


def _strip_controls(text: str) -> str:
    # Invisible format characters go; controls other than newline and tab become spaces so they
    # cannot glue or split words silently. One C-level pass.
    return text.translate(_STRIP_TABLE) if _STRIPPABLE.search(text) else text


def _fold_confusables(text: str) -> str:
    def fold(m: re.Match[str]) -> str:
        word = m.group(0)
        if all(c.isascii() or c in _CONFUSABLES or not c.isalpha() for c in word):
            return "".join(_CONFUSABLES.get(c, c) for c in word)
        return word

    # The word pattern backtracks over every word of a non-Latin script; it can only match where
    # a confusable letter occurs, so most non-ASCII text (CJK, accented Latin) skips it.
    return _WORD_WITH_FOREIGN.sub(fold, text) if _ANY_CONFUSABLE.search(text) else text


def _fold_leet(text: str) -> str:
    def fold(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.isalpha() or _DESIGNATOR.match(tok):
            return tok
        if "@" in tok and (tok.startswith("@") or _EMAIL_TAIL.match(m.string, m.end())):
            return tok  # a handle or an e-mail address, not leetspeak
        letters = sum(c.isalpha() for c in tok)
        if letters < 2 or letters < len(tok) * 0.4 or len(tok) < 3:
            return tok
        return tok.translate(_LEET)

    return _LEET_TOKEN.sub(fold, text)


def _join_spaced(text: str) -> str:
    return _SPACED.sub(lambda m: re.sub(r"[ ._*·\-]", "", m.group(0)), text)


def normalize(text: str) -> str:
    """Return the canonical form every detector reads."""
    text = unicodedata.normalize("NFKC", text)
    text = _strip_controls(text)
    lowered = text.lower()
    # only text with a lower-case letter before a capital can hold camelCase identifiers
    text = _CAMEL.sub(" ", text).lower() if lowered != text and _MAYBE_CAMEL.search(text) else lowered
    if "_" in text:
        text = _SNAKE.sub(" ", text)
    if not text.isascii():
        text = _fold_confusables(text)
    if _MAYBE_SPACED.search(text):
        text = _join_spaced(text)
    if _HAS_LEET.search(text):
        text = _fold_leet(text)
    # The substitutions below are skipped when plain substring checks show nothing to do.
    if any(ws in text for ws in _WS_RUNS):
        text = _WS.sub(" ", text)
    if "\n\n\n" in text:
        text = _NEWLINES.sub("\n\n", text)
    return text.strip()
