"""Gateway overhead: redline vs. a bare pass-through proxy, same stub upstream, same machine, same run.

Three processes besides this one: a stub OpenAI-compatible upstream (tests/gateway_stubs.py), the
bare proxy (bench/bare_proxy.py: same server stack, no parsing, no checks) and `redline serve`
(built-in classifier on, input and output checked, every decision written to a SQLite ledger).
Prompts are permitted 50-word texts from the dev split (typical traffic: everything passes).

- latency: sequential requests, interleaved direct / bare / redline, so machine noise hits all
  three alike; "added" is redline minus bare proxy at each percentile.
- throughput: the same number of requests at fixed concurrency through each proxy, twice,
  alternating; the ratio is redline / bare.
- memory: redline's RSS after warm-up and after every block of requests; `--full` sends 100,000.

Budgets (DESIGN.md): p50 added <= 3 ms, throughput >= 50% of the bare proxy, RSS flat (+-10%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from classify import prompts  # noqa: E402
from gateway_stubs import free_port, wait_http  # noqa: E402
from redline.tenants import TenantStore  # noqa: E402


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (a steadier measure than wall time on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def allowed_prompts() -> list[str]:
    """Permitted dev prompts that the engine lets through: the bench measures traffic that flows."""
    from redline.engine import Engine

    engine = Engine.from_options()
    return [t for t in prompts(permitted_only=True) if engine.decide_text(t).decision == "allow"]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Load:
    def __init__(self, session: aiohttp.ClientSession, key: str, texts: list[str]) -> None:
        self.session, self.texts = session, texts
        self.headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        self.bodies = [orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": t}]}) for t in texts]
        self.errors: dict[int, int] = {}

    async def one(self, url: str, i: int) -> float:
        t0 = time.perf_counter()
        async with self.session.post(url, data=self.bodies[i % len(self.bodies)], headers=self.headers) as r:
            await r.read()
            if r.status != 200:
                self.errors[r.status] = self.errors.get(r.status, 0) + 1
        return time.perf_counter() - t0

    async def many(self, url: str, n: int, concurrency: int) -> float:
        """Requests per second for n requests at the given concurrency."""
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                await self.one(url, i)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)


async def run(args: argparse.Namespace, urls: dict[str, str], key: str, pids: dict[str, int], texts: list[str]) -> None:
    redline_pid = pids["redline"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        load = Load(session, key, texts)
        for url in urls.values():  # warm-up: connections, caches, the classifier's first calls
            for i in range(200):
                await load.one(url, i)
        lat: dict[str, list[float]] = {name: [] for name in urls}
        for i in range(args.latency_requests):
            for name, url in urls.items():
                lat[name].append(await load.one(url, i))
        print(f"latency, {args.latency_requests} sequential requests each (ms):")
        print(f"  {'':10} {'p50':>7} {'p90':>7} {'p99':>7}")
        for name, values in lat.items():
            print(f"  {name:10} {pct(values, 0.5) * 1e3:7.2f} {pct(values, 0.9) * 1e3:7.2f} {pct(values, 0.99) * 1e3:7.2f}")
        added = {q: (pct(lat["redline"], q) - pct(lat["bare"], q)) * 1e3 for q in (0.5, 0.99)}
        print(f"  added by redline over the bare proxy: p50 {added[0.5]:.2f} ms, p99 {added[0.99]:.2f} ms  (budget p50 <= 3 ms)")

        rss0 = rss_mb(redline_pid)
        ratios = []
        cpu: dict[str, list[float]] = {"bare": [], "redline": []}
        for _ in range(2):
            rate = {}
            for name in ("bare", "redline"):
                c0 = cpu_s(pids[name])
                rate[name] = await load.many(urls[name], args.throughput_requests, args.concurrency)
                cpu[name].append((cpu_s(pids[name]) - c0) / args.throughput_requests * 1e3)
            ratios.append(rate["redline"] / rate["bare"])
            print(
                f"throughput, {args.throughput_requests} requests at concurrency {args.concurrency}: "
                f"bare {rate['bare']:,.0f}/s, redline {rate['redline']:,.0f}/s, ratio {ratios[-1]:.2f}"
            )
        print(f"  throughput ratio {min(ratios):.2f}-{max(ratios):.2f}  (budget >= 0.50)")
        print(f"  server CPU per request: bare {min(cpu['bare']):.2f} ms, redline {min(cpu['redline']):.2f} ms")

        total, block = args.rss_requests, max(1, args.rss_requests // 10)
        samples = [rss_mb(redline_pid)]
        for _ in range(total // block):
            await load.many(urls["redline"], block, args.concurrency)
            samples.append(rss_mb(redline_pid))
        print(
            f"redline RSS (MB) after warm-up {rss0:.1f}; then every {block:,} of {total:,} requests: "
            + " ".join(f"{s:.1f}" for s in samples)
        )
        base = samples[1] if len(samples) > 1 else samples[0]
        print(f"  RSS change over the last {total - block:,} requests: {100 * (samples[-1] - base) / base:+.1f}%  (budget +-10%)")
        if load.errors:
            print(f"WARNING: requests that did not answer 200, by status: {load.errors}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-requests", type=int, default=1000)
    p.add_argument("--throughput-requests", type=int, default=4000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rss-requests", type=int, default=10_000)
    p.add_argument("--full", action="store_true", help="memory over 100,000 requests (about 2-4 minutes here)")
    args = p.parse_args()
    if args.full:
        args.rss_requests = 100_000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers below on a plain kill too
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ports = {name: free_port() for name in ("stub", "bare", "redline")}
        stub_url = f"http://127.0.0.1:{ports['stub']}/v1"
        db = f"sqlite:///{work / 'bench.db'}"
        with TenantStore.open(db) as store:
            _, key = store.add("bench")
        stub_code = f"import sys, time; sys.path.insert(0, 'tests'); from gateway_stubs import StubUpstream; StubUpstream('openai', {ports['stub']}).start(); time.sleep(1e9)"
        env_cmd = [
            "-c",
            "from redline.cli import main; main()",
            "serve",
            "--db",
            db,
            "--key",
            str(work / "k.pem"),
            "--port",
            str(ports["redline"]),
        ]
        procs = [
            spawn(["-c", stub_code], work / "stub.log"),
            spawn([str(ROOT / "bench/bare_proxy.py"), str(ports["bare"]), stub_url], work / "bare.log"),
            spawn([*env_cmd, "--upstream", stub_url], work / "redline.log"),
        ]
        try:
            wait_http(f"http://127.0.0.1:{ports['redline']}/healthz", 60)
            time.sleep(1.0)
            urls = {
                "direct": stub_url + "/chat/completions",
                "bare": f"http://127.0.0.1:{ports['bare']}/v1/chat/completions",
                "redline": f"http://127.0.0.1:{ports['redline']}/v1/chat/completions",
            }
            texts = allowed_prompts()
            print(
                f"gateway bench on {os.cpu_count()} cores; {len(texts)} permitted prompts of {statistics.mean(len(t.split()) for t in texts):.0f} words"
            )
            pids = {"bare": procs[1].pid, "redline": procs[2].pid}
            asyncio.run(run(args, urls, key, pids, texts))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(15)


if __name__ == "__main__":
    main()
