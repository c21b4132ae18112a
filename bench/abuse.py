"""What the abuse detectors add to the monitor's per-request cost, measured in one run.

Traffic: the first requests of the abuse simulator's dev set (tools/simulate_abuse.py, seed 11:
distillation networks, intrusion campaigns and their benign twins, with account metadata and
cyber scopes), then the benign actors of that set alone (traffic with accounts and no abuse, what
most customers send; reported beside the two others, never instead), then of the monitor simulator's dev set (tools/simulate_traffic.py, seed 7: the
traffic bench/monitor.py measures the monitor on). Engine decisions are computed first and not timed. Two monitors on the same policy
and the same requests: the monitor alone (the policy's `abuse` section removed) and the monitor
with the abuse detectors, each on its own fresh in-memory store, fed in lockstep: every request is
timed on both back to back (alternating which goes first) in thread CPU time, so a busy machine
(2 cores shared with other jobs) slows both alike and a preemption is not counted. Reported: the median over `ROUNDS` rounds of the added share.

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
    lines, truth, tenants = generate(11, "dev")
    measure(engine, "abuse dev mix: distillation networks, intrusions and their benign twins, with accounts", lines[:N_REQUESTS], tenants)
    benign = {name for name, actor in truth["actors"].items() if actor["kind"] == "benign"}
    ordinary = [line for line in lines if truth["requests"][line["id"]] in benign]
    measure(
        engine,
        "abuse simulator's benign actors only (staff templates, CI, an in-scope red team, self-serve users, a SOC): accounts, no abuse",
        ordinary[:N_REQUESTS],
        tenants,
    )
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

    def round_() -> tuple[float, float]:
        """Both monitors fed the same requests in lockstep, each request timed on both back to
        back: a busy machine slows both alike, so the ratio holds where separate runs do not."""
        alone, full = Monitor(without, open_store(None)), Monitor(with_abuse, open_store(None))
        clock = time.thread_time  # CPU time of this thread: a preemption is not counted
        t_alone = t_full = 0.0
        gc.collect()
        for i, (tenant, rid, ts, item, decision, conv, auth, scope) in enumerate(prepared):
            pair = (alone, full) if i % 2 else (full, alone)  # neither always runs on a warm cache
            spent = []
            for monitor in pair:
                t0 = clock()
                monitor.observe(tenant, rid, ts, item, decision, conversation=conv, authorities=auth, account=item, cyber_scope=scope)
                spent.append(clock() - t0)
            if i % 2:
                t_alone, t_full = t_alone + spent[0], t_full + spent[1]
            else:
                t_alone, t_full = t_alone + spent[1], t_full + spent[0]
        return t_alone, t_full

    rounds = [round_() for _ in range(ROUNDS)]
    n = len(prepared)
    ratios = sorted(f / b - 1.0 for b, f in rounds)
    b, f = min(r[0] for r in rounds), min(r[1] for r in rounds)
    added = ratios[len(ratios) // 2]
    print(f"abuse detectors, {n} requests of the {label}; one core, paired per request (thread CPU time), {ROUNDS} rounds")
    print(f"  monitor alone              {b / n * 1e6:7.1f} us/req (best round)")
    print(f"  monitor + abuse detectors  {f / n * 1e6:7.1f} us/req (best round)")
    print(f"  added: median {added:+.1%} of the monitor's cost (rounds from {ratios[0]:+.1%} to {ratios[-1]:+.1%})")
    print(f"  budget <= +20%: {'met' if added <= 0.20 else 'NOT met'}")


if __name__ == "__main__":
    main()
