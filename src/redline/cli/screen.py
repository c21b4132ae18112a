"""`redline screen NAME` / `redline screen --jsonl FILE`: names against the restricted lists."""

from __future__ import annotations

import sys
from typing import Any

import click

from redline.cli.common import EXIT_INPUT, LineError, count_lines, dumps, fail, jsonl_items, open_input, progress_bar
from redline.cli.ledger import db_option
from redline.cli.lists import open_screener
from redline.screen import OwnershipError, Screener, ScreenError, parse_owners


def _screen_line(screener: Screener, n: int, obj: dict[str, Any] | LineError) -> dict[str, Any]:
    if isinstance(obj, LineError):
        return {"id": n, "error": str(obj)}
    item_id = obj.get("id", n)
    try:
        if "name" not in obj:
            raise ScreenError(f"line {n} has no name")
        owners = parse_owners(obj.get("owners"), where=f"line {n}: owners")
        result = screener.screen(obj["name"], owners)
    except (ScreenError, OwnershipError) as e:
        return {"id": item_id, "error": str(e)}
    return result.to_dict(item_id)


@click.command("screen")
@click.argument("name", required=False)
@click.option("--jsonl", "jsonl_path", default=None, help='Input JSON lines {"id", "name", "owners"?} ("-" for stdin).')
@click.option("--list", "list_paths", multiple=True, help="List file(s) to screen against instead of the database (merged; repeatable).")
@click.option("--owners", "owners_json", default=None, help="Owners of NAME as JSON: [{name, percent, region?, owners?}].")
@db_option
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False), default=None, help="Policy file (screening thresholds, regions).")
def screen(
    name: str | None, jsonl_path: str | None, list_paths: tuple[str, ...], owners_json: str | None, db: str, policy_path: str | None
) -> None:
    """Screen NAME (or every line of --jsonl) against restricted-entity lists: refuse | review | clear,
    with the matches and their evidence, one JSON object per line."""
    if (name is None) == (jsonl_path is None):
        fail("give a NAME or --jsonl FILE (not both)", EXIT_INPUT)
    screener = open_screener(list_paths, db, policy_path)
    if name is not None:
        try:
            import orjson

            owners = parse_owners(orjson.loads(owners_json), where="--owners") if owners_json else None
            click.echo(dumps(screener.screen(name, owners).to_dict()))
        except orjson.JSONDecodeError as e:
            fail(f"--owners is not JSON: {e}", EXIT_INPUT)
        except ScreenError as e:
            fail(str(e), EXIT_INPUT)
        return
    assert jsonl_path is not None
    total = count_lines(jsonl_path) if jsonl_path != "-" else None
    fh = open_input(jsonl_path)
    out = sys.stdout
    with fh, progress_bar(total, "screening") as advance:
        for n, obj in jsonl_items(fh):
            out.write(dumps(_screen_line(screener, n, obj)) + "\n")
            advance()
