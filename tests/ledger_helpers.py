"""Shared by the ledger tests: a fresh database per test on either backend, and a count of the
batches a ledger commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg


def fresh_pg(server_url: str) -> str:
    """Empty the test database's ledger tables and return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        for table in ("ledger_records", "ledger_head", "ledger_checkpoints", "ledger_texts", "ledger_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return server_url


def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def count_batches(ledger: Any) -> list[int]:
    """Wrap `ledger.append_many` so each commit's size is appended to the returned list."""
    batches: list[int] = []
    append_many = ledger.append_many

    def counting(records: Any) -> Any:
        batches.append(len(records))
        return append_many(records)

    ledger.append_many = counting
    return batches
