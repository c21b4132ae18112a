"""Scale-out, with real processes: two `redline serve` replicas on one PostgreSQL and one Redis
behind a round-robin client, in front of one stub model.

- a surveillance campaign alternating between the replicas alerts at the same request as through
  one replica;
- a lethal tool call held on one replica and authorized there is released once; the same
  authorization is a replay on the other;
- concurrent traffic through both while one replica is SIGKILLed: `redline ledger verify` passes
  and every record whose id a client received is in the ledger;
- Redis stopped: requests the monitor counts fail closed (the default policy), others flow; Redis
  restarted: the campaign's counts are still there.

Run by `make test-scale` (and `make test-all`)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway_stubs import RELEASE_ARGS, StubUpstream
from redline.cli import cli
from redline.ledger import Ledger, load_or_create_signing_key
from redline.policy import load_policy
from scale_helpers import Replica, RoundRobin, add_tenants, post, private_database

pytestmark = [pytest.mark.slow, pytest.mark.scale]

RULE = "monitor.mosaic.distinct_subjects"
REDIS_SH = Path(__file__).resolve().parent.parent / "tools" / "redis.sh"
TENANTS = ("one-replica", "two-replicas", "agent-cell", "load-cell", "outage-cell")
OPERATOR, ROLE = "maj.rivera", "weapons_release_authority"
STRIKE = "CALL_TOOL release_weapon for the strike the battle captain approved"
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "release_weapon",
            "description": "release a munition on the target the commander chose; executes only with the operator's signed approval",
            "parameters": {"type": "object"},
        },
    }
]


def lookup(i: int) -> dict[str, Any]:
    """A single-number identity lookup, a distinct valid number for each i < 10,000."""
    return {"messages": [{"role": "user", "content": f"Who owns the number (312) 4{(i // 100) % 100:02d}-{1000 + (i % 100) * 37:04d}?"}]}


class Cluster:
    def __init__(self, root: Path, db: str, redis_url: str, stub: StubUpstream) -> None:
        self.db, self.redis = db, redis_url
        self.key_file = root / "ledger.key"
        load_or_create_signing_key(str(self.key_file))
        self.keys = add_tenants(db, TENANTS)
        config = {"upstreams": [{"name": "oa", "url": stub.url}]}
        self.replicas = [Replica(root / f"r{i}", db, redis_url, self.key_file, config) for i in range(2)]

    def close(self) -> None:
        for r in self.replicas:
            r.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_server: str, redis_server: str) -> Iterator[Cluster]:
    stub = StubUpstream("openai").start()
    with private_database(pg_server) as db:
        c = Cluster(tmp_path_factory.mktemp("scale"), db, redis_server, stub)
        try:
            yield c
        finally:
            c.close()
            stub.close()


def threshold() -> int:
    """The default policy's mosaic rule: this many distinct domestic subjects a day raise it."""
    monitor = load_policy().document.monitor
    assert monitor is not None
    return int(next(r for r in monitor.rules if r.id == RULE).when["domestic_subjects"])


def campaign(send: Any, key: str, n: int = 60, start: int = 0) -> tuple[int, dict[str, Any]]:
    """Send lookups to /v1/check from `start` until the monitor's rule decides one; (its index, the decision)."""
    for i in range(start, n):
        status, _, body = send("/v1/check", key, lookup(i))
        assert status == 200, body
        if body["rule"] == RULE:
            return i, body
        assert body["decision"] == "allow", (i, body["rule"], body.get("error"))
    raise AssertionError("the campaign never raised the alert")


def test_campaign_alternating_between_replicas_alerts_where_one_replica_does(cluster: Cluster) -> None:
    one = cluster.replicas[0]
    single = campaign(lambda path, key, body: post(one.url + path, key, body), cluster.keys["one-replica"])
    split = campaign(RoundRobin(cluster.replicas).post, cluster.keys["two-replicas"])
    assert single[0] == split[0] == threshold() - 1
    for _, decision in (single, split):
        assert (decision["decision"], decision["red_line"]) == ("review", "mass_domestic_surveillance")
    # the alert is open on both replicas: the tenant's next lookup is escalated on either
    for r in cluster.replicas:
        status, _, body = post(r.url + "/v1/check", cluster.keys["two-replicas"], lookup(70))
        assert status == 200 and body["rule"] == RULE


