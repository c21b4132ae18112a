"""/healthz answers 503 (with the reason) when decisions cannot be recorded, tenants cannot be
authenticated, or the replicas' monitor state is down under a fail-closed policy, and 200 again
once they can; upstream outages are reported, not judged."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from redline.engine import Engine
from redline.gateway.app import Gateway
from redline.gateway.config import GatewayConfig, UpstreamConfig
from redline.gateway.ledger_writer import Entry
from redline.ledger import Ledger, load_or_create_signing_key
from redline.monitor import Monitor
from redline.monitor.shared import RedisStore
from redline.monitor.store import SqlStore
from redline.store import parse_db_url
from redline.tenants import TenantStore

Parts = tuple[Gateway, TenantStore, Ledger, TestClient]


@pytest.fixture
def parts(tmp_path: Path, engine: Engine) -> Iterator[Parts]:
    tenants = TenantStore.open(f"sqlite:///{tmp_path / 't.db'}")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", load_or_create_signing_key(str(tmp_path / "k")))
    config = GatewayConfig(upstreams=[UpstreamConfig(name="down", url="http://127.0.0.1:9/v1")]).with_names()
    gateway = Gateway(config, engine, tenants, ledger)
    with TestClient(gateway.app()) as client:  # one lifespan: its end closes the ledger writer
        yield gateway, tenants, ledger, client


def health(client: TestClient) -> tuple[int, dict[str, object]]:
    r = client.get("/healthz")
    return r.status_code, r.json()


def test_healthy_gateway_reports_its_checks(parts: Parts) -> None:
    client = parts[3]
    status, body = health(client)
    assert status == 200 and body["status"] == "ok"
    assert body["checks"] == {"ledger": "ok", "tenants": "ok"}
    assert body["upstreams"] == [{"name": "down", "format": "openai", "up": True}]


def test_unreachable_tenants_database_is_a_503(parts: Parts) -> None:
    _, tenants, _, client = parts
    tenants.close()
    status, body = health(client)
    assert status == 503 and body["status"] == "degraded"
    assert body["checks"]["tenants"].startswith("tenants database")  # type: ignore[index]
    assert body["checks"]["ledger"] == "ok"  # type: ignore[index]


def test_failing_ledger_appends_are_a_503_until_one_commits(parts: Parts, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway, _, ledger, client = parts
    writer = gateway.writer
    assert writer is not None
    entry = Entry(engine.decide_text("status report for the convoy"), {"text": "x"}, "t", "r1", "input")

    def broken(records: object) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "append_many", broken)
    writer._writer.submit(lambda: writer._record(entry))
    deadline = time.monotonic() + 5
    while writer.health() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    status, body = health(client)
    assert status == 503 and body["checks"]["ledger"] == "the last ledger append failed (OSError)"  # type: ignore[index]
    monkeypatch.undo()
    writer._writer.submit(lambda: writer._record(entry)).result(5)
    status, body = health(client)
    assert status == 200 and body["checks"]["ledger"] == "ok"  # type: ignore[index]


def test_stopped_ledger_writer_is_a_503(parts: Parts) -> None:
    gateway, _, _, client = parts
    assert gateway.writer is not None
    gateway.writer._writer.close()
    status, body = health(client)
    assert status == 503 and "closed" in body["checks"]["ledger"]  # type: ignore[index,operator]


@pytest.mark.parametrize("mode", ["fail_closed", "local"])
def test_unreachable_shared_monitor_state_is_a_503_only_when_the_policy_fails_closed(tmp_path: Path, engine: Engine, mode: str) -> None:
    monitor_config = engine.policy.document.monitor
    assert monitor_config is not None
    document = engine.policy.document.model_copy(update={"monitor": monitor_config.model_copy(update={"shared_state_down": mode})})
    policy = dataclasses.replace(engine.policy, document=document)
    store = RedisStore(SqlStore(parse_db_url(f"sqlite:///{tmp_path / 'm.db'}")), "redis://:secret@127.0.0.1:1/0")  # nothing listens
    monitor = Monitor(policy, store)
    gateway = Gateway(GatewayConfig(), engine, TenantStore.open(f"sqlite:///{tmp_path / 't.db'}"), None, monitor=monitor)
    with TestClient(gateway.app()) as client:
        status, body = health(client)
    problem = body["checks"]["monitor_state"]  # type: ignore[index]
    assert "Redis at" in problem and "secret" not in problem  # the password never reaches the body
    if mode == "fail_closed":
        assert status == 503 and body["status"] == "degraded"
    else:
        assert status == 200 and body["status"] == "ok" and "counting locally" in problem
