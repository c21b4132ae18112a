"""A small HyperLogLog (Flajolet et al. 2007, with the small-range correction) over 64-bit keys.

Written here on numpy rather than taken from a package: the monitor needs only add, merge, count
and a plain-bytes form to persist (no pickle), and its keys are already uniform 64-bit keyed
hashes, so the whole sketch is a register array and a dozen lines.
"""

from __future__ import annotations

import math

import numpy as np

_MASK64 = (1 << 64) - 1


class HyperLogLog:
    """2**p one-byte registers; standard error about 1.04 / sqrt(2**p) (p=12: 1.6%, 4 KiB)."""

    __slots__ = ("p", "registers")

    def __init__(self, p: int, registers: np.ndarray | None = None) -> None:
        if not 4 <= p <= 18:
            raise ValueError("precision must be between 4 and 18")
        self.p = p
        self.registers = registers if registers is not None else np.zeros(1 << p, dtype=np.uint8)

    def add(self, key: int) -> None:
        """Add a 64-bit hash (the caller's keys are keyed BLAKE2b digests: already uniform)."""
        key &= _MASK64
        rest_bits = 64 - self.p
        index = key >> rest_bits
        rest = key & ((1 << rest_bits) - 1)
        rank = rest_bits - rest.bit_length() + 1
        if rank > self.registers[index]:
            self.registers[index] = rank

    def merge(self, other: HyperLogLog) -> None:
        np.maximum(self.registers, other.registers, out=self.registers)

    def count(self) -> float:
        return estimate(self.registers)

    def to_bytes(self) -> bytes:
        return self.registers.tobytes()

    @classmethod
    def from_bytes(cls, p: int, data: bytes) -> HyperLogLog:
        if len(data) != 1 << p:
            raise ValueError(f"a p={p} sketch has {1 << p} registers, not {len(data)}")
        return cls(p, np.frombuffer(data, dtype=np.uint8).copy())


def estimate(registers: np.ndarray) -> float:
    """Cardinality of a register array (also of the element-wise max of several)."""
    m = registers.shape[-1]
    alpha = 0.7213 / (1 + 1.079 / m)
    raw = alpha * m * m / float(np.ldexp(1.0, -registers.astype(np.int32)).sum())
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * m and zeros:
        return float(m * math.log(m / zeros))
    return float(raw)
