"""Scale-out: throughput of one `redline serve` replica vs two, on one PostgreSQL and one Redis,
same stub upstream, same run.

Processes: a stub OpenAI-compatible upstream (tests/gateway_stubs.py), two replicas (`--db` the
bench's own PostgreSQL database, `--redis`, one ledger key), and this process as the load
generator (aiohttp, fixed concurrency). Traffic: permitted 50-word dev prompts (every decision is
still written to the shared ledger) with a share of single-number identity lookups, which the
monitor counts in the shared Redis state.

Rounds alternate "one replica" and "two replicas round-robin", so machine noise hits both; the
ratio is two / one per round. CPU seconds per request of every process are printed too: on a
2-core machine the replicas share the cores with the load generator, the stub, PostgreSQL and
Redis, and that — not the replicas — bounds the ratio (see docs/deploy.md).

Budget (issue 10): two replicas >= 1.6x one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from gateway import allowed_prompts, cpu_s, spawn  # noqa: E402
from gateway_stubs import free_port, wait_http  # noqa: E402
from redline.tenants import TenantStore  # noqa: E402
from scale_helpers import private_database  # noqa: E402


def service(script: str) -> str:
    out = subprocess.run(["sh", str(ROOT / "tools" / script), "start"], capture_output=True, text=True, check=True, timeout=600)
    return out.stdout.strip().splitlines()[-1]


def pids_of(name: str) -> list[int]:
    """Server processes (PostgreSQL backends, redis-server) by command name, for their CPU time."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip().startswith(name):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_s(pid)
        except (OSError, IndexError):
            continue
    return total


async def load(urls: list[str], key: str, bodies: list[bytes], n: int, concurrency: int) -> tuple[float, dict[int, int]]:
    """Requests per second for n requests spread round-robin over urls; statuses that were not 200."""
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    counter = iter(range(n))
    targets = itertools.cycle(urls)
    errors: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            for i in counter:
                async with session.post(next(targets), data=bodies[i % len(bodies)], headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors[r.status] = errors.get(r.status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0), errors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000, help="per round and setup")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--lookup-share", type=float, default=0.1, help="share of identity lookups (counted by the shared monitor)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pg, redis_url = service("pg.sh"), service("redis.sh")
    texts = allowed_prompts()
    lookups = [f"Who owns the number (312) 4{(i // 100) % 100:02d}-{1000 + (i % 100) * 37:04d}?" for i in range(5000)]
    every = max(1, round(1 / args.lookup_share)) if args.lookup_share > 0 else 0
    mixed = [lookups[i] if every and i % every == 0 else texts[i % len(texts)] for i in range(5000)]
    bodies = [orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": t}]}) for t in mixed]
    with tempfile.TemporaryDirectory() as tmp, private_database(pg) as db:
        work = Path(tmp)
        with TenantStore.open(db) as store:
            _, key = store.add("bench", ["foreign_intelligence"])
        stub_port = free_port()
        stub_url = f"http://127.0.0.1:{stub_port}/v1"
        stub_code = f"import sys, time; sys.path.insert(0, 'tests'); from gateway_stubs import StubUpstream; StubUpstream('openai', {stub_port}).start(); time.sleep(1e9)"
        procs = [spawn(["-c", stub_code], work / "stub.log")]
        ports = [free_port(), free_port()]
        try:
            for i, port in enumerate(ports):
                cmd = ["-c", "from redline.cli import main; main()", "serve", "--db", db, "--redis", redis_url]
                cmd += ["--key", str(work / "k.pem"), "--port", str(port), "--upstream", stub_url]
                procs.append(spawn(cmd, work / f"replica{i}.log"))
                try:
                    wait_http(f"http://127.0.0.1:{port}/healthz", 90)  # one at a time: the first creates the tables
                except OSError:
                    sys.exit(f"replica {i} did not start:\n{(work / f'replica{i}.log').read_text()[-2000:]}")
            urls = [f"http://127.0.0.1:{port}/v1/chat/completions" for port in ports]
            asyncio.run(load(urls, key, bodies, 600, args.concurrency))  # warm-up both
            print(f"scale bench on {os.cpu_count()} cores: {len(texts)} permitted prompts + {args.lookup_share:.0%} identity lookups")
            ratios = []
            costs: dict[str, list[float]] = {}
            cpu_names = {"replicas": [pr.pid for pr in procs[1:]], "stub": [procs[0].pid], "load generator": [os.getpid()]}
            for r in range(args.rounds):
                rate = {}
                for setup, targets in (("one", urls[:1]), ("two", urls)):
                    before = {k: cpu_of(v) for k, v in cpu_names.items()}
                    before["postgres+redis"] = cpu_of(pids_of("postgres") + pids_of("redis-server"))
                    rate[setup], errors = asyncio.run(load(targets, key, bodies, args.requests, args.concurrency))
                    after = {k: cpu_of(v) for k, v in cpu_names.items()}
                    after["postgres+redis"] = cpu_of(pids_of("postgres") + pids_of("redis-server"))
                    for k in after:
                        costs.setdefault(k, []).append((after[k] - before[k]) / args.requests * 1e3)
                    per = "  ".join(f"{k} {(after[k] - before[k]) / args.requests * 1e3:.2f}" for k in after)
                    print(f"  round {r + 1} {setup} replica(s): {rate[setup]:,.0f} req/s   CPU ms/request: {per}")
                    if errors:
                        print(f"    WARNING: non-200 answers by status: {errors}")
                ratios.append(rate["two"] / rate["one"])
                print(f"  round {r + 1}: two / one = {ratios[-1]:.2f}")
            print(f"throughput ratio two / one: {min(ratios):.2f}-{max(ratios):.2f}  (budget >= 1.6)")
            # What the CPU cost per request allows on this many cores if nothing else ran: one
            # replica is one Python process (one core at most); everything shares all the cores.
            cores = os.cpu_count() or 1
            cost = {k: min(v) for k, v in costs.items()}
            total = sum(cost.values())
            one = min(1e3 / cost["replicas"], cores * 1e3 / total)
            two = min(2 * 1e3 / cost["replicas"], cores * 1e3 / total)
            print(
                f"CPU model ({cores} cores to ourselves, cheapest round): replica {cost['replicas']:.2f} ms + stub, load generator, "
                f"PostgreSQL, Redis {total - cost['replicas']:.2f} ms per request -> one replica <= {one:,.0f}/s, two <= {two:,.0f}/s, "
                f"ratio <= {two / one:.2f}"
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(20)


if __name__ == "__main__":
    main()
