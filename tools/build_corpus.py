"""Assemble data/corpus/{train,dev,test}.jsonl from the hand-written files in data/corpus/raw/.

Splits are by paraphrase group (a hash of the group id), so every rewording of one request lands
in the same split. Run after editing anything under raw/; the split files are committed.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from redline.corpus import SPLITS, CorpusError, read_examples, split_of, to_line

ROOT = Path(__file__).resolve().parent.parent / "data" / "corpus"


def main() -> int:
    try:
        examples = list(read_examples(ROOT / "raw"))
    except CorpusError as e:
        print(f"build_corpus: {e}", file=sys.stderr)
        return 2
    ids = Counter(ex.id for ex in examples)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        print(f"build_corpus: duplicate ids: {', '.join(dupes[:10])}", file=sys.stderr)
        return 2
    out = {name: (ROOT / f"{name}.jsonl").open("wb") for name in SPLITS}
    counts: Counter[tuple[str, str]] = Counter()
    for ex in examples:
        split = split_of(ex.group)
        out[split].write(to_line(ex) + b"\n")
        counts[(split, ex.label)] += 1
    for fh in out.values():
        fh.close()
    for split in SPLITS:
        row = ", ".join(f"{label}={n}" for (s, label), n in sorted(counts.items()) if s == split)
        print(f"{split}: {row}")
    print(f"total: {len(examples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
