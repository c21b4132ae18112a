"""Screening: restricted-entity lists, name normalization, fuzzy matching, ownership, decisions.

Owns list import and the versioned list store (its own `screen_*` tables), the normalization and
transliteration of names, candidate generation and scoring with evidence, the aggregation of
declared ownership, and the refuse / review / clear decision for one entity. Must not touch
tenants, the gateway or the ledger: callers (tenant creation, list import) pass names and owners
in and store the results they get back.
"""

from redline.screen.errors import InvalidNameError, ListFormatError, OwnershipError, ScreenError
from redline.screen.lists import ParsedList, read_lists
from redline.screen.model import Change, ListEntry, Match, Owner, OwnershipFinding, ScreenResult
from redline.screen.ownership import parse_owners
from redline.screen.rescreen import rescreen
from redline.screen.screener import Screener
from redline.screen.store import ListStore, ListVersion

__all__ = [
    "Change",
    "InvalidNameError",
    "ListEntry",
    "ListFormatError",
    "ListStore",
    "ListVersion",
    "Match",
    "Owner",
    "OwnershipError",
    "OwnershipFinding",
    "ParsedList",
    "ScreenError",
    "ScreenResult",
    "Screener",
    "parse_owners",
    "read_lists",
    "rescreen",
]
