"""What one request says to the abuse detectors, read in one pass of the policy's multi-pattern
matcher: reasoning-trace / rubric elicitation, narrow capabilities, kill-chain phases, claims of
authorization, and where the prompt text its template keys are taken from is read (when the
account still needs them: `neardup.template_keys`). Pure: no tenant state, runs outside the lock."""

from __future__ import annotations

from typing import Any, NamedTuple

import re2

from redline.policy.matcher import SignalMatcher
from redline.policy.schema import AbuseConfig
from redline.text import Conversation, normalize


class Reading(NamedTuple):
    """Immutable; a tuple, built several times faster than a frozen dataclass (one per request that
    fires an abuse pattern; requests firing the same names without a phase, a claim or elicitation
    share one)."""

    elicit: bool
    capabilities: frozenset[str]
    phases: frozenset[str]
    claim: bool
    raw: str | None = None  # the request's raw text when the monitor already read it (targets are read from it)
    request: Any = None  # an eliciting request and its conversation: its prompt text (`prompt()`) is
    conversation: Conversation | None = None  # read only when the account still feeds the template index

    @property
    def distillation_like(self) -> bool:
        return self.elicit or bool(self.capabilities)

    def prompt(self) -> str:
        """The normalized prompt template keys are taken from; empty unless the request elicits."""
        if not self.elicit:
            return ""
        text = self.conversation.text if self.conversation is not None else ""
        if not text:
            from redline.monitor.profile import raw_text

            text = normalize(raw_text(self.request))
        return text


NOTHING = Reading(False, frozenset(), frozenset(), False)


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
        self._parts: dict[frozenset[str], Reading] = {}

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
        if parts.elicit:
            # template keys only for eliciting requests (their text is read later, if the account
            # still needs it): an account that never elicits never becomes suspicious
            _, caps, phases, claim = parts[:4]
            return Reading(True, caps, phases, claim, raw if phases or claim else None, request, conversation)
        if parts.phases or parts.claim:
            return Reading(False, parts.capabilities, parts.phases, parts.claim, raw)
        return parts  # shared: nothing of this request's own in it

    def _split(self, fired: frozenset[str]) -> Reading:
        """The reading of the abuse names fired (prefixed), without anything of one request's own."""
        names = frozenset(n[len(PREFIX) :] for n in fired)
        elicit = self._distillation and "elicit" in names
        caps = frozenset(n[4:] for n in names if n.startswith("cap:")) if self._distillation else frozenset()
        # a defender describing attacks on its own systems directs no phase at anyone
        directed = self._intrusion and "defense" not in names
        phases = frozenset(n[6:] for n in names if n.startswith("phase:")) if directed else frozenset()
        claim = directed and "claim" in names
        return Reading(elicit, caps, phases, claim)
