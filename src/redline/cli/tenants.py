"""`redline tenants add|list|revoke`: who may call the gateway."""

from __future__ import annotations

import click

from redline.cli.common import EXIT_POLICY, dumps, fail, policy_option
from redline.cli.ledger import db_option
from redline.policy import PolicyError, load_policy
from redline.store import StoreError
from redline.tenants import TenantError, TenantStore, onboard

EXIT_USAGE = 2


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


@tenants.command("add")
@click.argument("name")
@db_option
@click.option("--authority", "authorities", multiple=True, help="An authority from the policy's list; repeatable.")
@policy_option
def add(name: str, db: str, authorities: tuple[str, ...], policy_path: str | None) -> None:
    """Create tenant NAME and print its new API key (shown once; only its hash is stored)."""
    with open_store(db, policy_path) as store:
        try:
            tenant, key = onboard(store, name, authorities)
        except (TenantError, StoreError) as e:
            fail(str(e), EXIT_USAGE)
            return
    click.echo(f"tenant {tenant.name} created ({tenant.status}); authorities: {', '.join(tenant.authorities) or 'none'}", err=True)
    click.echo("its API key (shown only now; store it safely):", err=True)
    click.echo(key)


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
    with open_store(db) as store:
        try:
            tenant = store.revoke(name)
        except (TenantError, StoreError) as e:
            fail(str(e), EXIT_USAGE)
            return
    click.echo(f"tenant {tenant.name} revoked")
