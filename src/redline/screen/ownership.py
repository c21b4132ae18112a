"""Ownership: read declared owners and aggregate the share held by restricted owners.

An owner is restricted when it is a listed entity (a strong match), sits in an unsupported
region, or is itself more than the limit owned by restricted owners (recursively; OFAC-style
"50% rule": a majority-owned owner counts with its whole share). Weak matches, missing
percentages, shares that do not add up and ownership cycles are reported and can only send an
entity to review, never clear it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from redline.screen.errors import InvalidNameError, OwnershipError
from redline.screen.model import Owner, OwnershipFinding
from redline.screen.normalize import check_name, normalize

MAX_DEPTH = 12
MAX_OWNERS = 2000
Status = Literal["restricted", "possible", "clear"]
Classifier = Callable[[Owner], tuple[Status, str]]


def parse_owners(data: Any, where: str = "owners") -> list[Owner]:
    """Owners from JSON data: `[{"name", "percent", "region"?, "owners"?: [...]}, ...]`."""
    count = [0]

    def one(item: Any, path: str, depth: int) -> Owner:
        if depth > MAX_DEPTH:
            raise OwnershipError(f"{path}: ownership nested deeper than {MAX_DEPTH} levels")
        count[0] += 1
        if count[0] > MAX_OWNERS:
            raise OwnershipError(f"{where}: more than {MAX_OWNERS} owners declared")
        if not isinstance(item, dict):
            raise OwnershipError(f"{path}: an owner must be an object with name and percent")
        unknown = set(item) - {"name", "percent", "share", "region", "country", "owners"}
        if unknown:
            raise OwnershipError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            name = check_name(item.get("name"), what=f"{path}.name")
        except InvalidNameError as e:
            raise OwnershipError(str(e)) from None
        pct = item.get("percent", item.get("share"))
        if pct is not None:
            if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
                raise OwnershipError(f"{path}.percent: a number from 0 to 100, or null when unknown (got {pct!r})")
            pct = float(pct)
        region = item.get("region", item.get("country"))
        if region is not None and (not isinstance(region, str) or not 2 <= len(region.strip()) <= 3):
            raise OwnershipError(f"{path}.region: an ISO country code such as CN (got {region!r})")
        subs = item.get("owners") or []
        if not isinstance(subs, list):
            raise OwnershipError(f"{path}.owners: a list of owners")
        return Owner(
            name,
            pct,
            region.strip().upper() if region else None,
            tuple(one(s, f"{path}.owners[{i}]", depth + 1) for i, s in enumerate(subs)),
        )

    if data is None:
        return []
    if not isinstance(data, list):
        raise OwnershipError(f"{where}: a list of owners")
    return [one(item, f"{where}[{i}]", 1) for i, item in enumerate(data)]


@dataclass
class _Tally:
    restricted: float = 0.0
    possible: float = 0.0
    unknown: float = 0.0
    paths: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def aggregate(owners: list[Owner], classify: Classifier, limit: float = 50.0) -> OwnershipFinding:
    """Shares of the screened entity held by restricted owners, possibly restricted ones, and unknown."""
    tally = _level(owners, classify, limit, (), "entity")
    return OwnershipFinding(tally.restricted, tally.possible, tally.unknown, tuple(tally.paths), tuple(tally.problems))


def _level(owners: list[Owner] | tuple[Owner, ...], classify: Classifier, limit: float, path: tuple[str, ...], label: str) -> _Tally:
    t = _Tally()
    known = sum(o.percent for o in owners if o.percent is not None)
    if known > 100.0 + 1e-6:
        t.problems.append(f"owners of {label} add up to {known:g}%")
    unallocated = max(0.0, 100.0 - known)
    missing = [o for o in owners if o.percent is None]
    for o in missing:
        t.problems.append(f"{' > '.join((*path, o.name))}: percentage unknown")
    for o in owners:
        key = normalize(o.name).key
        trail = (*path, o.name)
        share = o.percent if o.percent is not None else unallocated
        bucket_known = o.percent is not None
        if key in {normalize(p).key for p in path}:
            t.problems.append(f"ownership cycle: {' > '.join(trail)}")
            t.unknown += share if bucket_known else 0.0
            continue
        status, reason = classify(o)
        if status == "clear" and o.owners:
            sub = _level(o.owners, classify, limit, trail, o.name)
            t.problems.extend(sub.problems)
            t.paths.extend(sub.paths)
            if sub.restricted > limit:
                status, reason = "restricted", f"more than {limit:g}% owned by restricted owners ({sub.restricted:g}%)"
            elif sub.restricted + sub.possible + sub.unknown > limit and sub.restricted + sub.possible > 0:
                status, reason = (
                    "possible",
                    f"up to {min(100.0, sub.restricted + sub.possible + sub.unknown):g}% may be held by restricted owners",
                )
        if status == "clear":
            continue
        t.paths.append({"path": list(trail), "percent": o.percent, "status": status, "reason": reason})
        if status == "restricted" and bucket_known:
            t.restricted += share
        else:  # possibly restricted, or restricted with an unknown share: at most what is left
            t.possible += share
    if not missing:  # with unknown percentages the unallocated share is already counted against those owners
        t.unknown += unallocated
    return t
