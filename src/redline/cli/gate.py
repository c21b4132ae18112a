"""`redline keygen`, `redline operators add|list|revoke`, `redline gate challenge|verify`,
`redline authorize`, `redline mcp-proxy`: operator keys and human authorizations for lethal tools."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import click
import orjson

from redline.cli.common import dumps, fail, policy_option
from redline.cli.ledger import db_option, key_option
from redline.gate import (
    GateError,
    GateStore,
    authorize,
    keygen,
    load_operator_key,
    load_operator_public_key,
    open_gate,
)
from redline.gate.gate import Gate, record_operator_change
from redline.gate.store import Operator
from redline.ledger import Ledger, LedgerError, load_or_create_signing_key
from redline.store import StoreError

EXIT_REJECTED = 1
EXIT_USAGE = 2


def _read_json(path: str, what: str) -> Any:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        fail(f"cannot read {what} {path}: {e.strerror or e}", EXIT_USAGE)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        fail(f"{what} {path} is not JSON: {e}", EXIT_USAGE)
    raise AssertionError("unreachable")


def _parse_args(text: str) -> dict[str, Any]:
    """`--args`: a JSON object, or @FILE holding one."""
    raw: Any = _read_json(text[1:], "arguments file") if text.startswith("@") else None
    if raw is None:
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            fail(f"--args is not JSON: {e}", EXIT_USAGE)
    if not isinstance(raw, dict):
        fail("--args must be a JSON object (the tool call's arguments)", EXIT_USAGE)
    return dict(raw)


def _gate(db: str, policy_path: str | None, key_path: str) -> Gate:
    try:
        return open_gate(db, policy_path, key_path)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
    raise AssertionError("unreachable")


def _record_change(db: str, key_path: str, event: Literal["operator_added", "operator_revoked"], op: Operator | str) -> None:
    """Record an operator-registry change in the ledger of the same database."""
    try:
        with Ledger.open(db, load_or_create_signing_key(key_path)) as ledger:
            record_operator_change(ledger, event, op)
    except (StoreError, LedgerError, GateError) as e:
        fail(f"the change is made but could not be recorded in the ledger: {e}", EXIT_USAGE)


def _store(db: str) -> GateStore:
    try:
        return GateStore.open(db)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
    raise AssertionError("unreachable")


def _when(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- keys and operators ----------------------------------------------------------------------------


@click.command("keygen")
@click.option("--operator", "operator", required=True, help="Operator id (also the file name).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for ID.key (mode 0600) and ID.pub.")
def keygen_command(operator: str, out_dir: str) -> None:
    """Create an operator's Ed25519 key pair. Keep ID.key on the operator's machine; register ID.pub."""
    try:
        pair = keygen(operator, out_dir)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    click.echo(dumps({"operator": operator, "key": str(pair.key_path), "public_key": str(pair.pub_path), "key_id": pair.key_id}))


@click.group("operators")
def operators() -> None:
    """Register, list and revoke the operators whose signatures authorize lethal tool calls."""


@operators.command("add")
@click.argument("operator")
@click.option("--public-key", "public_key", required=True, type=click.Path(dir_okay=False), help="The operator's ID.pub.")
@click.option("--role", required=True, help="Approver role, e.g. weapons_release_authority.")
@db_option
@key_option
def operators_add(operator: str, public_key: str, role: str, db: str, key_path: str) -> None:
    """Register OPERATOR's public key with a role."""
    from redline.gate.keys import check_operator_id

    try:
        check_operator_id(operator)
        key = load_operator_public_key(public_key)
        with _store(db) as store:
            op = store.add_operator(operator, role, key.raw(), key.id)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    _record_change(db, key_path, "operator_added", op)
    click.echo(dumps({"operator": op.id, "role": op.role, "key_id": op.key_id, "added_at": _when(op.added_at)}))


@operators.command("list")
@db_option
def operators_list(db: str) -> None:
    """One JSON line per operator (revoked ones included, with the time of revocation)."""
    try:
        with _store(db) as store:
            ops = store.operators()
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    for op in ops:
        click.echo(
            dumps(
                {
                    "operator": op.id,
                    "role": op.role,
                    "key_id": op.key_id,
                    "added_at": _when(op.added_at),
                    "revoked_at": _when(op.revoked_at),
                }
            )
        )


@operators.command("revoke")
@click.argument("operator")
@db_option
@key_option
def operators_revoke(operator: str, db: str, key_path: str) -> None:
    """Revoke OPERATOR: their signatures no longer authorize anything, including unused ones."""
    try:
        with _store(db) as store:
            done = store.revoke_operator(operator)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    if not done:
        fail(f"no active operator {operator!r}", EXIT_REJECTED)
    _record_change(db, key_path, "operator_revoked", operator)
    click.echo(dumps({"operator": operator, "revoked": True}))


# -- challenge / authorize / verify ----------------------------------------------------------------


@click.group("gate")
def gate() -> None:
    """Issue challenges for lethal tool calls and verify authorizations (effector side)."""


