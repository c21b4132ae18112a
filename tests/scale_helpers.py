"""Scale-out test plumbing: a private PostgreSQL database per test, `redline serve` replicas on one
PostgreSQL and one Redis, and a round-robin client over them."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
import yaml

from gateway_stubs import free_port, wait_http
from redline.tenants import TenantStore


@contextmanager
def private_database(server_url: str) -> Iterator[str]:
    """Create `redline_scale_<random>` on the server of `server_url`; drop it on exit."""
    name = f"redline_scale_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(server_url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def add_tenants(db: str, names: Sequence[str]) -> dict[str, str]:
    """Tenants (foreign-intelligence authority, like the gateway tests' own) -> their API keys."""
    keys: dict[str, str] = {}
    with TenantStore.open(db) as store:
        for name in names:
            _, keys[name] = store.add(name, ["foreign_intelligence"])
    return keys


class Replica:
    """One `redline serve` process on a loopback port, on a shared database, Redis and ledger key."""

    def __init__(
        self, workdir: Path, db: str, redis: str | None, key_file: Path, config: dict[str, Any], policy: Path | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir, self.db, self.redis, self.key_file = workdir, db, redis, key_file
        self.port = free_port()
        self.config_path = workdir / "gateway.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.policy = policy
        self.start()

    def start(self) -> None:
        self.log = (self.workdir / "serve.log").open("ab")
        cmd = [sys.executable, "-c", "from redline.cli import main; main()", "serve", "--config", str(self.config_path)]
        cmd += ["--db", self.db, "--key", str(self.key_file), "--port", str(self.port)]
        if self.redis:
            cmd += ["--redis", self.redis]
        if self.policy is not None:
            cmd += ["--policy", str(self.policy)]
        env = {k: v for k, v in os.environ.items() if k not in ("REDLINE_DB", "REDLINE_LEDGER_KEY", "REDLINE_REDIS")}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_http(f"{self.url}/healthz", timeout=90)
        except OSError:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush — what a crashed host does."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self.log.closed:
            self.log.close()


class RoundRobin:
    """Sends each request to the next replica in turn (what a load balancer does)."""

    def __init__(self, replicas: Sequence[Replica]) -> None:
        self.replicas = list(replicas)
        self._next = itertools.cycle(range(len(self.replicas)))

    def post(self, path: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        return post(self.replicas[next(self._next)].url + path, key, body, headers)


def post(
    url: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one POST."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url, data=orjson.dumps(body), headers={"Authorization": f"Bearer {key}", "content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, orjson.loads(e.read())
