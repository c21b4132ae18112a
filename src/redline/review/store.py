"""`ReviewStore`: held requests and pending lethal-call challenges on SQLite or PostgreSQL.

A held request is keyed by its ledger id (the `review_id` of the 403). A reviewer *releases* it
(the client's retry carrying that id is let through once, for the same tenant and the same
request hash) or *upholds* it (it stays refused). A release is redeemed by one conditional UPDATE
(`... WHERE redeemed_at IS NULL`), so two racing retries cannot both pass.

A pending challenge is the Gate's challenge as the client received it (the approver must see the
arguments they sign), with the authorizations approvers signed for it in the console.
"""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from redline.store.sql import ConflictError, TableStore

HoldStatus = Literal["pending", "released", "upheld"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS review_holds (
        id {bigint} PRIMARY KEY,
        tenant TEXT NOT NULL,
        stage TEXT NOT NULL,
        created_at {real} NOT NULL,
        request_hash TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'released', 'upheld')),
        reviewer TEXT,
        reason TEXT,
        decided_at {real},
        redeemed_at {real}
    )""",
    "CREATE INDEX IF NOT EXISTS review_holds_status ON review_holds (status, tenant)",
    """CREATE TABLE IF NOT EXISTS review_challenges (
        nonce TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        tool TEXT NOT NULL,
        args_sha256 TEXT NOT NULL,
        hold_id {bigint},
        created_at {real} NOT NULL,
        expires_at {real} NOT NULL,
        challenge TEXT NOT NULL,
        authorizations TEXT NOT NULL,
        signed_by TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS review_challenges_call ON review_challenges (tenant, tool, args_sha256)",
)
_HOLD = "SELECT id, tenant, stage, created_at, request_hash, body, status, reviewer, reason, decided_at, redeemed_at FROM review_holds"
_CHALLENGE = "SELECT nonce, tenant, tool, hold_id, created_at, expires_at, challenge, authorizations, signed_by FROM review_challenges"


class ReviewError(Exception):
    """A review action that cannot be done (unknown id, already decided, another tenant's row)."""


@dataclass(frozen=True)
class Hold:
    """One held request. `body` is the Redactor's decision payload (and `full_text` only when the
    policy's retention keeps it)."""

    id: int
    tenant: str
    stage: str
    created_at: float
    request_hash: str
    body: Mapping[str, Any]
    status: HoldStatus
    reviewer: str | None
    reason: str | None
    decided_at: float | None
    redeemed_at: float | None


@dataclass(frozen=True)
class PendingChallenge:
    """A lethal call's challenge and the authorizations signed for it so far."""

    nonce: str
    tenant: str
    tool: str
    hold_id: int | None
    created_at: float
    expires_at: float
    challenge: Mapping[str, Any]
    authorizations: tuple[Mapping[str, Any], ...]
    signed_by: tuple[str, ...]

    @property
    def approvals_needed(self) -> int:
        return int(self.challenge.get("approvals", 1))

    @property
    def signed(self) -> bool:
        return len(self.signed_by) >= self.approvals_needed


def _hold(row: Sequence[Any]) -> Hold:
    return Hold(int(row[0]), row[1], row[2], float(row[3]), row[4], orjson.loads(row[5]), row[6], row[7], row[8], row[9], row[10])


def _challenge(row: Sequence[Any]) -> PendingChallenge:
    signed = tuple(s for s in (row[8] or "").split(",") if s)
    hold_id = None if row[3] is None else int(row[3])
    return PendingChallenge(
        row[0], row[1], row[2], hold_id, float(row[4]), float(row[5]), orjson.loads(row[6]), tuple(orjson.loads(row[7])), signed
    )


