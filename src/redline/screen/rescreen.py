"""Re-screen known entities after a list update and report whose decision changed."""

from __future__ import annotations

from collections.abc import Iterable

from redline.screen.model import Change, Owner
from redline.screen.screener import Screener
from redline.screen.store import ListStore


def rescreen(screener: Screener, store: ListStore, entities: Iterable[tuple[str, str, list[Owner] | None]]) -> list[Change]:
    """Screen every `(id, name, owners)` again, record the new decisions, and return the changes
    (an entity screened for the first time counts as a change from `None`)."""
    changes: list[Change] = []
    for subject_id, name, owners in entities:
        result = screener.screen(name, owners)
        old = store.last_decision(subject_id)
        if old != result.decision:
            changes.append(Change(subject_id, old, result.decision, result))
        store.record_decision(subject_id, result.decision, result.list_versions)
    return changes
