"""`redline replay`: decision lines in input order, alert lines, error lines, --db and --tenants."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.cli.replay import parse_ts

T0 = 1_790_000_000


def run(*args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(cli, list(args))
    lines = [json.loads(x) for x in result.output.splitlines() if x.strip().startswith("{")]
    return result.exit_code, lines


def campaign(n: int, tenant: str = "camp", start: int = T0, offset: int = 0) -> list[dict]:
    return [
        {
            "ts": start + i * 60,
            "tenant": tenant,
            "id": f"{tenant}-{i + offset}",
            "text": f"Who owns (312) 4{(i + offset) // 100:02d}-{(i + offset):04d}? Give me the subscriber.",
        }
        for i in range(n)
    ]


def write(path: Path, rows: list[dict | str]) -> str:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_decisions_in_order_then_alert_lines(tmp_path: Path) -> None:
    benign = [
        {
            "ts": T0 + i * 60 + 1,
            "tenant": "ops",
            "id": f"ops-{i}",
            "messages": [{"role": "user", "content": "Summarize the readiness report."}],
        }
        for i in range(45)
    ]
    rows = [r for pair in zip(campaign(45), benign, strict=True) for r in pair]
    code, lines = run("replay", "--jsonl", write(tmp_path / "t.jsonl", rows))
    assert code == 0
    decisions = [x for x in lines if "decision" in x]
    assert [d["id"] for d in decisions] == [r["id"] for r in rows]
    alerts = [(i, x["alert"]) for i, x in enumerate(lines) if "alert" in x]
    assert alerts, "a campaign over 40 domestic numbers must raise an alert"
    i, alert = alerts[0]
    assert alert["tenant"] == "camp" and alert["kind"] == "mosaic"
    assert lines[i - 1]["id"] == "camp-39"  # the alert follows the decision of the request that raised it
    assert set(alert) >= {"id", "rule", "counts", "categories", "span", "sample_request_ids"}
    assert not [a for _, a in alerts if a["tenant"] == "ops"]
    later = [d for d in decisions if d["id"] in ("camp-41", "camp-44")]
    assert all(d["decision"] in ("review", "block") for d in later)


def test_malformed_lines_get_errors_and_replay_goes_on(tmp_path: Path) -> None:
    rows: list[dict | str] = [
        {"ts": T0, "tenant": "a", "id": "ok1", "text": "hello"},
        {"ts": "yesterday", "tenant": "a", "id": "badts", "text": "hello"},
        {"ts": T0 + 5, "id": "notenant", "text": "hello"},
        {"ts": T0 + 6, "tenant": "a", "id": "nobody"},
        "not json",
        {"ts": T0 - 100, "tenant": "a", "id": "late", "text": "hello"},
        {"ts": "2026-09-21T12:00:00Z", "tenant": "b", "id": "iso", "text": "hello"},
        {"ts": "2026-09-21T12:00:00", "tenant": "b", "id": "nozone", "text": "hello"},
        {"ts": 1e300, "tenant": "b", "id": "huge", "text": "hello"},
        {"ts": T0 + 10, "tenant": "a", "id": "ok2", "text": "hello"},
    ]
    code, lines = run("replay", "--jsonl", write(tmp_path / "bad.jsonl", rows))
    assert code == 0
    assert len(lines) == len(rows)  # nothing is silently dropped
    by_id = {x["id"]: x for x in lines}
    assert by_id["ok1"]["decision"] == "allow" and by_id["ok2"]["decision"] == "allow" and by_id["iso"]["decision"] == "allow"
    for bad, word in (
        ("badts", "ts"),
        ("notenant", "tenant"),
        ("nobody", "text"),
        ("late", "out of order"),
        ("nozone", "time zone"),
        ("huge", "range"),
    ):
        assert word in by_id[bad]["error"], by_id[bad]
    assert "JSON" in by_id[5]["error"]


def test_parse_ts() -> None:
    assert parse_ts(5) == 5.0 and parse_ts("12.5") == 12.5
    assert parse_ts("2026-09-21T00:00:00+00:00") == parse_ts("2026-09-21T00:00:00Z")
    for bad in (True, None, [], "soon", -1):
        with pytest.raises(ValueError):
            parse_ts(bad)


def test_db_persists_counters_and_writes_ledger(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    key = str(tmp_path / "k.pem")
    code, first = run("replay", "--jsonl", write(tmp_path / "a.jsonl", campaign(30)), "--db", db, "--key", key)
    assert code == 0 and not [x for x in first if "alert" in x]
    # a restart: the second run goes on counting where the first stopped
    code, second = run("replay", "--jsonl", write(tmp_path / "b.jsonl", campaign(12, start=T0 + 3600, offset=30)), "--db", db, "--key", key)
    alerts = [x["alert"] for x in second if "alert" in x]
    assert alerts and alerts[0]["counts"]["domestic_subjects"] == 40
    conn = sqlite3.connect(tmp_path / "r.db")
    bodies = [r[0] for r in conn.execute("SELECT body FROM ledger_records ORDER BY seq")]
    kinds = [json.loads(b)["kind"] for b in bodies]
    assert kinds.count("decision") == 42 and kinds.count("alert") >= 1
    everything = b"".join(bytes(b) if not isinstance(b, str) else b.encode() for b in bodies)
    assert b"(312)" not in everything and b"312 4" not in everything  # no raw identifiers in the ledger
    code, verify = run("ledger", "verify", "--db", db, "--key", key, "--json")
    assert code == 0 and verify[0]["ok"]


def test_tenants_file_foreign_context(tmp_path: Path) -> None:
    names = [
        {
            "ts": T0 + i * 60,
            "tenant": "fi",
            "id": f"fi-{i}",
            "text": f"Who owns the account person{i}@mail.example? Identify the subscriber.",
        }
        for i in range(45)
    ]
    path = write(tmp_path / "n.jsonl", names)
    _, without = run("replay", "--jsonl", path)
    assert [x for x in without if "alert" in x]
    (tmp_path / "tenants.yaml").write_text("tenants:\n  fi: {authorities: [foreign_intelligence]}\n")
    _, with_fi = run("replay", "--jsonl", path, "--tenants", str(tmp_path / "tenants.yaml"))
    assert not [x for x in with_fi if "alert" in x]  # unknown subjects of a foreign-intelligence tenant count as foreign
    (tmp_path / "bad.yaml").write_text("fi: {authorities: [mind_reading]}\n")
    code, _ = run("replay", "--jsonl", path, "--tenants", str(tmp_path / "bad.yaml"))
    assert code == 2


def test_unreadable_input_and_bad_db(tmp_path: Path) -> None:
    assert run("replay", "--jsonl", str(tmp_path / "missing.jsonl"))[0] == 1
    code, _ = run("replay", "--jsonl", write(tmp_path / "a.jsonl", campaign(1)), "--db", "mysql://x")
    assert code == 2


def test_simulator_is_deterministic(tmp_path: Path) -> None:
    tool = Path(__file__).resolve().parent.parent / "tools" / "simulate_traffic.py"
    for name in ("a", "b"):
        subprocess.run(
            [sys.executable, str(tool), "--seed", "3", "--style", "heldout2", "--out", str(tmp_path / f"{name}.jsonl")],
            check=True,
            capture_output=True,
        )
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    truth = json.loads((tmp_path / "a.truth.json").read_text())
    assert {m["kind"] for m in truth["tenants"].values()} == {"benign", "campaign"}


@pytest.mark.slow
@pytest.mark.parametrize(("style", "seed"), [("dev", 7), ("heldout", 1234), ("heldout2", 99)])
def test_simulated_traffic_end_to_end(tmp_path: Path, style: str, seed: int) -> None:
    """The README's numbers: every campaign detected before its 100th subject; no false alert on dev."""
    tool = Path(__file__).resolve().parent.parent / "tools" / "simulate_traffic.py"
    traffic = tmp_path / "t.jsonl"
    subprocess.run(
        [sys.executable, str(tool), "--seed", str(seed), "--style", style, "--out", str(traffic)], check=True, capture_output=True
    )
    result = CliRunner().invoke(cli, ["replay", "--jsonl", str(traffic)])
    (tmp_path / "out.jsonl").write_text(result.output)
    scored = subprocess.run(
        [
            sys.executable,
            str(tool),
            "score",
            "--truth",
            str(tmp_path / "t.truth.json"),
            "--replay",
            str(tmp_path / "out.jsonl"),
            "--traffic",
            str(traffic),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(scored.stdout)["summary"]
    assert summary["campaigns_within_100_subjects"] == summary["campaigns"]
    assert summary["benign_requests"] >= 10_000 and summary["benign_blocked_share"] <= 0.01
    if style == "dev":
        assert summary["benign_false_alerts"] == 0
