"""What the abuse detectors add to the monitor's per-request cost, measured in one run.

Traffic: the first requests of the abuse simulator's dev set (tools/simulate_abuse.py, seed 11:
distillation networks, intrusion campaigns and their benign twins, with account metadata and
cyber scopes), then of the monitor simulator's dev set (tools/simulate_traffic.py, seed 7: the
traffic bench/monitor.py measures the monitor on). Engine decisions are computed first and not timed. Two monitors on the same policy
and the same requests: the monitor alone (the policy's `abuse` section removed) and the monitor
with the abuse detectors; each is timed on its own fresh in-memory store, best of `ROUNDS`.

Budget (issue 9): the detectors add <= 20% to the monitor's per-request cost.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from simulate_abuse import generate  # noqa: E402
from simulate_traffic import generate as generate_mosaic  # noqa: E402

from redline.engine import Engine  # noqa: E402
from redline.monitor import Monitor, open_store  # noqa: E402

N_REQUESTS = 6000
ROUNDS = 9


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    engine = Engine.from_options()
    lines, _, tenants = generate(11, "dev")
    measure(engine, "abuse dev mix: distillation networks, intrusions and their benign twins, with accounts", lines[:N_REQUESTS], tenants)
    mosaic, _ = generate_mosaic(7, "dev")
    measure(
        engine, "monitor dev mix (bench/monitor.py's traffic): mosaic campaigns and benign tenants, no accounts", mosaic[:N_REQUESTS], {}
    )


def measure(engine: Engine, label: str, lines: list[dict[str, Any]], tenants: dict[str, Any]) -> None:
    prepared: list[tuple[Any, ...]] = []
    for line in lines:
        conv = engine.conversation(line)
        spec = tenants.get(line["tenant"], {})
        prepared.append(
            (
                line["tenant"],
                line["id"],
                float(line["ts"]),
                line,
                engine.decide(conv),
                conv,
                spec.get("authorities", []),
                spec.get("cyber_scope", []),
            )
        )
    with_abuse = engine.policy
    without = replace(with_abuse, document=with_abuse.document.model_copy(update={"abuse": None}))

    def run(policy: Any) -> float:
        monitor = Monitor(policy, open_store(None))
        gc.collect()
        t = time.process_time()
        for tenant, rid, ts, item, decision, conv, auth, scope in prepared:
            monitor.observe(tenant, rid, ts, item, decision, conversation=conv, authorities=auth, account=item, cyber_scope=scope)
        return time.process_time() - t

    base: list[float] = []
    full: list[float] = []
    for _ in range(ROUNDS):  # interleaved, so both see the same machine load
        base.append(run(without))
        full.append(run(with_abuse))
    n = len(prepared)
    b, f = min(base), min(full)
    added = (f - b) / b
    print(f"abuse detectors, {n} requests of the {label}; one core, CPU time, best of {ROUNDS}")
    print(f"  monitor alone              {b / n * 1e6:7.1f} us/req")
    print(f"  monitor + abuse detectors  {f / n * 1e6:7.1f} us/req")
    print(
        f"  added: {(f - b) / n * 1e6:.1f} us/req = {added:+.1%} of the monitor's cost (median rounds: {(sorted(full)[ROUNDS // 2] - sorted(base)[ROUNDS // 2]) / sorted(base)[ROUNDS // 2]:+.1%})"
    )
    print(f"  budget <= +20%: {'met' if added <= 0.20 else 'NOT met'}")


if __name__ == "__main__":
    main()
