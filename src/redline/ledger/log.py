"""`Ledger`: append records, sign checkpoints, produce proofs, purge expired text.

Every append runs in one write transaction under the head lock: read the head, chain and hash
the new records, insert them, move the head, and sign a checkpoint when N records or T seconds
have passed since the last one. The transaction commits before `append` returns, so a returned
`Receipt` means the record is durable (as durable as the database's own commit).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redline.ledger import merkle
from redline.ledger.backend import Backend, Head, Writer, open_backend
from redline.ledger.backend.base import StoredRow, StoredText
from redline.ledger.checkpoint import Checkpoint
from redline.ledger.errors import LedgerError, ProofError
from redline.ledger.keys import SigningKey, VerifyKey
from redline.ledger.record import Receipt, Record, chain_hash, encode, iso_time, text_commitment
from redline.ledger.redact import Redactor
from redline.ledger.verify import Report, verify_log
from redline.policy.schema import Retention
from redline.store import DatabaseURL

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_SECONDS = 60.0


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf: bytes
    path: list[bytes]
    root: bytes
    body: bytes
    checkpoint: Checkpoint | None

    def verify(self) -> bool:
        return merkle.leaf_hash(self.body) == self.leaf and merkle.verify_inclusion(
            self.leaf, self.seq, self.tree_size, self.path, self.root
        )


class Ledger:
    def __init__(
        self,
        backend: Backend,
        key: SigningKey,
        *,
        retention: Retention | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if checkpoint_every < 1 or checkpoint_seconds <= 0:
            raise LedgerError("checkpoint_every must be >= 1 and checkpoint_seconds > 0")
        self.backend = backend
        self.key = key
        self.redactor = Redactor(key.pseudonym_key(), retention)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self._clock = clock
        # The ledger's identity goes into every checkpoint so one ledger's checkpoint cannot
        # vouch for another; the first process to open the database chooses it.
        self.id = backend.init_meta("ledger_id", uuid.uuid4().hex)
        backend.init_meta(f"public_key:{key.id}", key.verify_key.raw().hex())

    @classmethod
    def open(cls, db: str | DatabaseURL, key: SigningKey, **options: object) -> Ledger:
        return cls(open_backend(db), key, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending -------------------------------------------------------------------------------

    def append(self, record: Record) -> Receipt:
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[Record]) -> list[Receipt]:
        """Append records as one transaction (one commit): they get consecutive positions."""
        now = self._clock()
        stamp = iso_time(now)
        receipts: list[Receipt] = []
        with self.backend.write() as tx:
            head = tx.head()
            rows: list[StoredRow] = []
            texts: list[StoredText] = []
            for record in records:
                seq = head.size
                commitment = None
                if record.full_text is not None:
                    if record.retain_until is None:
                        raise LedgerError("a record with full text needs retain_until")
                    salt = os.urandom(16)
                    commitment = text_commitment(salt, record.full_text)
                    texts.append(StoredText(seq, salt, record.full_text, record.retain_until))
                body = encode(record, seq, stamp, commitment)
                leaf = merkle.leaf_hash(body)
                head.chain = chain_hash(head.chain, leaf)
                merkle.frontier_push(head.frontier, seq, leaf)
                head.size += 1
                rows.append(StoredRow(seq, body, head.chain))
                receipts.append(Receipt(seq, head.chain, stamp))
            tx.insert(rows, texts)
            if head.size - head.checkpoint_size >= self.checkpoint_every or (
                head.size > head.checkpoint_size and now - head.checkpoint_time >= self.checkpoint_seconds
            ):
                self._sign(tx, head, now)
            tx.set_head(head)
        return receipts

    def _sign(self, tx: Writer, head: Head, now: float) -> Checkpoint:
        cp = Checkpoint.sign(
            self.key, ledger=self.id, tree_size=head.size, root=merkle.frontier_root(head.frontier), chain=head.chain, time=iso_time(now)
        )
        tx.add_checkpoint(cp.tree_size, cp.body(), cp.signature)
        head.checkpoint_size, head.checkpoint_time = head.size, now
        return cp

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint of the current head now (None when the last one already covers it).
        Long-running writers call this on a timer so that a quiet log is still checkpointed."""
        now = self._clock()
        with self.backend.write() as tx:
            head = tx.head()
            if head.size == 0 or head.size == head.checkpoint_size:
                return None
            cp = self._sign(tx, head, now)
            tx.set_head(head)
        return cp

    # -- reading and proving ---------------------------------------------------------------------

    def size(self) -> int:
        with self.backend.read() as r:
            return r.head().size

    def checkpoints(self) -> list[Checkpoint]:
        with self.backend.read() as r:
            return [Checkpoint.from_body(b, s) for b, s in r.checkpoints()]

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def _leaves(self, size: int) -> tuple[list[bytes], list[bytes]]:
        with self.backend.read() as r:
            bodies = [row.body for row in r.rows(0, size)]
        if len(bodies) != size:
            raise ProofError(f"the log has {len(bodies)} records, not {size}")
        return [merkle.leaf_hash(b) for b in bodies], bodies

    def prove(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """Inclusion proof of record `seq` in the tree of `tree_size` records (default: the
        smallest checkpoint that covers it, so the root is signed; else the current size)."""
        cps = self.checkpoints()
        checkpoint = None
        if tree_size is None:
            checkpoint = next((c for c in cps if c.tree_size > seq), None)
            tree_size = checkpoint.tree_size if checkpoint else self.size()
        else:
            checkpoint = next((c for c in cps if c.tree_size == tree_size), None)
        if not 0 <= seq < tree_size:
            raise ProofError(f"no record {seq} in a tree of {tree_size} records")
        leaves, bodies = self._leaves(tree_size)
        return InclusionProof(
            seq, tree_size, leaves[seq], merkle.inclusion_proof(leaves, seq, tree_size), merkle.root(leaves), bodies[seq], checkpoint
        )

    def consistency(self, old_size: int, new_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(old root, new root, RFC 6962 consistency proof) between two tree sizes."""
        leaves, _ = self._leaves(new_size)
        proof = merkle.consistency_proof(leaves, old_size, new_size)
        return merkle.root(leaves, 0, old_size), merkle.root(leaves), proof

    def text(self, seq: int) -> str | None:
        """The retained full text of a record, if it is kept and not yet purged."""
        rows = self.backend.execute("SELECT text FROM ledger_texts WHERE seq = ?", (seq,))
        return None if not rows else str(rows[0][0])

    def purge_expired(self, now: float | None = None) -> int:
        """Delete retained full text past its retention period; the chain is untouched (records
        hold only a commitment), so the ledger still verifies. Returns how many were purged."""
        return self.backend.purge_texts(self._clock() if now is None else now)

    def verify(self, trusted: Sequence[VerifyKey] | None = None, witnesses: Sequence[Checkpoint] = ()) -> Report:
        return verify_log(self.backend, trusted if trusted is not None else [self.key.verify_key], witnesses)
