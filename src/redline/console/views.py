"""The console's pages and what their forms do. Each handler gets the logged-in `Caller` (the
guards in `redline.console.app` have checked the session, the role and the CSRF token) and shows
only rows of tenants that caller may see.

- review queue: held requests (decision, red line, rule, redacted evidence, tenant, time);
  release or uphold with a reason (reviewers);
- authorization requests: lethal calls waiting for a human, in plain language; approvers sign
  in the browser (WebCrypto Ed25519, their key file never leaves the browser) or paste the output
  of `redline authorize`; the Gate's verifier checks the signature now and releases the call,
  once, when the agent retries;
- alerts: the monitor's alerts per tenant, with a chart of distinct subjects and categories;
- ledger: size, last checkpoint, verify now, inclusion proof of one record;
- (tenants, screening results and operators are in `redline.console.admin`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from redline.console import chart
from redline.console.accounts import Role
from redline.console.app import ALL_ROLES, PREFIX, BadRequestError, Caller, ForbiddenError, Shell, field
from redline.gate import GateStore, ToolRegistry, Verifier
from redline.gate.authorization import AUTHORIZATION_TYPE, signed_message
from redline.ledger import Ledger, LedgerError
from redline.monitor import Monitor
from redline.monitor.store import MonitorStore
from redline.policy import Policy
from redline.review import Hold, PendingChallenge, ReviewError, ReviewStore
from redline.screen.store import ListStore
from redline.tenants import TenantStore

SIGNED_AT_SKEW_S = 600
REVIEWERS: tuple[Role, ...] = ("reviewer",)  # release or uphold held requests
APPROVERS: tuple[Role, ...] = ("approver",)  # sign lethal-call authorizations
NOTES = {
    "released": "Released. The client's retry with this review id is let through once.",
    "upheld": "Upheld. The request stays refused.",
    "signed": "Signature verified and recorded. The held call is released once, when the agent retries it.",
    "cleared": "Alert cleared. Its escalation ends; the rule fires again after a full window or if the activity doubles.",
}


def iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class ChallengeView:
    """One authorization request as the page shows it."""

    pending: PendingChallenge
    status: str  # pending | signed | released | expired
    message_b64: str  # what this approver's browser signs (empty: they cannot sign it)
    signed_at: int


class Views:
    def __init__(
        self,
        shell: Shell,
        policy: Policy,
        reviews: ReviewStore,
        ledger: Ledger,
        gate_store: GateStore | None,
        tenants: TenantStore | None,
        monitor_store: MonitorStore | None,
        monitor: Monitor | None = None,
        lists: ListStore | None = None,
    ) -> None:
        self.shell = shell
        self.policy = policy
        self.reviews = reviews
        self.ledger = ledger
        self.gate_store = gate_store
        self.registry = ToolRegistry.from_policy(policy)
        self.verifier = Verifier(gate_store, self.registry.challenge_seconds) if gate_store is not None else None
        self.tenants = tenants
        self.monitor_store = monitor_store
        self.monitor = monitor
        self.lists = lists

    def routes(self) -> list[Route]:
        s = self.shell
        s.nav = [
            (f"{PREFIX}/queue", "Review queue", ("reviewer", "auditor", "admin")),
            (f"{PREFIX}/approvals", "Authorizations", ("approver", "reviewer", "auditor", "admin")),
            (f"{PREFIX}/alerts", "Alerts", ("reviewer", "approver", "auditor", "admin")),
            (f"{PREFIX}/ledger", "Ledger", ("reviewer", "approver", "auditor", "admin")),
            (f"{PREFIX}/tenants", "Tenants", ("auditor", "admin")),
            (f"{PREFIX}/operators", "Operators", ("approver", "auditor", "admin")),
        ]
        return [
            Route("/", s.page(self.home), methods=["GET"]),
            Route("/queue", s.page(self.queue, ("reviewer", "auditor", "admin")), methods=["GET"]),
            Route("/queue/{hold_id:int}", s.page(self.decide, ("reviewer", "auditor", "admin"), REVIEWERS), methods=["POST"]),
            Route("/approvals", s.page(self.approvals, ("approver", "reviewer", "auditor", "admin")), methods=["GET"]),
            Route("/approvals/{nonce}", s.page(self.sign, ("approver", "reviewer", "auditor", "admin"), APPROVERS), methods=["POST"]),
            Route("/alerts", s.page(self.alerts), methods=["GET"]),
            Route("/ledger", s.page(self.ledger_page), methods=["GET"]),
            Route("/ledger/verify", s.page(self.verify, post_roles=("auditor", "admin")), methods=["POST"]),
            Route("/ledger/proof", s.page(self.proof, ("reviewer", "auditor", "admin")), methods=["GET"]),
            Route("/alerts/{alert_id}/clear", s.page(self.clear_alert, ALL_ROLES, REVIEWERS), methods=["POST"]),
        ]

    async def home(self, request: Request, caller: Caller) -> Response:
        first = next((path for path, _label, roles in self.shell.nav if caller.user.role in roles), f"{PREFIX}/alerts")
        return self.shell.headers(RedirectResponse(first, 303))

    # -- review queue ----------------------------------------------------------------------------

    async def queue(self, request: Request, caller: Caller, error: str = "", status_code: int = 200) -> Response:
        show = request.query_params.get("status", "pending")
        status = show if show in ("pending", "released", "upheld") else None
        holds = await asyncio.to_thread(self.reviews.holds, caller.user.tenant, status)  # type: ignore[arg-type]
        return await self.shell.render(
            request,
            "queue.html",
            caller,
            status_code,
            holds=[_hold_view(h) for h in holds],
            show=show if status else "all",
            note=NOTES.get(request.query_params.get("ok", ""), ""),
            error=error,
            can_decide=caller.user.role == "reviewer",
        )

    async def decide(self, request: Request, caller: Caller) -> Response:
        form = request.state.form
        action, reason = field(form, "action"), (field(form, "reason") or "").strip()
        hold_id = int(request.path_params["hold_id"])
        if action not in ("release", "uphold"):
            raise BadRequestError("choose Release or Uphold")
        if not reason:
            return await self.queue(request, caller, error=f"Review {hold_id}: a reason is required to {action}.", status_code=400)
        if len(reason) > 2000:
            raise BadRequestError("the reason is longer than 2,000 characters")
        try:
            hold = await asyncio.to_thread(self.reviews.decide, hold_id, action, caller.user.name, reason, caller.user.tenant)  # type: ignore[arg-type]
        except ReviewError as e:
            return await self.queue(request, caller, error=f"Review {hold_id}: {e}.", status_code=409)
        await self.shell.audit.record(
            f"review_{hold.status}",
            caller.user.name,
            caller.user.role,
            hold.tenant,
            review_id=hold.id,
            reason=reason,
            decision=hold.body.get("decision"),
            rule=hold.body.get("rule"),
            request_hash=hold.request_hash,
        )
        return self.shell.headers(RedirectResponse(f"{PREFIX}/queue?ok={hold.status}", 303))

    # -- lethal-call authorizations --------------------------------------------------------------

    def _status(self, pending: PendingChallenge, now: float) -> str:
        issued = self.gate_store.challenge(pending.nonce) if self.gate_store is not None else None
        if issued is not None and issued.consumed_at is not None:
            return "released"
        if now >= pending.expires_at:
            return "expired"
        return "signed" if pending.signed else "pending"

    def _view(self, pending: PendingChallenge, caller: Caller, now: float) -> ChallengeView:
        status = self._status(pending, now)
        message, signed_at = "", math.floor(now)
        operator = caller.user.operator
        op = self.gate_store.operator(operator) if self.gate_store is not None and operator else None
        if caller.user.role == "approver" and op is not None and status == "pending" and operator not in pending.signed_by:
            template = _authorization(pending.challenge, op.id, op.key_id, signed_at)
            message = base64.b64encode(signed_message(template)).decode()
        return ChallengeView(pending, status, message, signed_at)

    async def approvals(self, request: Request, caller: Caller, error: str = "", status_code: int = 200) -> Response:
        now = time.time()

        def load() -> list[ChallengeView]:
            return [self._view(p, caller, now) for p in self.reviews.challenges(caller.user.tenant, now)]

        views = await asyncio.to_thread(load)
        operator = self.gate_store.operator(caller.user.operator) if self.gate_store is not None and caller.user.operator else None
        return await self.shell.render(
            request,
            "approvals.html",
            caller,
            status_code,
            challenges=views,
            registry=self.registry,
            operator=operator,
            note=NOTES.get(request.query_params.get("ok", ""), ""),
            error=error,
            iso=iso,
            gate_available=self.verifier is not None,
        )

    async def sign(self, request: Request, caller: Caller) -> Response:
        form = request.state.form
        nonce = request.path_params["nonce"]
        if self.verifier is None or self.gate_store is None:
            raise BadRequestError("the gate is not available: nothing can be authorized")
        if not caller.user.operator:
            raise ForbiddenError("your account is not linked to a registered operator key")
        pending = await asyncio.to_thread(self.reviews.challenge, nonce)
        if pending is None or not caller.user.sees(pending.tenant):
            raise BadRequestError("no such authorization request")
        op = self.gate_store.operator(caller.user.operator)
        if op is None or not op.active:
            raise ForbiddenError(f"operator {caller.user.operator} is not registered or has been revoked")
        try:
            auth = _submitted(form, pending, op.id, op.key_id, time.time())
        except BadRequestError as e:
            return await self.approvals(request, caller, error=str(e), status_code=400)
        outcome = await asyncio.to_thread(self.verifier.preflight, [auth], time.time())
        if not outcome.ok:
            await self.shell.audit.record(
                "authorization_rejected",
                caller.user.name,
                caller.user.role,
                pending.tenant,
                operator=op.id,
                reason=outcome.reason,
                nonce_sha256=_sha(nonce),
                tool=pending.tool,
            )
            return await self.approvals(request, caller, error=f"The authorization was not accepted: {outcome.reason}.", status_code=400)
        try:
            await asyncio.to_thread(self.reviews.add_authorization, nonce, auth)
        except ReviewError as e:
            return await self.approvals(request, caller, error=f"{e}.", status_code=409)
        await self.shell.audit.record(
            "authorization_signed",
            caller.user.name,
            caller.user.role,
            pending.tenant,
            operator=op.id,
            key_id=op.key_id,
            nonce_sha256=_sha(nonce),
            tool=pending.tool,
            args_sha256=pending.challenge.get("args_sha256"),
            hold_id=pending.hold_id,
        )
        return self.shell.headers(RedirectResponse(f"{PREFIX}/approvals?ok=signed", 303))

    # -- alerts ----------------------------------------------------------------------------------

    async def alerts(self, request: Request, caller: Caller) -> Response:
        if self.monitor_store is None:
            return await self.shell.render(request, "alerts.html", caller, tenants=[], available=False)
        if self.monitor is not None:
            await asyncio.to_thread(self.monitor.flush)  # the chart reads the counters as of now
        store = self.monitor_store
        names = self.policy.document.monitor.categories if self.policy.document.monitor is not None else {}

        def load() -> list[dict[str, Any]]:
            alerts = store.alerts(caller.user.tenant)
            tenants = sorted({a.tenant for a in alerts} | set(self._tenant_names(caller)))
            out = []
            for tenant in tenants:
                mine = sorted((a for a in alerts if a.tenant == tenant), key=lambda a: a.raised_at, reverse=True)
                data = chart.series(store.load_tenant(tenant), list(names))
                if not mine and not data.points:
                    continue
                svg = chart.render(
                    data, [(a.raised_at, a.rule) for a in mine], f"Tenant {tenant}: distinct subjects and data categories over time"
                )
                out.append({"name": tenant, "alerts": mine, "chart": svg, "series": data})
            return out

        return await self.shell.render(
            request,
            "alerts.html",
            caller,
            tenants=await asyncio.to_thread(load),
            available=True,
            iso=iso,
            can_clear=caller.user.role == "reviewer" and self.monitor is not None,
            note=NOTES.get(request.query_params.get("ok", ""), ""),
        )

    async def clear_alert(self, request: Request, caller: Caller) -> Response:
        """A reviewer clears an alert (its escalation ends; the rule re-arms after a window)."""
        alert_id, reason = request.path_params["alert_id"], (field(request.state.form, "reason") or "").strip()
        if self.monitor is None or self.monitor_store is None:
            raise BadRequestError("the monitor is not running in this process: alerts cannot be cleared here")
        if not reason or len(reason) > 2000:
            raise BadRequestError("a reason (up to 2,000 characters) is required to clear an alert")
        alert = await asyncio.to_thread(self.monitor_store.alert, alert_id)
        if alert is None or not caller.user.sees(alert.tenant):
            raise BadRequestError("no such alert")
        try:
            cleared = await asyncio.to_thread(self.monitor.clear_alert, alert_id, caller.user.name)
        except KeyError:
            raise BadRequestError("the alert is already cleared") from None
        await self.shell.audit.record(
            "alert_cleared", caller.user.name, caller.user.role, cleared.tenant, alert_id=alert_id, rule=cleared.rule, reason=reason
        )
        return self.shell.headers(RedirectResponse(f"{PREFIX}/alerts?ok=cleared", 303))

    def _tenant_names(self, caller: Caller) -> list[str]:
        if caller.user.tenant is not None:
            return [caller.user.tenant]
        return [t.name for t in self.tenants.list()] if self.tenants is not None else []

    # -- ledger ----------------------------------------------------------------------------------

    async def ledger_page(self, request: Request, caller: Caller, **extra: Any) -> Response:
        size, checkpoint = await asyncio.to_thread(lambda: (self.ledger.size(), self.ledger.latest_checkpoint()))
        return await self.shell.render(
            request,
            "ledger.html",
            caller,
            extra.pop("status_code", 200),
            size=size,
            checkpoint=checkpoint,
            can_verify=caller.user.role in ("auditor", "admin"),
            can_prove=caller.user.role in ("reviewer", "auditor", "admin"),
            **extra,
        )

    async def verify(self, request: Request, caller: Caller) -> Response:
        report = await asyncio.to_thread(self.ledger.verify)
        await self.shell.audit.record(
            "ledger_verified",
            caller.user.name,
            caller.user.role,
            caller.user.tenant,
            ok=report.ok,
            records=report.size,
            checkpoints=report.checkpoints,
            problem=None if report.problem is None else str(report.problem),
        )
        return await self.ledger_page(request, caller, report=report)

    async def proof(self, request: Request, caller: Caller) -> Response:
        raw = request.query_params.get("seq", "")
        if not raw.isdigit() or len(raw) > 18:
            return await self.ledger_page(request, caller, proof_error="Give a record number (0 or more).", status_code=400)
        seq = int(raw)
        try:
            proof = await asyncio.to_thread(self.ledger.prove, seq)
        except LedgerError as e:
            return await self.ledger_page(request, caller, proof_error=str(e), status_code=404)
        body = orjson.loads(proof.body)
        if not caller.user.sees(body.get("tenant")) and caller.user.tenant is not None:
            return await self.ledger_page(request, caller, proof_error=f"Record {seq} is not one of your tenant's.", status_code=404)
        await self.shell.audit.record("ledger_proof", caller.user.name, caller.user.role, caller.user.tenant, record=seq)
        checkpoint_ok = proof.checkpoint is not None and proof.checkpoint.root == proof.root
        return await self.ledger_page(
            request,
            caller,
            proof=proof,
            proof_body=orjson.dumps(body, option=orjson.OPT_INDENT_2).decode(),
            proof_ok=proof.verify(),
            checkpoint_ok=checkpoint_ok,
        )


def _authorization(challenge: Any, operator: str, key_id: str, signed_at: int) -> dict[str, Any]:
    return {"type": AUTHORIZATION_TYPE, "challenge": dict(challenge), "operator": operator, "key_id": key_id, "signed_at": signed_at}


def _submitted(form: Any, pending: PendingChallenge, operator: str, key_id: str, now: float) -> dict[str, Any]:
    """The authorization an approver submitted: a browser signature over the server's template,
    or pasted `redline authorize` output (which must be theirs, for this challenge)."""
    mode = field(form, "mode")
    if mode == "webcrypto":
        signature, signed_at = field(form, "signature") or "", field(form, "signed_at") or ""
        if not signature:
            raise BadRequestError("no signature arrived (choose your key file and press Sign; the browser must support Ed25519)")
        if not signed_at.isdigit() or abs(int(signed_at) - now) > SIGNED_AT_SKEW_S:
            raise BadRequestError("the signing time is missing or too far from now: reload the page and sign again")
        return {**_authorization(pending.challenge, operator, key_id, int(signed_at)), "signature": signature}
    if mode == "paste":
        text = (field(form, "authorization") or "").strip()
        try:
            auth = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadRequestError("the pasted authorization is not JSON (paste the whole output of redline authorize)") from None
        if not isinstance(auth, dict):
            raise BadRequestError("the pasted authorization must be one JSON object")
        if auth.get("operator") != operator:
            raise BadRequestError(f"the pasted authorization is signed by {auth.get('operator')!r}, not by your operator id {operator!r}")
        challenge = auth.get("challenge")
        if not isinstance(challenge, dict) or challenge.get("nonce") != pending.nonce:
            raise BadRequestError("the pasted authorization signs a different challenge")
        return auth
    raise BadRequestError("choose how to sign")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hold_view(hold: Hold) -> dict[str, Any]:
    body = hold.body
    evidence: Sequence[Any] = body.get("evidence") or []
    return {
        "hold": hold,
        "time": iso(hold.created_at),
        "decided": iso(hold.decided_at),
        "redeemed": iso(hold.redeemed_at),
        "decision": body.get("decision"),
        "red_line": body.get("red_line"),
        "rule": body.get("rule"),
        "evidence": [e for e in evidence if isinstance(e, dict) and e.get("text")][:8],
        "signals": body.get("signals") or [],
        "full_text": body.get("full_text"),
    }
