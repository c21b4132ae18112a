"""The Gate in `redline serve`, end to end: an agent loop driven by the official OpenAI SDK (and the
Anthropic SDK) against a stub model that calls an observe tool and a lethal one. The observe call
passes; the lethal call is held with a challenge; the test plays the human (`redline keygen`,
`redline operators add`, `redline authorize`), retries with the authorization, and the call is
released exactly once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from click.testing import CliRunner

from gateway_helpers import ServedGateway
from gateway_stubs import AGENT_DONE, RELEASE_ARGS, TOOL_ARGS_BY_NAME, StubUpstream
from redline.cli import cli
from redline.engine import Engine
from redline.gate import encode_header
from redline.gateway.gating import GateHook
from redline.gateway.metrics import Metrics
from redline.gateway.wire import ToolCall
from redline.ledger import Ledger, load_or_create_signing_key
from redline.tenants import Tenant

STRIKE = " for the strike the battle captain approved"  # so the request itself is permitted planning
BOTH = "CALL_TOOL get_track,release_weapon" + STRIKE
OPERATOR = "maj.rivera"
ROLE = "weapons_release_authority"
TOOLS_OPENAI: Any = [
    {
        "type": "function",
        "function": {"name": "get_track", "description": "read the current position of a track", "parameters": {"type": "object"}},
    },
    {
        "type": "function",
        "function": {
            "name": "release_weapon",
            "description": "release a munition on the target the commander chose; executes only with the operator's signed approval",
            "parameters": {"type": "object"},
        },
    },
]
TOOLS_ANTHROPIC: Any = [
    {"name": t["function"]["name"], "description": t["function"]["description"], "input_schema": {"type": "object"}} for t in TOOLS_OPENAI
]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, stubs: dict[str, StubUpstream]) -> Iterator[ServedGateway]:
    config = {
        "upstreams": [{"name": "oa", "url": stubs["openai"].url}, {"name": "an", "url": stubs["anthropic"].url, "format": "anthropic"}]
    }
    g = ServedGateway(tmp_path_factory.mktemp("gate-gw"), config, others=["other-cell"])
    yield g
    g.close()


class Human:
    """The operator: a key made with `redline keygen`, registered with `redline operators add` on
    the gateway's database, signing challenges with `redline authorize`."""

    def __init__(self, gw: ServedGateway, workdir: Path) -> None:
        self.dir = workdir
        self.signed = 0
        self._run("keygen", "--operator", OPERATOR, "--out", str(workdir))
        self._run(
            "operators",
            "add",
            OPERATOR,
            "--public-key",
            str(workdir / f"{OPERATOR}.pub"),
            "--role",
            ROLE,
            "--db",
            gw.db,
            "--key",
            str(gw.key_file),
        )

    @staticmethod
    def _run(*args: str) -> str:
        out = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert out.exit_code == 0, out.output
        return out.stdout

    def authorize(self, challenge: dict[str, Any]) -> dict[str, Any]:
        self.signed += 1
        path = self.dir / f"challenge-{self.signed}.json"
        path.write_text(json.dumps(challenge))
        auth: dict[str, Any] = json.loads(self._run("authorize", "--key", str(self.dir / f"{OPERATOR}.key"), "--challenge", str(path)))
        return auth


@pytest.fixture(scope="module")
def human(gw: ServedGateway, tmp_path_factory: pytest.TempPathFactory) -> Human:
    return Human(gw, tmp_path_factory.mktemp("operator"))


def oa(gw: ServedGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.key, max_retries=0)


def an(gw: ServedGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)


def gate_records(gw: ServedGateway) -> list[dict[str, Any]]:
    with Ledger.open(gw.db, load_or_create_signing_key(str(gw.key_file))) as ledger:
        size = ledger.size()
        bodies = [json.loads(ledger.prove(i, size).body) for i in range(size)]
    return [b for b in bodies if b["kind"] == "gate"]


