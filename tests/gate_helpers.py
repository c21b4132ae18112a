"""Shared by the gate tests: operators with keys, a gate on a fresh database, a worker that
verifies authorizations in another process."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import psycopg

from redline.gate import Gate, GateStore, authorize
from redline.ledger import SigningKey
from redline.policy import load_policy

ROLE = "weapons_release_authority"
NOW = 1_900_000_000.0
ARGS = {"target": "T-0042", "munition": "GBU-39", "aimpoint": {"lat": 34.1, "lon": 44.2}}


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


KEYS = {name: SigningKey.generate() for name in ("alice", "bob", "carol", "dave")}


def fresh_pg_gate(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        for table in ("gate_operators", "gate_challenges"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return server_url


def make_gate(db: str, clock: Clock | None = None) -> Gate:
    """alice and bob hold the release role, carol another role, dave is revoked."""
    store = GateStore.open(db)
    for name, role in (("alice", ROLE), ("bob", ROLE), ("carol", "intel_analyst"), ("dave", ROLE)):
        if store.operator(name) is None:
            store.add_operator(name, role, KEYS[name].verify_key.raw(), KEYS[name].id)
    store.revoke_operator("dave")
    return Gate(load_policy(), store, clock=clock or Clock())


def sign(challenge: dict[str, Any], who: str = "alice", now: float = NOW) -> dict[str, Any]:
    return authorize(copy.deepcopy(challenge), KEYS[who], who, now=now)


def verify_worker(db: str, authorizations: list[dict[str, Any]], start: Any) -> list[bool]:
    """Run in a separate process: verify every authorization for its own call, report which released."""
    gate = make_gate(db)
    start.wait()
    out = []
    for auth in authorizations:
        ch = auth["challenge"]
        out.append(gate.verify(ch["tenant"], ch["tool"], ch["arguments"], auth).ok)
    return out
