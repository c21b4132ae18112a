"""Built-in classifier throughput and latency on 50-word prompts, one core, vs. a baseline in the same run.

Baseline: the textbook pipeline for the same job — scikit-learn TfidfVectorizer + LogisticRegression,
called once per prompt (as a gateway must). Also measured: the built-in model on its Python path
(the compiled forward pass `classify/_forward.c` switched off; what runs where no C compiler was
available at install). Absolute numbers drift on shared machines; the ratios and the budget lines
are what to read.

Budget (DESIGN.md): >= 2,000 decisions/s per core on 50-word prompts; p99 < 5 ms per call.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from redline.corpus import read_examples  # noqa: E402
from redline.engine import Engine  # noqa: E402

WORDS = 50
N_PROMPTS = 400
ROUNDS = 5


def prompts(permitted_only: bool = False) -> list[str]:
    """Dev-split texts cut or padded to exactly 50 words: realistic vocabulary, fixed length."""
    out = []
    for ex in read_examples(ROOT / "data/corpus/dev.jsonl"):
        if "text" not in ex.item or (permitted_only and ex.label != "permitted"):
            continue
        words = ex.item["text"].split()
        while len(words) < WORDS:
            words += words
        out.append(" ".join(words[:WORDS]))
        if len(out) == N_PROMPTS:
            break
    return out


def timed(fn, items: list[str]) -> tuple[float, list[float]]:
    lat = []
    t0 = time.perf_counter()
    for x in items:
        t = time.perf_counter()
        fn(x)
        lat.append(time.perf_counter() - t)
    return time.perf_counter() - t0, lat


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    engine = Engine.from_options()

    train = list(read_examples(ROOT / "data/corpus/train.jsonl"))
    train_texts = [ex.item.get("text") or " ".join(m.get("content") or "" for m in ex.item["messages"]) for ex in train]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    lr = LogisticRegression(max_iter=2000).fit(vec.fit_transform(train_texts), [ex.label for ex in train])

    def baseline(t: str) -> None:
        lr.predict_proba(vec.transform([t]))

    mixes = {"dev mix, ~half red-line": prompts(), "permitted prompts only": prompts(permitted_only=True)}
    runs = [(f"redline built-in, {mix}", engine.decide_text, texts) for mix, texts in mixes.items()]
    runs.append(("baseline sklearn tfidf+LR per call, dev mix", baseline, mixes["dev mix, ~half red-line"]))
    model = engine.classifier.model
    compiled = model._compiled

    def python_path(t: str) -> None:
        model._compiled = None
        try:
            engine.decide_text(t)
        finally:
            model._compiled = compiled

    runs.append(("built-in on its Python path, dev mix", python_path, mixes["dev mix, ~half red-line"]))
    results: dict[str, tuple[float, float]] = {}
    for name, fn, texts in runs:
        fn(texts[0])  # warm up
        rates, all_lat = [], []
        for _ in range(ROUNDS):
            total, lat = timed(fn, texts)
            rates.append(len(texts) / total)
            all_lat += lat
        ms = np.array(all_lat) * 1000
        rate, p99 = statistics.median(rates), float(np.percentile(ms, 99))
        results[name] = (rate, p99)
        print(f"{name:48s} {rate:7.0f} decisions/s/core   p50 {np.percentile(ms, 50):.3f} ms   p99 {p99:.3f} ms")
    base = results["baseline sklearn tfidf+LR per call, dev mix"][0]
    for name, (rate, p99) in results.items():
        if name.startswith("redline"):
            verdict = "PASS" if rate >= 2000 and p99 < 5 else "FAIL"
            print(f"{name}: {rate / base:.2f}x the baseline; budget (>= 2000/s/core, p99 < 5 ms): {verdict}")
    python = results["built-in on its Python path, dev mix"][0]
    print(f"compiled forward pass vs Python path, dev mix: {results['redline built-in, dev mix, ~half red-line'][0] / python:.2f}x")


if __name__ == "__main__":
    main()
