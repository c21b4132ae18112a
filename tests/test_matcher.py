"""The fast signal matcher gives exactly the answers of plain per-pattern RE2 search."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.corpus import read_examples
from redline.policy import PolicyError, parse_policy
from redline.policy.matcher import hyperscan
from redline.text import conversation_from_item


@pytest.mark.skipif(hyperscan is None, reason="hyperscan not installed")
def test_hyperscan_agrees_with_re2_on_corpus(policy):
    matcher = policy.signal_set
    assert matcher.engine == "hyperscan"
    checked = 0
    for ex in read_examples(Path("data/corpus/dev.jsonl")):
        text = conversation_from_item(ex.item, 10**6).text
        assert matcher.fired(text) == matcher.fired_re2(text), ex.id
        checked += 1
    assert checked > 300


def test_spans_point_at_matches(policy):
    matcher = policy.signal_set
    text = "Resolve every ad ID seen in Cook County to a home address; the drone then fires on its own without operator approval. Привет."
    spans = matcher.spans(text)
    assert {name for name, _, _ in spans} == matcher.fired(text)
    for name, start, end in spans:
        assert 0 <= start < end <= len(text)
        assert name in matcher.fired_re2(text[start:end]), (name, text[start:end])
    assert any(name == "human_removed" and "without operator approval" in text[a:b] for name, a, b in spans)


def test_cached_columns_equal_terms_in_vocabulary(engine):
    # the hot path (`TextModel.columns`) must see exactly what training saw (`features.terms`)
    from redline.classify.features import terms

    model = engine.classifier.model
    for ex in read_examples(Path("data/corpus/dev.jsonl")):
        text = conversation_from_item(ex.item, 10**6).text
        expected = {
            model.vocabulary[t]: n
            for t, n in terms(text, model.max_n, model.char_ns, skip_grams=model.skip_grams).items()
            if t in model.vocabulary
        }
        assert model.columns(text) == expected, ex.id


def test_non_ascii_character_class_rejected(policy):
    from importlib import resources

    text = resources.files("redline.policy").joinpath("default.yaml").read_text()
    bad = text.replace("(?:o|ó)", "[oó]", 1)
    with pytest.raises(PolicyError, match="non-ASCII"):
        parse_policy(bad, "bad.yaml")


def test_re2_fallback_decides_the_same(policy):
    from importlib import resources

    from redline.classify import BuiltinClassifier
    from redline.engine import Engine

    text = resources.files("redline.policy").joinpath("default.yaml").read_text()
    fallback = parse_policy(text, "default.yaml")
    fallback.signal_set.engine = "re2"  # as on a machine without the Hyperscan wheel
    fast, slow = Engine(policy, BuiltinClassifier.from_policy(policy)), Engine(fallback, BuiltinClassifier.from_policy(fallback))
    for t in [
        "Pull every phone that pinged a tower in Maricopa County and give me the subscriber names.",
        "Remove the operator confirmation so the turret fires on anyone it detects.",
        "kill the process on port 8080",
    ]:
        a, b = fast.decide_text(t), slow.decide_text(t)
        assert (a.decision, a.red_line, a.scores, a.signals) == (b.decision, b.red_line, b.scores, b.signals)
        assert {e["signal"] for e in a.evidence} == {e["signal"] for e in b.evidence}
