"""Ledger under crashes and concurrency: a writer killed with SIGKILL mid-append leaves a log
that verifies with every acknowledged record in it; concurrent writer processes keep one chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger_helpers import fresh_pg, fresh_sqlite
from redline.ledger import Ledger, load_or_create_signing_key, load_signing_key

WRITER = """
import sys
from redline.ledger import Ledger, Record, load_or_create_signing_key
db, key, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with Ledger.open(db, load_or_create_signing_key(key), checkpoint_every=50) as led:
    for i in range(count):
        r = led.append(Record("decision", {"writer": tag, "i": i, "pad": "x" * 200}))
        # Printed only after append() returned: this line is the acknowledgement.
        print(r.seq, i, flush=True)
"""

# The same, through group commit: 4 threads append concurrently, acknowledged when committed.
GROUP_WRITER = """
import sys, threading
from redline.ledger import Ledger, LedgerWriter, Record, load_or_create_signing_key
db, key, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = threading.Lock()
def worker(w, t):
    for i in range(t, count, 4):
        r = w.append(Record("decision", {"writer": tag, "i": i, "pad": "x" * 200}))
        with out:
            sys.stdout.write(f"{r.seq} {i}\\n")
            sys.stdout.flush()
with Ledger.open(db, load_or_create_signing_key(key), checkpoint_every=50) as led, LedgerWriter(led) as w:
    threads = [threading.Thread(target=worker, args=(w, t)) for t in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return fresh_sqlite(tmp_path)
    return fresh_pg(request.getfixturevalue("pg_server"))


def _writer(db: str, key: Path, count: int, tag: str, script: str = WRITER) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, db, str(key), str(count), tag], stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("script", [WRITER, GROUP_WRITER], ids=["single", "group-commit"])
def test_sigkill_during_heavy_appends_loses_nothing_acknowledged(db: str, tmp_path: Path, script: str) -> None:
    key = tmp_path / "ledger.key"
    proc = _writer(db, key, 10**9, "a", script)
    assert proc.stdout is not None
    acked: dict[int, int] = {}
    deadline = time.monotonic() + 60
    while len(acked) < 1500 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seq, i = map(int, line.split())
        acked[seq] = i
    os.kill(proc.pid, signal.SIGKILL)  # mid-append: the writer never stops between records
    rest = proc.stdout.read()  # lines written before the kill are acknowledgements too
    for line in rest.splitlines():
        seq, i = map(int, line.split())
        acked[seq] = i
    proc.wait()
    assert len(acked) >= 1500

    with Ledger.open(db, load_signing_key(key)) as led:
        report = led.verify()
        assert report.ok, report.problem
        rows = {seq: json.loads(bytes(body))["payload"]["i"] for seq, body in led.backend.execute("SELECT seq, body FROM ledger_records")}  # type: ignore[arg-type]
    for seq, i in acked.items():
        assert rows.get(seq) == i, f"acknowledged record {seq} is missing"


def test_two_concurrent_writer_processes_keep_one_chain(db: str, tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"
    Ledger.open(db, load_or_create_signing_key(key)).close()  # key and tables exist before the race
    writers = [_writer(db, key, 400, tag) for tag in ("a", "b")]
    outputs = [w.communicate(timeout=120)[0] for w in writers]
    assert all(w.returncode == 0 for w in writers)
    seqs = sorted(int(line.split()[0]) for out in outputs for line in out.splitlines())
    assert seqs == list(range(800))  # no gaps, no duplicates: one sequence
    with Ledger.open(db, load_signing_key(key)) as led:
        report = led.verify()
        assert report.ok, report.problem
        assert report.size == 800
        tags = [json.loads(bytes(b))["payload"]["writer"] for (b,) in led.backend.execute("SELECT body FROM ledger_records ORDER BY seq")]  # type: ignore[arg-type]
    assert tags.count("a") == tags.count("b") == 400
