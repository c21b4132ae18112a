"""Labeled data: read JSONL examples, validate them, and split by paraphrase group.

Splitting by group (not by line) keeps paraphrases of one request on one side of the split, so
the test split measures generalization to new requests rather than recall of reworded ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

LABELS = ("mass_domestic_surveillance", "autonomous_weapons", "permitted")
SPLITS = {"train": (0, 70), "dev": (70, 85), "test": (85, 100)}


@dataclass(frozen=True)
class Example:
    id: str
    label: str
    item: dict[str, Any]  # `text` or `messages` (and optional `system`), as the engine reads it
    group: str
    expect: str | None = None
    category: str = ""
    style: str = ""


def split_of(group: str) -> str:
    bucket = int(hashlib.sha256(group.encode()).hexdigest(), 16) % 100
    return next(name for name, (lo, hi) in SPLITS.items() if lo <= bucket < hi)


class CorpusError(ValueError):
    pass


def _example(obj: Any, where: str) -> Example:
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: not a JSON object")
    label = obj.get("label")
    if label not in LABELS:
        raise CorpusError(f"{where}: label must be one of {', '.join(LABELS)}")
    item = {k: obj[k] for k in ("text", "messages", "system") if k in obj}
    if "text" not in item and "messages" not in item:
        raise CorpusError(f"{where}: needs `text` or `messages`")
    ex_id = str(obj.get("id", where))
    return Example(
        id=ex_id,
        label=label,
        item=item,
        group=str(obj.get("group", ex_id)),
        expect=obj.get("expect"),
        category=str(obj.get("category", "")),
        style=str(obj.get("style", "")),
    )


def read_examples(path: Path) -> Iterator[Example]:
    """Examples from one JSONL file, or from every `*.jsonl` in a directory (sorted)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    for f in files:
        with f.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise CorpusError(f"{f}:{n}: not JSON ({e})") from None
                yield _example(obj, f"{f}:{n}")


def to_line(ex: Example, split: str | None = None) -> bytes:
    obj: dict[str, Any] = {"id": ex.id, "group": ex.group, "label": ex.label, "category": ex.category, "style": ex.style}
    if ex.expect:
        obj["expect"] = ex.expect
    if split:
        obj["split"] = split
    obj.update(ex.item)
    return orjson.dumps(obj)
