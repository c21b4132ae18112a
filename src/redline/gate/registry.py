"""The tool registry: which effect class a tool call has, and who may authorize it.

Built from the policy's `tools` section. Every matching entry counts and the most severe effect
wins, so a name pattern or an MCP annotation can raise a tool's class but nothing can lower it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redline.policy import EffectClass, Policy
from redline.policy.schema import ToolRule, Tools

SEVERITY: dict[EffectClass, int] = {"observe": 0, "recommend": 1, "nonlethal": 2, "lethal": 3}


@dataclass(frozen=True)
class ToolClass:
    """What the policy says about one tool: its effect class and, for lethal tools, the role that
    may authorize it and how many distinct operators must sign (2 under the two-person rule)."""

    tool: str
    effect: EffectClass
    approver_role: str | None = None
    approvals: int = 0
    target_arg: str | None = None

    @property
    def lethal(self) -> bool:
        return self.effect == "lethal"


def _matches(rule: ToolRule, tool: str, annotations: Mapping[str, Any]) -> bool:
    if rule.match is not None and not fnmatch.fnmatchcase(tool, rule.match):
        return False
    return all(
        key in annotations and annotations[key] == value and type(annotations[key]) is type(value)
        for key, value in rule.annotations.items()
    )


class ToolRegistry:
    """Classify tool calls by name and annotations against the policy's tool rules."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools

    @classmethod
    def from_policy(cls, policy: Policy) -> ToolRegistry:
        return cls(policy.document.tools)

    @property
    def challenge_seconds(self) -> int:
        return self.tools.challenge_minutes * 60

    def classify(self, tool: str, annotations: Mapping[str, Any] | None = None) -> ToolClass:
        """The effect class of `tool`; `annotations` are the MCP tool annotations (wire names, e.g.
        `destructiveHint`) merged with the tool's `_meta`, when known."""
        found = [r for r in self.tools.registry if _matches(r, tool, annotations or {})]
        if not found:
            return ToolClass(tool, self.tools.unknown_tool_effect)
        # the most severe entry wins; among equals the first listed (the policy's order)
        top = max(found, key=lambda r: SEVERITY[r.effect])
        if top.effect != "lethal":
            return ToolClass(tool, top.effect)
        two_person = any(r.two_person for r in found if r.effect == "lethal")
        return ToolClass(tool, "lethal", top.approver_role, 2 if two_person else 1, top.target_arg)
