"""Print the corpus statistics that data/corpus/DATACARD.md reports (markdown)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from redline.corpus import read_examples, split_of

ROOT = Path(__file__).resolve().parent.parent / "data"
_WORD = re.compile(r"\w+")
EVERYDAY = ("everyday_alarming", "roster_everyday")


def text_of(item: dict) -> str:
    if "text" in item:
        return item["text"]
    return "\n".join(m.get("content") or "" for m in item["messages"] if isinstance(m.get("content"), str))


def main() -> None:
    examples = list(read_examples(ROOT / "corpus" / "raw"))
    n = len(examples)
    by_label = Counter(e.label for e in examples)
    print(f"examples: {n}, paraphrase groups: {len({e.group for e in examples})}\n")
    print("| label | examples |\n|---|---|")
    for label, c in sorted(by_label.items()):
        print(f"| {label} | {c} |")
    # neighbor files, minimal pairs, and the supplements' permitted work other than everyday prompts
    boundary = sum(
        1
        for e in examples
        if e.label == "permitted"
        and (
            e.id.split("-")[0] in ("pns", "paw", "mpm", "mpw")
            or (e.id.split("-")[0] in ("wsp", "mls", "w4a", "w4m", "w4l") and e.category not in EVERYDAY)
        )
    )
    everyday = sum(1 for e in examples if e.category in EVERYDAY)
    print(f"\npermitted at the national-security boundary: {boundary}; everyday prompts with alarming words: {everyday}")
    print(f"permitted marked `expect: review` (gray cases): {sum(1 for e in examples if e.expect == 'review')}\n")
    print("| source file | examples | labels |\n|---|---|---|")
    for f in sorted((ROOT / "corpus" / "raw").glob("*.jsonl")):
        ex = list(read_examples(f))
        labels = ", ".join(f"{k}={v}" for k, v in sorted(Counter(e.label for e in ex).items()))
        print(f"| {f.name} | {len(ex)} | {labels} |")
    print("\n| split | examples | mass_domestic_surveillance | autonomous_weapons | permitted |\n|---|---|---|---|---|")
    splits = Counter((split_of(e.group), e.label) for e in examples)
    for s in ("train", "dev", "test"):
        row = [splits[(s, lab)] for lab in ("mass_domestic_surveillance", "autonomous_weapons", "permitted")]
        print(f"| {s} | {sum(row)} | {row[0]} | {row[1]} | {row[2]} |")
    lengths = [len(_WORD.findall(text_of(e.item))) for e in examples]
    short = sum(x <= 20 for x in lengths)
    long_ = sum(x > 80 for x in lengths)
    print(
        f"\nlength (words): <=20: {short} ({short / n:.0%}), 21-80: {n - short - long_} ({(n - short - long_) / n:.0%}), >80: {long_} ({long_ / n:.0%}); multi-turn: {sum('messages' in e.item for e in examples)}"
    )
    styles = Counter(e.style for e in examples)
    print("\nstyles: " + ", ".join(f"{k} {v}" for k, v in styles.most_common()))
    # template check: the most frequent opening (first 6 words) and its share of the corpus
    openings = Counter(" ".join(_WORD.findall(text_of(e.item).lower())[:6]) for e in examples)
    top, count = openings.most_common(1)[0]
    print(f"\nmost frequent 6-word opening: {top!r} in {count} examples ({count / n:.2%} of the corpus)")
    ood = list(read_examples(ROOT / "ood"))
    print(
        f"\nout-of-distribution set: {len(ood)} prompts: " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(e.label for e in ood).items()))
    )


if __name__ == "__main__":
    main()
