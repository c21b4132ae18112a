"""`Checkpoint`: a signed statement "the log of ledger L had N records with tree head R and chain
head C at time T". Signed over canonical JSON with a domain prefix; exported as JSON for a witness."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from redline.ledger.canonical import dumps as canonical_json
from redline.ledger.errors import CheckpointError
from redline.ledger.keys import SigningKey, VerifyKey

_DOMAIN = b"redline-ledger-checkpoint-v1\n"


@dataclass(frozen=True)
class Checkpoint:
    ledger: str
    tree_size: int
    root: bytes
    chain: bytes
    time: str
    key_id: str
    signature: bytes

    def statement(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "chain": self.chain.hex(),
            "time": self.time,
            "key_id": self.key_id,
        }

    def body(self) -> bytes:
        return canonical_json(self.statement())

    @classmethod
    def sign(cls, key: SigningKey, *, ledger: str, tree_size: int, root: bytes, chain: bytes, time: str) -> Checkpoint:
        unsigned = cls(ledger, tree_size, root, chain, time, key.id, b"")
        return cls(ledger, tree_size, root, chain, time, key.id, key.sign(_DOMAIN + unsigned.body()))

    def signed_by(self, key: VerifyKey) -> bool:
        return key.id == self.key_id and key.verify(self.signature, _DOMAIN + self.body())

    @classmethod
    def from_body(cls, body: bytes, signature: bytes) -> Checkpoint:
        """Parse a stored or exported statement; any malformation is a `CheckpointError`."""
        try:
            d = orjson.loads(body)
            return cls(
                ledger=str(d["ledger"]),
                tree_size=int(d["tree_size"]),
                root=bytes.fromhex(d["root"]),
                chain=bytes.fromhex(d["chain"]),
                time=str(d["time"]),
                key_id=str(d["key_id"]),
                signature=signature,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"malformed checkpoint: {e}") from e

    def export(self, public_key: VerifyKey | None = None) -> dict[str, Any]:
        """The witness form: the statement, its signature and (optionally) the signer's public key."""
        out: dict[str, Any] = {"checkpoint": self.statement(), "signature": base64.b64encode(self.signature).decode()}
        if public_key is not None:
            out["public_key"] = base64.b64encode(public_key.raw()).decode()
        return out

    @classmethod
    def from_export(cls, data: Any) -> Checkpoint:
        try:
            return cls.from_body(canonical_json(data["checkpoint"]), base64.b64decode(data["signature"], validate=True))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"malformed exported checkpoint: {e}") from e
