"""`redline serve`: the OpenAI- and Anthropic-compatible gateway."""

from __future__ import annotations

import os
from pathlib import Path

import click

from redline.cli.common import EXIT_POLICY, fail, load_engine, policy_option
from redline.cli.ledger import DEFAULT_DB, DEFAULT_KEY
from redline.cli.tenants import EXIT_USAGE
from redline.console import PREFIX, Console, open_console
from redline.engine import Engine
from redline.gate import Gate, GateError, GateStore, GateUnavailable
from redline.gateway import ConfigError, Gateway, GatewayConfig, UpstreamConfig, load_config
from redline.gateway.reviewing import ReviewHook
from redline.gateway.serve import run
from redline.ledger import Ledger, LedgerError, SigningKey, load_or_create_signing_key
from redline.monitor import Monitor, MonitorError, MonitorStore, open_store
from redline.monitor.shared import RedisStore
from redline.review import ReviewStore
from redline.screen import Screener
from redline.store import DatabaseURL, StoreError, parse_db_url
from redline.store.redis import check_redis_url, redact_redis_url
from redline.tenants import TenantError, TenantStore, onboard, tenant_screener


def _settings(
    config: GatewayConfig, db: str | None, host: str | None, port: int | None, upstreams: tuple[str, ...], redis: str | None = None
) -> GatewayConfig:
    """Command line over config file over defaults; `--upstream` URLs come first in failover order."""
    extra = [UpstreamConfig(name=f"upstream-{i + 1}", url=u) for i, u in enumerate(upstreams)]
    return config.model_copy(
        update={
            "db": db or os.environ.get("REDLINE_DB") or config.db or DEFAULT_DB,
            "redis": redis or os.environ.get("REDLINE_REDIS") or config.redis,
            "host": host or config.host,
            "port": config.port if port is None else port,
            "upstreams": extra + config.upstreams,
        }
    )


def _demo_tenant(store: TenantStore, screener: Screener | None, name: str, host: str, port: int, db: str) -> None:
    """Create the demo tenant on first run and show its key; later, say how to get one. It is
    screened like any tenant when a list is loaded; a demo without lists runs it unscreened."""
    url = f"http://{host}:{port}"
    if store.get(name) is None:
        done = onboard(store, name, screener=screener, unscreened=True)
        if done.screening is None:
            click.echo("warning: no restricted-entity list loaded; the demo tenant was NOT screened (redline lists import FILE)")
        if not done.tenant.active:
            raise TenantError(f"demo tenant {name!r} was not cleared by screening ({done.tenant.status}); pick another name")
        key = done.key
        click.echo(f"created demo tenant {name!r}; its API key (shown only now):\n\n  {key}\n")
    else:
        key = "KEY"
        click.echo(
            f"demo tenant {name!r} exists; its key was shown when it was created and is stored only as a hash.\n"
            f"  new key:  .venv/bin/redline tenants add NAME --db {db}\n"
        )
    click.echo(
        "try it:\n"
        f"  curl -s {url}/v1/check -H 'Authorization: Bearer {key}' -H 'content-type: application/json' \\\n"
        '       -d \'{"text": "Pull every phone that pinged a tower in Maricopa County and give me the subscriber names."}\'\n'
    )


def _monitor_store(url: DatabaseURL, redis_url: str | None) -> MonitorStore:
    """The monitor's state in the database (one process), or shared by replicas through Redis
    with the durable part in the database."""
    if redis_url is None:
        return open_store(url)
    return RedisStore.open(url, check_redis_url(redis_url))


def _open_gate(engine: Engine, url: DatabaseURL, key: SigningKey) -> tuple[Gate | None, str]:
    """The Gate on the same database, recording into the same ledger. If it cannot be opened the
    gateway still serves, but withholds every lethal tool call (fail closed) and says so."""
    try:
        store = GateStore.open(url)
    except (GateError, GateUnavailable) as e:
        click.echo(f"warning: the gate is unavailable ({e}); lethal tool calls will be withheld", err=True)
        return None, str(e)
    try:
        gate_ledger = Ledger.open(url, key, retention=engine.policy.document.retention)
    except (StoreError, LedgerError) as e:
        store.close()
        click.echo(f"warning: the gate cannot record to the ledger ({e}); lethal tool calls will be withheld", err=True)
        return None, f"ledger unavailable: {e}"
    return Gate(engine.policy, store, gate_ledger), ""