class ReviewStore(TableStore):
    """The review queue of one database. Safe to share between threads."""

    WHAT = "review queue"
    SCHEMA = _SCHEMA

    # -- held requests ---------------------------------------------------------------------------

    def add_hold(self, hold_id: int, tenant: str, stage: str, request_hash: str, body: Mapping[str, Any], now: float | None = None) -> None:
        """Queue a held request under its ledger id (a second add of the same id is ignored)."""
        with contextlib.suppress(ConflictError):
            self.db.run(
                "INSERT INTO review_holds (id, tenant, stage, created_at, request_hash, body, status) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                (hold_id, tenant, stage, time.time() if now is None else now, request_hash, orjson.dumps(dict(body)).decode()),
            )

    def hold(self, hold_id: int) -> Hold | None:
        row = self.db.run(f"{_HOLD} WHERE id = ?", (hold_id,)).one()
        return None if row is None else _hold(row)

    def holds(self, tenant: str | None = None, status: HoldStatus | None = None, limit: int = 200) -> list[Hold]:
        """Newest first; `tenant` None means every tenant's."""
        where, params = _where(tenant=tenant, status=status)
        rows = self.db.run(f"{_HOLD}{where} ORDER BY id DESC LIMIT {int(limit)}", params).rows
        return [_hold(r) for r in rows]

    def decide(self, hold_id: int, action: Literal["release", "uphold"], reviewer: str, reason: str, tenant: str | None = None) -> Hold:
        """Release or uphold a pending hold (`tenant`: the reviewer's own, when they are bound to one)."""
        if not reason.strip():
            raise ReviewError("a reason is required")
        hold = self.hold(hold_id)
        if hold is None or (tenant is not None and hold.tenant != tenant):
            raise ReviewError(f"no held request {hold_id}")
        status: HoldStatus = "released" if action == "release" else "upheld"
        cur = self.db.run(
            "UPDATE review_holds SET status = ?, reviewer = ?, reason = ?, decided_at = ? WHERE id = ? AND status = 'pending'",
            (status, reviewer, reason.strip(), time.time(), hold_id),
        )
        if cur.rowcount != 1:
            raise ReviewError(f"held request {hold_id} was already decided ({hold.status})")
        out = self.hold(hold_id)
        assert out is not None
        return out

    def redeem(self, hold_id: int, tenant: str, request_hash: str, now: float | None = None) -> bool:
        """True exactly once for a released hold of this tenant whose request hash matches."""
        hold = self.hold(hold_id)
        if hold is None or hold.status != "released" or hold.redeemed_at is not None:
            return False
        same = hmac.compare_digest(hold.tenant.encode(), tenant.encode()) and hmac.compare_digest(
            hold.request_hash.encode(), request_hash.encode()
        )
        if not same:
            return False
        cur = self.db.run(
            "UPDATE review_holds SET redeemed_at = ? WHERE id = ? AND status = 'released' AND redeemed_at IS NULL",
            (time.time() if now is None else now, hold_id),
        )
        return cur.rowcount == 1

    # -- lethal-call challenges ------------------------------------------------------------------

    def add_challenge(self, challenge: Mapping[str, Any], hold_id: int | None, now: float | None = None) -> None:
        with contextlib.suppress(ConflictError):
            self.db.run(
                "INSERT INTO review_challenges (nonce, tenant, tool, args_sha256, hold_id, created_at, expires_at, challenge, authorizations) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                (
                    challenge["nonce"],
                    challenge["tenant"],
                    challenge["tool"],
                    challenge["args_sha256"],
                    hold_id,
                    time.time() if now is None else now,
                    float(challenge["expires_at"]),
                    orjson.dumps(dict(challenge)).decode(),
                ),
            )

    def challenge(self, nonce: str) -> PendingChallenge | None:
        row = self.db.run(f"{_CHALLENGE} WHERE nonce = ?", (nonce,)).one()
        return None if row is None else _challenge(row)

    def challenges(self, tenant: str | None = None, now: float | None = None, limit: int = 200) -> list[PendingChallenge]:
        """Unexpired challenges, newest first (signed or not: the Gate's nonce store says if used)."""
        where, params = _where(tenant=tenant)
        where += (" AND" if where else " WHERE") + " expires_at > ?"
        rows = self.db.run(
            f"{_CHALLENGE}{where} ORDER BY created_at DESC LIMIT {int(limit)}",
            (*params, time.time() if now is None else now),
        ).rows
        return [_challenge(r) for r in rows]

    def add_authorization(self, nonce: str, authorization: Mapping[str, Any]) -> PendingChallenge:
        """Keep an approver's (already verified) authorization; one per operator."""
        pending = self.challenge(nonce)
        if pending is None:
            raise ReviewError("no such challenge")
        operator = str(authorization["operator"])
        if operator in pending.signed_by:
            raise ReviewError(f"operator {operator} has already signed this challenge")
        auths = [*pending.authorizations, dict(authorization)]
        signed = ",".join((*pending.signed_by, operator))
        cur = self.db.run(
            "UPDATE review_challenges SET authorizations = ?, signed_by = ? WHERE nonce = ? AND authorizations = ?",
            (orjson.dumps(auths).decode(), signed, nonce, orjson.dumps(list(pending.authorizations)).decode()),
        )
        if cur.rowcount != 1:
            raise ReviewError("the challenge changed while signing: reload and try again")
        out = self.challenge(nonce)
        assert out is not None
        return out

    def signed_for(self, tenant: str, tool: str, args_sha256: str, now: float | None = None) -> list[PendingChallenge]:
        """Unexpired challenges of this exact call with all their signatures (for the gateway)."""
        rows = self.db.run(
            f"{_CHALLENGE} WHERE tenant = ? AND tool = ? AND args_sha256 = ? AND expires_at > ? AND signed_by IS NOT NULL",
            (tenant, tool, args_sha256, time.time() if now is None else now),
        ).rows
        return [c for c in map(_challenge, rows) if c.signed]


def _where(**conditions: Any) -> tuple[str, tuple[Any, ...]]:
    used = {k: v for k, v in conditions.items() if v is not None}
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{k} = ?" for k in used), tuple(used.values())
