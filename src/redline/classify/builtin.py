"""The built-in backend: policy signals + linear model, on CPU, deterministic, sub-millisecond.

The whole conversation is judged as one text (intent split across turns is still one intent), and
the current ask and any decoded payload are also judged alone (so a long benign chat does not
dilute them); a red line's score is the highest of these. Long texts are read in overlapping
windows, so a violation buried in a long conversation is not diluted either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from redline.classify.base import Assessment, ClassifierError, Hit
from redline.classify.features import dense_feature_names, dense_features, fired_signals
from redline.classify.model import TextModel, load_model, packaged_model_path
from redline.policy import RED_LINES, Policy, RedLineName
from redline.text import Conversation


def windows(length: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Overlapping [start, end) windows covering `length` characters."""
    if length <= size:
        yield 0, length
        return
    step = size - overlap
    start = 0
    while True:
        end = min(start + size, length)
        yield start, end
        if end == length:
            return
        start += step


def locator(policy: Policy, conversation: Conversation) -> Callable[[Iterable[str]], tuple[Hit, ...]]:
    """Find where the named signals fired, per segment (for evidence): every pattern of a signal
    contributes its first match. Only what is asked for is located, so a decision that needs a
    few pieces of evidence pays for a few."""

    def locate(signals: Iterable[str]) -> tuple[Hit, ...]:
        wanted = frozenset(signals)
        return tuple(
            Hit(name, seg.message, seg.source, a, b, seg.text[a:b])
            for seg in conversation.segments
            for name, a, b in policy.signal_set.spans(seg.text, wanted)
        )

    return locate


def focus_texts(conversation: Conversation) -> list[str]:
    """Texts judged alone besides the whole conversation: the current ask (the last user message)
    and every decoded payload, so neither is diluted by surrounding context. Earlier turns are
    context: they count through the whole conversation, read in windows."""
    segs = conversation.segments
    if len(segs) == 1:
        return []
    user = [s for s in segs if s.role == "user" and s.source == "text"]
    last = user[-1].message if user else None
    return [s.text for s in segs if s.source != "text" or s.message == last]


class BuiltinClassifier:
    name = "builtin"

    def __init__(self, policy: Policy, model: TextModel, model_sha256: str = "") -> None:
        expected = dense_feature_names(policy)
        if model.dense_names != expected:
            raise ClassifierError("model was trained with different policy signals; run `redline train` with this policy")
        self.policy = policy
        self.model = model
        self.model_sha256 = model_sha256
        self._dense_names = expected
        limits = policy.document.limits
        self._window, self._overlap = limits.window_chars, limits.window_overlap
        self._dense_cache: dict[frozenset[str], list[float]] = {}

    def _dense(self, fired: frozenset[str]) -> list[float]:
        """`dense_features` of a set of fired signals. Memoized on the set (not on any text): most
        requests fire one of a few small sets, and the conjunction tests cost more than a lookup."""
        dense = self._dense_cache.get(fired)
        if dense is None:
            if len(self._dense_cache) >= 4096:  # bounded: crafted input must not grow memory
                self._dense_cache.clear()
            dense = self._dense_cache[fired] = dense_features(self._dense_names, fired)
        return dense

    @classmethod
    def from_policy(cls, policy: Policy, model_path: str | Path | None = None) -> BuiltinClassifier:
        cfg = policy.document.classifier
        path = Path(model_path) if model_path else packaged_model_path(cfg.model)
        model, digest = load_model(path, cfg.model_sha256)
        return cls(policy, model, digest)

    def _score_text(self, text: str, scores: dict[RedLineName, float]) -> frozenset[str]:
        """Raise `scores` to this text's scores (max over windows); return the signals that fired."""
        fired: set[str] = set()
        for a, b in windows(len(text), self._window, self._overlap):
            chunk = text[a:b]
            window_fired = fired_signals(self.policy, chunk)
            fired |= window_fired
            dense = self._dense(window_fired)
            for rl, s in self.model.scores_text(chunk, dense).items():
                if s > scores[rl]:
                    scores[rl] = s
        return frozenset(fired)

    def assess(self, conversation: Conversation) -> Assessment:
        scores: dict[RedLineName, float] = dict.fromkeys(RED_LINES, 0.0)
        fired = self._score_text(conversation.text, scores)
        for text in focus_texts(conversation):
            self._score_text(text, scores)
        return Assessment(scores=scores, signals=fired, backend=self.name, locate=locator(self.policy, conversation))

    def assess_many(self, conversations: list[Conversation]) -> list[Assessment]:
        return [self.assess(c) for c in conversations]
