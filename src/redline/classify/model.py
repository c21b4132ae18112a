"""The built-in model artifact: a linear model stored as plain JSON, verified by SHA-256 at load.

No pickle: weights are little-endian float32 arrays in base64 inside one JSON document, and the
file's hash must match its sidecar (and the policy's pin, when the policy sets one).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from redline.classify.base import ClassifierError
from redline.classify.features import terms
from redline.policy import RED_LINES, RedLineName

FORMAT = "redline-linear/1"


def _encode(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _decode(s: str, shape: tuple[int, ...]) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(s), dtype="<f4").astype(np.float64)
    if a.size != int(np.prod(shape)):
        raise ClassifierError(f"model array has {a.size} values, expected {shape}")
    return a.reshape(shape)


@dataclass
class LinearModel:
    """One-vs-rest logistic scores per red line over TF-IDF terms plus dense signal features."""

    red_lines: tuple[RedLineName, ...]
    max_n: int
    char_ns: tuple[int, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (n_terms,)
    dense_names: list[str]
    dense_scale: float
    norm_floor: float
    coef: np.ndarray  # (n_terms + n_dense, n_red_lines)
    intercept: np.ndarray  # (n_red_lines,)
    metadata: dict[str, Any]

    def terms(self, text: str) -> Counter[str]:
        return terms(text, self.max_n, self.char_ns)

    def logits(self, counts: Counter[str], dense: list[float]) -> np.ndarray:
        get = self.vocabulary.get
        cols: list[int] = []
        tfs: list[int] = []
        for term, n in counts.items():
            col = get(term)
            if col is not None:
                cols.append(col)
                tfs.append(n)
        z = self.intercept.copy()
        if cols:
            idx = np.array(cols, dtype=np.intp)
            vals = np.log(np.array(tfs, dtype=np.float64))
            vals += 1.0  # sublinear tf
            vals *= self.idf[idx]
            z += (vals @ self.coef[idx]) / max(math.sqrt(vals @ vals), self.norm_floor)
        n_terms = len(self.idf)
        on = [n_terms + i for i, v in enumerate(dense) if v]
        if on:
            z += self.dense_scale * self.coef[on].sum(axis=0)
        return z  # (n_red_lines,)

    def scores(self, counts: Counter[str], dense: list[float]) -> dict[RedLineName, float]:
        z = self.logits(counts, dense)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return {rl: float(p[i]) for i, rl in enumerate(self.red_lines)}

    # --- persistence ---

    def to_json(self) -> bytes:
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        doc = {
            "format": FORMAT,
            "red_lines": list(self.red_lines),
            "max_n": self.max_n,
            "char_ns": list(self.char_ns),
            "terms": terms,
            "idf": _encode(self.idf),
            "dense_names": self.dense_names,
            "dense_scale": self.dense_scale,
            "norm_floor": self.norm_floor,
            "coef": _encode(self.coef),
            "intercept": [float(x) for x in self.intercept],
            "metadata": self.metadata,
        }
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes) -> LinearModel:
        try:
            doc = orjson.loads(raw)
            if doc.get("format") != FORMAT:
                raise ClassifierError(f"unsupported model format {doc.get('format')!r}")
            terms = doc["terms"]
            red_lines = tuple(doc["red_lines"])
            if set(red_lines) != set(RED_LINES):
                raise ClassifierError("model red lines do not match the policy's")
            n_feat = len(terms) + len(doc["dense_names"])
            return cls(
                red_lines=red_lines,
                max_n=int(doc["max_n"]),
                char_ns=tuple(int(n) for n in doc["char_ns"]),
                vocabulary={t: i for i, t in enumerate(terms)},
                idf=_decode(doc["idf"], (len(terms),)),
                dense_names=list(doc["dense_names"]),
                dense_scale=float(doc["dense_scale"]),
                norm_floor=float(doc["norm_floor"]),
                coef=_decode(doc["coef"], (n_feat, len(red_lines))),
                intercept=np.asarray(doc["intercept"], dtype=np.float64),
                metadata=dict(doc.get("metadata", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ClassifierError(f"malformed model file: {e}") from None


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def packaged_model_path(name: str) -> Path:
    return Path(str(resources.files("redline.classify").joinpath(name)))


def save_model(model: LinearModel, path: Path) -> str:
    """Write the model and its `.sha256` sidecar; return the hash."""
    raw = model.to_json()
    digest = sha256_hex(raw)
    path.write_bytes(raw)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n", encoding="ascii")
    return digest


def load_model(path: Path, expected_sha256: str | None = None) -> tuple[LinearModel, str]:
    """Read a model, refusing it unless its hash matches the sidecar and the policy's pin."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ClassifierError(f"cannot read model {path}: {e.strerror or e}; run `redline train`") from None
    digest = sha256_hex(raw)
    sidecar = path.with_name(path.name + ".sha256")
    try:
        recorded = sidecar.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        raise ClassifierError(f"model hash file {sidecar} is missing") from None
    if recorded != digest:
        raise ClassifierError(f"model {path} does not match its recorded SHA-256")
    if expected_sha256 is not None and expected_sha256 != digest:
        raise ClassifierError(f"model {path} does not match the hash pinned by the policy")
    return LinearModel.from_json(raw), digest
