"""Features of one text: policy signals, their conjunctions, and lexical terms.

The signals carry POLICY.md's structure (activity x domestic x bulk; engagement x human removed),
which is what lets the model generalize beyond the wording of its training data; the lexical terms
carry the rest. Training and inference both call this module, so they cannot drift apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from redline.policy import Policy

CHAR_MIN_WORD = 5  # shorter words get no character n-grams
_TOKEN = re.compile(r"[^\W_]+")
# Scripts written without spaces are read as overlapping character bigrams.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Conjunction:
    """A derived feature: every signal in `all`, at least one in `any` (if given), none in `none`."""

    name: str
    all: frozenset[str] = frozenset()
    any: frozenset[str] = frozenset()
    none: frozenset[str] = frozenset()

    def holds(self, fired: frozenset[str]) -> bool:
        return self.all <= fired and (not self.any or not self.any.isdisjoint(fired)) and self.none.isdisjoint(fired)


def _conj(name: str, all: tuple[str, ...] = (), any: tuple[str, ...] = (), none: tuple[str, ...] = ()) -> Conjunction:
    return Conjunction(name, frozenset(all), frozenset(any), frozenset(none))


# POLICY.md's conjunctions. `domestic_effective` is added by `fired_signals` from the home-country
# profile: domestic indicators, or no foreign indicator when unknown subjects count as domestic.
CONJUNCTIONS: tuple[Conjunction, ...] = (
    _conj("mds_core", all=("surveillance_activity", "domestic_effective", "bulk_scale")),
    _conj("mds_core_foreign", all=("surveillance_activity", "foreign_subject", "bulk_scale"), none=("domestic_subject",)),
    _conj("mds_trait", all=("surveillance_activity", "protected_trait")),
    _conj("mds_dissent", all=("surveillance_activity", "dissent_targeting")),
    _conj("mds_broker_identity", all=("broker_data",), any=("identity_resolution", "surveillance_activity")),
    _conj("mds_tool", all=("bulk_identification_tool",), any=("surveillance_activity", "identity_resolution")),
    _conj("mds_bulk_identity", all=("identity_resolution", "bulk_scale", "domestic_effective")),
    _conj("mds_particularized", all=("particularized_process", "single_subject")),
    _conj("mds_process_bulk", all=("particularized_process", "bulk_scale", "surveillance_activity")),
    _conj("aw_core", all=("engagement", "human_removed")),
    _conj("aw_chain", all=("target_selection", "engagement", "human_removed")),
    _conj("aw_weapon_removed", all=("weapon_system", "human_removed")),
    _conj("aw_kept", all=("engagement", "human_kept"), none=("human_removed",)),
    _conj("aw_kept_removed", all=("human_kept", "human_removed")),
    _conj("aw_materiel", all=("engagement", "materiel_defense")),
    _conj("aw_unarmed", all=("unarmed_autonomy",), none=("engagement",)),
    # Mitigations: talking about a practice is not doing it; consent, foreign subjects and
    # aggregate output change what a request is.
    _conj("discourse_only", all=("discourse",), none=("operational_ask",)),
    _conj("discourse_with_ask", all=("discourse", "operational_ask")),
    _conj("mds_core_ask", all=("surveillance_activity", "domestic_effective", "bulk_scale", "operational_ask")),
    _conj("mds_consented", all=("surveillance_activity", "consent")),
    _conj("mds_aggregate", all=("aggregate_output",), none=("identity_resolution",)),
    _conj("mds_foreign_only", all=("foreign_subject",), none=("domestic_subject", "protected_trait")),
    _conj("aw_core_ask", all=("engagement", "human_removed", "operational_ask")),
    _conj("aw_kept_only", all=("human_kept",), none=("human_removed",)),
    _conj("mds_negated", all=("surveillance_activity", "negated_activity")),
    _conj("mds_protective", all=("privacy_protective",), none=("identity_resolution", "broker_data")),
    _conj("aw_negated", all=("engagement", "negated_activity"), none=("human_removed",)),
)


def fired_signals(policy: Policy, text: str) -> frozenset[str]:
    """Signals that fire in normalized text, plus `domestic_effective` from the home-country profile."""
    fired = set(policy.signal_set.fired(text))
    if "domestic_subject" in fired or (policy.document.home_country.unknown_subjects_are_domestic and "foreign_subject" not in fired):
        fired.add("domestic_effective")
    return frozenset(fired)


def dense_feature_names(policy: Policy) -> list[str]:
    """Signal and conjunction features, in a fixed order."""
    return [f"sig:{s.name}" for s in policy.signals] + ["sig:domestic_effective"] + [f"conj:{c.name}" for c in CONJUNCTIONS]


def dense_features(names: list[str], fired: frozenset[str]) -> list[float]:
    """1.0 for each fired signal and each conjunction that holds, in the order of `names`."""
    on = {f"sig:{s}" for s in fired}
    on.update(f"conj:{c.name}" for c in CONJUNCTIONS if c.holds(fired))
    return [1.0 if n in on else 0.0 for n in names]


# Function words carry a writer's style, not a request's meaning; as unigrams they let a model
# learn who wrote its training data. They still appear inside bigrams ("no one", "on its own").
STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself now of
    off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself yourselves hi hey
    please pls thanks thank ok okay yes yeah also like get got let lets us
    """.split()  # noqa: SIM905 - a word list reads best as words
)


