"""Quality of screening on a labeled variants set: caught / refused rates for listed variants,
refused / reviewed rates for confusable unlisted names, per split and per style."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from redline.screen.errors import ScreenError
from redline.screen.screener import Screener


@dataclass
class Tally:
    """Counts for one group of queries."""

    n: int = 0
    refuse: int = 0
    review: int = 0
    right_entity: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def caught(self) -> int:
        return self.refuse + self.review

    def to_dict(self) -> dict[str, Any]:
        n = self.n or 1
        return {
            "n": self.n,
            "refuse": round(self.refuse / n, 4),
            "review": round(self.review / n, 4),
            "caught": round(self.caught / n, 4),
            "right_entity": round(self.right_entity / n, 4),
        }


def load_variants(path: str) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_bytes().splitlines(), 1):
        if line.strip():
            obj = orjson.loads(line)
            if not isinstance(obj, dict) or obj.get("label") not in ("listed", "unlisted") or not isinstance(obj.get("query"), str):
                raise ScreenError(f"{path}:{n}: expected {{query, label: listed|unlisted, entity?, style?, split?}}")
            rows.append(obj)
    return rows


def evaluate(screener: Screener, rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Tally]]:
    """Tallies keyed by split, then by `label` and `label/style`."""
    out: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for row in rows:
        result = screener.screen(row["query"])
        entities = {m.entity for m in result.matches}
        groups = (row["label"], f"{row['label']}/{row.get('style', '-')}")
        for split in ("all", row.get("split", "dev")):
            for g in groups:
                t = out[split][g]
                t.n += 1
                t.refuse += result.decision == "refuse"
                t.review += result.decision == "review"
                t.right_entity += row.get("entity") in entities
                wrong = (row["label"] == "listed" and result.decision == "clear") or (
                    row["label"] == "unlisted" and result.decision == "refuse"
                )
                if wrong and g == row["label"]:
                    top = result.matches[0].entity if result.matches else "-"
                    t.misses.append(f"{row['query']} -> {result.decision} ({top})")
    return out
