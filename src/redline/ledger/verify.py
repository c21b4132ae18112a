"""Verification: recompute the chain, the Merkle tree and every checkpoint signature from the
stored log, in one streaming pass, and name the first record that is wrong and how.

Fails closed: an empty trust list, a checkpoint by an unknown key, a malformed body or a log
shorter than anything ever signed are all failures, never silently skipped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import orjson

from redline.ledger import merkle
from redline.ledger.backend import Backend, StoredRow
from redline.ledger.checkpoint import Checkpoint
from redline.ledger.errors import CheckpointError
from redline.ledger.keys import VerifyKey
from redline.ledger.record import GENESIS_CHAIN, chain_hash

ProblemKind = Literal["edited", "missing", "reordered", "truncated", "bad_signature", "untrusted"]


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"record {self.seq}" if self.seq is not None else "ledger"
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class Report:
    size: int = 0
    checkpoints: int = 0
    problem: Problem | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None


def _body_seq(body: bytes) -> int | None:
    try:
        seq = orjson.loads(body).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


def _misplaced(row: StoredRow, expected: int, rest: Iterator[StoredRow]) -> Problem:
    """Record `expected` does not fit where it is: tell a record moved from a record removed."""
    found = _body_seq(row.body)
    if found == expected or found is None:
        return Problem("edited", expected, "content does not match its chain hash")
    if found < expected:
        return Problem("reordered", expected, f"position {expected} holds record {found}")
    if any(_body_seq(r.body) == expected for r in rest):
        return Problem("reordered", expected, f"position {expected} holds record {found}; record {expected} is further on")
    return Problem("missing", expected, f"record {expected} was removed (the log jumps to record {found})")


def verify_log(backend: Backend, trusted: Sequence[VerifyKey], witnesses: Sequence[Checkpoint] = ()) -> Report:
    started = time.perf_counter()
    report = Report()
    if not trusted:
        report.problem = Problem("untrusted", None, "no trusted checkpoint key given")
        return report
    keys = {k.id: k for k in trusted}
    with backend.read() as r:
        ledger_id = r.meta("ledger_id")
        head = r.head()
        # -- checkpoints: signatures first, then each is held against the records as they stream by
        signed: dict[int, list[tuple[str, Checkpoint]]] = {}
        try:
            stored = [("checkpoint", Checkpoint.from_body(b, s)) for b, s in r.checkpoints()]
        except CheckpointError as e:
            report.problem = Problem("bad_signature", None, str(e))
            return report
        for origin, cp in [*stored, *(("witness checkpoint", w) for w in witnesses)]:
            key = keys.get(cp.key_id)
            if key is None:
                report.problem = Problem(
                    "bad_signature", None, f"{origin} at tree size {cp.tree_size} is signed by untrusted key {cp.key_id}"
                )
                return report
            if not cp.signed_by(key) or cp.ledger != ledger_id:
                why = "is for another ledger" if cp.ledger != ledger_id else "has a bad signature"
                report.problem = Problem("bad_signature", None, f"{origin} at tree size {cp.tree_size} {why}")
                return report
            signed.setdefault(cp.tree_size, []).append((origin, cp))
        report.checkpoints = len(stored)

        # -- the records, in order
        expected, prev = 0, GENESIS_CHAIN
        frontier: list[bytes] = []
        last_good_checkpoint = 0
        commitments: dict[int, str] = {}
        rows = r.rows()
        for row in rows:
            if row.seq != expected:
                report.problem = (
                    Problem("missing", expected, f"record {expected} was removed (the log jumps to {row.seq})")
                    if row.seq > expected
                    else Problem("reordered", expected, f"record {row.seq} appears twice")
                )
                break
            leaf = merkle.leaf_hash(row.body)
            chain = chain_hash(prev, leaf)
            if chain != row.chain or _body_seq(row.body) != expected:
                report.problem = _misplaced(row, expected, rows)
                break
            if b'"text":{' in row.body:
                text = orjson.loads(row.body).get("text")
                if isinstance(text, dict) and isinstance(text.get("sha256"), str):
                    commitments[expected] = text["sha256"]
            merkle.frontier_push(frontier, expected, leaf)
            expected += 1
            prev = chain
            for origin, cp in signed.get(expected, ()):
                if cp.root != merkle.frontier_root(frontier) or cp.chain != chain:
                    report.problem = Problem(
                        "edited",
                        last_good_checkpoint,
                        f"records {last_good_checkpoint}..{expected - 1} do not match the signed {origin} at tree size {expected}"
                        " (the log was rewritten after it was signed)",
                    )
                    break
                last_good_checkpoint = expected
            if report.problem:
                break
        report.size = expected
        if report.problem:
            report.seconds = time.perf_counter() - started
            return report

        # -- the end of the log against the head and everything ever signed
        longest = max(signed, default=0)
        if expected < longest:
            report.problem = Problem("truncated", expected, f"the log ends at {expected} records but a checkpoint signed {longest}")
        elif expected < head.size:
            report.problem = Problem("truncated", expected, f"the log ends at {expected} records but its head says {head.size}")
        elif expected > head.size:
            report.problem = Problem("edited", head.size, f"records from {head.size} on were added behind the head")
        elif head.chain != prev:
            report.problem = Problem("edited", max(expected - 1, 0), "the head's chain hash does not match the last record")
        elif head.size > longest:
            report.warnings.append(f"records {longest}..{head.size - 1} are not covered by a checkpoint yet")

        # -- retained full text must match the commitment in its record
        now = time.time()
        if report.problem is None:
            for t in r.texts():
                want = commitments.get(t.seq)
                if want is None or hashlib.sha256(t.salt + t.text.encode("utf-8")).hexdigest() != want:
                    report.problem = Problem("edited", t.seq, "retained full text does not match the record's commitment")
                    break
                if t.expires <= now:
                    report.warnings.append(f"record {t.seq}: full text is past its retention period and not purged yet")
    report.seconds = time.perf_counter() - started
    return report
