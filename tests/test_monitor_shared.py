"""The monitor's state shared by replicas (`RedisStore`) on a real Redis and PostgreSQL, with
several `Monitor` objects in one process standing for replicas: a campaign alternating between
them alerts at the same request as on one; concurrent counting loses nothing; Redis down follows
the policy's `shared_state_down`; Redis losing its data falls back to the durable snapshot."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from gateway_stubs import free_port
from redline.engine import Engine
from redline.monitor import Monitor, MonitorError, SqlStore
from redline.monitor.shared import RedisStore
from redline.monitor.state import TenantState
from redline.policy import Policy
from redline.store import parse_db_url

pytestmark = pytest.mark.scale  # fast: also in the default `make test`

RULE = "monitor.mosaic.distinct_subjects"


def lookup(i: int) -> dict[str, Any]:
    """A single-number identity lookup, a distinct valid number for each i < 10,000."""
    return {"messages": [{"role": "user", "content": f"Who owns the number (312) 4{(i // 100) % 100:02d}-{1000 + (i % 100) * 37:04d}?"}]}


def threshold(policy: Policy) -> int:
    assert policy.document.monitor is not None
    rule = next(r for r in policy.document.monitor.rules if r.id == RULE)
    return int(rule.when["domestic_subjects"])


def shared(db: str, redis_url: str, prefix: str, policy: Policy) -> Monitor:
    store = RedisStore(SqlStore(parse_db_url(db)), redis_url, prefix=prefix)
    return Monitor(policy, store)


def observe(engine: Engine, monitor: Monitor, i: int, tenant: str = "cell", item: dict[str, Any] | None = None) -> Any:
    item = item if item is not None else lookup(i)
    conversation = engine.conversation(item)
    return monitor.observe(tenant, f"req-{i}", time.time(), item, engine.decide(conversation), conversation=conversation)


def first_alert(engine: Engine, monitors: list[Monitor], tenant: str = "cell", n: int = 60) -> tuple[int, dict[str, int]]:
    for i in range(n):
        seen = observe(engine, monitors[i % len(monitors)], i, tenant)
        if seen.alerts:
            return i, seen.alerts[0].counts
    raise AssertionError("no alert")


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:"


def test_alternating_replicas_alert_at_the_same_request_as_one(
    engine: Engine, pg_database: str, redis_server: str, prefix: str, pg_server: str
) -> None:
    alone = Monitor(engine.policy)  # one process, in memory: the reference
    single = first_alert(engine, [alone])
    assert single[0] == threshold(engine.policy) - 1
    one = [shared(pg_database, redis_server, prefix + "one:", engine.policy)]
    two = [shared(pg_database, redis_server, prefix + "two:", engine.policy) for _ in range(2)]
    three = [shared(pg_database, redis_server, prefix + "three:", engine.policy) for _ in range(3)]
    try:
        # (one tenant per setup: they share the durable database, which a new tenant is read from)
        assert first_alert(engine, one, "cell-1") == single
        assert first_alert(engine, two, "cell-2") == single
        assert first_alert(engine, three, "cell-3") == single
        # the alert is open on every replica: the next lookup is escalated wherever it lands
        for k, m in enumerate(two):
            assert observe(engine, m, 100 + k, "cell-2").escalated_by == RULE
    finally:
        for m in [*one, *two, *three]:
            m.close()


def test_concurrent_replicas_lose_no_count(engine: Engine, pg_database: str, redis_server: str, prefix: str) -> None:
    replicas = [shared(pg_database, redis_server, prefix, engine.policy) for _ in range(2)]
    alerts: list[Any] = []
    per = 15  # 30 distinct subjects in all: under the alert threshold, so every one is counted plainly

    def run(k: int) -> None:
        for j in range(per):
            alerts.extend(observe(engine, replicas[k], 1000 * k + j).alerts)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not alerts
        fresh = shared(pg_database, redis_server, prefix, engine.policy)
        # a third replica reads the shared state: every request of both threads is in it
        seen = observe(engine, fresh, 5000)
        assert seen.domestic_subjects == 1
        state = fresh._tenants["cell"]
        assert state.value("domestic_subjects", "day") == 2 * per + 1
        fresh.close()
    finally:
        for m in replicas:
            m.close()


def test_redis_down_fails_closed_or_degrades_as_the_policy_says(engine: Engine, pg_database: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    monitor = shared(pg_database, dead, "x:", engine.policy)
    try:
        with pytest.raises(MonitorError, match="shared monitor state unavailable"):
            observe(engine, monitor, 1)
        # a request the monitor does not count never needs Redis
        plain = observe(engine, monitor, 2, item={"text": "Summarize the convoy plan for tomorrow."})
        assert plain.degraded is None and not plain.alerts
    finally:
        monitor.close()

    assert engine.policy.document.monitor is not None
    local_doc = engine.policy.document.model_copy(
        update={"monitor": engine.policy.document.monitor.model_copy(update={"shared_state_down": "local"})}
    )
    local_policy = Policy(
        document=local_doc, signals=engine.policy.signals, signal_set=engine.policy.signal_set, version="local", source="t"
    )
    monitor = shared(pg_database, dead, "x:", local_policy)
    try:
        seen = [observe(engine, monitor, i) for i in range(threshold(engine.policy))]
        assert all(s.degraded and "Redis" in s.degraded for s in seen)
        # counted in this process: the campaign still raises its alert here
        assert [i for i, s in enumerate(seen) if s.alerts] == [threshold(engine.policy) - 1]
    finally:
        monitor.close()


def test_redis_losing_its_data_resumes_from_the_durable_snapshot(engine: Engine, pg_database: str, redis_server: str, prefix: str) -> None:
    import redis

    a, b = (shared(pg_database, redis_server, prefix, engine.policy) for _ in range(2))
    try:
        n = threshold(engine.policy) - 10
        for i in range(n):
            observe(engine, (a, b)[i % 2], i)
        a.flush()
        b.flush()
        client = redis.Redis.from_url(redis_server)
        assert client.delete(*client.keys(prefix + "*")) >= 1  # Redis restarted without its data
        client.close()
        hits = [i for i in range(n, n + 20) if observe(engine, (a, b)[i % 2], i).alerts]
        assert hits == [threshold(engine.policy) - 1]
    finally:
        a.close()
        b.close()


def test_a_stale_replica_never_overwrites_a_newer_snapshot(engine: Engine, pg_database: str, redis_server: str, prefix: str) -> None:
    a, b = (shared(pg_database, redis_server, prefix, engine.policy) for _ in range(2))
    try:
        observe(engine, a, 1)
        observe(engine, b, 2)  # b's copy is newer: it holds both requests
        b.flush()
        a.flush()  # a's older copy (one request) must not replace it
        stored = SqlStore(parse_db_url(pg_database))
        saved = stored.load_tenant("cell")
        stored.close()
        assert saved is not None
        assert engine.policy.document.monitor is not None
        state = TenantState(engine.policy.document.monitor)
        state.load_state(saved)
        assert state.value("domestic_subjects", "day") == 2
    finally:
        a.close()
        b.close()


def test_replicas_agree_across_snapshot_compactions(
    engine: Engine, pg_database: str, redis_server: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redline.monitor import shared as shared_module

    monkeypatch.setattr(shared_module, "COMPACT_EVERY", 3)  # a snapshot every few requests, read back by the others
    alone = Monitor(engine.policy)
    replicas = [shared(pg_database, redis_server, prefix, engine.policy) for _ in range(3)]
    try:
        # uneven turns: replicas fall behind by different numbers of log entries and snapshots
        turns = [0, 0, 1, 2, 2, 2, 2, 1, 0, 1]
        for i in range(45):
            mine, ref = observe(engine, replicas[turns[i % len(turns)]], i), observe(engine, alone, i)
            assert (bool(mine.alerts), mine.decision.rule, mine.domestic_subjects) == (
                bool(ref.alerts),
                ref.decision.rule,
                ref.domestic_subjects,
            )
        last = observe(engine, replicas[1], 9999)
        assert last.decision.rule == observe(engine, alone, 9999).decision.rule == RULE
        mine_state, ref_state = replicas[1]._tenants["cell"], alone._tenants["cell"]  # (salts differ: compare counts)
        for metric in ("domestic_subjects", "surveillance_requests", "joined_subjects"):
            assert mine_state.value(metric, "day") == ref_state.value(metric, "day")
        assert len(mine_state.samples) == len(ref_state.samples) and mine_state.open_alerts.keys() == ref_state.open_alerts.keys()
    finally:
        for m in replicas:
            m.close()


def test_serve_picks_redis_from_flag_env_or_config_and_rejects_a_bad_url(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from redline.cli import cli
    from redline.cli.serve import _settings
    from redline.gateway import GatewayConfig

    config = GatewayConfig(redis="redis://from-config:6379/0")
    monkeypatch.delenv("REDLINE_REDIS", raising=False)
    assert _settings(config, None, None, None, ()).redis == "redis://from-config:6379/0"
    monkeypatch.setenv("REDLINE_REDIS", "redis://from-env:6379/0")
    assert _settings(config, None, None, None, ()).redis == "redis://from-env:6379/0"
    assert _settings(config, None, None, None, (), "redis://from-flag:6379/0").redis == "redis://from-flag:6379/0"
    out = CliRunner().invoke(
        cli, ["serve", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--key", str(tmp_path / "k.pem"), "--redis", "foo://bar", "--port", "0"]
    )
    assert out.exit_code == 2 and "not a Redis URL" in out.output and "Traceback" not in out.output


def test_a_wait_for_another_replicas_lock_does_not_stall_the_gateways_event_loop(
    engine: Engine, pg_database: str, redis_server: str, prefix: str
) -> None:
    import asyncio

    import redis

    from redline.gateway.metrics import Metrics
    from redline.gateway.monitoring import MonitorHook
    from redline.tenants import Tenant

    monitor = shared(pg_database, redis_server, prefix, engine.policy)
    hook = MonitorHook(monitor, None, Metrics())
    item = lookup(7)
    conversation = engine.conversation(item)
    decision = engine.decide(conversation)
    tenant = Tenant("cell", (), "active", 0.0, {})
    # another replica holds the tenant's lock for 1.2 s
    assert isinstance(monitor.store, RedisStore)
    redis.Redis.from_url(redis_server).set(monitor.store._lock_key("cell"), b"other-replica", px=1200)

    async def run() -> tuple[float, float, str]:
        gaps: list[float] = []

        async def ticker() -> None:  # what every other request on the loop experiences
            last = time.monotonic()
            for _ in range(60):
                await asyncio.sleep(0.02)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)  # the ticker runs before the request arrives
        t0 = time.monotonic()
        observed = await hook.observe(tenant, "req-7", time.time(), conversation, decision, item)
        waited = time.monotonic() - t0
        await ticking
        return waited, max(gaps), observed.decision

    waited, worst_gap, outcome = asyncio.run(run())
    assert waited >= 1.0  # the request itself did wait for the lock
    assert worst_gap < 0.5, f"the event loop stalled for {worst_gap:.2f} s"
    assert outcome in ("allow", "review", "block")
    monitor.close()
