"""Ledger bench: appends/s and verify time, as ratios against plain inserts into the same database
in the same run (DESIGN.md budgets: >= 5,000 appends/s on SQLite; verify of 1M records < 60 s).

    python bench/ledger.py                      # SQLite, 20k appends (single and group commit), 1M-record verify
    python bench/ledger.py --pg URL             # also PostgreSQL (e.g. the URL tools/pg.sh start prints)
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from redline.ledger import Ledger, LedgerWriter, Record, SigningKey
from redline.ledger.canonical import dumps as canonical

PAYLOAD = {
    "decision": "allow",
    "red_line": None,
    "rule": "default.allow",
    "policy_version": "cbec8c8ee298b5e2f9f14e89eb0ce548ccfcb46041dc316dcd54bcdfd762dda0",
    "scores": {"mass_domestic_surveillance": 0.0123, "autonomous_weapons": 0.0},
    "signals": ["operational_ask"],
    "backend": "builtin",
    "request_hash": "7d491dbe1363e1c503d56a96ae1dba1da3e242fc678ae9e8317d0b7a3a523cd8",
    "request_id": "h:91b74a7e5bf062cefc355e7b",
    "evidence": [],
}
RECORD = Record("decision", PAYLOAD, tenant="bench")
BODY = canonical({"v": 1, "seq": 0, "kind": "decision", "time": "2026-01-01T00:00:00.000Z", "tenant": "bench", "payload": PAYLOAD})


def plain_sqlite(path: str, n: int, sync: str) -> float:
    """Baseline: one INSERT of the same bytes per transaction, same file settings."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.execute("CREATE TABLE plain (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, chain BLOB NOT NULL)")
    t = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO plain VALUES (?, ?, ?)", (i, BODY, BODY[:32]))
        conn.execute("COMMIT")
    dt = time.perf_counter() - t
    conn.close()
    return n / dt


def plain_pg(url: str, n: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS plain")
        conn.execute("CREATE TABLE plain (seq BIGINT PRIMARY KEY, body BYTEA NOT NULL, chain BYTEA NOT NULL)")
        t = time.perf_counter()
        for i in range(n):
            with conn.transaction():
                conn.execute("INSERT INTO plain VALUES (%s, %s, %s)", (i, BODY, BODY[:32]))
        dt = time.perf_counter() - t
        conn.execute("DROP TABLE plain")
    return n / dt


def ledger_appends(url: str, n: int) -> float:
    with Ledger.open(url, SigningKey.generate()) as led:
        t = time.perf_counter()
        for _ in range(n):
            led.append(RECORD)
        return n / (time.perf_counter() - t)


def ledger_group_commit(url: str, n: int, threads: int) -> float:
    """What a server does: `threads` callers each append and wait for their acknowledgement;
    the writer commits whatever is pending as one transaction."""
    with Ledger.open(url, SigningKey.generate()) as led, LedgerWriter(led) as writer:
        per = n // threads

        def caller() -> None:
            for _ in range(per):
                writer.append(RECORD)

        workers = [threading.Thread(target=caller) for _ in range(threads)]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return per * threads / (time.perf_counter() - t)


def ledger_batched(url: str, n: int, batch: int) -> float:
    with Ledger.open(url, SigningKey.generate()) as led:
        t = time.perf_counter()
        for _ in range(n // batch):
            led.append_many([RECORD] * batch)
        return n / (time.perf_counter() - t)


def million(url: str, n: int) -> tuple[float, float, int]:
    """Fill a ledger with n records (batched, to build it quickly), then time a full verify."""
    key = SigningKey.generate()
    with Ledger.open(url, key) as led:
        t = time.perf_counter()
        for _ in range(n // 5000):
            led.append_many([RECORD] * 5000)
        fill = n / (time.perf_counter() - t)
        report = led.verify()
        assert report.ok, report.problem
        return fill, report.seconds, report.checkpoints


def reset_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("ledger_records", "ledger_head", "ledger_checkpoints", "ledger_texts", "ledger_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--appends", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=1_000_000, help="size of the verify run")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (its ledger tables are dropped!)")
    ap.add_argument("--pg-records", type=int, default=100_000, help="size of the PostgreSQL verify run")
    args = ap.parse_args()
    n = args.appends
    tmp = Path(tempfile.mkdtemp(prefix="redline-bench-"))

    print(f"SQLite (WAL), {n} single appends, one transaction each")
    for sync in ("normal", "full"):
        base = plain_sqlite(str(tmp / f"plain-{sync}.db"), n if sync == "normal" else n // 10, sync)
        led = ledger_appends(f"sqlite:///{tmp / f'ledger-{sync}.db'}?synchronous={sync}", n if sync == "normal" else n // 10)
        print(f"  synchronous={sync:6}  plain inserts {base:9.0f}/s   ledger appends {led:8.0f}/s   ratio {led / base:.2f}")
    base = plain_sqlite(str(tmp / "plain-again.db"), n, "normal")
    for threads in (8, 32):
        group = ledger_group_commit(f"sqlite:///{tmp / f'group-{threads}.db'}", n, threads)
        verdict = "PASS" if group >= 5000 else "FAIL"
        print(
            f"  group commit, {threads:2} concurrent callers (each waits for its ack), synchronous=normal: "
            f"{group:8.0f} appends/s   ratio to plain single inserts {group / base:.2f}   budget >= 5,000/s: {verdict}"
        )
    batched = ledger_batched(f"sqlite:///{tmp / 'batched.db'}", n, 100)
    print(f"  append_many(100), synchronous=normal: {batched:.0f} records/s")

    fill, verify_s, cps = million(f"sqlite:///{tmp / 'million.db'}", args.records)
    print(
        f"SQLite verify of {args.records:,} records ({cps} checkpoints): {verify_s:.1f} s ({args.records / verify_s:.0f} records/s); filled at {fill:.0f}/s"
    )

    if args.pg:
        m = max(n // 10, 1000)
        print(f"PostgreSQL, {m} single appends, one transaction each (server default synchronous_commit=on)")
        reset_pg(args.pg)
        base = plain_pg(args.pg, m)
        led_rate = ledger_appends(args.pg, m)
        print(f"  plain inserts {base:9.0f}/s   ledger appends {led_rate:8.0f}/s   ratio {led_rate / base:.2f}")
        reset_pg(args.pg)
        fill, verify_s, cps = million(args.pg, args.pg_records)
        print(f"PostgreSQL verify of {args.pg_records:,} records ({cps} checkpoints): {verify_s:.1f} s; filled at {fill:.0f}/s")
        reset_pg(args.pg)


if __name__ == "__main__":
    main()
