"""`redline keygen | operators | gate challenge|verify | authorize | mcp-proxy` as an operator
and an effector would run them."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner, Result

from redline.cli import cli

ROLE = "weapons_release_authority"
ARGS = '{"target": "T-0042", "munition": "GBU-39"}'


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _setup(tmp_path: Path) -> tuple[str, Path]:
    db = f"sqlite:///{tmp_path / 'gate.db'}"
    keys = tmp_path / "keys"
    for op in ("alice", "carol"):
        made = run("keygen", "--operator", op, "--out", str(keys))
        assert made.exit_code == 0, made.output
    lk = str(tmp_path / "l.key")
    assert run("operators", "add", "alice", "--public-key", str(keys / "alice.pub"), "--role", ROLE, "--db", db, "--key", lk).exit_code == 0
    assert (
        run(
            "operators", "add", "carol", "--public-key", str(keys / "carol.pub"), "--role", "intel_analyst", "--db", db, "--key", lk
        ).exit_code
        == 0
    )
    return db, keys


def _challenge(tmp_path: Path, db: str, name: str = "challenge.json", args: str = ARGS) -> Path:
    out = run(
        "gate", "challenge", "--tenant", "tf-1", "--tool", "release_weapon", "--args", args, "--db", db, "--key", str(tmp_path / "l.key")
    )
    assert out.exit_code == 0, out.output
    path = tmp_path / name
    path.write_text(out.stdout)
    return path


def _authorize(tmp_path: Path, key: Path, challenge: Path, name: str = "auth.json") -> Path:
    out = run("authorize", "--key", str(key), "--challenge", str(challenge))
    assert out.exit_code == 0, out.output
    path = tmp_path / name
    path.write_text(out.stdout)
    return path


def _verify(tmp_path: Path, db: str, auth: Path, args: str = ARGS, tool: str = "release_weapon") -> Result:
    return run(
        "gate",
        "verify",
        "--tenant",
        "tf-1",
        "--tool",
        tool,
        "--args",
        args,
        "--authorization",
        str(auth),
        "--db",
        db,
        "--key",
        str(tmp_path / "l.key"),
    )


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    out = run("keygen", "--operator", "alice", "--out", str(tmp_path))
    assert out.exit_code == 0
    assert stat.S_IMODE(os.stat(tmp_path / "alice.key").st_mode) == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "alice.pub").read_bytes()
    again = run("keygen", "--operator", "alice", "--out", str(tmp_path))
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    assert run("keygen", "--operator", "../evil", "--out", str(tmp_path)).exit_code != 0


def test_challenge_authorize_verify_once(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    challenge = _challenge(tmp_path, db)
    ch = orjson.loads(challenge.read_bytes())
    assert ch["tool"] == "release_weapon" and ch["tenant"] == "tf-1" and ch["required_role"] == ROLE and len(ch["args_sha256"]) == 64
    auth = _authorize(tmp_path, keys / "alice.key", challenge)
    ok = _verify(tmp_path, db, auth, args='{"munition": "GBU-39", "target": "T-0042"}')  # same call, other key order
    assert ok.exit_code == 0, ok.output
    assert orjson.loads(ok.stdout)["operators"] == ["alice"]
    replay = _verify(tmp_path, db, auth)
    assert replay.exit_code == 1 and "replay" in replay.stderr


def test_verify_rejects_other_calls_and_wrong_roles(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    auth = _authorize(tmp_path, keys / "alice.key", _challenge(tmp_path, db))
    other = _verify(tmp_path, db, auth, args='{"target": "T-0043", "munition": "GBU-39"}')
    assert other.exit_code == 1 and "different" in other.stderr
    assert _verify(tmp_path, db, auth, tool="fire_missile").exit_code == 1
    by_carol = _authorize(tmp_path, keys / "carol.key", _challenge(tmp_path, db, "c2.json"), "a2.json")
    wrong_role = _verify(tmp_path, db, by_carol)
    assert wrong_role.exit_code == 1 and "role" in wrong_role.stderr
    assert _verify(tmp_path, db, auth).exit_code == 0  # the rejections did not use it up


def test_operators_list_and_revoke(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    auth = _authorize(tmp_path, keys / "alice.key", _challenge(tmp_path, db))
    assert run("operators", "revoke", "alice", "--db", db, "--key", str(tmp_path / "l.key")).exit_code == 0
    assert run("operators", "revoke", "alice", "--db", db, "--key", str(tmp_path / "l.key")).exit_code == 1
    rows = [orjson.loads(line) for line in run("operators", "list", "--db", db).stdout.splitlines()]
    assert [(r["operator"], r["role"], r["revoked_at"] is not None) for r in rows] == [
        ("alice", ROLE, True),
        ("carol", "intel_analyst", False),
    ]
    revoked = _verify(tmp_path, db, auth)
    assert revoked.exit_code == 1 and "revoked" in revoked.stderr
    dup = run(
        "operators", "add", "alice", "--public-key", str(keys / "alice.pub"), "--role", ROLE, "--db", db, "--key", str(tmp_path / "l.key")
    )
    assert dup.exit_code != 0 and "already registered" in dup.output
    with sqlite3.connect(tmp_path / "gate.db") as conn:
        payloads = [orjson.loads(b)["payload"] for (b,) in conn.execute("SELECT body FROM ledger_records ORDER BY seq")]
    changes = [(p["event"], p["operator"]) for p in payloads if p["event"].startswith("operator_")]
    assert changes == [("operator_added", "alice"), ("operator_added", "carol"), ("operator_revoked", "alice")]
    assert all(p.get("role") == ROLE for p in payloads if p["event"] == "operator_added" and p["operator"] == "alice")


def test_no_key_material_in_output_or_errors(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    private = (keys / "alice.key").read_text()
    secret_lines = [ln for ln in private.splitlines() if not ln.startswith("-----")]
    refused = run(
        "operators", "add", "mallory", "--public-key", str(keys / "alice.key"), "--role", ROLE, "--db", db, "--key", str(tmp_path / "l.key")
    )
    assert refused.exit_code != 0 and "private key" in refused.output
    challenge = _challenge(tmp_path, db)
    outputs = [refused.output, run("authorize", "--key", str(keys / "alice.key"), "--challenge", str(challenge)).output]
    corrupt = tmp_path / "corrupt.key"
    corrupt.write_text(private.replace(secret_lines[0], secret_lines[0][::-1]))
    bad = run("authorize", "--key", str(corrupt), "--challenge", str(challenge))
    assert bad.exit_code != 0
    outputs.append(bad.output)
    for out in outputs:
        assert not any(line in out for line in secret_lines)
        assert "PRIVATE KEY" not in out


def test_bad_input_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    cases = [
        ("gate", "challenge", "--tenant", "t", "--tool", "release_weapon", "--args", "[1]", "--db", db),
        ("gate", "challenge", "--tenant", "t", "--tool", "release_weapon", "--args", "{nope", "--db", db),
        ("gate", "challenge", "--tenant", "t", "--tool", "get_track", "--args", "{}", "--db", db, "--key", str(tmp_path / "l.key")),
        ("gate", "challenge", "--tenant", "t", "--tool", "release_weapon", "--args", "{}", "--db", "mysql://x"),
        ("authorize", "--key", str(keys / "alice.key"), "--challenge", str(tmp_path / "missing.json")),
        ("authorize", "--key", str(tmp_path / "missing.key"), "--challenge", str(tmp_path / "missing.json")),
    ]
    for args in cases:
        out = run(*args)
        assert out.exit_code == 2, (args, out.output)
        assert out.output.startswith("redline: ") and "Traceback" not in out.output


def test_expired_challenge_is_not_signed(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    challenge = _challenge(tmp_path, db)
    ch = orjson.loads(challenge.read_bytes())
    ch["expires_at"] = ch["issued_at"] - 1
    challenge.write_bytes(orjson.dumps(ch))
    out = run("authorize", "--key", str(keys / "alice.key"), "--challenge", str(challenge))
    assert out.exit_code == 2 and "expired" in out.output


def test_verify_and_mcp_proxy_fail_closed_on_an_unreadable_policy(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    auth = _authorize(tmp_path, keys / "alice.key", _challenge(tmp_path, db))
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy_format: 1\nname: [broken\n")
    out = run(
        "gate",
        "verify",
        "--tenant",
        "tf-1",
        "--tool",
        "release_weapon",
        "--args",
        ARGS,
        "--authorization",
        str(auth),
        "--db",
        db,
        "--policy",
        str(bad),
    )
    assert out.exit_code != 0 and "policy cannot be read" in out.stderr
    marker = tmp_path / "server-started"
    redline = str(Path(sys.executable).with_name("redline"))
    proc = subprocess.run(
        [redline, "mcp-proxy", "--db", db, "--policy", str(bad), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "policy cannot be read" in proc.stderr
    assert not marker.exists()  # the MCP server was never launched


def test_pending_lists_the_approval_queue(tmp_path: Path) -> None:
    db, keys = _setup(tmp_path)
    first = orjson.loads(_challenge(tmp_path, db, "c1.json").read_bytes())
    second_path = _challenge(tmp_path, db, "c2.json")
    assert _verify(tmp_path, db, _authorize(tmp_path, keys / "alice.key", second_path)).exit_code == 0
    rows = [orjson.loads(line) for line in run("gate", "pending", "--db", db).stdout.splitlines()]
    assert [(r["nonce"], r["tool"], r["tenant"]) for r in rows] == [(first["nonce"], "release_weapon", "tf-1")]
