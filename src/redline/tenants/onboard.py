"""Onboarding: a tenant is screened before it exists, and again whenever a list changes
(POLICY.md section 6: parties tied to adversary militaries are refused).

A new tenant's name and declared owners go through `redline.screen` against the lists imported
into the same database: `refuse` stores the tenant as `refused` (kept for the record, its key
never works), `review` as `review` (no working key until a reviewer activates it), `clear` as
`active`. With no list loaded there is nothing to screen against, so creation is refused unless
the caller explicitly asks for an unscreened tenant, which is then marked so in its profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redline.policy import Policy
from redline.screen import ListStore, Screener, ScreenResult, parse_owners
from redline.store import DatabaseURL
from redline.tenants.store import Status, Tenant, TenantError, TenantStore

_STATUS: dict[str, Status] = {"refuse": "refused", "review": "review", "clear": "active"}


def tenant_screener(db: str | DatabaseURL, policy: Policy) -> Screener | None:
    """A screener over the latest lists imported into `db`; None when no list is loaded."""
    with ListStore(db) as lists:
        entries, versions = lists.current()
    return Screener(entries, policy.document.screening, versions) if entries else None


def screen_tenant(screener: Screener, name: str, profile: Mapping[str, Any]) -> ScreenResult:
    """Screen a tenant by its name and the owners declared in its profile."""
    return screener.screen(name, parse_owners(profile.get("owners"), where="owners"))


def screening_summary(result: ScreenResult) -> dict[str, Any]:
    """What the tenant's profile keeps of a screening: the decision, why, and which list versions."""
    return {"decision": result.decision, "reasons": list(result.reasons), "list_versions": dict(result.list_versions)}


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    key: str
    screening: ScreenResult | None  # None only for an explicitly unscreened tenant


def onboard(
    store: TenantStore,
    name: str,
    authorities: Sequence[str] = (),
    profile: Mapping[str, Any] | None = None,
    *,
    screener: Screener | None,
    unscreened: bool = False,
) -> Onboarded:
    """Screen, then create the tenant (its key authenticates only if screening cleared it)."""
    profile = dict(profile or {})
    store.check_new(name, authorities)  # a bad request is told so before anything is screened
    if screener is None:
        if not unscreened:
            raise TenantError(
                "no restricted-entity list is loaded, so the tenant cannot be screened: import one with "
                "`redline lists import FILE` (or create it explicitly unscreened)"
            )
        profile["screening"] = {"decision": "unscreened"}
        tenant, key = store.add(name, authorities, status="active", profile=profile)
        return Onboarded(tenant, key, None)
    result = screen_tenant(screener, name, profile)
    profile["screening"] = screening_summary(result)
    tenant, key = store.add(name, authorities, status=_STATUS[result.decision], profile=profile)
    return Onboarded(tenant, key, result)


@dataclass(frozen=True)
class StatusChange:
    tenant: str
    old: Status
    new: Status
    result: ScreenResult


def rescreen_tenants(store: TenantStore, screener: Screener) -> tuple[int, list[StatusChange]]:
    """Screen every active or under-review tenant again (after a list import). A tenant the new
    list refuses is refused at once; one it sends to review stops authenticating until a reviewer
    activates it. A clear result never re-activates a tenant: that stays a human decision.
    Returns how many tenants were screened, and the changes."""
    changes: list[StatusChange] = []
    screened = [t for t in store.list() if t.status in ("active", "review")]
    for tenant in screened:
        result = screen_tenant(screener, tenant.name, tenant.profile)
        new = _STATUS[result.decision]
        if new == "active" or new == tenant.status:
            continue
        store.set_status(tenant.name, new, screening=screening_summary(result))
        changes.append(StatusChange(tenant.name, tenant.status, new, result))
    return len(screened), changes
