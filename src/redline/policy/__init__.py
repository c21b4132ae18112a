"""The policy: load and validate the policy file, its version hash, signals, rules, authorities.

Owns the meaning of POLICY.md as data. Must not touch text processing, classification or I/O
beyond reading the policy file itself.
"""

from redline.policy.load import CompiledSignal, Policy, PolicyError, load_policy, parse_policy, version_of
from redline.policy.schema import RED_LINES, DecisionName, EffectClass, RedLineName

__all__ = [
    "RED_LINES",
    "CompiledSignal",
    "DecisionName",
    "EffectClass",
    "Policy",
    "PolicyError",
    "RedLineName",
    "load_policy",
    "parse_policy",
    "version_of",
]
