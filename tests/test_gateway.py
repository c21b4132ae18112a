"""The gateway end to end: `redline serve` as a real process, the official OpenAI and Anthropic
SDKs as clients, stub upstreams speaking each wire format behind it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from gateway_helpers import ServedGateway
from gateway_stubs import CANNED, DEFAULT_REPLY, TOOL_ARGS, StubUpstream
from redline.ledger import Ledger, load_or_create_signing_key

RED_LINE_ASK = "Pull every phone that pinged a tower in Maricopa County and give me the subscriber names."
REVIEW_ASK = "The armed ground robot engages people it detects while the operator monitors and can override."
TOOLS_OPENAI = [
    {"type": "function", "function": {"name": "get_weather", "description": "weather at a grid", "parameters": {"type": "object"}}}
]
TOOLS_ANTHROPIC = [{"name": "get_weather", "description": "weather at a grid", "input_schema": {"type": "object"}}]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, stubs: dict[str, StubUpstream]) -> Iterator[ServedGateway]:
    config = {
        "upstreams": [{"name": "oa", "url": stubs["openai"].url}, {"name": "an", "url": stubs["anthropic"].url, "format": "anthropic"}],
        "stream": {"holdback_chars": 120},
        "on_review": "flag",
    }
    g = ServedGateway(tmp_path_factory.mktemp("gw"), config)
    yield g
    g.close()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """No upstream, small body limit, short body timeout, reviews held."""
    config = {"limits": {"max_body_bytes": 4096, "client_body_timeout_s": 1.0}, "on_review": "hold"}
    g = ServedGateway(tmp_path_factory.mktemp("strict"), config)
    yield g
    g.close()


def oa(gw: ServedGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key or gw.key, max_retries=0)


def an(gw: ServedGateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key or gw.key, max_retries=0)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **headers}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ledger_payload(gw: ServedGateway, seq: int) -> dict[str, Any]:
    with Ledger.open(gw.db, load_or_create_signing_key(str(gw.key_file))) as ledger:
        proof = ledger.prove(seq, ledger.size())
    assert proof.verify()
    return dict(json.loads(proof.body))


# -- OpenAI ---------------------------------------------------------------------------------------


def test_openai_sync_permitted_passes_byte_for_byte(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["openai"].requests
    r = oa(gw).chat.completions.create(model="gpt-x", messages=user("Summarize the convoy plan for tomorrow."))
    assert r.choices[0].message.content == DEFAULT_REPLY
    assert stubs["openai"].requests == before + 1
    # the tenant's key is never forwarded to the provider
    assert gw.key not in json.dumps(stubs["openai"].headers[-1])


def test_openai_async_and_tools(gw: ServedGateway) -> None:
    async def go() -> Any:
        client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=gw.key, max_retries=0)
        return await client.chat.completions.create(model="gpt-x", messages=user("CALL_TOOL get_weather please"), tools=TOOLS_OPENAI)  # type: ignore[arg-type]

    r = asyncio.run(go())
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_ARGS


def test_openai_streaming_text_and_tools(gw: ServedGateway) -> None:
    stream = oa(gw).chat.completions.create(model="gpt-x", messages=user("Summarize the convoy plan."), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == DEFAULT_REPLY
    stream = oa(gw).chat.completions.create(model="gpt-x", messages=user("CALL_TOOL get_weather"), tools=TOOLS_OPENAI, stream=True)  # type: ignore[arg-type]
    args = "".join(tc.function.arguments or "" for c in stream if c.choices for tc in c.choices[0].delta.tool_calls or [])
    assert json.loads(args) == TOOL_ARGS


def test_openai_red_line_is_refused_before_the_upstream(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["openai"].requests
    for stream in (False, True):
        with pytest.raises(openai.PermissionDeniedError) as e:
            oa(gw).chat.completions.create(model="gpt-x", messages=user(RED_LINE_ASK), stream=stream)
        body = e.value.response.json()
        assert body["error"]["code"] == "redline_blocked"
        rl = body["redline"]
        assert (rl["decision"], rl["red_line"], rl["stage"]) == ("block", "mass_domestic_surveillance", "input")
        assert rl["rule"] and isinstance(rl["ledger_id"], int)
    assert stubs["openai"].requests == before
    record = ledger_payload(gw, rl["ledger_id"])
    assert record["payload"]["decision"] == "block" and record["payload"]["stage"] == "input"
    assert record["tenant"] == "test-tenant"
    assert "Maricopa County and give me" not in json.dumps(record)  # hashes and excerpts, never the prompt


def test_wrong_key_gets_401_in_each_shape(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["openai"].requests, stubs["anthropic"].requests
    with pytest.raises(openai.AuthenticationError):
        oa(gw, key="rl-not-a-real-key").chat.completions.create(model="gpt-x", messages=user("hello"))
    with pytest.raises(anthropic.AuthenticationError) as e:
        an(gw, key="sk-wrong").messages.create(model="claude-x", max_tokens=50, messages=user("hello"))
    assert e.value.response.json()["error"]["type"] == "authentication_error"
    assert (stubs["openai"].requests, stubs["anthropic"].requests) == before


def test_openai_output_violation_is_withheld(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    with pytest.raises(openai.PermissionDeniedError) as e:
        oa(gw).chat.completions.create(model="gpt-x", messages=user("CANNED surveillance"))
    rl = e.value.response.json()["redline"]
    assert (rl["stage"], rl["decision"], rl["red_line"]) == ("output", "block", "mass_domestic_surveillance")
    assert ledger_payload(gw, rl["ledger_id"])["payload"]["stage"] == "output"


def test_openai_stream_cut_before_the_violation_reaches_the_client(gw: ServedGateway) -> None:
    got: list[str] = []
    stream = oa(gw).chat.completions.create(model="gpt-x", messages=user("CANNED weapons"), stream=True)
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            got.extend(c.delta.content or "" for c in chunk.choices)
    text = "".join(got)
    assert text and CANNED["weapons"].startswith(text)  # the permitted part flowed
    assert "fires on anyone" not in text
    assert e.value.body["code"] == "redline_blocked"  # type: ignore[index]


# -- Anthropic ------------------------------------------------------------------------------------


def test_anthropic_sync_async_stream_tools(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["anthropic"].requests
    m = an(gw).messages.create(model="claude-x", max_tokens=100, messages=user("Summarize the convoy plan."))
    assert m.content[0].text == DEFAULT_REPLY  # type: ignore[union-attr]

    async def go() -> Any:
        client = anthropic.AsyncAnthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
        return await client.messages.create(model="claude-x", max_tokens=100, messages=user("CALL_TOOL get_weather"), tools=TOOLS_ANTHROPIC)  # type: ignore[arg-type]

    m = asyncio.run(go())
    tool = next(b for b in m.content if b.type == "tool_use")
    assert (tool.name, tool.input) == ("get_weather", TOOL_ARGS)
    with an(gw).messages.stream(model="claude-x", max_tokens=100, messages=user("Summarize the convoy plan.")) as s:
        assert "".join(s.text_stream) == DEFAULT_REPLY
    with an(gw).messages.stream(model="claude-x", max_tokens=100, messages=user("CALL_TOOL get_weather"), tools=TOOLS_ANTHROPIC) as s:  # type: ignore[arg-type]
        final = s.get_final_message()
    assert next(b for b in final.content if b.type == "tool_use").input == TOOL_ARGS
    assert stubs["anthropic"].requests == before + 4
    assert stubs["anthropic"].headers[-1].get("anthropic-version")  # the SDK's version header is forwarded


def test_anthropic_red_line_and_stream_cut(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["anthropic"].requests
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        an(gw).messages.create(model="claude-x", max_tokens=100, messages=user(RED_LINE_ASK))
    body = e.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    assert body["redline"]["red_line"] == "mass_domestic_surveillance"
    assert stubs["anthropic"].requests == before
    got: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError),
        an(gw).messages.stream(model="claude-x", max_tokens=100, messages=user("CANNED weapons")) as s,
    ):
        for text in s.text_stream:
            got.append(text)
    assert got and "fires on anyone" not in "".join(got)


# -- /v1/check, health, metrics, review -----------------------------------------------------------


def test_check_endpoint(gw: ServedGateway) -> None:
    status, body = post(gw.url + "/v1/check", json.dumps({"text": RED_LINE_ASK, "id": 7}).encode(), {"authorization": f"Bearer {gw.key}"})
    assert status == 200
    assert (body["id"], body["decision"], body["red_line"]) == (7, "block", "mass_domestic_surveillance")
    assert isinstance(body["ledger_id"], int) and body["policy_version"]
    status, body = post(
        gw.url + "/v1/check", json.dumps({"messages": user("What is the range of a 155mm howitzer?")}).encode(), {"x-api-key": gw.key}
    )
    assert (status, body["decision"]) == (200, "allow")
    status, body = post(gw.url + "/v1/check", b'{"text": "hi"}', {})
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_review_is_flagged_and_forwarded_by_default(gw: ServedGateway, stubs: dict[str, StubUpstream]) -> None:
    before = stubs["openai"].requests
    raw = oa(gw).chat.completions.with_raw_response.create(model="gpt-x", messages=user(REVIEW_ASK))
    assert raw.headers["x-redline-decision"] == "review"
    assert int(raw.headers["x-redline-ledger-id"]) >= 0
    assert stubs["openai"].requests == before + 1


def test_metrics_and_health(gw: ServedGateway) -> None:
    with urllib.request.urlopen(gw.url + "/metrics") as r:
        text = r.read().decode()
    assert 'redline_decisions_total{decision="block",red_line="mass_domestic_surveillance"' in text
    assert 'redline_upstream_up{upstream="oa"} 1.0' in text
    assert "redline_request_seconds_bucket" in text and "redline_failovers_total" in text
    with urllib.request.urlopen(gw.url + "/healthz") as r:
        health = json.loads(r.read())
    assert health["status"] == "ok" and {u["name"] for u in health["upstreams"]} == {"oa", "an"}


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/v1/chat/completions", b"{not json", "not valid JSON"),
        ("/v1/chat/completions", b'{"model": "x"}', "messages"),
        ("/v1/chat/completions", b'{"model": "x", "messages": "hi"}', "messages"),
        ("/v1/chat/completions", b'{"model": 3, "messages": [{"role": "user", "content": "hi"}]}', "model"),
        ("/v1/chat/completions", b'{"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', "stream"),
        ("/v1/chat/completions", b'{"model": "x", "messages": [{"role": "wizard", "content": "hi"}]}', "role"),
        ("/v1/messages", b'{"model": "x", "messages": [{"role": "user", "content": "hi"}]}', "max_tokens"),
        ("/v1/messages", b"[1, 2]", "JSON object"),
        ("/v1/check", b'{"nothing": 1}', "text"),
    ],
)
def test_bad_requests_get_provider_shaped_400(gw: ServedGateway, path: str, body: bytes, needle: str) -> None:
    status, out = post(gw.url + path, body, {"authorization": f"Bearer {gw.key}"})
    assert status == 400
    assert needle in out["error"]["message"]
    assert (out["type"] == "error") if path == "/v1/messages" else ("code" in out["error"])


def test_unknown_endpoint_and_method(gw: ServedGateway) -> None:
    status, out = post(gw.url + "/v1/completions", b"{}", {})
    assert status == 404 and "no endpoint" in out["error"]["message"]
    req = urllib.request.Request(gw.url + "/v1/chat/completions", method="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 405 and json.loads(e.value.read())["error"]["type"] == "invalid_request_error"


def test_body_limit_slow_client_hold_and_no_upstream(strict: ServedGateway) -> None:
    auth = {"authorization": f"Bearer {strict.key}"}
    big = json.dumps({"model": "x", "messages": user("a" * 10_000)}).encode()
    status, out = post(strict.url + "/v1/chat/completions", big, auth)
    assert status == 413 and out["error"]["code"] == "request_too_large"
    # a client that sends its body too slowly gets 408, and the server keeps serving
    with socket.create_connection(("127.0.0.1", strict.port), timeout=10) as s:
        s.sendall(
            f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {strict.key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{".encode()
        )
        t0 = time.monotonic()
        reply = s.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408") and time.monotonic() - t0 < 5
    # a review is held (403 with a review id) and nothing is forwarded
    status, out = post(strict.url + "/v1/chat/completions", json.dumps({"model": "x", "messages": user(REVIEW_ASK)}).encode(), auth)
    assert status == 403 and out["redline"]["decision"] == "review" and isinstance(out["redline"]["review_id"], int)
    # no upstream configured: chat answers 503 saying so; /v1/check still works
    status, out = post(strict.url + "/v1/chat/completions", json.dumps({"model": "x", "messages": user("hello")}).encode(), auth)
    assert status == 503 and "no upstream configured" in out["error"]["message"]
    status, out = post(strict.url + "/v1/messages", json.dumps({"model": "x", "max_tokens": 5, "messages": user("hello")}).encode(), auth)
    assert status == 503 and out["error"]["type"] == "overloaded_error"
    status, out = post(strict.url + "/v1/check", b'{"text": "hello"}', auth)
    assert status == 200 and out["decision"] == "allow"
    assert strict.alive


# -- failover --------------------------------------------------------------------------------------


def test_failover_when_the_first_upstream_dies(tmp_path: Path) -> None:
    first, second = StubUpstream("openai").start(), StubUpstream("openai").start()
    config = {
        "upstreams": [{"name": "first", "url": first.url}, {"name": "second", "url": second.url}],
        "breaker": {"failures": 2, "cooldown_s": 60},
    }
    g = ServedGateway(tmp_path, config)
    try:
        client = oa(g)
        answers = []
        for i in range(30):
            if i == 10:
                first.stop()  # killed mid-run
            r = client.chat.completions.create(model="gpt-x", messages=user(f"Summarize convoy plan {i}."))
            answers.append(r.choices[0].message.content)
        assert answers == [DEFAULT_REPLY] * 30  # no client-visible error
        assert first.requests == 10 and second.requests == 20
        with urllib.request.urlopen(g.url + "/metrics") as r:
            text = r.read().decode()
        assert 'redline_upstream_up{upstream="first"} 0.0' in text
        assert 'redline_failovers_total{api="openai"}' in text
        assert 'redline_upstream_errors_total{kind="connect",upstream="first"}' in text
        # streaming goes to the healthy upstream too (the breaker is open on the dead one)
        s = client.chat.completions.create(model="gpt-x", messages=user("Summarize the convoy plan."), stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in s if c.choices) == DEFAULT_REPLY
    finally:
        g.close()
        first.close()
        second.close()


def test_upstream_5xx_fails_over_model_mapping_and_compressed_answers(tmp_path: Path) -> None:
    first, second = StubUpstream("openai").start(), StubUpstream("openai").start()
    config = {"upstreams": [{"name": "a", "url": first.url}, {"name": "b", "url": second.url, "models": {"gpt-x": "local-model"}}]}
    first.fail_with = 500
    second.compress = True
    g = ServedGateway(tmp_path, config)
    try:
        r = oa(g).chat.completions.create(model="gpt-x", messages=user("Summarize the convoy plan."))
        assert r.model == "local-model"  # the second upstream got the mapped model name
        assert first.requests == 1 and second.requests == 1
        assert first.bodies[0]["model"] == "gpt-x"
        assert "gzip" in second.headers[0].get("Accept-Encoding", "")  # so the stub's answer was compressed
    finally:
        g.close()
        first.close()
        second.close()
