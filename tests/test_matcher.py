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


def test_non_ascii_character_class_rejected(policy):
    from importlib import resources

    text = resources.files("redline.policy").joinpath("default.yaml").read_text()
    bad = text.replace("(?:o|ó)", "[oó]", 1)
    with pytest.raises(PolicyError, match="non-ASCII"):
        parse_policy(bad, "bad.yaml")