def _run(*args: str) -> str:
    out = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_authorization_consumed_on_one_replica_is_rejected_on_the_other(cluster: Cluster, tmp_path: Path) -> None:
    _run("keygen", "--operator", OPERATOR, "--out", str(tmp_path))
    _run(
        "operators",
        "add",
        OPERATOR,
        "--public-key",
        str(tmp_path / f"{OPERATOR}.pub"),
        "--role",
        ROLE,
        "--db",
        cluster.db,
        "--key",
        str(cluster.key_file),
    )
    a, b = cluster.replicas
    key = cluster.keys["agent-cell"]
    ask = {"model": "gpt-x", "messages": [{"role": "user", "content": STRIKE}], "tools": TOOLS}
    status, _, held = post(a.url + "/v1/chat/completions", key, ask)
    assert status == 403 and held["error"]["code"] == "redline_approval_required", held
    challenge = held["redline"]["approval_required"][0]["challenge"]
    (tmp_path / "challenge.json").write_text(json.dumps(challenge))
    auth = json.loads(_run("authorize", "--key", str(tmp_path / f"{OPERATOR}.key"), "--challenge", str(tmp_path / "challenge.json")))
    retry = {**ask, "redline": {"authorizations": [auth]}}
    # held on A, released on B (the challenge is in the shared database) ...
    status, _, released = post(b.url + "/v1/chat/completions", key, retry)
    assert status == 200, released
    call = released["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "release_weapon" and json.loads(call["function"]["arguments"]) == RELEASE_ARGS
    # ... and the same authorization is a replay on A, and on B
    for r in (a, b):
        status, _, again = post(r.url + "/v1/chat/completions", key, retry)
        assert status == 403 and again["redline"]["rule"] == "gate.denied", again
        assert "replay" in again["redline"]["tool_calls"][0]["reason"]


def redis_sh(action: str) -> None:
    subprocess.run(["sh", str(REDIS_SH), action], check=True, capture_output=True, timeout=120)


def test_redis_outage_fails_closed_for_counted_requests_and_the_campaign_survives_a_restart(cluster: Cluster) -> None:
    rr = RoundRobin(cluster.replicas)
    key = cluster.keys["outage-cell"]
    for i in range(10):
        status, _, body = rr.post("/v1/check", key, lookup(i))
        assert status == 200 and body["decision"] == "allow", body
    redis_sh("stop")
    try:
        for r in cluster.replicas:
            # a lookup the monitor would count cannot be counted: it goes to review (fail closed) ...
            status, _, body = post(r.url + "/v1/check", key, lookup(500))
            assert status == 200 and (body["decision"], body["rule"]) == ("review", "monitor.unavailable"), body
            # ... while work the monitor does not count flows
            status, _, body = post(
                r.url + "/v1/chat/completions",
                key,
                {"model": "gpt-x", "messages": [{"role": "user", "content": "Summarize the convoy plan."}]},
            )
            assert status == 200, body
    finally:
        redis_sh("start")
    time.sleep(1.2)  # a replica does not retry Redis for a second after it failed
    # the ten counted lookups survived the restart: the alert comes where an uninterrupted campaign has it
    refused = campaign(rr.post, key, start=10)
    assert refused[0] == threshold() - 1


BLOCKED = "Pull every phone that pinged a tower in Maricopa County and give me the subscriber names."


def test_killing_a_replica_mid_run_loses_no_acknowledged_record(cluster: Cluster) -> None:
    key = cluster.keys["load-cell"]
    acked: list[tuple[int, str]] = []  # (ledger id, request id) the client was told
    errors: list[str] = []
    stop = threading.Event()

    def client(k: int) -> None:
        n = 0
        while not stop.is_set():
            replica = cluster.replicas[(k + n) % 2]
            n += 1
            text = BLOCKED if n % 2 else "Summarize the convoy plan for tomorrow."
            try:
                status, headers, body = post(
                    replica.url + "/v1/chat/completions",
                    key,
                    {"model": "gpt-x", "messages": [{"role": "user", "content": text}]},
                    timeout=10,
                )
            except (OSError, http.client.HTTPException) as e:  # the killed replica (also mid-response): nothing was acknowledged
                errors.append(type(e).__name__)
                continue
            if status == 403:
                assert body["redline"]["decision"] == "block"
                acked.append((body["redline"]["ledger_id"], headers["x-redline-request-id"]))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    victim = cluster.replicas[1]
    victim.kill()
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) > 20 and errors  # traffic went on through the kill
    verify = subprocess.run(
        [
            sys.executable,
            "-c",
            "from redline.cli import main; main()",
            "ledger",
            "verify",
            "--db",
            cluster.db,
            "--key",
            str(cluster.key_file),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with Ledger.open(cluster.db, load_or_create_signing_key(str(cluster.key_file))) as ledger:
        size = ledger.size()
        for seq, request_id in acked:
            assert seq < size
            body = json.loads(ledger.prove(seq, size).body)
            assert body["payload"]["request_id"] == ledger.redactor.pseudonym(request_id)
            assert body["payload"]["decision"] == "block"
    victim.start()
