"""Measure how well the engine decides on a labeled dataset.

Reported per red line: precision and recall of *blocking with the right red line*, recall of
flagging (block or review, the bar for out-of-distribution sets), and the false-positive rate on
permitted examples; overall: permitted block and review rates, the confusion matrix, latency.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redline.corpus import LABELS, Example
from redline.decide import Decision
from redline.engine import Engine
from redline.policy import RED_LINES
from redline.text import InputError


def outcome(d: Decision) -> str:
    """`allow`, `review`, or `block:<red line>` — the columns of the confusion matrix."""
    if d.decision == "block":
        return f"block:{d.red_line or 'error'}"
    return d.decision


@dataclass
class Report:
    dataset: str
    n: int
    per_red_line: dict[str, dict[str, float]]
    permitted: dict[str, float]
    confusion: dict[str, dict[str, int]]
    latency_ms: dict[str, float]
    errors: int
    mistakes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "n": self.n,
            "per_red_line": self.per_red_line,
            "permitted": self.permitted,
            "confusion": self.confusion,
            "latency_ms": self.latency_ms,
            "errors": self.errors,
        }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def evaluate(engine: Engine, examples: Iterable[Example], dataset: str, progress: Callable[[int], None] | None = None) -> Report:
    confusion: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    latencies: list[float] = []
    mistakes: list[dict[str, Any]] = []
    errors = 0
    n = 0
    for ex in examples:
        n += 1
        t0 = time.perf_counter()
        try:
            d = engine.decide_item(ex.item)
        except InputError as e:
            errors += 1
            d = Decision("block", None, {}, "error.input", engine.policy.version, error=str(e))
        latencies.append((time.perf_counter() - t0) * 1000)
        col = outcome(d)
        confusion[ex.label][col] += 1
        expected_ok = col == f"block:{ex.label}" if ex.label != "permitted" else col == (ex.expect or "allow")
        if not expected_ok:
            mistakes.append({"id": ex.id, "label": ex.label, "outcome": col, "rule": d.rule, "scores": d.scores})
        if progress:
            progress(1)
    per: dict[str, dict[str, float]] = {}
    permitted_total = sum(confusion["permitted"].values())
    for rl in RED_LINES:
        row = confusion[rl]
        total = sum(row.values())
        blocked_as = sum(confusion[label][f"block:{rl}"] for label in LABELS)
        per[rl] = {
            "n": total,
            "precision": _ratio(row[f"block:{rl}"], blocked_as),
            "recall": _ratio(row[f"block:{rl}"], total),
            "recall_flagged": _ratio(row[f"block:{rl}"] + row["review"], total),
            "fpr": _ratio(confusion["permitted"][f"block:{rl}"], permitted_total),
        }
    p = confusion["permitted"]
    permitted = {
        "n": permitted_total,
        "block_rate": _ratio(sum(v for k, v in p.items() if k.startswith("block")), permitted_total),
        "review_rate": _ratio(p["review"], permitted_total),
        "allow_rate": _ratio(p["allow"], permitted_total),
    }
    lat = np.array(latencies) if latencies else np.zeros(1)
    return Report(
        dataset=dataset,
        n=n,
        per_red_line=per,
        permitted=permitted,
        confusion={label: dict(row) for label, row in confusion.items()},
        latency_ms={q: round(float(np.percentile(lat, v)), 3) for q, v in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        errors=errors,
        mistakes=mistakes,
    )
