"""What one request says to the abuse detectors, read in one pass of the policy's multi-pattern
matcher: reasoning-trace / rubric elicitation, narrow capabilities, kill-chain phases, claims of
authorization, and the prompt text its template keys are taken from (when the account still
needs them: `neardup.template_keys`). Pure: no tenant state, runs outside the lock."""

from __future__ import annotations

from typing import Any, NamedTuple

import re2

from redline.policy.matcher import SignalMatcher
from redline.policy.schema import AbuseConfig
from redline.text import Conversation, normalize


class Reading(NamedTuple):
    """Immutable; a tuple, built several times faster than a frozen dataclass (one per request that
    fires an abuse pattern)."""

    elicit: bool
    capabilities: frozenset[str]
    phases: frozenset[str]
    claim: bool
    text: str  # the normalized prompt, for template keys; empty unless the request elicits
    raw: str | None = None  # the request's raw text when the monitor already read it (targets are read from it)

    @property
    def distillation_like(self) -> bool:
        return self.elicit or bool(self.capabilities)


NOTHING = Reading(False, frozenset(), frozenset(), False, "")


def _options() -> re2.Options:
    opts = re2.Options()
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


PREFIX = "abuse:"
_PARTS_LIMIT = 4096  # distinct sets of abuse names fired, read once each


def lexicon(cfg: AbuseConfig) -> list[tuple[str, str]]:
    """The abuse patterns as (name, pattern) pairs, names prefixed `abuse:`: the monitor reads them
    in the same matcher pass as its own lexicon (one scan of the text for both)."""
    flat = [("elicit", p) for p in cfg.distillation.elicitation_patterns]
    flat += [("cap:" + name, p) for name, pats in cfg.distillation.capability_patterns.items() for p in pats]
    flat += [("phase:" + name, p) for name, pats in cfg.intrusion.phase_patterns.items() for p in pats]
    flat += [("claim", p) for p in cfg.intrusion.claim_patterns]
    flat += [("defense", p) for p in cfg.intrusion.defensive_patterns]
    return [(PREFIX + name, p) for name, p in flat]


class Reader:
    def __init__(self, cfg: AbuseConfig) -> None:
        self.patterns = lexicon(cfg)
        self._matcher: SignalMatcher | None = None  # only for reading without the monitor's pass
        self._distillation = cfg.distillation.enabled
        self._intrusion = cfg.intrusion.enabled
        self._parts: dict[frozenset[str], tuple[bool, frozenset[str], frozenset[str], bool]] = {}

    def fired(self, request: Any, conversation: Conversation | None = None) -> frozenset[str]:
        """The abuse pattern names a request matches (when the monitor's pass did not read them)."""
        from redline.monitor.profile import raw_text  # the monitor's reading of OpenAI / Anthropic messages

        if self._matcher is None:
            matcher = SignalMatcher(self.patterns, _options())
            bad = matcher.prepare()
            if bad is not None:
                raise ValueError(f"abuse pattern too complex for the matcher: {self.patterns[bad][1][:80]!r}")
            self._matcher = matcher
        text = conversation.text if conversation is not None else normalize(raw_text(request))
        return frozenset(self._matcher.fired(text))

    def read(
        self, request: Any, conversation: Conversation | None = None, fired: frozenset[str] | None = None, raw: str | None = None
    ) -> Reading:
        """What the request says; `fired`: the abuse names the monitor's pass found (else scanned here)."""
        if fired is None:
            fired = self.fired(request, conversation)
        if not fired:  # most requests
            return NOTHING
        parts = self._parts.get(fired)
        if parts is None:  # a pure function of the names fired: read once per distinct set
            if len(self._parts) >= _PARTS_LIMIT:
                self._parts.clear()
            parts = self._parts[fired] = self._split(fired)
        elicit, caps, phases, claim = parts
        text = ""
        if elicit:
            # template keys only for eliciting requests: an account that never elicits never becomes
            # suspicious, so its other requests need not be indexed or linked
            text = conversation.text if conversation is not None else ""
            if not text:
                from redline.monitor.profile import raw_text

                text = normalize(raw_text(request))
        return Reading(elicit, caps, phases, claim, text, raw if phases or claim else None)

    def _split(self, fired: frozenset[str]) -> tuple[bool, frozenset[str], frozenset[str], bool]:
        """(elicit, capabilities, phases, claim) of the abuse names fired (prefixed)."""
        names = frozenset(n[len(PREFIX) :] for n in fired)
        elicit = self._distillation and "elicit" in names
        caps = frozenset(n[4:] for n in names if n.startswith("cap:")) if self._distillation else frozenset()
        # a defender describing attacks on its own systems directs no phase at anyone
        directed = self._intrusion and "defense" not in names
        phases = frozenset(n[6:] for n in names if n.startswith("phase:")) if directed else frozenset()
        claim = directed and "claim" in names
        return elicit, caps, phases, claim
