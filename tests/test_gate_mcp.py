"""End to end through `redline mcp-proxy`: an MCP client session (the agent) talks to the proxy
process, which launches a real MCP server process exposing a lethal and an observe tool."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
from click.testing import CliRunner, Result
from mcp import ClientSession, StdioServerParameters, stdio_client

from redline.cli import cli

REDLINE = str(Path(sys.executable).with_name("redline"))
SERVER = str(Path(__file__).with_name("mcp_weapons_server.py"))


def _run(*args: str) -> Result:
    """The operator-side and audit commands, in process (only the proxy needs its own process)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _redline(result: Any) -> dict[str, Any]:
    assert result.is_error
    assert result.structured_content is not None
    return dict(result.structured_content["redline"])


def test_mcp_proxy_holds_lethal_call_until_authorized_then_runs_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'gate.db'}"
    ledger_key = str(tmp_path / "ledger.key")
    weapons_log = tmp_path / "weapons.log"
    assert _run("keygen", "--operator", "maj.rivera", "--out", str(tmp_path / "keys")).exit_code == 0
    added = _run(
        "operators", "add", "maj.rivera", "--public-key", str(tmp_path / "keys" / "maj.rivera.pub"),
        "--role", "weapons_release_authority", "--db", db, "--key", ledger_key,
    )  # fmt: skip
    assert added.exit_code == 0, added.output

    params = StdioServerParameters(
        command=REDLINE,
        args=["mcp-proxy", "--tenant", "task-force-1", "--db", db, "--key", ledger_key, "--", sys.executable, SERVER],
        env={**os.environ, "WEAPONS_LOG": str(weapons_log)},
    )
    args = {"target": "T-0042", "munition": "GBU-39"}

    async def agent() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = {t.name: t for t in (await session.list_tools()).tools}
            assert listed["release_weapon"].meta is not None and listed["release_weapon"].meta["redline/effect"] == "lethal"
            assert listed["get_track"].meta is not None and listed["get_track"].meta["redline/effect"] == "observe"
            assert listed["deploy_payload"].meta is not None and listed["deploy_payload"].meta["redline/effect"] == "lethal"
            assert "signed authorization" in (listed["release_weapon"].description or "")
            marked = _redline(await session.call_tool("deploy_payload", {"target": "T-7"}))
            assert marked["status"] == "approval_required" and marked["challenge"]["tool"] == "deploy_payload"

            observed = await session.call_tool("get_track", {"track_id": "T-0042"})
            assert not observed.is_error
            assert "track T-0042" in observed.content[0].text  # type: ignore[union-attr]

            held = _redline(await session.call_tool("release_weapon", args))
            assert held["status"] == "approval_required"
            assert not weapons_log.exists()
            challenge = held["challenge"]
            assert challenge["tool"] == "release_weapon" and challenge["target"] == "T-0042"
            assert challenge["tenant"] == "task-force-1" and challenge["required_role"] == "weapons_release_authority"

            (tmp_path / "challenge.json").write_bytes(orjson.dumps(challenge))
            signed = _run("authorize", "--key", str(tmp_path / "keys" / "maj.rivera.key"), "--challenge", str(tmp_path / "challenge.json"))
            assert signed.exit_code == 0, signed.output
            authorization = orjson.loads(signed.stdout)

            # the authorization binds these arguments: another target is held, not released
            other = _redline(
                await session.call_tool("release_weapon", {**args, "target": "T-0043"}, meta={"redline/authorization": authorization})
            )
            assert other["status"] == "approval_required"
            assert not weapons_log.exists()

            released = await session.call_tool("release_weapon", args, meta={"redline/authorization": authorization})
            assert not released.is_error, released
            assert weapons_log.read_text().splitlines() == ["T-0042 GBU-39"]

            replay = _redline(await session.call_tool("release_weapon", args, meta={"redline/authorization": authorization}))
            assert replay["status"] == "denied" and "replay" in replay["reason"]
            via_args = _redline(await session.call_tool("release_weapon", {**args, "_redline_authorization": authorization}))
            assert via_args["status"] == "denied" and "replay" in via_args["reason"]
            assert weapons_log.read_text().splitlines() == ["T-0042 GBU-39"]

    anyio.run(agent)

    audit = _run("ledger", "verify", "--db", db, "--key", ledger_key, "--json")
    assert audit.exit_code == 0, audit.output
    with sqlite3.connect(tmp_path / "gate.db") as conn:
        bodies = [orjson.loads(b) for (b,) in conn.execute("SELECT body FROM ledger_records ORDER BY seq")]
    assert [b["payload"]["event"] for b in bodies[:1]] == ["operator_added"]
    bodies = bodies[1:]
    events = [b["payload"]["event"] for b in bodies if b["kind"] == "gate"]
    assert events == ["approval_required", "approval_required", "approval_required", "released", "rejected", "rejected"]
    released = bodies[events.index("released")]["payload"]
    assert released["operators"] == ["maj.rivera"] and len(released["args_sha256"]) == 64
    # the ledger keeps hashes of the arguments, never the arguments or key material
    dumped = orjson.dumps(bodies)
    assert b"GBU-39" not in dumped and b"T-0042" not in dumped and b"signature" not in dumped
