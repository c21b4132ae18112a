"""Tenants: who may call the gateway — name, hashed API key, authorities, status, profile.

Owns the `tenants` table (SQLite and PostgreSQL), key generation and constant-time key checks,
and onboarding: screening a new tenant, and re-screening tenants when a list changes, through
`redline.screen`. Must not decide, speak HTTP or write the ledger:
the gateway asks `TenantStore.authenticate(key)` and gets a `Tenant` or None.
"""

from redline.tenants.onboard import Onboarded, StatusChange, onboard, rescreen_tenants, screen_tenant, tenant_screener
from redline.tenants.store import Status, Tenant, TenantError, TenantStore, hash_key, new_key

__all__ = [
    "Onboarded",
    "Status",
    "StatusChange",
    "Tenant",
    "TenantError",
    "TenantStore",
    "hash_key",
    "new_key",
    "onboard",
    "rescreen_tenants",
    "screen_tenant",
    "tenant_screener",
]
