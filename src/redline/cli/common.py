"""Shared CLI plumbing: loading the engine with clean errors, JSONL input, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from redline.classify import ClassifierError
from redline.engine import Engine
from redline.policy import PolicyError

EXIT_POLICY = 2
EXIT_INPUT = 1

err_console = Console(stderr=True)

policy_option = click.option(
    "--policy", "policy_path", type=click.Path(dir_okay=False), default=None, help="Policy file (default: the built-in policy)."
)
model_option = click.option(
    "--model", "model_path", type=click.Path(dir_okay=False), default=None, help="Built-in model file (default: the packaged model)."
)


def fail(message: str, code: int) -> None:
    click.echo(f"redline: {message}", err=True)
    sys.exit(code)


def load_engine(policy_path: str | None, model_path: str | None, backend: str | None = None) -> Engine:
    """The engine, or a clear message and exit status 2 for a bad policy or model."""
    try:
        return Engine.from_options(policy_path, model_path, backend)
    except PolicyError as e:
        fail(str(e), EXIT_POLICY)
    except ClassifierError as e:
        fail(str(e), EXIT_POLICY)
    raise AssertionError("unreachable")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}", EXIT_INPUT)
    raise AssertionError("unreachable")


def count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with Path(path).open("rb") as fh:
        return sum(1 for _ in fh)


class LineError(ValueError):
    """One input line that cannot be read; the run goes on."""

    def __init__(self, line_no: int, message: str, id: Any = None) -> None:
        super().__init__(message)
        self.line_no, self.id = line_no, id


def jsonl_items(fh: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """(line number, object) for every non-blank line, or a LineError for a line that is not one."""
    for n, raw in enumerate(fh, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield n, LineError(n, f"line {n} is not valid UTF-8 (byte {e.start})")
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            yield n, LineError(n, f"line {n} is not JSON: {e}")
            continue
        if not isinstance(obj, dict):
            yield n, LineError(n, f"line {n} must be a JSON object, not {type(obj).__name__}")
            continue
        yield n, obj


@contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not sys.stderr.isatty():
        yield lambda n=1: None
        return
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n=1: progress.advance(task, n)
