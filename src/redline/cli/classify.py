"""`redline classify`: one decision per input, as JSON lines, in input order."""

from __future__ import annotations

import sys
from typing import Any

import click

from redline.cli.common import (
    LineError,
    count_lines,
    dumps,
    jsonl_items,
    load_engine,
    model_option,
    open_input,
    policy_option,
    progress_bar,
)
from redline.engine import Engine
from redline.text import InputError

BACKENDS = click.Choice(["builtin", "semantic", "judge"])


def _decide_line(engine: Engine, n: int, obj: dict[str, Any] | LineError) -> dict[str, Any]:
    if isinstance(obj, LineError):
        return {"id": n, "error": str(obj)}
    item_id = obj.get("id", n)
    try:
        return engine.decide_item(obj).to_dict(item_id)
    except InputError as e:
        return {"id": item_id, "error": str(e)}


def _plain_lines(engine: Engine) -> None:
    """Piped plain text: one prompt per line, one decision per line (`id` = line number)."""
    for n, raw in enumerate(sys.stdin.buffer, 1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            click.echo(dumps({"id": n, "error": f"line {n} is not valid UTF-8"}))
            continue
        if not text.strip():
            continue
        try:
            click.echo(dumps(engine.decide_text(text).to_dict(n)))
        except InputError as e:
            click.echo(dumps({"id": n, "error": str(e)}))


def _interactive(engine: Engine) -> None:
    click.echo("redline classify — type a prompt, get a decision (Ctrl-D to quit).", err=True)
    while True:
        try:
            text = input("redline> ")
        except (EOFError, KeyboardInterrupt):
            click.echo("", err=True)
            return
        if not text.strip():
            continue
        try:
            click.echo(dumps(engine.decide_text(text).to_dict()))
        except InputError as e:
            click.echo(dumps({"id": None, "error": str(e)}))


@click.command()
@click.argument("text", required=False)
@click.option(
    "--jsonl",
    "jsonl_path",
    type=str,
    default=None,
    help="JSONL input ('-' for stdin): lines with `text` or `messages`, optional `id`, `tenant`.",
)
@policy_option
@model_option
@click.option("--backend", type=BACKENDS, default=None, help="Classifier backend (default: the policy's).")
def classify(text: str | None, jsonl_path: str | None, policy_path: str | None, model_path: str | None, backend: str | None) -> None:
    """Decide allow / review / block for TEXT or for every line of a JSONL file.

    Output is one JSON object per input on stdout: id, decision, red_line, scores, rule,
    policy_version, evidence. A line that cannot be read gets {"id", "error"} and the run
    goes on. With neither TEXT nor --jsonl: an interactive prompt on a terminal, or one
    plain-text prompt per line when stdin is piped.
    """
    if text is not None and jsonl_path is not None:
        raise click.UsageError("give TEXT or --jsonl, not both")
    engine = load_engine(policy_path, model_path, backend)
    if text is not None:
        try:
            click.echo(dumps(engine.decide_text(text).to_dict()))
        except InputError as e:
            click.echo(dumps({"id": None, "error": str(e)}))
        return
    if jsonl_path is None:
        if sys.stdin.isatty():
            _interactive(engine)
        else:
            _plain_lines(engine)
        return
    fh = open_input(jsonl_path)
    out = sys.stdout
    with fh, progress_bar(count_lines(jsonl_path), "classify") as advance:
        for n, obj in jsonl_items(fh):
            out.write(dumps(_decide_line(engine, n, obj)) + "\n")
            advance()
    out.flush()
