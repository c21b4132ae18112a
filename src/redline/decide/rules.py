"""Apply the policy's ordered rules to an assessment; the first rule that holds decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.classify import Assessment, Hit
from redline.decide.decision import Decision
from redline.policy import RED_LINES, Policy, RedLineName
from redline.policy.schema import Rule

MAX_EVIDENCE = 8


@dataclass(frozen=True)
class _When:
    """A rule's condition in the form `decide` reads fastest: signal sets and resolved thresholds."""

    all: frozenset[str]
    any: frozenset[str]
    none: frozenset[str]
    min_count: tuple[tuple[str, ...], int] | None
    at_least: tuple[tuple[RedLineName, float], ...]
    below: tuple[tuple[RedLineName, float], ...]

    @classmethod
    def of(cls, policy: Policy, rule: Rule) -> _When:
        w = rule.when
        return cls(
            frozenset(w.all),
            frozenset(w.any),
            frozenset(w.none),
            None if w.min_count is None else (tuple(w.min_count.signals), w.min_count.n),
            tuple((rl, policy.resolve_score(rl, v)) for rl, v in w.score_at_least.items()),
            tuple((rl, policy.resolve_score(rl, v)) for rl, v in w.score_below.items()),
        )

    def holds(self, scores: dict[RedLineName, float], fired: frozenset[str]) -> bool:
        if not self.all <= fired or (self.any and self.any.isdisjoint(fired)) or not self.none.isdisjoint(fired):
            return False
        if self.min_count is not None and sum(s in fired for s in self.min_count[0]) < self.min_count[1]:
            return False
        return not any(scores.get(rl, 0.0) < t for rl, t in self.at_least) and all(scores.get(rl, 0.0) < t for rl, t in self.below)


# Policies are immutable once loaded; each one's rules are compiled on first use (keyed by
# identity: a Policy holds an unhashable document). Bounded: tests load many policies.
_COMPILED: dict[int, tuple[Policy, list[tuple[Rule, _When]]]] = {}


def _rules(policy: Policy) -> list[tuple[Rule, _When]]:
    hit = _COMPILED.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(_COMPILED) >= 64:
        _COMPILED.clear()
    rules = [(rule, _When.of(policy, rule)) for rule in policy.document.rules]
    _COMPILED[id(policy)] = (policy, rules)
    return rules


def _evidence(policy: Policy, assessment: Assessment, red_line: RedLineName | None, rule: Rule) -> list[dict[str, Any]]:
    """The matched spans that explain the decision: the rule's own signals first, then the red line's."""
    if red_line is None:
        wanted: list[str] = []
    else:
        wanted = list(dict.fromkeys([*rule.when.all, *rule.when.any, *policy.document.red_lines[red_line].signals]))
    rank = {signal: i for i, signal in enumerate(wanted)}
    # One locating pass for every wanted signal, then the most telling signals first.
    hits = sorted(assessment.hits(wanted), key=lambda h: (rank[h.signal], h.message, h.start, -h.end))
    taken: list[Hit] = []
    for hit in hits:
        # a span inside one already listed (same message and source) adds nothing
        if any(t.message == hit.message and t.source == hit.source and t.start <= hit.start and hit.end <= t.end for t in taken):
            continue
        taken.append(hit)
        if len(taken) >= MAX_EVIDENCE:
            break
    return [h.as_evidence() for h in taken]


def decide(policy: Policy, assessment: Assessment) -> Decision:
    fired = assessment.signals
    for rule, when in _rules(policy):
        if when.holds(assessment.scores, fired):
            return Decision(
                decision=rule.decision,
                red_line=rule.red_line if rule.decision != "allow" else None,
                scores=dict(assessment.scores),
                rule=rule.id,
                policy_version=policy.version,
                evidence=_evidence(policy, assessment, rule.red_line, rule) if rule.decision != "allow" else [],
                signals=sorted(fired),
                backend=assessment.backend,
            )
    raise AssertionError("policy validation guarantees an unconditional last rule")


def decide_error(policy: Policy, message: str, backend: str) -> Decision:
    """A classifier failure never becomes a silent allow: the policy picks fail-closed or fail-open."""
    mode = policy.document.on_classifier_error
    return Decision(
        decision=mode,
        red_line=None,
        scores=dict.fromkeys(RED_LINES, 0.0),
        rule="error.fail_closed" if mode == "block" else "error.fail_open",
        policy_version=policy.version,
        backend=backend,
        error=message,
    )
