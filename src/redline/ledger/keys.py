"""Ed25519 keys for checkpoints: the writer's signing key (a PKCS#8 PEM file, mode 0600) and the
public keys a verifier trusts. The pseudonymization key for record hashes is derived from the
signing key, so an operator has one secret to keep, and it never appears in a record or a log."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from redline.ledger.errors import KeyFileError


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """A short stable name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyKey:
    """A public key a verifier trusts to sign checkpoints."""

    public: Ed25519PublicKey

    @property
    def id(self) -> str:
        return key_id(self.public)

    def raw(self) -> bytes:
        return _raw(self.public)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyKey:
        try:
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError as e:
            raise KeyFileError(f"not an Ed25519 public key: {e}") from e


@dataclass(frozen=True)
class SigningKey:
    """The writer's checkpoint signing key."""

    private: Ed25519PrivateKey

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(self.private.public_key())

    @property
    def id(self) -> str:
        return self.verify_key.id

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def pseudonym_key(self) -> bytes:
        """The HMAC key for identifier and request hashes (domain-separated from signing)."""
        seed = self.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return hmac.new(seed, b"redline ledger pseudonyms v1", hashlib.sha256).digest()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def save(self, path: Path) -> None:
        pem = self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        # O_EXCL: never overwrite an existing key (that would orphan every checkpoint it signed).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)


def load_signing_key(path: str | Path) -> SigningKey:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read key file {path}: {e.strerror or e}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return SigningKey(key)


def load_or_create_signing_key(path: str | Path) -> SigningKey:
    """The key at `path`, generated there (mode 0600) on first use."""
    p = Path(path)
    if not p.exists():
        try:
            SigningKey.generate().save(p)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError as e:
            raise KeyFileError(f"cannot create key file {path}: {e.strerror or e}") from e
    return load_signing_key(p)


def load_verify_key(path: str | Path) -> VerifyKey:
    """A trusted public key from a PEM file (public key, or the private key it belongs to)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read key file {path}: {e.strerror or e}") from e
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).verify_key
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise KeyFileError(f"{path} is not a PEM public key") from e
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return VerifyKey(key)
