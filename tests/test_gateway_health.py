"""/healthz answers 503 (with the reason) when decisions cannot be recorded or tenants cannot be
authenticated, and 200 again once they can; upstream outages are reported, not judged."""

from __future__ import annotations

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
