"""The ledger: an append-only, tamper-evident record of every decision, alert and approval.

Owns the record format (canonical JSON, redacted by default), the SHA-256 chain, the RFC 6962
Merkle tree, Ed25519-signed checkpoints, inclusion and consistency proofs, and the verifier.
Must not decide, classify or speak HTTP; it stores what it is given, after redaction, through
the backends in `redline.ledger.backend`.
"""

from redline.ledger.checkpoint import Checkpoint
from redline.ledger.errors import CheckpointError, KeyFileError, LedgerError, ProofError
from redline.ledger.keys import SigningKey, VerifyKey, load_or_create_signing_key, load_signing_key, load_verify_key
from redline.ledger.log import InclusionProof, Ledger
from redline.ledger.record import Receipt, Record
from redline.ledger.redact import Redactor
from redline.ledger.verify import Problem, Report, verify_log
from redline.ledger.writer import LedgerWriter

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "InclusionProof",
    "KeyFileError",
    "Ledger",
    "LedgerError",
    "LedgerWriter",
    "Problem",
    "ProofError",
    "Receipt",
    "Record",
    "Redactor",
    "Report",
    "SigningKey",
    "VerifyKey",
    "load_or_create_signing_key",
    "load_signing_key",
    "load_verify_key",
    "verify_log",
]
