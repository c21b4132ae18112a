"""The `Decision`: allow / review / block, with the red line, scores, rule, policy version, evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redline.policy import DecisionName, RedLineName


@dataclass(frozen=True)
class Decision:
    decision: DecisionName
    red_line: RedLineName | None
    scores: dict[RedLineName, float]
    rule: str
    policy_version: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    backend: str = "builtin"
    error: str | None = None

    def to_dict(self, id: Any = None) -> dict[str, Any]:
        """The wire form of DESIGN.md (`redline classify` lines, `/v1/check`)."""
        out: dict[str, Any] = {
            "id": id,
            "decision": self.decision,
            "red_line": self.red_line,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "rule": self.rule,
            "policy_version": self.policy_version,
            "evidence": self.evidence,
            "signals": self.signals,
        }
        if self.error is not None:
            out["error"] = self.error
        return out
