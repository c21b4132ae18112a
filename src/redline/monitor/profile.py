"""What one request is, as the monitor counts it: surveillance-type or not, the data categories it
asks for, whether it speaks of vehicles or devices, the legal process it cites, and the subjects it
touches (identifiers resolved to subjects, each domestic, foreign or unknown).

Pure functions of the request and the policy: no tenant state here, so they run outside the lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

from redline.decide import Decision
from redline.monitor.identifiers import Identifier, IdentifierExtractor
from redline.policy import Policy
from redline.policy.matcher import SignalMatcher
from redline.policy.schema import MonitorConfig
from redline.text import Conversation, normalize

Status = Literal["domestic", "foreign", "unknown"]
# identifiers that name a person directly come first: they give a linked subject its key
_KEY_ORDER = {"ssn": 0, "phone": 1, "email": 2, "name": 3, "address": 4, "imei": 5, "ad_id": 6, "plate": 7, "mac": 8, "ip": 9}
_KEY_ORDER_DEFAULT = 10
# A reviewed request touching more subjects than this is a list, not a particularized lookup.
_PARTICULARIZED_MAX = 3
_NONE: frozenset[str] = frozenset()


def _options() -> re2.Options:
    opts = re2.Options()
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


@dataclass(frozen=True)
class Subject:
    """A person (or device, vehicle...) a request touches: its identifier hashes (the first is its
    key), and whether the home country must protect it."""

    hashes: tuple[int, ...]
    status: Status


@dataclass(frozen=True)
class RequestProfile:
    surveillance: bool
    categories: frozenset[str]
    process_refs: frozenset[int]
    subjects: tuple[Subject, ...]
    identifiers: int
    foreign_context: bool
    kinds: dict[str, int] = field(default_factory=dict)
    fired: frozenset[str] = frozenset()  # names of the extra lexicon patterns that matched (the abuse detectors')
    raw: str = ""  # the request's text as written (read by the abuse detectors for targets)

    def counted(self) -> list[Subject]:
        """Subjects counted as domestic: home subjects, and unknown ones unless the context points abroad."""
        return [s for s in self.subjects if s.status == "domestic" or (s.status == "unknown" and not self.foreign_context)]


def raw_text(request: Any) -> str:
    """The text of a request as the user wrote it (identifiers are read before normalization folds
    case or leetspeak): a string, `{"text"}`, or `{"messages"}` in OpenAI / Anthropic form,
    including tool-call arguments and tool results."""
    if isinstance(request, str):
        return request
    if isinstance(request, Conversation):
        return request.text
    if isinstance(request, Mapping):
        parts: list[str] = []
        if isinstance(request.get("text"), str):
            parts.append(request["text"])
        if isinstance(request.get("system"), str):
            parts.append(request["system"])
        messages = request.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, Mapping):
                    parts.extend(_message_texts(message))
        return "\n".join(parts)
    return ""


def _message_texts(message: Mapping[str, Any]) -> Iterable[str]:
    content = message.get("content")
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                yield part
            elif isinstance(part, Mapping):
                for key in ("text", "content", "input"):
                    value = part.get(key)
                    if isinstance(value, str):
                        yield value
                    elif isinstance(value, list | Mapping):
                        yield str(value)
    for call in message.get("tool_calls") or []:
        if isinstance(call, Mapping):
            fn = call.get("function")
            if isinstance(fn, Mapping) and isinstance(fn.get("arguments"), str):
                yield fn["arguments"]


class Profiler:
    """Builds `RequestProfile`s for one policy's monitor section."""

    def __init__(self, policy: Policy, salt: bytes, extra: Iterable[tuple[str, str]] = ()) -> None:
        """`extra`: (name, pattern) pairs of another detector read in the same pass (names
        prefixed, e.g. `abuse:`); the names that match come back in `RequestProfile.fired`."""
        mon = policy.document.monitor
        assert mon is not None
        self.config: MonitorConfig = mon
        home = policy.document.home_country
        self.home = home.code.upper()
        self.extractor = IdentifierExtractor(self.home, home.phone_country_codes, mon.home_regions)
        self._salt = salt
        # the lexicon (surveillance asks, device and vehicle context, categories) in one pass of the
        # policy's multi-pattern matcher: Hyperscan where it exists, RE2 elsewhere
        flat = [("surveillance", p) for p in mon.surveillance_patterns]
        flat += [("devices", p) for p in mon.device_context_patterns]
        flat += [("plates", p) for p in mon.plate_context_patterns]
        flat += [("cat:" + name, p) for name, pats in mon.category_patterns.items() for p in pats]
        extra = list(extra)
        flat += extra
        self._extra_names = frozenset(name for name, _ in extra)
        self._lexicon = SignalMatcher(flat, _options())
        bad = self._lexicon.prepare()
        if bad is not None:
            raise ValueError(f"monitor pattern too complex for the matcher: {flat[bad][1][:80]!r}")
        self._process = [re2.compile(p, _options()) for p in mon.process_patterns]
        self._surveillance_signals = frozenset(mon.surveillance_signals)
        self._category_signals = [(name, frozenset(signals)) for name, signals in mon.categories.items()]
        self._exempt = frozenset(mon.exempt_signals)
        self._foreign_authorities = frozenset(mon.foreign_context_authorities)

    def key(self, kind: str, value: str) -> int:
        """A keyed 64-bit hash: the monitor's state never holds an identifier itself."""
        digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8, key=self._salt).digest()
        return int.from_bytes(digest, "big")

    def profile(
        self,
        request: Any,
        decision: Decision,
        *,
        conversation: Conversation | None = None,
        authorities: Iterable[str] = (),
    ) -> RequestProfile:
        """The monitor's reading of one request. It is surveillance-type when the engine already
        blocked it or sent it to review on the surveillance line, when a surveillance signal fired, or
        when the monitor's own lexicon of person lookups matches; an allowed request carrying an
        exempt signal (security monitoring of the organization's own systems) is not."""
        text = raw_text(request)
        lowered = conversation.text if conversation is not None else normalize(text)
        fired = frozenset(decision.signals)
        lexicon = self._lexicon.fired(lowered)
        other = self._extra_names.intersection(lexicon) if lexicon and self._extra_names else _NONE  # another detector's names
        # A block on the surveillance line counts. So does a review of a particularized request: a
        # lone lookup without process is exactly the review case (POLICY.md section 3), and the
        # mosaic is many of them. A reviewed *list* does not count on the review alone (checked
        # below, once subjects are known): the classifier's gray zone on a pasted roster is not
        # evidence enough to alert on a tenant in one request.
        on_line = decision.red_line == "mass_domestic_surveillance"
        flagged = on_line and decision.decision == "block"
        reviewed_only = on_line and decision.decision == "review"
        named = bool(fired & self._surveillance_signals) or "surveillance" in lexicon
        surveillance = flagged or reviewed_only or named
        if surveillance and not flagged and fired & self._exempt:
            surveillance = False
        categories = frozenset(
            [name for name, sig in self._category_signals if fired & sig] + [name[4:] for name in lexicon if name.startswith("cat:")]
        )
        if not surveillance:  # not counted and never escalated: its identifiers are not read at all
            return RequestProfile(False, categories, frozenset(), (), 0, False, fired=other, raw=text)
        if conversation is not None:  # payloads decoded from base64, hex... are read too
            extra = [s.text for s in conversation.segments if s.source != "text"]
            if extra:
                text = text + "\n" + "\n".join(extra)
        identifiers = self.extractor.extract(text, plates="plates" in lexicon, devices="devices" in lexicon)
        domestic_hint = "domestic_subject" in fired
        foreign_context = not domestic_hint and ("foreign_subject" in fired or bool(self._foreign_authorities.intersection(authorities)))
        refs = frozenset(self._process_refs(lowered)) if "particularized_process" in fired else frozenset()
        kinds: dict[str, int] = {}
        for ident in identifiers:
            kinds[ident.kind] = kinds.get(ident.kind, 0) + 1
        subjects = tuple(self._subjects(identifiers))
        if reviewed_only and not named and len(subjects) > _PARTICULARIZED_MAX:
            return RequestProfile(False, categories, frozenset(), (), 0, False, fired=other, raw=text)
        return RequestProfile(
            surveillance=surveillance,
            categories=categories,
            process_refs=refs,
            subjects=subjects,
            identifiers=len(identifiers),
            foreign_context=foreign_context,
            kinds=kinds,
            fired=other,
            raw=text,
        )

    def _process_refs(self, lowered: str) -> Iterable[int]:
        for pattern in self._process:
            for m in pattern.finditer(lowered):
                ref = m.group(1) if m.lastindex else m.group()
                if ref and len(ref) >= 3 and any(ch.isdigit() for ch in ref):
                    yield self.key("process", ref)

    def _subjects(self, identifiers: list[Identifier]) -> Iterable[Subject]:
        """Identifiers on one line with at most one of each kind (a roster row: name, phone, e-mail,
        address) are one subject; a line listing several of a kind lists several subjects."""
        by_line: dict[int, list[Identifier]] = {}
        for ident in identifiers:
            by_line.setdefault(ident.line, []).append(ident)
        seen: set[int] = set()
        for idents in by_line.values():
            kinds = [i.kind for i in idents]
            groups = [idents] if len(set(kinds)) == len(kinds) and len(idents) > 1 else [[i] for i in idents]
            for group in groups:
                group.sort(key=lambda i: _KEY_ORDER.get(i.kind, _KEY_ORDER_DEFAULT))
                hashes = tuple(dict.fromkeys(self.key(i.kind, i.value) for i in group))
                if hashes[0] in seen:
                    continue
                seen.update(hashes)
                yield Subject(hashes, self._status(group))

    def _status(self, group: list[Identifier]) -> Status:
        countries = {i.country for i in group if i.country}
        if self.home in countries:
            return "domestic"
        if countries:
            return "foreign"
        return "unknown"
