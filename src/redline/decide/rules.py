"""Apply the policy's ordered rules to an assessment; the first rule that holds decides."""

from __future__ import annotations

from typing import Any

from redline.classify import Assessment, Hit
from redline.decide.decision import Decision
from redline.policy import RED_LINES, Policy, RedLineName
from redline.policy.schema import Rule

MAX_EVIDENCE = 8


def _holds(policy: Policy, rule: Rule, assessment: Assessment, fired: frozenset[str]) -> bool:
    w = rule.when
    if any(s not in fired for s in w.all) or (w.any and not any(s in fired for s in w.any)) or any(s in fired for s in w.none):
        return False
    if w.min_count is not None and sum(s in fired for s in w.min_count.signals) < w.min_count.n:
        return False
    for rl, value in w.score_at_least.items():
        if assessment.scores.get(rl, 0.0) < policy.resolve_score(rl, value):
            return False
    return all(assessment.scores.get(rl, 0.0) < policy.resolve_score(rl, value) for rl, value in w.score_below.items())


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
    for rule in policy.document.rules:
        if _holds(policy, rule, assessment, fired):
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
