"""`redline lists import FILE... | show`: restricted-entity lists in the database, versioned."""

from __future__ import annotations

from typing import Any

import click

from redline.cli.common import EXIT_INPUT, EXIT_POLICY, dumps, fail, jsonl_items, open_input
from redline.cli.ledger import db_option
from redline.policy import PolicyError, load_policy
from redline.policy.schema import Screening
from redline.screen import ListFormatError, ListStore, OwnershipError, Screener, ScreenError, parse_owners, read_lists, rescreen
from redline.store import StoreError
from redline.tenants import TenantError, TenantStore, rescreen_tenants


def screening_settings(policy_path: str | None) -> Screening:
    try:
        return load_policy(policy_path).document.screening
    except PolicyError as e:
        fail(str(e), EXIT_POLICY)
    raise AssertionError("unreachable")


def open_store(db: str) -> ListStore:
    try:
        return ListStore(db)
    except StoreError as e:
        fail(str(e), EXIT_INPUT)
    raise AssertionError("unreachable")


def open_screener(list_paths: tuple[str, ...], db: str, policy_path: str | None) -> Screener:
    """A screener over the given list files, or over the latest lists in the database."""
    settings = screening_settings(policy_path)
    if list_paths:
        try:
            parsed = read_lists(list(list_paths))
        except ListFormatError as e:
            fail(str(e), EXIT_INPUT)
        return Screener(parsed.entries, settings, {parsed.name: 0})
    with open_store(db) as store:
        try:
            entries, versions = store.current()
        except StoreError as e:
            fail(str(e), EXIT_INPUT)
    if not entries:
        fail(f"no lists in {store.url}: run `redline lists import FILE` or pass --list FILE", EXIT_INPUT)
    return Screener(entries, settings, versions)


@click.group("lists")
def lists() -> None:
    """Restricted-entity lists: import a new edition, show what is loaded."""


def _entities(path: str) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    with open_input(path) as fh:
        for n, obj in jsonl_items(fh):
            if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
                fail(f"{path}:{n}: expected {{id, name, owners?}}", EXIT_INPUT)
            assert isinstance(obj, dict)
            try:
                owners = parse_owners(obj.get("owners"), where=f"{path}:{n}: owners")
            except OwnershipError as e:
                fail(str(e), EXIT_INPUT)
            out.append((str(obj.get("id", n)), obj["name"], owners))
    return out


@lists.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("--name", "list_name", default=None, help="List name (default: the first file's name without its date).")
@click.option("--rescreen", "rescreen_path", default=None, help="JSON lines {id, name, owners?} of entities to re-screen after the import.")
@db_option
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), default=None, help="Policy file (screening settings).")
def import_command(files: tuple[str, ...], list_name: str | None, rescreen_path: str | None, db: str, policy_path: str | None) -> None:
    """Import FILES (§1260H-style CSV or FollowTheMoney JSON lines, merged) as the next version of a
    list. All or nothing: any malformed line aborts the import with every file:line problem."""
    try:
        parsed = read_lists(list(files), list_name)
    except ListFormatError as e:
        fail(str(e), EXIT_INPUT)
    entities = _entities(rescreen_path) if rescreen_path else []
    with open_store(db) as store:
        try:
            version, new = store.import_list(parsed)
        except StoreError as e:
            fail(f"{e} (nothing imported)", EXIT_INPUT)
        summary: dict[str, Any] = {**version.to_dict(), "new_version": new, "warnings": list(parsed.warnings)}
        click.echo(dumps({"imported": summary}))
        entries, versions = store.current()
        screener = Screener(entries, screening_settings(policy_path), versions)
        if entities:
            try:
                changes = rescreen(screener, store, entities)
            except ScreenError as e:
                fail(str(e), EXIT_INPUT)
            for ch in changes:
                click.echo(dumps({"change": {"id": ch.id, "old": ch.old, "new": ch.new, "result": ch.result.to_dict()}}))
    _rescreen_tenants(db, screener)


def _rescreen_tenants(db: str, screener: Screener) -> None:
    """Every tenant of the same database is screened against the new lists; changes are printed."""
    try:
        with TenantStore.open(db) as tenants:
            n, changes = rescreen_tenants(tenants, screener)
    except (StoreError, TenantError, OwnershipError, ScreenError) as e:
        fail(f"the list was imported, but re-screening tenants failed: {e}", EXIT_INPUT)
        return
    for ch in changes:
        click.echo(dumps({"tenant_change": {"tenant": ch.tenant, "old": ch.old, "new": ch.new, "result": ch.result.to_dict()}}))
    click.echo(f"re-screened {n} tenant(s): {len(changes)} changed", err=True)


@lists.command("show")
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def show(db: str, as_json: bool) -> None:
    """Every imported version of every list (the latest is what screening uses)."""
    with open_store(db) as store:
        versions = store.versions()
    if as_json:
        for v in versions:
            click.echo(dumps(v.to_dict()))
        return
    if not versions:
        click.echo("no lists imported")
        return
    latest: dict[str, int] = {}
    for v in versions:
        latest[v.list_name] = max(latest.get(v.list_name, 0), v.version)
    for v in versions:
        mark = "*" if latest[v.list_name] == v.version else " "
        click.echo(
            f"{mark} {v.list_name} v{v.version}  {v.entries} entries  {v.imported_at}  sha256:{v.sha256[:16]}  {', '.join(v.sources)}"
        )
