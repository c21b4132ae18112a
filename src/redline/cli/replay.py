"""`redline replay`: timestamped traffic through the whole engine, monitor included, in order."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml

from redline.abuse import CyberScope, ScopeError
from redline.cli.common import (
    EXIT_INPUT,
    EXIT_POLICY,
    LineError,
    count_lines,
    dumps,
    fail,
    jsonl_items,
    load_engine,
    model_option,
    open_input,
    policy_option,
    progress_bar,
)
from redline.engine import Engine
from redline.ledger import Ledger, LedgerError, Record, load_or_create_signing_key
from redline.monitor import Alert, Monitor, MonitorError, open_store
from redline.store import StoreError
from redline.text import InputError

LEDGER_BATCH = 500
MAX_TS = 253_402_300_799.0  # 9999-12-31T23:59:59Z
DEFAULT_KEY = "redline-ledger.key"


def parse_ts(value: Any) -> float:
    """Seconds since the epoch from a number or an ISO 8601 string; ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError("ts is missing" if value is None else "ts must be a number or an ISO 8601 time")
    if isinstance(value, int | float):
        ts = float(value)
    elif isinstance(value, str):
        try:
            ts = float(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
            except ValueError:
                raise ValueError(f"ts {value[:40]!r} is not a number or an ISO 8601 time") from None
            if parsed.tzinfo is None:
                raise ValueError(f"ts {value[:40]!r} has no time zone") from None
            ts = parsed.timestamp()
    else:
        raise ValueError("ts must be a number or an ISO 8601 time")
    if not math.isfinite(ts) or not 0 <= ts <= MAX_TS:
        raise ValueError("ts is out of range (seconds since 1970, before the year 10000)")
    return ts


@dataclass(frozen=True)
class TenantSpec:
    """A tenant of `--tenants`: its authorities and declared cyber scope."""

    authorities: list[str]
    cyber_scope: list[str] = field(default_factory=list)


def load_tenants(path: str, engine: Engine) -> dict[str, TenantSpec]:
    """Tenants from a YAML or JSON file: `{tenants: {NAME: {authorities: [...], cyber_scope: [...]}}}`
    (the `tenants:` level may be left out; `cyber_scopes` is read as `cyber_scope`). Unknown
    authorities and scope entries that are neither CIDR ranges nor domain patterns are errors."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}", EXIT_INPUT)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        fail(f"{path}: not valid YAML or JSON: {getattr(e, 'problem', None) or e}", EXIT_POLICY)
    if isinstance(data, dict) and isinstance(data.get("tenants"), dict):
        data = data["tenants"]
    if not isinstance(data, dict):
        fail(f"{path}: expected a mapping of tenant name to {{authorities: [...]}}", EXIT_POLICY)
    known = engine.policy.document.authorities
    out: dict[str, TenantSpec] = {}
    for name, spec in data.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            fail(f"{path}: tenants.{name}: expected a mapping with authorities", EXIT_POLICY)
        authorities = spec.get("authorities", engine.policy.document.default_authorities)
        if not isinstance(authorities, list) or not all(isinstance(a, str) for a in authorities):
            fail(f"{path}: tenants.{name}.authorities: expected a list of names", EXIT_POLICY)
        for a in authorities:
            if a not in known:
                fail(f"{path}: tenants.{name}.authorities: unknown authority {a!r} (known: {', '.join(known)})", EXIT_POLICY)
        scope = spec.get("cyber_scope", spec.get("cyber_scopes", [])) or []
        if isinstance(scope, str):
            scope = [scope]
        if not isinstance(scope, list) or not all(isinstance(p, str) for p in scope):
            fail(f"{path}: tenants.{name}.cyber_scope: expected a list of CIDR ranges or domain patterns", EXIT_POLICY)
        try:
            CyberScope(scope)
        except ScopeError as e:
            fail(f"{path}: tenants.{name}.cyber_scope: {e}", EXIT_POLICY)
        out[str(name)] = TenantSpec(list(authorities), list(scope))
    return out


class _LedgerSink:
    """Decision and alert records to the ledger of `--db`, appended in batches."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.pending: list[Record] = []

    def decision(self, engine_decision: Any, item: dict[str, Any], tenant: str, request_id: Any) -> None:
        self.pending.append(self.ledger.redactor.decision(engine_decision, request=item, tenant=tenant, request_id=request_id))
        self._maybe_flush()

    def alert(self, alert: Alert) -> None:
        self.pending.append(self.ledger.redactor.alert(alert.to_dict(), alert.tenant))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.pending) >= LEDGER_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.ledger.append_many(self.pending)
            self.pending = []


