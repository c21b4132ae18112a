"""`redline ledger verify|prove|consistency|checkpoint|purge`: audit the tamper-evident ledger."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from redline.cli.common import dumps, fail
from redline.ledger import Checkpoint, CheckpointError, Ledger, LedgerError, load_or_create_signing_key, load_verify_key, verify_log
from redline.ledger.backend import open_backend
from redline.store import StoreError

EXIT_TAMPERED = 1
EXIT_USAGE = 2
DEFAULT_DB = "sqlite:///redline.db"
DEFAULT_KEY = "redline-ledger.key"

db_option = click.option(
    "--db",
    default=lambda: os.environ.get("REDLINE_DB", DEFAULT_DB),
    show_default="$REDLINE_DB or sqlite:///redline.db",
    help="Database URL.",
)
key_option = click.option(
    "--key",
    "key_path",
    default=lambda: os.environ.get("REDLINE_LEDGER_KEY", DEFAULT_KEY),
    show_default="$REDLINE_LEDGER_KEY or redline-ledger.key",
    help="Checkpoint signing key (Ed25519 PEM; created on first use).",
)


def _open(db: str, key_path: str) -> Ledger:
    try:
        return Ledger.open(db, load_or_create_signing_key(key_path))
    except (StoreError, LedgerError) as e:
        fail(str(e), EXIT_USAGE)
    raise AssertionError("unreachable")


@click.group("ledger")
def ledger() -> None:
    """Audit the tamper-evident ledger: verify it, prove a record, export checkpoints."""


@ledger.command("verify")
@db_option
@click.option(
    "--pubkey", "pubkeys", multiple=True, help="Trusted checkpoint public key (PEM); repeatable. Default: the public half of --key."
)
@key_option
@click.option(
    "--witness", "witnesses", multiple=True, type=click.Path(dir_okay=False), help="Exported checkpoint held by a witness; repeatable."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(db: str, pubkeys: tuple[str, ...], key_path: str, witnesses: tuple[str, ...], as_json: bool) -> None:
    """Recompute the chain, the Merkle tree and every checkpoint signature. Exit 0 when intact,
    1 naming the first bad record otherwise."""
    try:
        trusted = [load_verify_key(p) for p in pubkeys] or [load_verify_key(key_path)]
        held = [Checkpoint.from_export(orjson.loads(Path(w).read_bytes())) for w in witnesses]
        backend = open_backend(db)
    except (StoreError, LedgerError, OSError, orjson.JSONDecodeError) as e:
        fail(str(e), EXIT_USAGE)
        return
    try:
        report = verify_log(backend, trusted, held)
    finally:
        backend.close()
    if as_json:
        click.echo(
            dumps(
                {
                    "ok": report.ok,
                    "records": report.size,
                    "checkpoints": report.checkpoints,
                    "problem": None if report.problem is None else vars(report.problem),
                    "warnings": report.warnings,
                    "seconds": round(report.seconds, 3),
                }
            )
        )
    else:
        for w in report.warnings:
            click.echo(f"warning: {w}", err=True)
        if report.problem is None:
            click.echo(f"ok: {report.size} records, {report.checkpoints} checkpoints verified in {report.seconds:.2f}s")
        else:
            click.echo(f"TAMPERED: {report.problem}", err=True)
    sys.exit(0 if report.ok else EXIT_TAMPERED)


@ledger.command("prove")
@click.argument("record_id", type=int)
@click.option("--size", type=int, default=None, help="Tree size (default: the first checkpoint that covers the record).")
@db_option
@key_option
def prove(record_id: int, size: int | None, db: str, key_path: str) -> None:
    """Inclusion proof of record ID (its position in the log) as JSON."""
    with _open(db, key_path) as led:
        try:
            proof = led.prove(record_id, size)
        except LedgerError as e:
            fail(str(e), EXIT_USAGE)
            return
        out: dict[str, Any] = {
            "record": record_id,
            "tree_size": proof.tree_size,
            "leaf_hash": proof.leaf.hex(),
            "path": [p.hex() for p in proof.path],
            "root": proof.root.hex(),
            "body": proof.body.decode("utf-8"),
            "checkpoint": None if proof.checkpoint is None else proof.checkpoint.export(led.key.verify_key),
            "verified": proof.verify() and (proof.checkpoint is None or proof.checkpoint.root == proof.root),
        }
        click.echo(dumps(out))


@ledger.command("consistency")
@click.argument("old_size", type=int)
@click.argument("new_size", type=int)
@db_option
@key_option
def consistency(old_size: int, new_size: int, db: str, key_path: str) -> None:
    """Consistency proof between two tree sizes (e.g. two checkpoints) as JSON."""
    with _open(db, key_path) as led:
        try:
            old_root, new_root, proof = led.consistency(old_size, new_size)
        except LedgerError as e:
            fail(str(e), EXIT_USAGE)
            return
        click.echo(
            dumps(
                {
                    "old_size": old_size,
                    "new_size": new_size,
                    "old_root": old_root.hex(),
                    "new_root": new_root.hex(),
                    "proof": [p.hex() for p in proof],
                }
            )
        )


@ledger.command("checkpoint")
@click.option("--export", "export", is_flag=True, help="Print the latest checkpoint for an external witness.")
@db_option
@key_option
def checkpoint(export: bool, db: str, key_path: str) -> None:
    """Sign a checkpoint of the current head (if it has grown); with --export, print the latest."""
    with _open(db, key_path) as led:
        try:
            made = led.checkpoint()
            latest = made or led.latest_checkpoint()
        except (LedgerError, CheckpointError) as e:
            fail(str(e), EXIT_USAGE)
            return
        if latest is None:
            fail("the ledger is empty: nothing to checkpoint", EXIT_USAGE)
            return
        if export:
            click.echo(dumps(latest.export(led.key.verify_key)))
        else:
            click.echo(f"checkpoint at tree size {latest.tree_size}: root {latest.root.hex()}")


@ledger.command("purge")
@db_option
@key_option
def purge(db: str, key_path: str) -> None:
    """Delete retained full text past its retention period (records and chain stay intact)."""
    with _open(db, key_path) as led:
        click.echo(f"purged {led.purge_expired()} expired text(s)")
