"""The built-in model artifact, stored as plain JSON and verified by SHA-256 at load.

No pickle: weights are little-endian float16 arrays in base64 inside one JSON document, and the
file's hash must match its sidecar (and the policy's pin, when the policy sets one).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from redline.classify.base import ClassifierError
from redline.classify.fast import compiled
from redline.classify.features import SKIP_PREFIX, tokens_of, word_columns
from redline.policy import RED_LINES, RedLineName

FORMAT = "redline-mlp/1"


def _encode(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f2").tobytes()).decode("ascii")


def _decode(s: str, shape: tuple[int, ...]) -> np.ndarray:
    # float16 on disk; float32 in memory: exact for these values, and half the bytes of float64
    # for the row gather that dominates the first layer.
    a = np.frombuffer(base64.b64decode(s), dtype="<f2").astype(np.float32)
    if a.size != int(np.prod(shape)):
        raise ClassifierError(f"model array has {a.size} values, expected {shape}")
    return a.reshape(shape)


@dataclass
class TextModel:
    """A one-hidden-layer network over TF-IDF terms plus the policy's signal features.

    Inputs are sparse (a prompt touches ~150 of ~40k terms), so the first layer is a weighted sum
    of ~150 rows; the hidden layer lets signals and terms interact ("turret" means little without
    "no operator"). Outputs are a softmax over permitted and the two red lines.
    """

    classes: tuple[str, ...]  # softmax order; includes "permitted" and both red lines
    max_n: int
    char_ns: tuple[int, ...]
    vocabulary: dict[str, int]  # every term, skip-grams `~`-prefixed as `features.terms` names them
    idf: np.ndarray  # (n_terms,)
    dense_names: list[str]
    norm_floor: float
    w1: np.ndarray  # (n_terms + n_dense, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden, n_classes)
    b2: np.ndarray  # (n_classes,)
    metadata: dict[str, Any]
    skip_grams: bool = False

    def __post_init__(self) -> None:
        self._rows = [self.classes.index(rl) for rl in RED_LINES]
        # skip-grams looked up without building their prefixed names on the hot path
        n = len(SKIP_PREFIX)
        self._skip_vocabulary = {t[n:]: i for t, i in self.vocabulary.items() if t.startswith(SKIP_PREFIX)} if self.skip_grams else {}
        self._word_cache: dict[str, tuple[int | None, tuple[int, ...]]] = {}
        self._dense_cache: dict[tuple[int, ...], np.ndarray] = {}
        self._compiled = compiled(self)

    def _word_columns(self, word: str) -> tuple[int | None, tuple[int, ...]]:
        """A word's unigram column and its character n-gram columns (in the vocabulary)."""
        cached = self._word_cache.get(word)
        if cached is None:
            cached = word_columns(self.vocabulary, self.char_ns, word)
            if len(self._word_cache) > 200_000:  # bounded: arbitrary input must not grow memory
                self._word_cache.clear()
            self._word_cache[word] = cached
        return cached

    def _dense_on(self, dense: list[float]) -> tuple[int, ...]:
        """The first-layer rows of the dense features that are on (they follow the term rows)."""
        n_terms = len(self.idf)
        return tuple(compress(range(n_terms, n_terms + len(dense)), dense))

    def _dense_rows(self, on: tuple[int, ...]) -> np.ndarray:
        """The sum of the first-layer rows of the dense features that are on, memoized per set
        (a few sets cover most traffic; the same sum, so the same bits)."""
        rows = self._dense_cache.get(on)
        if rows is None:
            if len(self._dense_cache) >= 4096:  # bounded: crafted input must not grow memory
                self._dense_cache.clear()
            rows = self._dense_cache[on] = self.w1[list(on)].sum(axis=0)
        return rows

    def columns(self, text: str) -> dict[int, int]:
        """Vocabulary column -> count for `text`: exactly `terms(text)` restricted to the
        vocabulary, computed from cached per-word columns (the hot path)."""
        tokens = tokens_of(text)
        # Collect every column occurrence in one list and count it once (C-level Counter):
        # a word's unigram counts per occurrence, its character n-grams once per distinct word.
        cols: list[int] = []
        cached = self._word_cache.get
        for word, n in Counter(tokens).items():
            uni, grams = cached(word) or self._word_columns(word)
            if uni is not None:
                cols += [uni] * n
            cols += grams
        if self.max_n >= 2:
            get = self.vocabulary.get
            for size in range(2, self.max_n + 1):
                ngrams = map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False))
                cols += [c for c in map(get, ngrams) if c is not None]
        if self.skip_grams:
            pairs = map(" ".join, zip(tokens, tokens[2:], strict=False))
            cols += [c for c in map(self._skip_vocabulary.get, pairs) if c is not None]
        return Counter(cols)

    def scores_text(self, text: str, dense: list[float]) -> dict[RedLineName, float]:
        """Scores per red line of normalized `text` with its dense signal features: the compiled
        forward pass when it was built (`fast`), else `scores(columns(text), dense)`."""
        if self._compiled is None:
            return self.scores(self.columns(text), dense)
        on = self._dense_on(dense)
        p = self._compiled(text, self._dense_rows(on) if on else None)
        return {rl: p[i] for rl, i in zip(RED_LINES, self._rows, strict=True)}

    def hidden(self, counts: dict[int, int], dense: list[float]) -> np.ndarray:
        h = self.b1.copy()
        cols = list(counts)
        tfs = list(counts.values())
        if cols:
            idx = np.array(cols, dtype=np.intp)
            vals = np.log(np.array(tfs, dtype=np.float32))
            vals += 1.0  # sublinear tf
            vals *= self.idf[idx]
            h += (vals @ self.w1[idx]) / max(math.sqrt(vals @ vals), self.norm_floor)
        on = self._dense_on(dense)
        if on:
            h += self._dense_rows(on)
        np.maximum(h, 0.0, out=h)  # ReLU
        return h

    def scores(self, counts: dict[int, int], dense: list[float]) -> dict[RedLineName, float]:
        """Scores per red line from column counts (see `columns`) and dense signal features."""
        z = self.hidden(counts, dense) @ self.w2 + self.b2
        z -= z.max()
        p = np.exp(z)
        p /= p.sum()
        return {rl: float(p[i]) for rl, i in zip(RED_LINES, self._rows, strict=True)}

    # --- persistence ---

    def to_json(self) -> bytes:
        terms_ = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        doc = {
            "format": FORMAT,
            "classes": list(self.classes),
            "max_n": self.max_n,
            "char_ns": list(self.char_ns),
            "skip_grams": self.skip_grams,
            "terms": terms_,
            "idf": _encode(self.idf),
            "dense_names": self.dense_names,
            "norm_floor": self.norm_floor,
            "hidden": int(self.b1.shape[0]),
            "w1": _encode(self.w1),
            "b1": _encode(self.b1),
            "w2": _encode(self.w2),
            "b2": _encode(self.b2),
            "metadata": self.metadata,
        }
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes) -> TextModel:
        try:
            doc = orjson.loads(raw)
            if doc.get("format") != FORMAT:
                raise ClassifierError(f"unsupported model format {doc.get('format')!r}; run `redline train`")
            classes = tuple(doc["classes"])
            if not set(RED_LINES) <= set(classes):
                raise ClassifierError("model classes do not include both red lines")
            terms_ = doc["terms"]
            hidden = int(doc["hidden"])
            n_in = len(terms_) + len(doc["dense_names"])
            return cls(
                classes=classes,
                max_n=int(doc["max_n"]),
                char_ns=tuple(int(n) for n in doc["char_ns"]),
                skip_grams=bool(doc.get("skip_grams", False)),
                vocabulary={t: i for i, t in enumerate(terms_)},
                idf=_decode(doc["idf"], (len(terms_),)),
                dense_names=list(doc["dense_names"]),
                norm_floor=float(doc["norm_floor"]),
                w1=_decode(doc["w1"], (n_in, hidden)),
                b1=_decode(doc["b1"], (hidden,)),
                w2=_decode(doc["w2"], (hidden, len(classes))),
                b2=_decode(doc["b2"], (len(classes),)),
                metadata=dict(doc.get("metadata", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ClassifierError(f"malformed model file: {e}") from None


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def packaged_model_path(name: str) -> Path:
    return Path(str(resources.files("redline.classify").joinpath(name)))


def write_artifact(raw: bytes, path: Path) -> str:
    """Write an artifact and its `.sha256` sidecar; return the hash."""
    digest = sha256_hex(raw)
    path.write_bytes(raw)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n", encoding="ascii")
    return digest


def read_artifact(path: Path, what: str, expected_sha256: str | None = None) -> tuple[bytes, str]:
    """Read an artifact, refusing it unless its hash matches the sidecar (and a pin, if given)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ClassifierError(f"cannot read {what} {path}: {e.strerror or e}; run `redline train`") from None
    digest = sha256_hex(raw)
    sidecar = path.with_name(path.name + ".sha256")
    try:
        recorded = sidecar.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        raise ClassifierError(f"{what} hash file {sidecar} is missing") from None
    if recorded != digest:
        raise ClassifierError(f"{what} {path} does not match its recorded SHA-256")
    if expected_sha256 is not None and expected_sha256 != digest:
        raise ClassifierError(f"{what} {path} does not match the hash pinned by the policy")
    return raw, digest


def save_model(model: TextModel, path: Path) -> str:
    """Write the model and its `.sha256` sidecar; return the hash."""
    return write_artifact(model.to_json(), path)


def load_model(path: Path, expected_sha256: str | None = None) -> tuple[TextModel, str]:
    """Read a model, refusing it unless its hash matches the sidecar and the policy's pin."""
    raw, digest = read_artifact(path, "model", expected_sha256)
    return TextModel.from_json(raw), digest
