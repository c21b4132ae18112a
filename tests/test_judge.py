"""The LLM-judge backend against a local OpenAI-compatible stub server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from click.testing import CliRunner

from redline.classify.judge import JudgeClassifier
from redline.cli import cli
from redline.engine import Engine


class StubJudge(BaseHTTPRequestHandler):
    mode = "ok"
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubJudge.seen.append({"body": body, "auth": self.headers.get("Authorization")})
        if StubJudge.mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        text = body["messages"][-1]["content"]
        if StubJudge.mode == "garbage":
            content = "I think it's fine."
        else:
            mds = 0.97 if "every resident" in text else 0.02
            content = f'Verdict: {{"mass_domestic_surveillance": {mds}, "autonomous_weapons": 0.01, "rationale": "bulk domestic"}}'
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    StubJudge.mode, StubJudge.seen = "ok", []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_judge_decides_with_policy_prompt(policy, stub: str) -> None:
    engine = Engine(policy, JudgeClassifier(policy, stub, "safety-model", api_key="k-123"))
    d = engine.decide_text("Locate every resident of Ames who attended the rally.")
    assert (d.decision, d.red_line, d.backend) == ("block", "mass_domestic_surveillance", "judge")
    assert engine.decide_text("Summarize this maintenance report.").decision == "allow"
    sent = StubJudge.seen[0]
    assert sent["auth"] == "Bearer k-123"
    assert sent["body"]["model"] == "safety-model" and sent["body"]["temperature"] == 0
    system = sent["body"]["messages"][0]["content"]
    assert "mass_domestic_surveillance" in system and "autonomous_weapons" in system and "United States" in system


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_judge_failure_fails_closed(policy, stub: str, mode: str) -> None:
    StubJudge.mode = mode
    d = Engine(policy, JudgeClassifier(policy, stub, "m")).decide_text("Summarize this maintenance report.")
    assert d.decision == "block" and d.rule == "error.fail_closed" and d.error


def test_judge_unreachable_fails_closed(policy) -> None:
    d = Engine(policy, JudgeClassifier(policy, "http://127.0.0.1:9/v1", "m", timeout=2)).decide_text("hello")
    assert d.decision == "block" and "unreachable" in (d.error or "")


def test_cli_judge_backend(stub: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDLINE_JUDGE_URL", stub)
    result = CliRunner().invoke(cli, ["classify", "--backend", "judge", "Map every resident of Ames who attended the rally."])
    out = json.loads(result.output)
    assert out["decision"] == "block" and out["scores"]["mass_domestic_surveillance"] == 0.97


def test_cli_judge_needs_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDLINE_JUDGE_URL", raising=False)
    result = CliRunner().invoke(cli, ["classify", "--backend", "judge", "hi"])
    assert result.exit_code == 2 and "REDLINE_JUDGE_URL" in result.output
