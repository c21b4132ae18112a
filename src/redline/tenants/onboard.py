"""Onboarding: create a tenant, screened first (POLICY.md section 6: restricted parties are refused).

`screen_new_tenant` is THE place where the Screen capability plugs in: today it admits everyone
(no screening exists yet); once `redline.screen` lands it returns "refused" for a listed or
majority-owned party, and `onboard` stores the tenant with that status and no working key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redline.tenants.store import Status, Tenant, TenantStore


def screen_new_tenant(name: str, profile: Mapping[str, Any]) -> Status:
    """SCREENING HOOK: the status a new tenant starts with. No screening is wired yet: "active"."""
    return "active"


def onboard(store: TenantStore, name: str, authorities: Sequence[str] = (), profile: Mapping[str, Any] | None = None) -> tuple[Tenant, str]:
    """Screen, then create the tenant; returns it and its new key (which authenticates only if active)."""
    profile = dict(profile or {})
    return store.add(name, authorities, status=screen_new_tenant(name, profile), profile=profile)
