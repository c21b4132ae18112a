from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway_stubs import StubUpstream
from redline.engine import Engine
from redline.policy import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_options()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """A real PostgreSQL on loopback, installed (Debian package) and started by tools/pg.sh.
    Fails, never skips, when it cannot be had: the ledger's PostgreSQL suite must run."""
    import os
    import subprocess
    from pathlib import Path

    if url := os.environ.get("REDLINE_TEST_PG_URL"):
        return url
    script = Path(__file__).resolve().parent.parent / "tools" / "pg.sh"
    proc = subprocess.run(["sh", str(script), "start"], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot start PostgreSQL for the ledger tests:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def redis_server() -> str:
    """A real Redis on loopback, installed (Debian package) and started by tools/redis.sh."""
    import os
    import subprocess
    from pathlib import Path

    if url := os.environ.get("REDLINE_TEST_REDIS_URL"):
        return url
    script = Path(__file__).resolve().parent.parent / "tools" / "redis.sh"
    proc = subprocess.run(["sh", str(script), "start"], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot start Redis for the scale-out tests:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A database of its own on the test PostgreSQL (other suites drop tables in the shared one),
    dropped afterwards."""
    from scale_helpers import private_database

    with private_database(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, StubUpstream]]:
    """Stub upstreams speaking each wire format (the gateway tests put redline in front of them)."""
    s = {"openai": StubUpstream("openai").start(), "anthropic": StubUpstream("anthropic").start()}
    yield s
    for stub in s.values():
        stub.close()
