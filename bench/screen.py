"""Screening throughput: 10,000 names against a 50,000-entry list on one core, vs. a baseline in the same run.

The list is synthetic but built like real company names (a place, a brand of two pinyin syllables
or an English word, one or two industry words, a legal form), deterministically from a seed. The
10,000 queries are one third listed names rewritten (typos, reordering, suffix changes, dropped
place), one third listed names as written, one third unlisted names from the same parts.

Baseline: exact lookup of the normalized name in a dict (what a system without fuzzy matching
does). Budget (issue 7): the whole run < 30 s on one core.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from redline.screen import ListEntry, Screener  # noqa: E402
from redline.screen.model import ListedName  # noqa: E402
from redline.screen.normalize import normalize  # noqa: E402

N_ENTRIES = int(os.environ.get("BENCH_SCREEN_ENTRIES", "50000"))
N_QUERIES = int(os.environ.get("BENCH_SCREEN_QUERIES", "10000"))
BUDGET_S = 30.0

PLACES = """Beijing Shanghai Shenzhen Hangzhou Chengdu Wuhan Xian Tianjin Nanjing Chongqing Suzhou Qingdao Dalian Xiamen
Harbin Changsha Hefei Jinan Zhengzhou Kunming Ningbo Wuxi Dongguan Foshan Fuzhou Shenyang Taiyuan Nanchang Guiyang Lanzhou
Hong Kong Singapore Delaware Texas Ohio Bavaria Ontario Victoria Osaka Busan Lyon Milan Rotterdam Antwerp Dubai""".split()  # noqa: SIM905 - a word list reads best as words
SYLLABLES = """hua wei zhong xin tian ma hai kang da jiang yu shu bai du teng xun ling long jin ao chang an xing yuan feng
guang ming rui lian tong he ping sheng shi kai li bo hong yun ji qi fang rong de fu sen lin mei jia bao heng tai""".split()  # noqa: SIM905 - a word list reads best as words
WORDS = """Apex Summit Harbor Pioneer Falcon Orion Vertex Nova Atlas Meridian Beacon Crest Keystone Sterling Liberty Horizon
Cascade Granite Silverline Bluewater Redwood Ironclad Evergreen Northstar Brightpath Clearview Highland Lakeside""".split()  # noqa: SIM905 - a word list reads best as words
INDUSTRY = """Technology Electronics Aerospace Aviation Semiconductor Optical Robotics Network Information Communications
Machinery Shipbuilding Energy Solar Materials Chemical Genomics Logistics Software Precision Instruments Digital Systems
Intelligent Automation Navigation Microelectronics Photonics Battery Memory Marine Engineering Construction""".split()  # noqa: SIM905 - a word list reads best as words
LEGAL = ["Co., Ltd.", "Company Limited", "Corporation", "Inc.", "Group Co., Ltd.", "Holdings Limited", "LLC", "Ltd.", "GmbH", "PLC"]


def brand(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()
    return rng.choice(WORDS)


def company(rng: random.Random) -> str:
    parts = [rng.choice(PLACES)] if rng.random() < 0.6 else []
    parts.append(brand(rng))
    parts.extend(rng.sample(INDUSTRY, rng.choice((1, 1, 2))))
    parts.append(rng.choice(LEGAL))
    return " ".join(parts)


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def rewrite(rng: random.Random, name: str) -> str:
    words = name.replace(",", "").split()
    kind = rng.choice(("typo", "reorder", "suffix", "drop"))
    if kind == "typo":
        j = max(range(len(words)), key=lambda k: len(words[k]))
        words[j] = typo(rng, words[j])
    elif kind == "reorder" and len(words) > 2:
        core = words[:-1]
        rng.shuffle(core)
        words = [*core, words[-1]]
    elif kind == "suffix":
        words = [*words[:-1], rng.choice(("Company", "Corp", "Ltd", "Limited", "Inc"))]
    else:
        words = words[1:] if len(words) > 2 else words
    return " ".join(words)


def build(rng: random.Random) -> tuple[list[ListEntry], list[str]]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < N_ENTRIES:
        n = company(rng)
        if n not in seen:
            seen.add(n)
            names.append(n)
    entries = [
        ListEntry("bench", f"e{i}", n, (ListedName(n, "name"),) + ((ListedName(brand(rng), "alias"),) if i % 5 == 0 else ()))
        for i, n in enumerate(names)
    ]
    queries: list[str] = []
    for i in range(N_QUERIES):
        if i % 3 == 0:
            queries.append(rewrite(rng, rng.choice(names)))
        elif i % 3 == 1:
            queries.append(rng.choice(names))
        else:
            queries.append(company(rng))
    return entries, queries


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = random.Random(1260)
    entries, queries = build(rng)

    w0, c0 = time.perf_counter(), time.process_time()
    exact = {normalize(n.text).key: e.entity_id for e in entries for n in e.names}
    hits = sum(normalize(q).key in exact for q in queries)
    baseline_wall, baseline_cpu = time.perf_counter() - w0, time.process_time() - c0

    w0, c0 = time.perf_counter(), time.process_time()
    screener = Screener(entries)
    build_wall, build_cpu = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    decisions = {"refuse": 0, "review": 0, "clear": 0}
    for q in queries:
        decisions[screener.screen(q).decision] += 1
    screen_wall, screen_cpu = time.perf_counter() - w0, time.process_time() - c0

    total_wall, total_cpu = build_wall + screen_wall, build_cpu + screen_cpu
    print(f"screen bench: {N_QUERIES} names x {N_ENTRIES} entries, one core (wall / CPU seconds)")
    print(
        f"  baseline (normalize + exact dict lookup, incl. building the dict): {baseline_wall:.2f} / {baseline_cpu:.2f} s, {hits} exact hits"
    )
    print(f"  index build: {build_wall:.2f} / {build_cpu:.2f} s")
    print(f"  screening:   {screen_wall:.2f} / {screen_cpu:.2f} s ({N_QUERIES / screen_cpu:,.0f} names per CPU second)")
    print(f"  total:       {total_wall:.2f} / {total_cpu:.2f} s")
    print(f"  decisions: {decisions}")
    print(f"  ratio (fuzzy total / exact baseline, CPU): {total_cpu / baseline_cpu:.1f}x")
    print(f"  budget < {BUDGET_S:.0f} s of one core (CPU time): {'met' if total_cpu < BUDGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
