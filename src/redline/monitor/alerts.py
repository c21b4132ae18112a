"""`Alert`: a monitor rule's counts crossed for a tenant. It carries counts, data categories, the
time span and sample request ids — never an identifier or any text of a request. Alerts of the
account-level abuse detectors (`kind` `distillation` / `intrusion`) also name the tenant's
accounts involved and carry their evidence (account summaries, the kill-chain timeline)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Alert:
    id: str
    tenant: str
    rule: str
    description: str
    escalate: Literal["review", "block"]
    window: str
    window_seconds: int
    raised_at: float
    counts: dict[str, int]
    thresholds: dict[str, int]
    categories: dict[str, int]
    first_seen: float
    last_seen: float
    sample_request_ids: list[str]
    policy_version: str
    kind: str = "mosaic"
    cleared_at: float | None = None
    cleared_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # detector evidence (abuse alerts)
    accounts: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.cleared_at is None

    def cleared(self, reviewer: str, at: float) -> Alert:
        return replace(self, cleared_at=at, cleared_by=reviewer)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (`{"alert": ...}` lines of `redline replay`, ledger payloads)."""
        out: dict[str, Any] = {
            "id": self.id,
            "tenant": self.tenant,
            "kind": self.kind,
            "rule": self.rule,
            "description": self.description,
            "escalate": self.escalate,
            "window": self.window,
            "window_seconds": self.window_seconds,
            "raised_at": iso(self.raised_at),
            "counts": dict(self.counts),
            "thresholds": dict(self.thresholds),
            "categories": dict(self.categories),
            "span": {"first": iso(self.first_seen), "last": iso(self.last_seen)},
            "sample_request_ids": list(self.sample_request_ids),
            "policy_version": self.policy_version,
            "accounts": list(self.accounts),
        }
        if self.extra:
            out["evidence"] = self.extra
        if self.cleared_at is not None:
            out["cleared"] = {"at": iso(self.cleared_at), "by": self.cleared_by}
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "rule": self.rule,
            "description": self.description,
            "escalate": self.escalate,
            "window": self.window,
            "window_seconds": self.window_seconds,
            "raised_at": self.raised_at,
            "counts": self.counts,
            "thresholds": self.thresholds,
            "categories": self.categories,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "sample_request_ids": self.sample_request_ids,
            "policy_version": self.policy_version,
            "kind": self.kind,
            "cleared_at": self.cleared_at,
            "cleared_by": self.cleared_by,
            "extra": self.extra,
            "accounts": self.accounts,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Alert:
        return cls(**data)