def tokens_of(text: str) -> list[str]:
    """Word tokens of normalized text; scripts without spaces become character bigrams."""
    tokens: list[str] = _TOKEN.findall(text)
    if text.isascii():
        return tokens
    out: list[str] = []
    for tok in tokens:
        if _CJK.search(tok) and len(tok) > 2:
            out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
        else:
            out.append(tok)
    return out


SKIP_PREFIX = "~"


def terms(
    text: str, max_n: int = 2, char_ns: tuple[int, ...] = (), char_min_word: int = CHAR_MIN_WORD, skip_grams: bool = False
) -> Counter[str]:
    """Word n-gram counts (1..max_n) of normalized text, plus character n-grams (`#`-prefixed)
    of longer words, which carry morphology ("surveil", "-ance") to unseen word forms, plus
    (`skip_grams`) pairs of words one word apart (`~`-prefixed): "without any confirmation" and
    "no human operator" share "~without confirmation" / "~no operator" with their shorter
    phrasings, so the decisive element survives a filler word."""
    tokens = tokens_of(text)
    counts: Counter[str] = Counter(t for t in tokens if t not in STOPWORDS and not t.isdigit())
    for n in range(2, max_n + 1):
        counts.update(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if skip_grams:
        counts.update(f"{SKIP_PREFIX}{a} {b}" for a, b in zip(tokens, tokens[2:], strict=False))
    if char_ns:
        for word in dict.fromkeys(t for t in tokens if len(t) >= char_min_word):  # ordered: training must be reproducible
            counts.update(char_grams(word, char_ns))
    return counts


@lru_cache(maxsize=65536)
def char_grams(word: str, char_ns: tuple[int, ...]) -> tuple[str, ...]:
    # Words repeat across requests; caching their n-grams halves feature extraction time.
    padded = f" {word} "
    return tuple("#" + padded[i : i + n] for n in char_ns for i in range(len(padded) - n + 1))


def word_columns(vocabulary: Mapping[str, int], char_ns: tuple[int, ...], word: str) -> tuple[int | None, tuple[int, ...]]:
    """A word's unigram column (None for stop words, numbers and words outside `vocabulary`) and
    the columns of its character n-grams that are in it: what `terms` counts for one word."""
    get = vocabulary.get
    uni = None if (word in STOPWORDS or word.isdigit()) else get(word)
    grams = char_grams(word, char_ns) if char_ns and len(word) >= CHAR_MIN_WORD else ()
    return uni, tuple(c for c in map(get, grams) if c is not None)


def sublinear_tf(count: int) -> float:
    return 1.0 + math.log(count)
