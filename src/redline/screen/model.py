"""Plain data of screening: listed entities, declared owners, matches, results, changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ScreenDecision = Literal["refuse", "review", "clear"]
NameKind = Literal["name", "alias", "previous_name", "weak_alias"]
DECISION_ORDER: dict[str, int] = {"clear": 0, "review": 1, "refuse": 2}


@dataclass(frozen=True)
class ListedName:
    """One spelling of a listed entity, and what kind of spelling it is."""

    text: str
    kind: NameKind


@dataclass(frozen=True)
class ListEntry:
    """One entity of a restricted list: its names, its parent on the list, where it came from."""

    list_name: str
    entity_id: str
    name: str
    names: tuple[ListedName, ...]
    parent_id: str | None = None
    parent_name: str | None = None
    listed: str | None = None
    countries: tuple[str, ...] = ()
    source_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "entity_id": self.entity_id,
            "name": self.name,
            "names": [{"text": n.text, "kind": n.kind} for n in self.names],
            "parent_id": self.parent_id,
            "parent_name": self.parent_name,
            "listed": self.listed,
            "countries": list(self.countries),
            "source_line": self.source_line,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ListEntry:
        return cls(
            list_name=d["list"],
            entity_id=d["entity_id"],
            name=d["name"],
            names=tuple(ListedName(n["text"], n["kind"]) for n in d["names"]),
            parent_id=d.get("parent_id"),
            parent_name=d.get("parent_name"),
            listed=d.get("listed"),
            countries=tuple(d.get("countries") or ()),
            source_line=d.get("source_line"),
        )


@dataclass(frozen=True)
class Owner:
    """A declared owner of a screened entity: share in percent (None when unknown), region, its own owners."""

    name: str
    percent: float | None
    region: str | None = None
    owners: tuple[Owner, ...] = ()


@dataclass(frozen=True)
class Match:
    """One listed entity a name resembles, with the score and the evidence for it."""

    list_name: str
    entity_id: str
    entity: str
    matched_name: str
    name_kind: NameKind
    score: float
    strength: Literal["strong", "weak"]
    strict_score: float
    query_tokens: tuple[str, ...]
    name_tokens: tuple[str, ...]
    pairs: tuple[tuple[str, str, float], ...]
    transformations: tuple[str, ...]
    parent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "entity_id": self.entity_id,
            "entity": self.entity,
            "matched_name": self.matched_name,
            "name_kind": self.name_kind,
            "score": round(self.score, 4),
            "strict_score": round(self.strict_score, 4),
            "strength": self.strength,
            "evidence": {
                "query_normalized": " ".join(self.query_tokens),
                "name_normalized": " ".join(self.name_tokens),
                "pairs": [{"query": q, "listed": n, "similarity": round(s, 3)} for q, n, s in self.pairs],
                "transformations": list(self.transformations),
                **({"parent": self.parent} if self.parent else {}),
            },
        }


@dataclass(frozen=True)
class OwnershipFinding:
    """The aggregate of declared ownership: shares held by restricted owners, and what is unknown."""

    restricted_percent: float
    possible_percent: float
    unknown_percent: float
    paths: tuple[dict[str, Any], ...]
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "restricted_percent": round(self.restricted_percent, 4),
            "possible_percent": round(self.possible_percent, 4),
            "unknown_percent": round(self.unknown_percent, 4),
            "paths": list(self.paths),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ScreenResult:
    """The decision for one screened name, with every match and the ownership finding behind it."""

    name: str
    decision: ScreenDecision
    reasons: tuple[str, ...]
    matches: tuple[Match, ...]
    ownership: OwnershipFinding | None = None
    list_versions: dict[str, int] = field(default_factory=dict)

    def to_dict(self, item_id: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if item_id is None else {"id": item_id}
        out.update(
            {
                "name": self.name,
                "decision": self.decision,
                "reasons": list(self.reasons),
                "matches": [m.to_dict() for m in self.matches],
            }
        )
        if self.ownership is not None:
            out["ownership"] = self.ownership.to_dict()
        out["list_versions"] = dict(self.list_versions)
        return out


@dataclass(frozen=True)
class Change:
    """A screened entity whose decision moved after a list update."""

    id: str
    old: ScreenDecision | None
    new: ScreenDecision
    result: ScreenResult
