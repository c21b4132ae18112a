"""Gate cost per tool call, one core, vs. a baseline in the same run.

- pass: `Gate.check_call` on an observe tool (what every non-lethal tool call in model output pays);
  baseline: hashing the call's canonical arguments, the least any binding check must do.
- hold: a lethal call without authorization (issue + store a challenge, one SQLite commit).
- release: a lethal call with a valid authorization (Ed25519 verify + atomic nonce consumption);
  baseline: one bare Ed25519 verification.
Absolute numbers drift on shared machines; read the ratios.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from redline.gate import Gate, GateStore, args_sha256, authorize  # noqa: E402
from redline.ledger import SigningKey  # noqa: E402
from redline.policy import load_policy  # noqa: E402

N = 400
ARGS = {"target": "T-0042", "munition": "GBU-39", "aimpoint": {"lat": 34.1, "lon": 44.2}}


def timed(fn: Callable[[int], object], n: int = N) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def show(name: str, samples: list[float], base: list[float] | None = None) -> None:
    p50, p99 = statistics.median(samples), sorted(samples)[int(len(samples) * 0.99) - 1]
    ratio = f"  ({p50 / statistics.median(base):.1f}x baseline)" if base else ""
    print(f"{name:28s} p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us   {1 / statistics.mean(samples):9.0f}/s{ratio}")


def main() -> None:
    key = SigningKey.generate()
    with tempfile.TemporaryDirectory() as d:
        store = GateStore.open(f"sqlite:///{d}/gate.db")
        store.add_operator("alice", "weapons_release_authority", key.verify_key.raw(), key.id)
        gate = Gate(load_policy(), store)
        hash_base = timed(lambda i: args_sha256(ARGS))
        show("baseline: args sha256", hash_base)
        show("pass (observe tool)", timed(lambda i: gate.check_call("t", "get_track", ARGS)), hash_base)
        challenges: list[dict[str, object]] = []
        hold = timed(lambda i: challenges.append(gate.check_call("t", "release_weapon", {**ARGS, "n": i}).challenge or {}))
        show("hold (issue challenge)", hold, hash_base)
        auths = [authorize(c, key, "alice") for c in challenges]
        msg = b"x" * 600
        sig = key.sign(msg)
        vk = key.verify_key
        ed_base = timed(lambda i: vk.verify(sig, msg))
        show("baseline: Ed25519 verify", ed_base)
        release = timed(lambda i: gate.check_call("t", "release_weapon", {**ARGS, "n": i}, auths[i]))
        assert all(gate.check_call("t", "release_weapon", {**ARGS, "n": i}, auths[i]).status == "denied" for i in range(5))
        show("release (verify + consume)", release, ed_base)
        store.close()


if __name__ == "__main__":
    main()
