"""Precision / recall of screening on the labeled variants set (the README's table).

python tools/screen_eval.py [--data data/screen/variants.jsonl] [--split dev|heldout|all] [--misses]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from redline.policy import load_policy  # noqa: E402
from redline.screen import Screener, read_lists  # noqa: E402
from redline.screen.evaluate import evaluate, load_variants  # noqa: E402

LISTS = [str(ROOT / "data/lists/dod_1260h_2026-06-08.csv"), str(ROOT / "data/lists/dod_1260h_aliases.csv")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data/screen/variants.jsonl"))
    ap.add_argument("--list", action="append", dest="lists", help="list file(s); default: the 1260H list and its aliases")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--split", default=None, help="only this split (dev, heldout, all)")
    ap.add_argument("--misses", action="store_true", help="print the misses")
    args = ap.parse_args()
    parsed = read_lists(args.lists or LISTS)
    screener = Screener(parsed.entries, load_policy(args.policy).document.screening)
    tallies = evaluate(screener, load_variants(args.data))
    splits = [args.split] if args.split else sorted(tallies, key=lambda s: (s != "dev", s != "heldout", s))
    for split in splits:
        groups = tallies[split]
        print(f"\n### split: {split}\n")
        print("| group | n | caught (refuse+review) | refused | reviewed | right entity in matches |")
        print("|---|---|---|---|---|---|")
        for name in sorted(groups, key=lambda g: (g.split("/")[0], "/" in g, g)):
            d = groups[name].to_dict()
            print(f"| {name} | {d['n']} | {d['caught']:.3f} | {d['refuse']:.3f} | {d['review']:.3f} | {d['right_entity']:.3f} |")
        if args.misses:
            for name in ("listed", "unlisted"):
                for miss in groups[name].misses:
                    print(f"  miss [{name}] {miss}")


if __name__ == "__main__":
    main()