@gate.command("challenge")
@click.option("--tenant", required=True)
@click.option("--tool", required=True, help="Tool name.")
@click.option("--args", "args_json", required=True, help="The call's arguments: a JSON object, or @FILE.")
@db_option
@policy_option
@key_option
def gate_challenge(tenant: str, tool: str, args_json: str, db: str, policy_path: str | None, key_path: str) -> None:
    """Print a challenge (JSON) for a lethal call, for an operator to sign with `redline authorize`."""
    arguments = _parse_args(args_json)
    g = _gate(db, policy_path, key_path)
    try:
        ch = g.challenge(tenant, tool, arguments)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    click.echo(dumps(ch))


@click.command("authorize")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False), help="The operator's private key (ID.key).")
@click.option("--challenge", "challenge_path", required=True, help="Challenge file ('-' for stdin).")
@click.option("--operator", default=None, help="Operator id (default: the key file's name without .key).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation on a terminal.")
def authorize_command(key_path: str, challenge_path: str, operator: str | None, yes: bool) -> None:
    """Sign a challenge as a human operator and print the authorization (JSON). Runs on the
    operator's machine: the private key never leaves this process."""
    from redline.gate.keys import check_operator_id

    challenge = _read_json(challenge_path, "challenge")
    try:
        op = check_operator_id(operator or Path(key_path).name.removesuffix(".key"))
        key = load_operator_key(key_path)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    if isinstance(challenge, dict):
        summary = (
            f"authorize {challenge.get('effect')} call {challenge.get('tool')!r} for tenant {challenge.get('tenant')!r}\n"
            f"  target: {dumps(challenge.get('target'))}\n  arguments: {dumps(challenge.get('arguments'))}\n"
            f"  expires: {_when(challenge.get('expires_at')) if isinstance(challenge.get('expires_at'), int) else '?'}"
        )
        click.echo(summary, err=True)
        if sys.stdin.isatty() and challenge_path != "-" and not yes and not click.confirm(f"sign as {op}?", err=True):
            fail("not signed", EXIT_REJECTED)
    try:
        auth = authorize(challenge, key, op)
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    click.echo(dumps(auth))


@gate.command("verify")
@click.option("--tenant", required=True)
@click.option("--tool", required=True, help="Tool name.")
@click.option("--args", "args_json", required=True, help="The call's arguments: a JSON object, or @FILE.")
@click.option("--authorization", "auth_paths", required=True, multiple=True, help="Authorization file; repeat for the two-person rule.")
@db_option
@policy_option
@key_option
def gate_verify(
    tenant: str, tool: str, args_json: str, auth_paths: tuple[str, ...], db: str, policy_path: str | None, key_path: str
) -> None:
    """Exit 0 only if the authorization releases this exact call now, consuming its nonce; otherwise
    exit 1 and say why."""
    arguments = _parse_args(args_json)
    auths: list[Any] = []
    for path in auth_paths:
        data = _read_json(path, "authorization")
        auths.extend(data if isinstance(data, list) else [data])
    g = _gate(db, policy_path, key_path)
    try:
        outcome = g.verify(tenant, tool, arguments, auths)
    except GateError as e:
        fail(f"rejected: {e}", EXIT_REJECTED)
        return
    click.echo(dumps({"ok": outcome.ok, "reason": outcome.reason, "operators": list(outcome.operators)}))
    if not outcome.ok:
        fail(f"rejected: {outcome.reason}", EXIT_REJECTED)


@gate.command("pending")
@db_option
def gate_pending(db: str) -> None:
    """The approval queue: one JSON line per issued challenge not yet used or expired."""
    import time

    try:
        with _store(db) as store:
            rows = store.pending(time.time())
    except GateError as e:
        fail(str(e), EXIT_USAGE)
        return
    for ch in rows:
        click.echo(
            dumps(
                {
                    "nonce": ch.nonce,
                    "tenant": ch.tenant,
                    "tool": ch.tool,
                    "issued_at": _when(ch.issued_at),
                    "expires_at": _when(ch.expires_at),
                }
            )
        )


# -- MCP proxy -------------------------------------------------------------------------------------


@click.command("mcp-proxy", context_settings={"ignore_unknown_options": True})
@click.option("--tenant", default="default", show_default=True, help="Tenant the agent acts for (bound into challenges).")
@db_option
@policy_option
@key_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def mcp_proxy(tenant: str, db: str, policy_path: str | None, key_path: str, command: tuple[str, ...]) -> None:
    """Serve an agent on stdio in front of the MCP server `-- COMMAND ARGS...` (launched as a child):
    tools are listed through with their effect class, non-lethal calls pass, lethal calls run only
    with a valid authorization in the call's `_meta["redline/authorization"]`."""
    from redline.gate.mcp_proxy import run_proxy

    g = _gate(db, policy_path, key_path)
    try:
        run_proxy(g, tenant, list(command))
    except OSError as e:
        fail(f"cannot start the MCP server {command[0]!r}: {e.strerror or e}", EXIT_USAGE)


COMMANDS = (keygen_command, operators, gate, authorize_command, mcp_proxy)
