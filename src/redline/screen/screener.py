"""The screener: a name (and its declared owners) against the restricted lists -> refuse | review | clear.

`refuse` for a strong match or restricted ownership above the limit, `review` for a weak match or
ownership that missing data could put above it, `clear` otherwise. Every result carries its
matches with their evidence and the ownership finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from redline.policy.schema import Screening
from redline.screen.matcher import GENERIC, Candidate, NameIndex
from redline.screen.model import DECISION_ORDER, ListEntry, Match, Owner, ScreenDecision, ScreenResult
from redline.screen.normalize import NormalName, check_name, fold_mixed_scripts, normalize
from redline.screen.ownership import Status, aggregate

# A query holding every token of a listed name is at least reviewed when that name is this
# distinctive (sum of token weights): "Huawei Cloud Services" holds "Huawei".
CONTAINS_MIN_WEIGHT = 0.44  # three generic words (0.15 each) are enough: "China Electronics Technology"
MIN_STRONG_CHARS = 4
EXACT = 0.999


class Screener:
    """Screens names against a fixed set of list entries (one version of each list)."""

    def __init__(
        self, entries: Sequence[ListEntry], settings: Screening | None = None, list_versions: dict[str, int] | None = None
    ) -> None:
        self.settings = settings or Screening()
        self.index = NameIndex(entries)
        self.list_versions = dict(list_versions or {})
        self._by_id = {(e.list_name, e.entity_id): e for e in entries}

    @property
    def entries(self) -> list[ListEntry]:
        return self.index.entries

    def match(self, name: str) -> list[Match]:
        """Listed entities the name resembles (score ≥ review threshold or containment), best first.

        Raises `InvalidNameError` for a name that cannot be screened (empty, too long, control characters).
        """
        mixed = _mixed(name)
        text = check_name(fold_mixed_scripts(name) if mixed else name)
        best: dict[int, tuple[Candidate, str, NormalName]] = {}
        for part, how in name_parts(text):
            query = normalize(part)
            notes = (*(("mixed scripts folded to ASCII",) if mixed else ()), *((how,) if how else ()), *query.notes)
            query = NormalName(query.text, query.tokens, notes)
            for cand in self.index.score(query, self.index.candidates(query)):
                strength = self._strength(cand)
                if strength is None:
                    continue
                seen = best.get(cand.name.entry)
                if seen is None or (strength == "strong", cand.score) > (seen[1] == "strong", seen[0].score):
                    best[cand.name.entry] = (cand, strength, query)
        ordered = sorted(best.values(), key=lambda cs: (cs[1] == "strong", cs[0].score), reverse=True)
        return [self._to_match(q, c, self.index.entries[c.name.entry], s) for c, s, q in ordered[: self.settings.max_matches]]

    def _strength(self, cand: Candidate) -> str | None:
        if cand.strict >= self.settings.refuse_score:
            # an acronym of three letters or fewer ("CTG", "DJI") names many firms: review, not refuse
            # (a name of generic words only, "China Ocean Shipping", needs two of them to match)
            if cand.name.kind == "name" and min(cand.query_coverage, cand.name_coverage) >= EXACT:
                return "strong"  # exactly the entity's own name ("NIO, Inc."), not a short alias of it
            distinctive = sum(len(listed) for _, listed, _ in cand.pairs if listed not in GENERIC)
            generic_only = distinctive == 0 and len(cand.pairs) >= 2
            return "strong" if distinctive >= MIN_STRONG_CHARS or generic_only else "weak"
        if cand.score >= self.settings.review_score:
            return "weak"
        if cand.name_coverage >= 0.97:
            listed_weight = sum(self.index.weight(t) for t in cand.name.norm.tokens)
            if listed_weight >= CONTAINS_MIN_WEIGHT:
                return "weak"
        return None

    def _to_match(self, query: NormalName, cand: Candidate, entry: ListEntry, strength: str) -> Match:
        parent = None
        if entry.parent_id is not None:
            p = self._by_id.get((entry.list_name, entry.parent_id))
            parent = p.name if p is not None else entry.parent_name
        elif entry.parent_name:
            parent = entry.parent_name
        transformations = tuple(f"query: {n}" for n in query.notes) + tuple(f"listed: {n}" for n in cand.name.norm.notes)
        return Match(
            list_name=entry.list_name,
            entity_id=entry.entity_id,
            entity=entry.name,
            matched_name=cand.name.text,
            name_kind=cand.name.kind,
            score=cand.score,
            strength="strong" if strength == "strong" else "weak",
            strict_score=cand.strict,
            query_tokens=query.tokens,
            name_tokens=cand.name.norm.tokens,
            pairs=cand.pairs,
            transformations=transformations,
            parent=parent,
        )

    def _owner_status(self, owner: Owner) -> tuple[Status, str]:
        if owner.region and owner.region in self.settings.unsupported_regions:
            return "restricted", f"region {owner.region} is unsupported"
        matches = self.match(owner.name)
        if matches and matches[0].strength == "strong":
            return "restricted", f"listed: {matches[0].entity} ({matches[0].list_name}, score {matches[0].score:.2f})"
        if matches:
            return "possible", f"may be listed: {matches[0].entity} ({matches[0].list_name}, score {matches[0].score:.2f})"
        return "clear", ""

    def screen(self, name: str, owners: list[Owner] | None = None) -> ScreenResult:
        """Screen one entity: its name against the lists and its declared owners (if any)."""
        matches = self.match(name)
        decision: ScreenDecision = "clear"
        reasons: list[str] = []
        if matches and matches[0].strength == "strong":
            decision = "refuse"
            reasons.append(f"strong match: {matches[0].entity} on {matches[0].list_name} (score {matches[0].score:.2f})")
        elif matches:
            decision = "review"
            reasons.append(f"weak match: {matches[0].entity} on {matches[0].list_name} (score {matches[0].score:.2f})")
        finding = None
        if owners:
            limit = self.settings.ownership_limit_percent
            finding = aggregate(owners, self._owner_status, limit)
            if finding.restricted_percent > limit:
                decision = "refuse"
                reasons.append(f"{finding.restricted_percent:g}% owned by restricted owners (limit {limit:g}%)")
            else:
                upper = finding.restricted_percent + finding.possible_percent + finding.unknown_percent
                touched = finding.restricted_percent + finding.possible_percent > 0
                if touched and upper > limit:
                    decision = _max(decision, "review")
                    reasons.append(f"up to {min(upper, 100.0):g}% may be held by restricted owners (limit {limit:g}%)")
                elif finding.problems and touched:
                    decision = _max(decision, "review")
                    reasons.append("ownership data incomplete")
        return ScreenResult(name, decision, tuple(reasons), tuple(matches), finding, self.list_versions)

    def screen_many(self, items: Iterable[tuple[str, list[Owner] | None]]) -> list[ScreenResult]:
        return [self.screen(n, o) for n, o in items]


_ALSO = re.compile(
    r"\s*[,;]?\s*\b(?:formerly|also known as|a\.?k\.?a\.?|f/?k/?a|d/?b/?a|doing business as|trading as|t/a)\b[\s:]*", re.IGNORECASE
)
_BRACKETS = re.compile(r"[(（\[]([^()（）\[\]]*)[)）\]]")


def name_parts(text: str) -> list[tuple[str, str]]:
    """The name, and the names inside it: "Huawei Technologies Co., Ltd. (Huawei)" is also
    screened as "Huawei Technologies Co., Ltd." and "Huawei"; "X formerly Y", "X d/b/a Y" as X and Y.
    Each part comes with a note for the evidence (empty for the name as given)."""
    parts: list[tuple[str, str]] = [(text, "")]
    if not any(c in text for c in "(（[") and not _ALSO.search(text):
        return parts
    inner: list[str] = []
    outer = text
    while (m := _BRACKETS.search(outer)) is not None:
        inner.append(m.group(1))
        outer = outer[: m.start()] + " " + outer[m.end() :]
    for piece in [*_ALSO.split(outer), *(p for i in inner for p in _ALSO.split(i))]:
        piece = piece.strip(" ,;:-")
        if piece and piece != text and any(ch.isalnum() for ch in piece) and all(piece != p for p, _ in parts):
            parts.append((piece, f"part of the name: {piece!r}"))
    return parts


def _mixed(name: str) -> bool:
    return not name.isascii() and fold_mixed_scripts(name) != name


def _max(a: ScreenDecision, b: ScreenDecision) -> ScreenDecision:
    return a if DECISION_ORDER[a] >= DECISION_ORDER[b] else b
