"""The compiled forward pass (`_forward.c`) wired to one model, when the extension was built.

`compiled(model)` gives a callable (normalized text, dense-feature rows) -> class probabilities
that computes what `TextModel.scores(TextModel.columns(text), dense)` does in Python, several
times faster (`bench/classify.py`); None when the extension is missing (the Python path then
answers: the same terms and weights, sums in another order, so scores agree to ~1e-6).
This module only arranges the model's vocabulary for the C code: words get integer ids, and each
word n-gram or skip-gram becomes one integer key (its word ids in base B, offset by kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from redline.classify.features import SKIP_PREFIX, tokens_of, word_columns

if TYPE_CHECKING:
    from redline.classify.model import TextModel

Forward: Any
try:
    from redline.classify._forward import Forward
except ImportError:  # pragma: no cover - exercised where no C compiler was available at install
    Forward = None

_MAX_WORDS = 200_000  # bounded: arbitrary input must not grow memory


def key_offset(base: int, kind: int) -> int:
    """Where the keys of one kind start (0: skip pairs; n: word n-grams), so that no two kinds
    share a key: a key is the term's word ids in base `base` plus this offset. `_forward.c`
    computes the same keys."""
    return 0 if kind == 0 else base**2 + sum(base**n for n in range(2, kind))


class _Words:
    """word -> its int64 values as bytes (word id or -1, unigram column or -1, character n-gram
    columns...): filled on first sight, bounded."""

    def __init__(self, vocabulary: Mapping[str, int], ids: Mapping[str, int], char_ns: tuple[int, ...]) -> None:
        self.table: dict[str, bytes] = {}
        self._vocabulary, self._ids, self._char_ns = vocabulary, ids, char_ns

    def fill(self, word: str) -> bytes:
        uni, grams = word_columns(self._vocabulary, self._char_ns, word)
        entry = np.array([self._ids.get(word, -1), -1 if uni is None else uni, *grams], dtype=np.int64).tobytes()
        if len(self.table) >= _MAX_WORDS:
            self.table.clear()
        self.table[word] = entry
        return entry


def compiled(model: TextModel) -> CompiledForward | None:
    """The compiled forward pass for `model`, or None without the extension."""
    if Forward is None:
        return None
    # Terms grouped by kind (0: skip pairs, n: word n-grams), as references to the vocabulary's own
    # strings; each term is split only inside the pass that reads it, so no split words pile up
    # (120k lists of them would stay behind as fragmented heap).
    groups: dict[int, tuple[list[str], list[int]]] = {}
    for term, col in model.vocabulary.items():
        if term[0] == SKIP_PREFIX:
            if not model.skip_grams:
                continue
            kind, term = 0, term[1:]
        elif term[0] != "#" and " " in term:
            kind = term.count(" ") + 1
        else:
            continue
        group = groups.setdefault(kind, ([], []))
        group[0].append(term)
        group[1].append(col)
    ids: dict[str, int] = {}
    for terms_, _ in groups.values():
        for term in terms_:
            for w in term.split(" "):
                ids.setdefault(w, len(ids))
    base = len(ids) + 1
    if base ** max(model.max_n, 2) * (model.max_n + 1) >= 2**62:
        return None  # keys would not fit 64 bits: the Python path answers
    keys, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for kind, (terms_, cols_) in groups.items():
        n = max(kind, 2)
        wid = np.fromiter(chain.from_iterable(map(ids.__getitem__, t.split(" ")) for t in terms_), np.int64, n * len(terms_))
        wid = wid.reshape(len(terms_), n)
        key = np.zeros(len(terms_), dtype=np.int64)
        for j in range(n):
            key = key * base + wid[:, j]
        keys.append(key + key_offset(base, kind))
        cols.append(np.array(cols_, dtype=np.int64))
    del groups
    words = _Words(model.vocabulary, ids, model.char_ns)
    forward = Forward(
        words=words.table,
        fill=words.fill,
        keys=np.concatenate(keys),
        key_cols=np.concatenate(cols),
        base=base,
        max_n=model.max_n,
        skip_grams=model.skip_grams,
        idf=np.ascontiguousarray(model.idf, dtype=np.float32),
        w1=np.ascontiguousarray(model.w1, dtype=np.float32),
        b1=np.ascontiguousarray(model.b1, dtype=np.float32),
        w2=np.ascontiguousarray(model.w2, dtype=np.float32),
        b2=np.ascontiguousarray(model.b2, dtype=np.float32),
        norm_floor=float(model.norm_floor),
    )

    return CompiledForward(forward, words)


class CompiledForward:
    """(normalized text, dense-feature rows or None) -> class probabilities, in the model's order."""

    def __init__(self, forward: Any, words: _Words) -> None:
        self._forward, self.words = forward, words

    def __call__(self, text: str, dense_rows: np.ndarray | None) -> list[float]:
        result: list[float] = self._forward(tokens_of(text), dense_rows)
        return result
