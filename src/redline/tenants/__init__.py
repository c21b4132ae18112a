"""Tenants: who may call the gateway — name, hashed API key, authorities, status, profile.

Owns the `tenants` table (SQLite and PostgreSQL), key generation and constant-time key checks,
and onboarding (where screening will plug in). Must not decide, speak HTTP or write the ledger:
the gateway asks `TenantStore.authenticate(key)` and gets a `Tenant` or None.
"""

from redline.tenants.onboard import onboard, screen_new_tenant
from redline.tenants.store import Status, Tenant, TenantError, TenantStore, hash_key, new_key

__all__ = ["Status", "Tenant", "TenantError", "TenantStore", "hash_key", "new_key", "onboard", "screen_new_tenant"]
