"""Shared by the ledger tests: a fresh database per test on either backend."""

from __future__ import annotations

from pathlib import Path

import psycopg


def fresh_pg(server_url: str) -> str:
    """Empty the test database's ledger tables and return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        for table in ("ledger_records", "ledger_head", "ledger_checkpoints", "ledger_texts", "ledger_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return server_url


def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"
