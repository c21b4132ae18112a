"""`redline users add|list|disable`: the console's local accounts (reviewer, approver, auditor, admin)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from redline.cli.common import dumps, fail
from redline.cli.ledger import db_option, key_option
from redline.console import ROLES, AccountError, User, UserStore
from redline.console.sessions import SessionStore
from redline.ledger import Ledger, LedgerError, Record, load_or_create_signing_key
from redline.store import StoreError

EXIT_USAGE = 2


def _store(db: str) -> UserStore:
    try:
        return UserStore(db)
    except StoreError as e:
        fail(str(e), EXIT_USAGE)
    raise AssertionError("unreachable")


def _record(db: str, key_path: str, event: str, user: User) -> None:
    """Account changes are recorded in the ledger of the same database, like operator changes."""
    try:
        with Ledger.open(db, load_or_create_signing_key(key_path)) as ledger:
            payload = {"event": event, "account": user.name, "role": user.role, "tenant": user.tenant, "operator": user.operator}
            ledger.append(Record(kind="console", payload={k: v for k, v in payload.items() if v is not None}, tenant=user.tenant))
    except (StoreError, LedgerError) as e:
        fail(f"the change is made but could not be recorded in the ledger: {e}", EXIT_USAGE)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask for the password on: pipe it with --password-stdin", EXIT_USAGE)
    first = click.prompt("Password", hide_input=True)
    if click.prompt("Repeat", hide_input=True) != first:
        fail("the passwords do not match", EXIT_USAGE)
    return str(first)


@click.group("users")
def users() -> None:
    """Console accounts: passwords hashed with scrypt, roles reviewer / approver / auditor / admin."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do in the console.")
@click.option("--tenant", default=None, help="Bind the account to one tenant (it sees only that tenant's data). Default: all tenants.")
@click.option("--operator", default=None, help="Approvers: the gate operator id whose registered key they sign with.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of prompting.")
@db_option
@key_option
def add(name: str, role: str, tenant: str | None, operator: str | None, password_stdin: bool, db: str, key_path: str) -> None:
    """Create console account NAME with ROLE. The password is asked for twice (or read from stdin)."""
    if operator is not None and role != "approver":
        fail("--operator is for approvers (the key they sign lethal-call authorizations with)", EXIT_USAGE)
    password = _password(password_stdin)
    with _store(db) as store:
        try:
            user = store.add(name, role, password, tenant=tenant, operator=operator)
        except (AccountError, StoreError) as e:
            fail(str(e), EXIT_USAGE)
            return
    _record(db, key_path, "account_added", user)
    scope = f"tenant {tenant}" if tenant else "all tenants"
    click.echo(f"added {user.name} ({user.role}, {scope}{f', operator {operator}' if operator else ''})")


@users.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_users(db: str, as_json: bool) -> None:
    """List console accounts (never their password hashes)."""
    with _store(db) as store:
        found = store.list()
    for u in found:
        if as_json:
            click.echo(dumps({"name": u.name, "role": u.role, "tenant": u.tenant, "operator": u.operator, "active": u.active}))
        else:
            since = datetime.fromtimestamp(u.created_at, UTC).strftime("%Y-%m-%d")
            state = "active" if u.active else "disabled"
            click.echo(f"{u.name}\t{u.role}\t{u.tenant or '*'}\t{u.operator or '-'}\t{state}\t{since}")


@users.command("disable")
@click.argument("name")
@db_option
@key_option
def disable(name: str, db: str, key_path: str) -> None:
    """Disable account NAME and end its sessions (the account is kept for the record)."""
    with _store(db) as store:
        try:
            user = store.disable(name)
            sessions = SessionStore(db)
            sessions.end_user(name)
            sessions.close()
        except (AccountError, StoreError) as e:
            fail(str(e), EXIT_USAGE)
            return
    _record(db, key_path, "account_disabled", user)
    click.echo(f"disabled {name}")
