"""`redline tenants add|list|revoke`: who may call the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import orjson

from redline.abuse import CyberScope, ScopeError
from redline.cli.common import EXIT_POLICY, dumps, fail, policy_option
from redline.cli.ledger import db_option
from redline.policy import PolicyError, load_policy
from redline.screen import OwnershipError, ScreenError
from redline.store import StoreError
from redline.tenants import Tenant, TenantError, TenantStore, onboard, tenant_screener

EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_REVIEW = 4


def open_store(db: str, policy_path: str | None = None) -> TenantStore:
    """The tenant store at `db`, checking authorities against the policy's list; clean exits on errors."""
    try:
        authorities = list(load_policy(policy_path).document.authorities)
        return TenantStore.open(db, authorities)
    except PolicyError as e:
        fail(str(e), EXIT_POLICY)
    except StoreError as e:
        fail(str(e), EXIT_USAGE)
    raise AssertionError("unreachable")


@click.group("tenants")
def tenants() -> None:
    """Manage gateway tenants: each has an API key (stored only as a hash) and authorities."""


def _owners(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as e:
        fail(f"--owners is not JSON: {e}", EXIT_USAGE)
    return None


@tenants.command("add")
@click.argument("name")
@db_option
@click.option("--authority", "authorities", multiple=True, help="An authority from the policy's list; repeatable.")
@click.option("--owners", default=None, help='Declared owners as JSON: [{"name": ..., "percent": ..., "country"?: ..., "owners"?: [...]}].')
@click.option(
    "--cyber-scope",
    "cyber_scope",
    multiple=True,
    help="An authorized cyber target range (CIDR) or domain pattern (*.example.com); repeatable. Activity "
    "against targets outside the scope is what the intrusion detector alerts on.",
)
@click.option("--unscreened", is_flag=True, help="Create the tenant even though no restricted-entity list is loaded (marked unscreened).")
@policy_option
def add(
    name: str,
    db: str,
    authorities: tuple[str, ...],
    owners: str | None,
    cyber_scope: tuple[str, ...],
    unscreened: bool,
    policy_path: str | None,
) -> None:
    """Screen tenant NAME (and its declared owners) against the restricted-entity lists imported into
    the same database, then create it. A cleared tenant gets an API key, printed once (only its hash
    is stored); a refused one is recorded without a working key (exit 3); one sent to review gets a
    key that works only after `redline tenants activate NAME` (exit 4)."""
    profile: dict[str, Any] = {"owners": _owners(owners)} if owners is not None else {}
    if cyber_scope:
        try:
            CyberScope(list(cyber_scope))
        except ScopeError as e:
            fail(f"--cyber-scope: {e}", EXIT_USAGE)
        profile["cyber_scope"] = list(cyber_scope)
    with open_store(db, policy_path) as store:
        try:
            screener = tenant_screener(db, load_policy(policy_path))
            done = onboard(store, name, authorities, profile, screener=screener, unscreened=unscreened)
        except (TenantError, StoreError, OwnershipError, ScreenError) as e:
            fail(str(e), EXIT_USAGE)
            return
    tenant, result = done.tenant, done.screening
    if result is not None:
        click.echo(dumps({"screening": result.to_dict()}), err=True)
    else:
        click.echo("warning: no restricted-entity list loaded; the tenant was NOT screened", err=True)
    click.echo(f"tenant {tenant.name} created ({tenant.status}); authorities: {', '.join(tenant.authorities) or 'none'}", err=True)
    if tenant.status == "refused":
        fail(f"{tenant.name} is refused by screening: no key was issued", EXIT_REFUSED)
    click.echo("its API key (shown only now; store it safely):", err=True)
    click.echo(done.key)
    if tenant.status == "review":
        fail(f"{tenant.name} needs a reviewer: the key works after `redline tenants activate {tenant.name}`", EXIT_REVIEW)


@tenants.command("activate")
@click.argument("name")
@db_option
def activate(name: str, db: str) -> None:
    """A reviewer's decision: let tenant NAME (held for review by screening) use its key."""
    _change_status(db, name, TenantStore.activate, "activated")


@tenants.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tenant.")
def list_command(db: str, as_json: bool) -> None:
    """List tenants (never their keys)."""
    with open_store(db) as store:
        try:
            rows = store.list()
        except StoreError as e:
            fail(str(e), EXIT_USAGE)
            return
    for t in rows:
        click.echo(dumps(t.to_dict()) if as_json else f"{t.name}\t{t.status}\t{','.join(t.authorities) or '-'}")


@tenants.command("revoke")
@click.argument("name")
@db_option
def revoke(name: str, db: str) -> None:
    """Revoke tenant NAME: its key stops working (within the gateway's few-second cache)."""
    _change_status(db, name, TenantStore.revoke, "revoked")


def _change_status(db: str, name: str, change: Callable[[TenantStore, str], Tenant], done: str) -> None:
    with open_store(db) as store:
        try:
            tenant = change(store, name)
        except (TenantError, StoreError) as e:
            fail(str(e), EXIT_USAGE)
            return
    click.echo(f"tenant {tenant.name} {done}")
