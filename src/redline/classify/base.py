"""What every classifier backend returns, and the interface they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from redline.policy import RedLineName
from redline.text import Conversation


class ClassifierError(RuntimeError):
    """A backend could not produce an assessment (model missing, hash mismatch, judge down...)."""


@dataclass(frozen=True)
class Hit:
    """One place a signal fired: which message, which segment source, and the matched text."""

    signal: str
    message: int
    source: str
    start: int
    end: int
    text: str

    def as_evidence(self) -> dict[str, object]:
        return {
            "signal": self.signal,
            "message": self.message,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


Locator = Callable[[Iterable[str]], tuple[Hit, ...]]


def _no_hits(signals: Iterable[str]) -> tuple[Hit, ...]:
    return ()


@dataclass(frozen=True)
class Assessment:
    """Scores per red line (0..1), the signals that fired, and a way to find where they fired.

    Locating spans costs a pass per signal, so it is done only when a decision needs evidence.
    """

    scores: dict[RedLineName, float]
    signals: frozenset[str] = frozenset()
    backend: str = "builtin"
    locate: Locator = _no_hits
    notes: dict[str, str] = field(default_factory=dict)

    def hits(self, signals: Iterable[str]) -> tuple[Hit, ...]:
        return self.locate([s for s in signals if s in self.signals])


class Classifier(Protocol):
    """A backend: one conversation in, one assessment out; raises ClassifierError on failure."""

    name: str

    def assess(self, conversation: Conversation) -> Assessment: ...

    def assess_many(self, conversations: list[Conversation]) -> list[Assessment]: ...
