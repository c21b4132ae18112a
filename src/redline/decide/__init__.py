"""Decisions: combine classifier signals and scores with the policy's rules into allow / review / block.

Owns `Decision` and rule evaluation. Must not classify text, store anything or speak HTTP.
"""

from redline.decide.decision import Decision
from redline.decide.rules import decide, decide_error

__all__ = ["Decision", "decide", "decide_error"]