def test_agent_loop_observe_passes_lethal_is_held_then_released_once(
    gw: ServedGateway, human: Human, stubs: dict[str, StubUpstream]
) -> None:
    client = oa(gw)
    messages: list[Any] = [{"role": "user", "content": "AGENT: read track T-0042, then prepare the strike the battle captain approved."}]
    executed: list[tuple[str, dict[str, Any]]] = []
    holds: list[dict[str, Any]] = []
    authorizations: list[dict[str, Any]] = []
    final = None
    first_upstream = len(stubs["openai"].bodies)
    for _ in range(6):  # the agent loop
        extra = {"redline": {"authorizations": authorizations}} if authorizations else None
        try:
            r = client.chat.completions.create(model="gpt-x", messages=messages, tools=TOOLS_OPENAI, extra_body=extra)
        except openai.PermissionDeniedError as e:
            body = e.response.json()
            assert body["error"]["code"] == "redline_approval_required"
            holds.append(body["redline"])
            authorizations = [human.authorize(body["redline"]["approval_required"][0]["challenge"])]
            continue
        msg = r.choices[0].message
        if not msg.tool_calls:
            final = msg.content
            break
        messages.append(msg.model_dump(exclude_none=True))
        for call in msg.tool_calls:
            executed.append((call.function.name, json.loads(call.function.arguments)))  # type: ignore[union-attr]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "done"})
    assert executed == [("get_track", TOOL_ARGS_BY_NAME["get_track"]), ("release_weapon", RELEASE_ARGS)]
    assert final == AGENT_DONE
    # held exactly once, with a challenge bound to this tenant, tool and these arguments
    assert len(holds) == 1
    rl = holds[0]
    assert (rl["stage"], rl["decision"], rl["rule"], rl["red_line"]) == (
        "tool_calls",
        "review",
        "gate.approval_required",
        "autonomous_weapons",
    )
    assert isinstance(rl["ledger_id"], int)
    held = rl["approval_required"][0]
    assert (held["tool_call_id"], held["tool"], held["effect"], held["status"]) == (
        "call_1",
        "release_weapon",
        "lethal",
        "approval_required",
    )
    ch = held["challenge"]
    assert (ch["tenant"], ch["tool"], ch["arguments"], ch["target"], ch["required_role"]) == (
        "test-tenant",
        "release_weapon",
        RELEASE_ARGS,
        "T-0042",
        ROLE,
    )
    # the authorization never reached the model provider
    for body in stubs["openai"].bodies[first_upstream:]:
        assert "redline" not in body
    # a replay of the released request with the same authorization is refused
    replay_messages = messages[:3]  # user, the get_track call and its result: the model calls release_weapon again
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(
            model="gpt-x", messages=replay_messages, tools=TOOLS_OPENAI, extra_body={"redline": {"authorizations": authorizations}}
        )
    body = e.value.response.json()
    assert body["error"]["code"] == "redline_blocked"
    assert (body["redline"]["rule"], body["redline"]["decision"]) == ("gate.denied", "block")
    assert "replay" in body["redline"]["tool_calls"][0]["reason"]
    # the Gate recorded the approval request, the release and the rejected replay — hashes, not arguments
    events = [r["payload"]["event"] for r in gate_records(gw)]
    assert events[-3:] == ["approval_required", "released", "rejected"] and "operator_added" in events
    assert "GBU-39" not in json.dumps(gate_records(gw))


def test_streamed_lethal_call_is_held_then_released_by_header(gw: ServedGateway, human: Human) -> None:
    client = oa(gw)
    ask: Any = [{"role": "user", "content": BOTH}]
    fragments: list[Any] = []
    with pytest.raises(openai.APIError) as e:
        for chunk in client.chat.completions.create(model="gpt-x", messages=ask, tools=TOOLS_OPENAI, stream=True):
            fragments.extend(tc for c in chunk.choices for tc in c.delta.tool_calls or [])
    assert fragments == []  # no fragment of the held answer's calls reached the client
    err: Any = e.value.body
    assert err["code"] == "redline_approval_required", err
    challenge = err["redline"]["approval_required"][0]["challenge"]
    auth = human.authorize(challenge)
    stream = client.chat.completions.create(
        model="gpt-x", messages=ask, tools=TOOLS_OPENAI, stream=True, extra_headers={"x-redline-authorization": encode_header(auth)}
    )
    args: dict[int, str] = {}
    for c in stream:
        for tc in c.choices[0].delta.tool_calls or [] if c.choices else []:
            args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "" if tc.function else "")
    assert [json.loads(a) for _, a in sorted(args.items())] == [TOOL_ARGS_BY_NAME["get_track"], RELEASE_ARGS]
    with pytest.raises(openai.APIError) as e:  # the same authorization a second time
        list(
            client.chat.completions.create(
                model="gpt-x", messages=ask, tools=TOOLS_OPENAI, stream=True, extra_headers={"x-redline-authorization": encode_header(auth)}
            )
        )
    assert e.value.body["redline"]["rule"] == "gate.denied"  # type: ignore[index]


