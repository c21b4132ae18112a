"""Ledger errors: each failure is its own type so callers can tell a bad key from a broken log."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every ledger failure."""


class KeyFileError(LedgerError):
    """A signing or public key file that cannot be read or is not an Ed25519 key."""


class ProofError(LedgerError):
    """A proof that cannot be produced (index or tree size out of range) or does not verify."""


class CheckpointError(LedgerError):
    """An exported checkpoint that is malformed or whose signature does not verify."""
