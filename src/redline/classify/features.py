"""Features of one text: policy signals, their conjunctions, and lexical terms.

The signals carry POLICY.md's structure (activity x domestic x bulk; engagement x human removed),
which is what lets the model generalize beyond the wording of its training data; the lexical terms
carry the rest. Training and inference both call this module, so they cannot drift apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from redline.policy import Policy

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Conjunction:
    """A derived feature: every signal in `all`, at least one in `any` (if given), none in `none`."""

    name: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def holds(self, fired: set[str] | frozenset[str]) -> bool:
        return (
            all(s in fired for s in self.all)
            and (not self.any or any(s in fired for s in self.any))
            and not any(s in fired for s in self.none)
        )


# POLICY.md's conjunctions. `domestic_effective` is added by `fired_signals` from the home-country
# profile: domestic indicators, or no foreign indicator when unknown subjects count as domestic.
CONJUNCTIONS: tuple[Conjunction, ...] = (
    Conjunction("mds_core", all=("surveillance_activity", "domestic_effective", "bulk_scale")),
    Conjunction("mds_core_foreign", all=("surveillance_activity", "foreign_subject", "bulk_scale"), none=("domestic_subject",)),
    Conjunction("mds_trait", all=("surveillance_activity", "protected_trait")),
    Conjunction("mds_dissent", all=("surveillance_activity", "dissent_targeting")),
    Conjunction("mds_broker_identity", all=("broker_data",), any=("identity_resolution", "surveillance_activity")),
    Conjunction("mds_tool", all=("bulk_identification_tool",), any=("surveillance_activity", "identity_resolution")),
    Conjunction("mds_bulk_identity", all=("identity_resolution", "bulk_scale", "domestic_effective")),
    Conjunction("mds_particularized", all=("particularized_process", "single_subject")),
    Conjunction("mds_process_bulk", all=("particularized_process", "bulk_scale", "surveillance_activity")),
    Conjunction("aw_core", all=("engagement", "human_removed")),
    Conjunction("aw_chain", all=("target_selection", "engagement", "human_removed")),
    Conjunction("aw_weapon_removed", all=("weapon_system", "human_removed")),
    Conjunction("aw_kept", all=("engagement", "human_kept"), none=("human_removed",)),
    Conjunction("aw_kept_removed", all=("human_kept", "human_removed")),
    Conjunction("aw_materiel", all=("engagement", "materiel_defense")),
    Conjunction("aw_unarmed", all=("unarmed_autonomy",), none=("engagement",)),
    # Mitigations: talking about a practice is not doing it; consent, foreign subjects and
    # aggregate output change what a request is.
    Conjunction("discourse_only", all=("discourse",), none=("operational_ask",)),
    Conjunction("discourse_with_ask", all=("discourse", "operational_ask")),
    Conjunction("mds_core_ask", all=("surveillance_activity", "domestic_effective", "bulk_scale", "operational_ask")),
    Conjunction("mds_consented", all=("surveillance_activity", "consent")),
    Conjunction("mds_aggregate", all=("aggregate_output",), none=("identity_resolution",)),
    Conjunction("mds_foreign_only", all=("foreign_subject",), none=("domestic_subject", "protected_trait")),
    Conjunction("aw_core_ask", all=("engagement", "human_removed", "operational_ask")),
    Conjunction("aw_kept_only", all=("human_kept",), none=("human_removed",)),
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
    conj = {f"conj:{c.name}" for c in CONJUNCTIONS if c.holds(fired)}
    return [1.0 if (n in conj or (n.startswith("sig:") and n[4:] in fired)) else 0.0 for n in names]


def terms(text: str, max_n: int = 2, char_ns: tuple[int, ...] = (), char_min_word: int = 5) -> Counter[str]:
    """Word n-gram counts (1..max_n) of normalized text, plus character n-grams (`#`-prefixed)
    of longer words, which carry morphology ("surveil", "-ance") to unseen word forms."""
    tokens = _TOKEN.findall(text)
    counts: Counter[str] = Counter(tokens)
    for n in range(2, max_n + 1):
        counts.update(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if char_ns:
        for word in {t for t in tokens if len(t) >= char_min_word}:
            padded = f" {word} "
            for n in char_ns:
                counts.update("#" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return counts


def sublinear_tf(count: int) -> float:
    return 1.0 + math.log(count)
