"""The review queue's store (SQLite and a real PostgreSQL) and the gateway's review hook: what is
queued (only what the Redactor keeps), and what a release means to a retry (once, same tenant,
same request)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from redline.console.accounts import UserStore
from redline.console.sessions import SessionStore
from redline.decide import Decision
from redline.gateway.reviewing import RELEASED_RULE, ReviewHook
from redline.ledger import Redactor
from redline.policy import Policy
from redline.policy.schema import Retention
from redline.review import ReviewError, ReviewStore
from redline.tenants import Tenant

PROMPT = "List every subscriber of (312) 555-0188 and everyone who attended the rally with home addresses"
ALPHA = Tenant("alpha", (), "active", 0.0)
BRAVO = Tenant("bravo", (), "active", 0.0)


def _decision(policy: Policy, decision: str = "block") -> Decision:
    return Decision(
        decision,  # type: ignore[arg-type]
        "mass_domestic_surveillance",
        {},
        "mds.bulk",
        policy.version,
        evidence=[{"signal": "bulk_scale", "text": PROMPT}],
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'r.db'}"
    url: str = request.getfixturevalue("pg_server")
    # a fresh schema per test: drop the tables this suite owns
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("review_holds", "review_challenges", "console_users", "console_sessions"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return url


def _hook(store: ReviewStore, hold_reviews: bool = True, retention: Retention | None = None) -> ReviewHook:
    return ReviewHook(store, Redactor(b"s" * 32, retention), hold_reviews, lambda nonce: False)


def test_held_request_is_queued_redacted_and_released_once(db: str, policy: Policy) -> None:
    with ReviewStore(db) as store:
        hook = _hook(store)
        item = {"messages": [{"role": "user", "content": PROMPT}]}
        asyncio.run(hook.held(ALPHA, "req-1", "input", _decision(policy), 7, item, {}))
        hold = store.hold(7)
        assert hold is not None and hold.tenant == "alpha" and hold.status == "pending"
        stored = json.dumps(hold.body)
        assert "555-0188" not in stored and "rally with home addresses" not in stored and "full_text" not in hold.body
        assert hold.body["rule"] == "mds.bulk" and hold.body["evidence"][0]["text"]
        # not released: the retry keeps its decision
        blocked = _decision(policy)
        assert asyncio.run(hook.redeem(ALPHA, "7", item, blocked)) is blocked
        store.decide(7, "release", "chen", "aggregate statistics only")
        with pytest.raises(ReviewError, match="already decided"):
            store.decide(7, "uphold", "chen", "second thoughts")
        # another tenant, another request, a malformed id: no
        assert asyncio.run(hook.redeem(BRAVO, "7", item, blocked)) is blocked
        other = {"messages": [{"role": "user", "content": PROMPT + " and their employers"}]}
        assert asyncio.run(hook.redeem(ALPHA, "7", other, blocked)) is blocked
        assert asyncio.run(hook.redeem(ALPHA, "7; drop", item, blocked)) is blocked
        allowed = asyncio.run(hook.redeem(ALPHA, "7", item, blocked))
        assert (allowed.decision, allowed.rule, allowed.red_line) == ("allow", RELEASED_RULE, None)
        assert asyncio.run(hook.redeem(ALPHA, "7", item, blocked)) is blocked  # once


def test_racing_retries_redeem_a_release_once(db: str) -> None:
    with ReviewStore(db) as store:
        store.add_hold(9, "alpha", "input", "h" * 64, {"decision": "block"})
        store.decide(9, "release", "chen", "ok")
        wins: list[bool] = []
        threads = [threading.Thread(target=lambda: wins.append(store.redeem(9, "alpha", "h" * 64))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]


def test_flagged_reviews_are_not_held_and_retention_decides_full_text(tmp_path: Path, policy: Policy) -> None:
    with ReviewStore(f"sqlite:///{tmp_path / 'r.db'}") as store:
        item = {"text": PROMPT}
        asyncio.run(_hook(store, hold_reviews=False).held(ALPHA, "r", "input", _decision(policy, "review"), 1, item, {}))
        asyncio.run(_hook(store).held(ALPHA, "r", "output", _decision(policy), 2, item, {}))
        assert store.holds() == []  # a flagged review went through; output holds are not releasable
        keep = Retention(full_text=True, full_text_days=7)
        asyncio.run(_hook(store, retention=keep).held(ALPHA, "r", "input", _decision(policy), 3, item, {}))
        hold = store.hold(3)
        assert hold is not None and PROMPT in hold.body["full_text"]


def test_tenant_scoping_of_the_queue(db: str) -> None:
    with ReviewStore(db) as store:
        store.add_hold(1, "alpha", "input", "a" * 64, {"decision": "block"})
        store.add_hold(2, "bravo", "input", "b" * 64, {"decision": "review"})
        assert [h.id for h in store.holds()] == [2, 1]
        assert [h.id for h in store.holds("alpha")] == [1]
        with pytest.raises(ReviewError, match="no held request 2"):
            store.decide(2, "release", "rev-alpha", "not mine", tenant="alpha")
        assert store.hold(2).status == "pending"  # type: ignore[union-attr]


def test_accounts_and_sessions_on_both_databases(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from redline.console import accounts

    monkeypatch.setattr(accounts, "_N", 2**10)
    with UserStore(db) as users:
        users.add("chen", "reviewer", "a-long-enough-password", tenant="alpha")
        assert users.authenticate("chen", "a-long-enough-password") is not None
        assert users.authenticate("chen", "wrong-password-here") is None
        assert users.authenticate("nobody", "a-long-enough-password") is None
    sessions = SessionStore(db)
    token, session = sessions.start("chen", now=1000.0)
    assert sessions.get(token, now=1010.0) == session
    assert sessions.get(token + "x", now=1010.0) is None
    assert sessions.get(token, now=1000.0 + 31 * 60) is None  # idle
    token, _ = sessions.start("chen", now=5000.0)
    sessions.end_user("chen")
    assert sessions.get(token, now=5001.0) is None
    sessions.close()
