"""The console's administration pages: tenants with their screening results and the restricted-
entity lists loaded, and the operators who may authorize lethal calls. Admins activate a tenant
screening held for review, revoke a tenant, or revoke an operator; each with a reason, each
recorded (operator revocations also as the Gate's own `operator_revoked` record). Registering an
operator stays on the command line (`redline operators add`), next to the key file.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from redline.console.accounts import Role
from redline.console.app import PREFIX, BadRequestError, Caller, ForbiddenError, Shell, field
from redline.console.views import NOTES, iso
from redline.gate import GateError, GateStore
from redline.gate.gate import record_operator_change
from redline.ledger import Ledger
from redline.screen.store import ListStore
from redline.store import StoreError
from redline.tenants import TenantError, TenantStore

ADMINS: tuple[Role, ...] = ("admin",)
NOTES.update(
    {
        "activated": "Tenant activated.",
        "revoked": "Revoked.",
        "operator_revoked": "Operator revoked: their signatures no longer release anything.",
    }
)


class AdminViews:
    def __init__(
        self, shell: Shell, ledger: Ledger, tenants: TenantStore | None, lists: ListStore | None, gate_store: GateStore | None
    ) -> None:
        self.shell = shell
        self.ledger = ledger
        self.tenants = tenants
        self.lists = lists
        self.gate_store = gate_store

    def routes(self) -> list[Route]:
        s = self.shell
        return [
            Route("/tenants", s.page(self.tenants_page, ("auditor", "admin")), methods=["GET"]),
            Route("/tenants/{name}/{action}", s.page(self.tenant_action, ("auditor", "admin"), ADMINS), methods=["POST"]),
            Route("/operators", s.page(self.operators, ("approver", "auditor", "admin")), methods=["GET"]),
            Route("/operators/{operator}/revoke", s.page(self.revoke_operator, ("approver", "auditor", "admin"), ADMINS), methods=["POST"]),
        ]

    async def tenants_page(self, request: Request, caller: Caller) -> Response:
        def load() -> tuple[list[Any], list[Any]]:
            tenants = [t for t in (self.tenants.list() if self.tenants is not None else []) if caller.user.sees(t.name)]
            versions = self.lists.versions() if self.lists is not None else []
            return tenants, versions

        try:
            tenants, versions = await asyncio.to_thread(load)
        except StoreError as e:
            raise BadRequestError(f"the tenant store cannot be read: {e}") from None
        return await self.shell.render(
            request,
            "tenants.html",
            caller,
            tenants=tenants,
            versions=versions,
            iso=iso,
            can_manage=caller.user.role == "admin",
            note=NOTES.get(request.query_params.get("ok", ""), ""),
        )

    async def tenant_action(self, request: Request, caller: Caller) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        reason = _reason(request)
        if self.tenants is None or action not in ("activate", "revoke"):
            raise BadRequestError("no such action")
        if not caller.user.sees(name):
            raise ForbiddenError("that tenant is not yours to manage")
        store = self.tenants
        try:
            tenant = await asyncio.to_thread(store.activate if action == "activate" else store.revoke, name)
        except (TenantError, StoreError) as e:
            raise BadRequestError(str(e)) from None
        await self.shell.audit.record(f"tenant_{action}d", caller.user.name, caller.user.role, tenant.name, reason=reason)
        return self.shell.headers(RedirectResponse(f"{PREFIX}/tenants?ok={action}d", 303))

    async def operators(self, request: Request, caller: Caller) -> Response:
        try:
            ops = await asyncio.to_thread(self.gate_store.operators) if self.gate_store is not None else []
        except GateError as e:
            raise BadRequestError(str(e)) from None
        return await self.shell.render(
            request,
            "operators.html",
            caller,
            operators=ops,
            iso=iso,
            available=self.gate_store is not None,
            can_manage=caller.user.role == "admin" and caller.user.tenant is None,
            note=NOTES.get(request.query_params.get("ok", ""), ""),
        )

    async def revoke_operator(self, request: Request, caller: Caller) -> Response:
        operator = request.path_params["operator"]
        reason = _reason(request)
        if caller.user.tenant is not None:
            raise ForbiddenError("operators serve every tenant: only the provider's admins (not bound to a tenant) revoke them")
        if self.gate_store is None:
            raise BadRequestError("the gate is not available")
        store = self.gate_store
        try:
            if not await asyncio.to_thread(store.revoke_operator, operator):
                raise BadRequestError(f"no active operator {operator!r}")
            await asyncio.to_thread(record_operator_change, self.ledger, "operator_revoked", operator)
        except GateError as e:
            raise BadRequestError(str(e)) from None
        await self.shell.audit.record("operator_revoked", caller.user.name, caller.user.role, None, operator=operator, reason=reason)
        return self.shell.headers(RedirectResponse(f"{PREFIX}/operators?ok=operator_revoked", 303))


def _reason(request: Request) -> str:
    reason = (field(request.state.form, "reason") or "").strip()
    if not reason or len(reason) > 2000:
        raise BadRequestError("a reason (up to 2,000 characters) is required")
    return reason