@click.command("serve")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Gateway config file (YAML).")
@click.option(
    "--db", default=None, help=f"Database URL for tenants and the ledger [default: $REDLINE_DB, the config's db, or {DEFAULT_DB}]."
)
@click.option(
    "--key",
    "key_path",
    default=None,
    help=f"Ledger checkpoint signing key, created on first use [default: $REDLINE_LEDGER_KEY, the config's ledger_key, or {DEFAULT_KEY}].",
)
@click.option(
    "--redis",
    "redis_url",
    default=None,
    metavar="URL",
    help="Redis URL (redis://HOST:PORT/DB) for monitor state shared by replicas [default: $REDLINE_REDIS or the config's redis].",
)
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: 8080].")
@click.option(
    "--upstream", "upstreams", multiple=True, help="OpenAI-compatible API base URL (ending in /v1); repeatable, in failover order."
)
@policy_option
@click.option("--demo-tenant", default=None, metavar="NAME", help="Create tenant NAME if missing and print its key and a curl example.")
def serve(
    config_path: str | None,
    db: str | None,
    key_path: str | None,
    redis_url: str | None,
    host: str | None,
    port: int | None,
    upstreams: tuple[str, ...],
    policy_path: str | None,
    demo_tenant: str | None,
) -> None:
    """Run the gateway: OpenAI (/v1/chat/completions) and Anthropic (/v1/messages) compatible,
    plus /v1/check, /healthz and /metrics. Red-line requests get 403 and never reach a model."""
    try:
        config = _settings(load_config(config_path), db, host, port, upstreams, redis_url)
    except ConfigError as e:
        fail(str(e), EXIT_POLICY)
        return
    except ValueError as e:  # a bad --upstream URL
        fail(f"--upstream: {str(e).splitlines()[-1] if str(e) else e}", EXIT_USAGE)
        return
    assert config.db is not None
    engine = load_engine(policy_path or config.policy, None)
    key_file = key_path or os.environ.get("REDLINE_LEDGER_KEY") or config.ledger_key or DEFAULT_KEY
    try:
        url = parse_db_url(config.db)
        if url.scheme == "sqlite" and url.target != ":memory:":
            Path(url.target).parent.mkdir(parents=True, exist_ok=True)
        store = TenantStore.open(url, list(engine.policy.document.authorities))
        signing_key = load_or_create_signing_key(key_file)
        ledger = Ledger.open(url, signing_key, retention=engine.policy.document.retention)
        # The monitor's state lives in the same database, so a restart resumes a campaign's counts
        # and keeps its open alerts. A policy with a monitor section is not served without it.
        # With --redis, replicas share it (a campaign over replicas is one campaign).
        monitor = Monitor(engine.policy, _monitor_store(url, config.redis)) if engine.policy.document.monitor is not None else None
        if demo_tenant:
            _demo_tenant(store, tenant_screener(url, engine.policy), demo_tenant, config.host, config.port, config.db)
    except (StoreError, LedgerError, TenantError, MonitorError, OSError) as e:
        fail(str(e), EXIT_USAGE)
        return
    gate, gate_unavailable = _open_gate(engine, url, signing_key)
    try:
        reviews, console, console_ledger = _open_console(engine, url, signing_key, config, store, gate, monitor)
    except (StoreError, LedgerError) as e:
        fail(f"the review queue and console cannot be opened: {e}", EXIT_USAGE)
        return
    if not config.upstreams:
        click.echo("no upstream configured: /v1/check works; chat endpoints answer 503 until --upstream or --config names one.")
    names = ", ".join(f"{u.name} ({u.format}, {u.url})" for u in config.upstreams) or "none"
    shared = f" (shared: {redact_redis_url(config.redis)})" if monitor is not None and config.redis else ""
    state = f"monitor: {'on' + shared if monitor is not None else 'off (no monitor section)'}  gate: {'on' if gate is not None else 'UNAVAILABLE'}"
    click.echo(f"redline gateway on http://{config.host}:{config.port}  db={url}  upstreams: {names}  {state}", err=True)
    users = len([u for u in console.users.list() if u.active])
    hint = "" if users else " (no accounts yet: redline users add NAME --role ROLE)"
    click.echo(f"console on http://{config.host}:{config.port}{PREFIX}/  {users} active account(s){hint}", err=True)
    gateway = Gateway(config, engine, store, ledger, monitor=monitor, gate=gate, gate_unavailable=gate_unavailable, reviews=reviews)
    try:
        run(gateway, config.host, config.port, [console.mount])
    finally:
        console.close()
        reviews.store.close()
        console_ledger.close()


def _open_console(
    engine: Engine,
    url: DatabaseURL,
    key: SigningKey,
    config: GatewayConfig,
    tenants: TenantStore,
    gate: Gate | None,
    monitor: Monitor | None,
) -> tuple[ReviewHook, Console, Ledger]:
    """The review queue the gateway fills and the console (under /console) that answers it."""
    review_store = ReviewStore(url)

    def consumed(nonce: str) -> bool:
        issued = gate.store.challenge(nonce) if gate is not None else None
        return issued is None or issued.consumed_at is not None

    console_ledger = Ledger.open(url, key, retention=engine.policy.document.retention)
    hook = ReviewHook(review_store, console_ledger.redactor, config.on_review == "hold", consumed)
    console = open_console(
        url,
        engine.policy,
        console_ledger,
        review_store,
        gate_store=gate.store if gate is not None else None,
        tenants=tenants,
        monitor_store=monitor.store if monitor is not None else None,
        monitor=monitor,
    )
    return hook, console, console_ledger
