"""Fit the built-in model from a labeled corpus (deterministic; about a minute on 2 cores).

Each example is normalized exactly as at inference and featurized by `features`; a network with
one hidden layer is fitted (`network`, minibatch Adam) over TF-IDF terms plus signal features (softmax over permitted and the
two red lines, balanced classes, hard negatives up-weighted). The result is plain data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from redline.classify.features import SKIP_PREFIX, dense_feature_names, dense_features, fired_signals, sublinear_tf, terms
from redline.classify.model import TextModel
from redline.classify.network import Settings
from redline.classify.network import fit as fit_network
from redline.corpus import Example
from redline.policy import Policy, version_of
from redline.text import Conversation, InputError, conversation_from_item

MAX_N = 2
CHAR_NS = (5,)
MIN_DF = 2
SKIP_GRAMS = True
SKIP_MIN_DF = 4  # skip-grams are many and mostly noise: kept only when four texts share one
HIDDEN = 64
ALPHA = 1e-3
EPOCHS = 40
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
        counts.append(terms(text, MAX_N, CHAR_NS, skip_grams=SKIP_GRAMS))
        dense.append(dense_features(names, fired_signals(policy, text)))
        if progress:
            progress(1)
    return counts, np.asarray(dense, dtype=np.float64)


def _tfidf(counts: list[Counter[str]], vocab: dict[str, int], idf: np.ndarray) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    weight = idf.tolist()  # the same doubles as Python floats: no numpy scalar per term (a third of the time)
    get = vocab.get
    for r, c in enumerate(counts):
        entries = [(col, sublinear_tf(n) * weight[col]) for t, n in c.items() if (col := get(t)) is not None]
        norm = max(math.sqrt(sum(v * v for _, v in entries)), NORM_FLOOR)
        for col, v in entries:
            rows.append(r)
            cols.append(col)
            vals.append(v / norm)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(counts), len(vocab)))


def fit(
    policy: Policy,
    examples: Sequence[Example],
    hidden: int = HIDDEN,
    alpha: float = ALPHA,
    hard_negative_weight: float = HARD_NEGATIVE_WEIGHT,
    progress: Callable[[int], None] | None = None,
) -> TextModel:
    for ex in examples:
        try:
            _conversation(policy, ex)
        except InputError as e:
            raise InputError(f"example {ex.id}: {e}") from None
    counts, dense = featurize(policy, examples, progress)
    df: Counter[str] = Counter()
    for c_ in counts:
        df.update(c_.keys())
    kept = sorted(t for t, n in df.items() if n >= (SKIP_MIN_DF if t.startswith(SKIP_PREFIX) else MIN_DF))
    vocab = {t: i for i, t in enumerate(kept)}
    n_docs = len(examples)
    idf = np.array([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in kept])
    x = sparse.hstack([_tfidf(counts, vocab, idf), sparse.csr_matrix(dense)]).tocsr()
    labels = np.array([ex.label for ex in examples])
    weights = _sample_weights(policy, labels, dense, hard_negative_weight)
    classes = sorted(set(labels.tolist()))
    # A fixed epoch budget is the regularizer (with the L2 penalty); one BLAS thread keeps the
    # result bit-for-bit reproducible.
    with threadpool_limits(1):
        net = fit_network(x, np.searchsorted(classes, labels), weights, len(classes), Settings(hidden=hidden, alpha=alpha, epochs=EPOCHS))
    return TextModel(
        classes=tuple(classes),
        max_n=MAX_N,
        char_ns=CHAR_NS,
        skip_grams=SKIP_GRAMS,
        vocabulary=vocab,
        idf=idf,
        dense_names=dense_feature_names(policy),
        norm_floor=NORM_FLOOR,
        w1=net.w1,
        b1=net.b1,
        w2=net.w2,
        b2=net.b2,
        metadata={
            "examples": n_docs,
            "labels": dict(sorted(Counter(labels.tolist()).items())),
            "terms": len(vocab),
            "hidden": hidden,
            "alpha": alpha,
            "epochs": EPOCHS,
            "skip_min_df": SKIP_MIN_DF,
            # what the features depend on (not thresholds or rules): retraining is needed when this changes
            "signals_version": signals_version(policy),
        },
    )


def signals_version(policy: Policy) -> str:
    doc = policy.document
    spec = {"signals": {k: v.model_dump() for k, v in doc.signals.items()}, "home_country": doc.home_country.model_dump()}
    return version_of(spec)


def _sample_weights(policy: Policy, labels: np.ndarray, dense: np.ndarray, hard_negative_weight: float) -> np.ndarray:
    """Classes balanced; hard negatives — permitted work sharing a red line's topic (weapons, or
    people and their data) — weigh more, so topic alone does not read as violation."""
    names = dense_feature_names(policy)
    weights = np.ones(len(labels))
    for label in set(labels.tolist()):
        weights[labels == label] = len(labels) / (len(set(labels.tolist())) * np.sum(labels == label))
    for signals in TOPIC_SIGNALS.values():
        cols = [names.index(f"sig:{s}") for s in signals if f"sig:{s}" in names]
        hard = (labels == "permitted") & (dense[:, cols].max(axis=1) > 0)
        weights[hard] *= hard_negative_weight
    return weights