def _replay_line(
    engine: Engine,
    monitor: Monitor,
    tenants: dict[str, TenantSpec],
    last_ts: dict[str, float],
    n: int,
    obj: dict[str, Any],
    sink: _LedgerSink | None,
) -> list[dict[str, Any]]:
    item_id = obj.get("id", n)
    tenant = obj.get("tenant")
    if not isinstance(tenant, str) or not tenant.strip():
        return [{"id": item_id, "error": f"line {n}: missing tenant"}]
    try:
        ts = parse_ts(obj.get("ts"))
    except ValueError as e:
        return [{"id": item_id, "error": f"line {n}: {e}"}]
    previous = last_ts.get(tenant)
    if previous is not None and ts < previous:
        return [
            {"id": item_id, "error": f"line {n}: out of order: ts {ts:.3f} is before {previous:.3f}, the last time seen for this tenant"}
        ]
    try:
        conversation = engine.conversation(obj)
    except InputError as e:
        return [{"id": item_id, "error": str(e)}]
    last_ts[tenant] = ts
    decision = engine.decide(conversation)
    spec = tenants.get(tenant)
    try:
        seen = monitor.observe(
            tenant,
            str(item_id),
            ts,
            obj,
            decision,
            conversation=conversation,
            authorities=spec.authorities if spec is not None else engine.policy.document.default_authorities,
            account=obj,
            cyber_scope=spec.cyber_scope if spec is not None else (),
        )
    except MonitorError as e:
        return [{"id": item_id, "error": f"line {n}: {e}"}]
    if sink is not None:
        sink.decision(seen.decision, obj, tenant, item_id)
        for alert in seen.alerts:
            sink.alert(alert)
    return [seen.decision.to_dict(item_id), *({"alert": a.to_dict()} for a in seen.alerts)]


@click.command()
@click.option(
    "--jsonl",
    "jsonl_path",
    required=True,
    help="Timestamped traffic ('-' for stdin): ts, tenant, text or messages, optional id, account, client_ip, org_ref.",
)
@click.option("--db", default=None, help="Database URL for monitor state and the ledger (default: a temporary in-memory store, no ledger).")
@click.option(
    "--tenants",
    "tenants_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Tenant authorities and cyber scopes (YAML or JSON): {NAME: {authorities: [...], cyber_scope: [CIDR or domain, ...]}}.",
)
@click.option(
    "--key",
    "key_path",
    default=lambda: os.environ.get("REDLINE_LEDGER_KEY", DEFAULT_KEY),
    show_default="$REDLINE_LEDGER_KEY or redline-ledger.key",
    help="Ledger checkpoint signing key, with --db (Ed25519 PEM; created on first use).",
)
@policy_option
@model_option
def replay(
    jsonl_path: str, db: str | None, tenants_path: str | None, key_path: str, policy_path: str | None, model_path: str | None
) -> None:
    """Feed timestamped traffic through the whole engine, monitor included, in input order.

    Output: one decision line per input line (as `redline classify`), plus
    {"alert": {"tenant", "kind", "accounts", ...}} lines when a detector fires (`kind`: mosaic,
    distillation, intrusion). A line that
    cannot be used (bad JSON or timestamp, no tenant, out of order for its tenant) gets
    {"id", "error"} and the replay goes on.
    """
    engine = load_engine(policy_path, model_path)
    tenants = load_tenants(tenants_path, engine) if tenants_path else {}
    if engine.policy.document.monitor is None:
        fail(f"{engine.policy.source}: the policy has no monitor section", EXIT_POLICY)
    ledger: Ledger | None = None
    try:
        store = open_store(db)
        if db is not None:
            ledger = Ledger.open(db, load_or_create_signing_key(key_path), retention=engine.policy.document.retention)
    except (StoreError, LedgerError) as e:
        fail(str(e), EXIT_POLICY)
        return
    try:
        monitor = Monitor(engine.policy, store)
    except MonitorError as e:
        fail(str(e), EXIT_POLICY)
        return
    sink = _LedgerSink(ledger) if ledger is not None else None
    last_ts: dict[str, float] = {}
    fh = open_input(jsonl_path)
    out = sys.stdout
    try:
        with fh, progress_bar(count_lines(jsonl_path), "replay") as advance:
            for n, obj in jsonl_items(fh):
                if isinstance(obj, LineError):
                    lines: list[dict[str, Any]] = [{"id": n, "error": str(obj)}]
                else:
                    lines = _replay_line(engine, monitor, tenants, last_ts, n, obj, sink)
                out.write("".join(dumps(line) + "\n" for line in lines))
                advance()
    finally:
        if sink is not None:
            sink.flush()
        monitor.close()
        if ledger is not None:
            ledger.close()
    out.flush()


__all__ = ["TenantSpec", "load_tenants", "parse_ts", "replay"]
