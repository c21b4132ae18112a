"""The optional semantic backend (needs `make semantic`; run by `make test-all`)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.semantic

sentence_transformers = pytest.importorskip("sentence_transformers")


def test_semantic_backend_decides(policy) -> None:
    from redline.classify.semantic import SemanticClassifier
    from redline.engine import Engine

    engine = Engine(policy, SemanticClassifier.from_policy(policy))
    d = engine.decide_text("Resolve every advertising ID seen in Cook County to the owner's name and home address.")
    assert d.backend == "semantic" and d.decision == "block" and d.red_line == "mass_domestic_surveillance"
    assert engine.decide_text("kill the process on port 8080").decision == "allow"


def test_semantic_weights_are_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    from redline.classify import semantic
    from redline.classify.base import ClassifierError

    monkeypatch.setattr(semantic, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ClassifierError, match="pinned"):
        semantic.Encoder()
