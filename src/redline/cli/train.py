"""`redline train`: fit the built-in model from the labeled corpus and write it as plain data."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from pathlib import Path

import click

from redline.classify.model import packaged_model_path, save_model
from redline.classify.train import fit
from redline.cli.common import EXIT_INPUT, EXIT_POLICY, fail, policy_option, progress_bar
from redline.corpus import CorpusError, Example, read_examples
from redline.policy import Policy, PolicyError, load_policy
from redline.text import InputError, conversation_from_item


def _keep_freed_memory() -> None:
    """Training allocates and frees weight-sized arrays (tens of MB) on every batch; glibc returns
    each one to the kernel and faults it back in, which took about a third of training time as
    system time. Keeping freed memory in the process (glibc `mallopt`; elsewhere a no-op) removes
    that and changes no result."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 1 << 30)  # blocks below 1 GiB come from the heap, not mmap
    mallopt(m_trim_threshold, (1 << 31) - 1)
    mallopt(m_top_pad, 1 << 28)


@click.command()
@click.option("--corpus", "corpus_path", default="data/corpus/train.jsonl", show_default=True, help="Training JSONL file or directory.")
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Where to write the model (default: the packaged model)."
)
@policy_option
@click.option("--backend", type=click.Choice(["builtin", "semantic"]), default="builtin", show_default=True, help="Which model to train.")
def train(corpus_path: str, out_path: str | None, policy_path: str | None, backend: str) -> None:
    """Train the built-in classifier (deterministic; about a minute on 2 cores).

    Writes the model as JSON plus a .sha256 sidecar; the model is refused at load if either
    does not match. Train only on the train split: dev picks thresholds, test and the
    out-of-distribution sets only measure.
    """
    try:
        policy = load_policy(policy_path)
    except PolicyError as e:
        fail(str(e), EXIT_POLICY)
    path = Path(corpus_path)
    if not path.exists():
        fail(f"cannot read {corpus_path}: no such file or directory", EXIT_INPUT)
    try:
        examples = list(read_examples(path))
    except (CorpusError, OSError) as e:
        fail(str(e), EXIT_INPUT)
    if not examples:
        fail(f"{corpus_path} has no examples", EXIT_INPUT)
    t0 = time.perf_counter()
    if backend == "semantic":
        _train_semantic(policy, examples, out_path, t0)
        return
    _keep_freed_memory()
    try:
        with progress_bar(len(examples), "featurize") as advance:
            model = fit(policy, examples, progress=lambda n: advance(n))
    except InputError as e:
        fail(str(e), EXIT_INPUT)
    out = Path(out_path) if out_path else packaged_model_path(policy.document.classifier.model)
    digest = save_model(model, out)
    click.echo(f"trained on {len(examples)} examples ({model.metadata['labels']}) in {time.perf_counter() - t0:.1f}s")
    click.echo(f"{len(model.vocabulary)} terms, {len(model.dense_names)} signal features")
    click.echo(f"wrote {out} sha256 {digest}")


def _train_semantic(policy: Policy, examples: list[Example], out_path: str | None, t0: float) -> None:
    from redline.classify.base import ClassifierError
    from redline.classify.semantic import HEAD_NAME, Encoder, save_head, train_head

    limit = policy.document.limits.max_input_chars
    try:
        texts = [conversation_from_item(ex.item, limit).text for ex in examples]
        head = train_head(policy, Encoder(), texts, [ex.label for ex in examples])
    except (InputError, ClassifierError) as e:
        fail(str(e), EXIT_INPUT)
    out = Path(out_path) if out_path else packaged_model_path(HEAD_NAME)
    digest = save_head(head, out)
    click.echo(f"trained semantic head on {len(examples)} examples in {time.perf_counter() - t0:.1f}s")
    click.echo(f"wrote {out} sha256 {digest}")
