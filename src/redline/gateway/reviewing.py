"""The review queue behind the pipeline's review hook (`redline.review`): what the console's
reviewers and approvers answer, and what their answers mean to a client's retry.

- `held`: a request the gateway refused (block, or review when reviews are held) is queued under
  its ledger id, as the Redactor writes it (hashes and redacted excerpts, never raw text unless
  the policy's retention keeps it); a lethal call's challenge is queued for the approvers.
- `redeem`: a retry carrying `x-redline-review-id: ID` of a hold a reviewer *released* is let
  through once, for the same tenant and the same request (its keyed hash); anything else keeps
  its decision. An upheld hold stays refused.
- `authorizations`: authorizations approvers signed in the console for a lethal call are handed to
  the Gate with the client's own, so a retry of that call is released by the Gate's own path
  (verification and single-use nonce) exactly once.

A failure of the queue never lets a request through: a hold that cannot be queued is still
refused (and logged), a release that cannot be read is not redeemed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redline.decide import Decision
from redline.gate import args_sha256
from redline.ledger import Redactor
from redline.review import ReviewStore
from redline.tenants import Tenant

log = logging.getLogger("redline.gateway")

HEADER = "x-redline-review-id"
RELEASED_RULE = "review.released"


class ReviewHook:
    """`held`, `redeem` and `authorizations` over a `ReviewStore`.

    `consumed(nonce)` tells whether the Gate has used (or never issued) a challenge's nonce, so an
    authorization already spent is not handed over again (the next identical call gets a new
    challenge instead of a replay refusal)."""

    def __init__(self, store: ReviewStore, redactor: Redactor, hold_reviews: bool, consumed: Callable[[str], bool]) -> None:
        self.store = store
        self.redactor = redactor
        self.hold_reviews = hold_reviews
        self.consumed = consumed

    async def held(
        self, tenant: Tenant, request_id: str, stage: str, decision: Decision, ledger_id: int, request: Any, details: Mapping[str, Any]
    ) -> None:
        if stage not in ("input", "tool_calls") or decision.decision == "allow":
            return
        if decision.decision == "review" and not self.hold_reviews and not details.get("approval_required"):
            return  # a flagged review went through: nothing is held
        try:
            await asyncio.to_thread(self._held, tenant.name, request_id, stage, decision, ledger_id, request, details)
        except Exception as e:  # the request is refused anyway; the ledger has its record
            log.error("review queue: cannot queue hold %d: %s", ledger_id, type(e).__name__)

    def _held(
        self, tenant: str, request_id: str, stage: str, decision: Decision, ledger_id: int, request: Any, details: Mapping[str, Any]
    ) -> None:
        if stage == "tool_calls":
            for call in details.get("approval_required") or ():
                if isinstance(call.get("challenge"), dict):
                    self.store.add_challenge(call["challenge"], ledger_id)
            return
        record = self.redactor.decision(decision, request=request, tenant=tenant, request_id=request_id)
        body = dict(record.payload)
        if record.full_text is not None:
            body["full_text"] = record.full_text
        self.store.add_hold(ledger_id, tenant, stage, str(body["request_hash"]), body)

    async def redeem(self, tenant: Tenant, review_id: str, request: Any, decision: Decision) -> Decision:
        """The decision for a retry that names a hold: allowed once if a reviewer released it."""
        if decision.decision == "allow" or not review_id.isdigit() or len(review_id) > 18:
            return decision
        try:
            ok = await asyncio.to_thread(self.store.redeem, int(review_id), tenant.name, self.redactor.request_hash(request))
        except Exception as e:
            log.error("review queue: cannot redeem: %s", type(e).__name__)
            return decision
        if not ok:
            return decision
        evidence = [*decision.evidence, {"signal": "review", "source": "console", "text": f"released by a reviewer (review {review_id})"}]
        return dataclasses.replace(decision, decision="allow", red_line=None, rule=RELEASED_RULE, evidence=evidence)

    async def authorizations(self, tenant: Tenant, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Authorizations signed in the console for these (lethal) calls, not yet used."""
        if not calls:
            return []
        try:
            return await asyncio.to_thread(self._authorizations, tenant.name, calls)
        except Exception as e:  # without them the Gate holds the call again: fail closed
            log.error("review queue: cannot read signed authorizations: %s", type(e).__name__)
            return []

    def _authorizations(self, tenant: str, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        found: list[Any] = []
        for tool, arguments in calls:
            for pending in self.store.signed_for(tenant, tool, args_sha256(arguments)):
                if not self.consumed(pending.nonce):
                    found.extend(pending.authorizations)
        return found
