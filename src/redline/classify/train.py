"""Fit the built-in model from a labeled corpus (deterministic; seconds on 2 cores).

Each example is normalized exactly as at inference, featurized by `features`, and one logistic
regression per red line is fitted (one-vs-rest, balanced classes). The result is plain data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from redline.classify.features import dense_feature_names, dense_features, fired_signals, sublinear_tf, terms
from redline.classify.model import LinearModel
from redline.corpus import Example
from redline.policy import RED_LINES, Policy
from redline.text import Conversation, InputError, conversation_from_item

MAX_N = 2
CHAR_NS = (5,)
MIN_DF = 2
DENSE_SCALE = 1.0
C = 32.0
HARD_NEGATIVE_WEIGHT = 2.0
# A few words must not weigh like a whole paragraph: short texts are scaled by at least this norm.
NORM_FLOOR = 25.0
TOPIC_SIGNALS = {
    "autonomous_weapons": ("weapon_system", "engagement", "target_selection"),
    "mass_domestic_surveillance": ("surveillance_activity", "identity_resolution", "broker_data"),
}


def _conversation(policy: Policy, ex: Example) -> Conversation:
    return conversation_from_item(ex.item, policy.document.limits.max_input_chars)


def featurize(
    policy: Policy, examples: Sequence[Example], progress: Callable[[int], None] | None = None
) -> tuple[list[Counter[str]], np.ndarray]:
    names = dense_feature_names(policy)
    counts, dense = [], []
    for ex in examples:
        conv = _conversation(policy, ex)
        text = conv.text
        counts.append(terms(text, MAX_N, CHAR_NS))
        dense.append(dense_features(names, fired_signals(policy, text)))
        if progress:
            progress(1)
    return counts, np.asarray(dense, dtype=np.float64)


def _tfidf(counts: list[Counter[str]], vocab: dict[str, int], idf: np.ndarray) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for r, c in enumerate(counts):
        entries = [(vocab[t], sublinear_tf(n) * idf[vocab[t]]) for t, n in c.items() if t in vocab]
        norm = max(math.sqrt(sum(v * v for _, v in entries)), NORM_FLOOR)
        for col, v in entries:
            rows.append(r)
            cols.append(col)
            vals.append(v / norm)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(counts), len(vocab)))


def fit(
    policy: Policy,
    examples: Sequence[Example],
    c: float = C,
    dense_scale: float = DENSE_SCALE,
    hard_negative_weight: float = HARD_NEGATIVE_WEIGHT,
    progress: Callable[[int], None] | None = None,
) -> LinearModel:
    for ex in examples:
        try:
            _conversation(policy, ex)
        except InputError as e:
            raise InputError(f"example {ex.id}: {e}") from None
    counts, dense = featurize(policy, examples, progress)
    df: Counter[str] = Counter()
    for c_ in counts:
        df.update(c_.keys())
    kept = sorted(t for t, n in df.items() if n >= MIN_DF)
    vocab = {t: i for i, t in enumerate(kept)}
    n_docs = len(examples)
    idf = np.array([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in kept])
    x = sparse.hstack([_tfidf(counts, vocab, idf), sparse.csr_matrix(dense * dense_scale)]).tocsr()
    coef = np.zeros((x.shape[1], len(RED_LINES)))
    intercept = np.zeros(len(RED_LINES))
    labels = np.array([ex.label for ex in examples])
    names = dense_feature_names(policy)
    for j, rl in enumerate(RED_LINES):
        y = (labels == rl).astype(int)
        # Hard negatives — permitted work that shares the red line's topic (weapons for one, people
        # and their data for the other) — weigh more, so topic alone does not read as violation.
        topic_cols = [names.index(f"sig:{s}") for s in TOPIC_SIGNALS[rl] if f"sig:{s}" in names]
        hard = (y == 0) & (dense[:, topic_cols].max(axis=1) > 0) if topic_cols else np.zeros(len(y), bool)
        weights = np.where(hard, hard_negative_weight, 1.0)
        clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=0)
        clf.fit(x, y, sample_weight=weights)
        coef[:, j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    return LinearModel(
        red_lines=RED_LINES,
        max_n=MAX_N,
        char_ns=CHAR_NS,
        vocabulary=vocab,
        idf=idf,
        dense_names=dense_feature_names(policy),
        dense_scale=dense_scale,
        norm_floor=NORM_FLOOR,
        coef=coef,
        intercept=intercept,
        metadata={
            "examples": n_docs,
            "labels": dict(Counter(labels.tolist())),
            "terms": len(vocab),
            "C": c,
            "policy_version": policy.version,
        },
    )