def test_anthropic_hold_and_release_once(gw: ServedGateway, human: Human, stubs: dict[str, StubUpstream]) -> None:
    client = an(gw)
    ask: Any = [{"role": "user", "content": BOTH}]
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        client.messages.create(model="claude-x", max_tokens=100, messages=ask, tools=TOOLS_ANTHROPIC)
    body = e.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    rl = body["redline"]
    # every call's verdict is listed; the observe call passed, the lethal one waits for a human
    assert [(c["tool_call_id"], c["tool"], c["status"]) for c in rl["tool_calls"]] == [
        ("toolu_1", "get_track", "pass"),
        ("toolu_2", "release_weapon", "approval_required"),
    ]
    auth = human.authorize(rl["approval_required"][0]["challenge"])
    before = len(stubs["anthropic"].bodies)
    m = client.messages.create(
        model="claude-x", max_tokens=100, messages=ask, tools=TOOLS_ANTHROPIC, extra_body={"redline": {"authorizations": [auth]}}
    )
    assert [(b.name, b.input) for b in m.content if b.type == "tool_use"] == [  # type: ignore[union-attr]
        ("get_track", TOOL_ARGS_BY_NAME["get_track"]),
        ("release_weapon", RELEASE_ARGS),
    ]
    assert "redline" not in stubs["anthropic"].bodies[before]
    # streamed, with the spent authorization: refused
    with (
        pytest.raises(anthropic.APIStatusError) as e2,
        client.messages.stream(
            model="claude-x", max_tokens=100, messages=ask, tools=TOOLS_ANTHROPIC, extra_body={"redline": {"authorizations": [auth]}}
        ) as s,
    ):
        s.get_final_message()
    assert e2.value.body["redline"]["rule"] == "gate.denied"  # type: ignore[index]


def test_tampered_authorization_is_refused_and_bad_header_is_400(gw: ServedGateway, human: Human) -> None:
    client = oa(gw)
    ask: Any = [{"role": "user", "content": BOTH}]
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(model="gpt-x", messages=ask, tools=TOOLS_OPENAI)
    auth = human.authorize(e.value.response.json()["redline"]["approval_required"][0]["challenge"])
    sig = auth["signature"]
    forged = {**auth, "signature": ("A" if sig[0] != "A" else "B") + sig[1:]}
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(
            model="gpt-x", messages=ask, tools=TOOLS_OPENAI, extra_body={"redline": {"authorizations": [forged]}}
        )
    assert e.value.response.json()["redline"]["rule"] == "gate.denied"
    # the rejection did not spend the nonce: the genuine authorization still releases the call
    r = client.chat.completions.create(model="gpt-x", messages=ask, tools=TOOLS_OPENAI, extra_body={"redline": {"authorizations": [auth]}})
    assert [c.function.name for c in r.choices[0].message.tool_calls or []] == ["get_track", "release_weapon"]  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-x", messages=ask, extra_headers={"x-redline-authorization": "%%%not base64"})
    assert "x-redline-authorization" in bad.value.response.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-x", messages=ask, extra_body={"redline": "sign me"})


