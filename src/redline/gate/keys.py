"""Operator key files: `DIR/ID.key` (Ed25519 PKCS#8 PEM, mode 0600) and `DIR/ID.pub` (PEM).

The private key never leaves the operator's machine: redline only ever reads it in the
`authorize` process, to sign, and registers the public half.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from redline.gate.errors import GateError
from redline.ledger import KeyFileError, SigningKey, VerifyKey, load_signing_key, load_verify_key

OPERATOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_operator_id(operator: str) -> str:
    """An operator id is a short name that is also a safe file name."""
    if not OPERATOR_ID.match(operator):
        raise GateError(f"bad operator id {operator!r}: 1-64 letters, digits, '_', '.', '@', '-', starting with a letter or digit")
    return operator


@dataclass(frozen=True)
class KeyPair:
    key_path: Path
    pub_path: Path
    key_id: str


def keygen(operator: str, out_dir: str | Path) -> KeyPair:
    """Write a new key pair for `operator` into `out_dir`; never overwrites an existing key."""
    check_operator_id(operator)
    out = Path(out_dir)
    key_path, pub_path = out / f"{operator}.key", out / f"{operator}.pub"
    if key_path.exists() or pub_path.exists():
        raise GateError(f"{key_path} or {pub_path} already exists; refusing to overwrite an operator key")
    try:
        out.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        key.save(key_path)
        pub_path.write_bytes(key.verify_key.pem())
    except OSError as e:
        raise GateError(f"cannot write the key pair into {out}: {e.strerror or e}") from None
    return KeyPair(key_path, pub_path, key.id)


def load_operator_key(path: str | Path) -> SigningKey:
    try:
        return load_signing_key(path)
    except KeyFileError as e:
        raise GateError(str(e)) from None


def load_operator_public_key(path: str | Path) -> VerifyKey:
    """The public key in a `.pub` file. A private key file is refused: registering one would mean
    it had been copied off the operator's machine."""
    try:
        if b"PRIVATE KEY" in Path(path).read_bytes():
            raise GateError(f"{path} holds a private key; register the operator's .pub file instead")
    except OSError as e:
        raise GateError(f"cannot read key file {path}: {e.strerror or e}") from None
    try:
        return load_verify_key(path)
    except KeyFileError as e:
        raise GateError(str(e)) from None
