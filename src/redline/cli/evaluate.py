"""`redline eval`: precision, recall, false-positive and review rates, confusion, latency."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from redline.cli.common import EXIT_INPUT, dumps, fail, load_engine, model_option, policy_option, progress_bar
from redline.corpus import CorpusError, Example, read_examples
from redline.evaluate import Report, evaluate
from redline.policy import RED_LINES


def _print_report(report: Report, mistakes: int) -> None:
    # wide enough for full red-line names; a terminal wider than that keeps its own width
    console = Console(width=max(Console().width, 130))
    console.print(f"[bold]{report.dataset}[/bold]: {report.n} examples, {report.errors} input errors")
    t = Table(title="per red line")
    for col in ("red line", "n", "precision (block)", "recall (block)", "recall (block or review)", "FPR on permitted"):
        t.add_column(col, justify="right" if col != "red line" else "left")
    for rl in RED_LINES:
        m = report.per_red_line[rl]
        t.add_row(rl, str(int(m["n"])), f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['recall_flagged']:.3f}", f"{m['fpr']:.3f}")
    console.print(t)
    p = report.permitted
    console.print(
        f"permitted (n={int(p['n'])}): block rate {p['block_rate']:.3f}, review rate {p['review_rate']:.3f}, allow rate {p['allow_rate']:.3f}"
    )
    cm = Table(title="confusion (label x outcome)")
    outcomes = ["allow", "review", *(f"block:{rl}" for rl in RED_LINES)]
    cm.add_column("label")
    for o in outcomes:
        cm.add_column(o, justify="right")
    for label, row in report.confusion.items():
        cm.add_row(label, *(str(row.get(o, 0)) for o in outcomes))
    console.print(cm)
    lat = report.latency_ms
    console.print(f"latency per decision (ms): p50 {lat['p50']}, p95 {lat['p95']}, p99 {lat['p99']}, max {lat['max']}")
    for m in report.mistakes[:mistakes]:
        console.print(f"  miss {m['id']}: label {m['label']} -> {m['outcome']} ({m['rule']})")


@click.command("eval")
@click.option("--data", "data_path", required=True, type=str, help="Labeled JSONL (`text` or `messages`, `label`), or a directory of them.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--mistakes", default=0, show_default=True, help="List up to N misclassified example ids.")
@policy_option
@model_option
@click.option(
    "--backend", type=click.Choice(["builtin", "semantic", "judge"]), default=None, help="Classifier backend (default: the policy's)."
)
def eval_command(
    data_path: str, as_json: bool, mistakes: int, policy_path: str | None, model_path: str | None, backend: str | None
) -> None:
    """Measure decisions against labels: per red line precision / recall / FPR, review rate,
    confusion matrix and latency percentiles."""
    path = Path(data_path)
    if not path.exists():
        fail(f"cannot read {data_path}: no such file or directory", EXIT_INPUT)
    engine = load_engine(policy_path, model_path, backend)
    try:
        examples: list[Example] = list(read_examples(path))
    except (CorpusError, OSError) as e:
        fail(str(e), EXIT_INPUT)
    with progress_bar(len(examples), "eval") as advance:
        report = evaluate(engine, examples, str(data_path), progress=lambda n: advance(n))
    if as_json:
        out = report.to_dict()
        if mistakes:
            out["mistakes"] = report.mistakes[:mistakes]
        click.echo(dumps(out))
    else:
        _print_report(report, mistakes)
