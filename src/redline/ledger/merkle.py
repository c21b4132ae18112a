"""The Merkle tree over the log, as in RFC 6962 / RFC 9162: leaf and node hashes, the compact
frontier that lets a writer keep the root in O(log n) space, inclusion and consistency proofs and
their verification (RFC 9162 §2.1.3.2 and §2.1.4.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redline.ledger.errors import ProofError

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


# -- the frontier: one perfect-subtree root per set bit of the size, largest first ---------------


def frontier_push(frontier: list[bytes], size: int, leaf: bytes) -> None:
    """Add leaf number `size` to the frontier of a tree of `size` leaves (in place)."""
    h = leaf
    while size & 1:
        h = node_hash(frontier.pop(), h)
        size >>= 1
    frontier.append(h)


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The tree head of the tree the frontier describes (RFC 6962 MTH)."""
    if not frontier:
        return EMPTY_ROOT
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = node_hash(left, h)
    return h


def pack_frontier(frontier: Sequence[bytes]) -> bytes:
    return b"".join(frontier)


def unpack_frontier(blob: bytes) -> list[bytes]:
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


# -- roots and proofs over a list of leaf hashes ---------------------------------------------------


def root(leaves: Sequence[bytes], lo: int = 0, hi: int | None = None) -> bytes:
    """MTH of leaves[lo:hi]."""
    hi = len(leaves) if hi is None else hi
    frontier: list[bytes] = []
    for i in range(lo, hi):
        frontier_push(frontier, i - lo, leaves[i])
    return frontier_root(frontier)


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size])."""
    if not 0 <= index < size <= len(leaves):
        raise ProofError(f"no record {index} in a tree of {size}")

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, lo, lo + k), root(leaves, lo + k, hi)]
        return [*path(m - k, lo + k, hi), root(leaves, lo, lo + k)]

    return path(index, 0, size)


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, D[0:new_size])."""
    if not 0 < old_size <= new_size <= len(leaves):
        raise ProofError(f"no consistency proof from size {old_size} to {new_size} (log has {len(leaves)})")

    def subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [root(leaves, lo, hi)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, whole), root(leaves, lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), root(leaves, lo, lo + k)]

    return subproof(old_size, 0, new_size, True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old_size <= 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
