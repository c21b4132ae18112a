"""Start `redline serve` as a real process on a loopback port for the gateway tests and bench."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway_stubs import free_port, wait_http
from redline.tenants import TenantStore


class ServedGateway:
    """`redline serve` with a config file, a SQLite database and one tenant; `key` is its API key."""

    def __init__(self, workdir: Path, config: dict[str, Any], tenant: str = "test-tenant", others: Sequence[str] = ()) -> None:
        """`others`: more tenants (their keys in `keys`)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.db = f"sqlite:///{workdir / 'redline.db'}"
        self.key_file = workdir / "ledger.key"
        self.config_path = workdir / "gateway.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.keys: dict[str, str] = {}
        with TenantStore.open(self.db) as store:
            for name in (tenant, *others):
                _, self.keys[name] = store.add(name, ["foreign_intelligence"])
        self.key = self.keys[tenant]
        self._start()

    def _start(self) -> None:
        self.log = (self.workdir / "serve.log").open("ab")
        cmd = [sys.executable, "-c", "from redline.cli import main; main()", "serve", "--config", str(self.config_path)]
        cmd += ["--db", self.db, "--key", str(self.key_file), "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if k not in ("REDLINE_DB", "REDLINE_LEDGER_KEY")}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_http(f"{self.url}/healthz", timeout=60)
        except OSError:
            self.close()
            raise

    def restart(self) -> None:
        """Stop the server (gracefully, as an operator would) and start it again on the same database."""
        self.close()
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def lookup(i: int) -> list[Any]:
    """One reverse lookup of a distinct domestic number: permitted alone, a mosaic when 40 add up."""
    return [{"role": "user", "content": f"Who owns the number (312) 4{i % 100:02d}-{1000 + i * 37:04d}?"}]