def test_classifier_still_reads_unknown_tools_and_text(gw: ServedGateway) -> None:
    """Lethal calls are the Gate's (a bare `release_weapon` call is held for a human, not blocked by
    the classifier); a tool the registry does not know is still read by the output classifier."""
    client = oa(gw)
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "CALL_TOOL get_track,set_turret_mode" + STRIKE}]
        )
    rl = e.value.response.json()["redline"]
    assert (rl["stage"], rl["decision"], rl["red_line"]) == ("output", "block", "autonomous_weapons")
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "CALL_TOOL get_track,engage_target" + STRIKE}])
    rl = e.value.response.json()["redline"]
    assert (rl["stage"], rl["rule"]) == ("tool_calls", "gate.approval_required")  # the Gate's: a human decides
    # registered non-lethal tools pass through the Gate untouched
    r = client.chat.completions.with_raw_response.create(model="gpt-x", messages=[{"role": "user", "content": "CALL_TOOL get_track"}])
    assert r.parse().choices[0].message.tool_calls[0].function.name == "get_track"  # type: ignore[index,union-attr]
    assert "x-redline-tool-calls" not in r.headers


def test_metrics_count_gate_verdicts(gw: ServedGateway) -> None:
    import urllib.request

    with urllib.request.urlopen(gw.url + "/metrics") as r:
        text = r.read().decode()
    assert 'redline_gate_calls_total{effect="lethal",status="approval_required"}' in text
    assert 'redline_gate_calls_total{effect="lethal",status="released"}' in text
    assert 'redline_gate_calls_total{effect="observe",status="pass"}' in text


# -- fail closed ----------------------------------------------------------------------------------


def test_gate_store_failure_withholds_lethal_calls(tmp_path: Path, stubs: dict[str, StubUpstream]) -> None:
    """A gate whose store cannot take a challenge (here its table is a read-only view) denies
    lethal calls; observe calls still pass."""
    db_file = tmp_path / "redline.db"
    with sqlite3.connect(db_file) as conn:
        conn.execute("CREATE VIEW gate_challenges AS SELECT 1 AS nonce")
    g = ServedGateway(tmp_path, {"upstreams": [{"name": "oa", "url": stubs["openai"].url}]})
    try:
        client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.key, max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as e:
            client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": BOTH}])
        rl = e.value.response.json()["redline"]
        assert (rl["rule"], rl["decision"]) == ("gate.denied", "block")
        assert "gate store unavailable" in rl["tool_calls"][1]["reason"]
        r = client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "CALL_TOOL get_track"}])
        assert r.choices[0].message.tool_calls[0].function.name == "get_track"  # type: ignore[index,union-attr]
    finally:
        g.close()


def test_without_a_gate_lethal_calls_are_denied(engine: Engine) -> None:
    hook = GateHook(None, engine.policy, Metrics(), "gate store unavailable: disk gone")
    tenant = Tenant("t", (), "active", 0.0)
    result = hook.check(tenant, "r", [ToolCall("c1", "get_track", "{}"), ToolCall("c2", "fire_mortar", '{"target": "x"}')])
    assert result is not None
    assert (result.decision.decision, result.decision.rule) == ("block", "gate.denied")
    calls = result.details["tool_calls"]
    assert [(c["tool"], c["status"]) for c in calls] == [("get_track", "pass"), ("fire_mortar", "denied")]
    assert "disk gone" in calls[1]["reason"]
    assert hook.check(tenant, "r", [ToolCall("c1", "get_track", "{}")]) is None
    assert hook.owns("release_weapon") and not hook.owns("get_track") and not hook.owns("set_turret_mode")


def test_an_authorization_is_bound_to_its_tenant(gw: ServedGateway, human: Human) -> None:
    ask: Any = [{"role": "user", "content": BOTH}]
    with pytest.raises(openai.PermissionDeniedError) as e:
        oa(gw).chat.completions.create(model="gpt-x", messages=ask)
    auth = human.authorize(e.value.response.json()["redline"]["approval_required"][0]["challenge"])
    thief = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.keys["other-cell"], max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as e:
        thief.chat.completions.create(model="gpt-x", messages=ask, extra_body={"redline": {"authorizations": [auth]}})
    assert e.value.response.json()["redline"]["rule"] == "gate.denied"
    r = oa(gw).chat.completions.create(model="gpt-x", messages=ask, extra_body={"redline": {"authorizations": [auth]}})
    assert r.choices[0].message.tool_calls
