"""`Record`: one entry of the log (kind + payload), and its canonical stored form.

The stored body is RFC 8785 canonical JSON of `{v, seq, kind, time, tenant, payload[, text]}`.
`seq` sits inside the hashed body so a record moved to another position no longer fits there.
Full text, when the retention setting keeps it, is stored *beside* the chain (so it can be purged
without breaking it); the body holds only a salted SHA-256 commitment and the purge date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redline.ledger.canonical import dumps as canonical_json

FORMAT = 1
GENESIS_CHAIN = bytes(32)


@dataclass(frozen=True)
class Record:
    """What a caller appends: `kind` ("decision", "alert", "approval", ...), a JSON payload that
    is already redacted, the tenant, and optionally full text to retain until `retain_until`."""

    kind: str
    payload: Mapping[str, Any]
    tenant: str | None = None
    full_text: str | None = field(default=None, repr=False)
    retain_until: float | None = None


@dataclass(frozen=True)
class Receipt:
    """The acknowledgement of an append: the record's position and its chain hash."""

    seq: int
    chain: bytes
    time: str


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def text_commitment(salt: bytes, text: str) -> str:
    return hashlib.sha256(salt + text.encode("utf-8")).hexdigest()


def encode(record: Record, seq: int, time: str, commitment: str | None) -> bytes:
    body: dict[str, Any] = {
        "v": FORMAT,
        "seq": seq,
        "kind": record.kind,
        "time": time,
        "tenant": record.tenant,
        "payload": dict(record.payload),
    }
    if commitment is not None:
        assert record.retain_until is not None
        body["text"] = {"sha256": commitment, "until": iso_time(record.retain_until)}
    return canonical_json(body)


def chain_hash(prev: bytes, leaf: bytes) -> bytes:
    """chain[i] = SHA-256(chain[i-1] || leaf[i]); chain[-1] is 32 zero bytes."""
    return hashlib.sha256(prev + leaf).digest()
