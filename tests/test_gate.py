"""The gate: registry, challenges, authorizations and verification, on SQLite and PostgreSQL.

Property tests (hypothesis): any change to the call or to the authorization is rejected; a
replay, an expired, revoked-operator or wrong-role authorization is rejected; a valid one is
accepted exactly once, also when two processes verify at the same time.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate_helpers import ARGS, KEYS, NOW, ROLE, Clock, fresh_pg_gate, make_gate, sign, verify_worker
from redline.gate import Gate, GateError, GateStore, GateUnavailable, ToolRegistry, args_sha256, authorize, open_gate
from redline.gate.authorization import b64, unb64
from redline.policy import PolicyError, load_policy, parse_policy

HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gate.db'}"
    return fresh_pg_gate(request.getfixturevalue("pg_server"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(tmp_path: Path, clock: Clock) -> Iterator[Gate]:
    g = make_gate(f"sqlite:///{tmp_path / 'gate.db'}", clock)
    yield g
    g.store.close()


def _held(gate: Gate, tool: str = "release_weapon", args: dict[str, Any] | None = None, tenant: str = "tf-1") -> dict[str, Any]:
    verdict = gate.check_call(tenant, tool, args if args is not None else ARGS)
    assert verdict.status == "approval_required", verdict
    assert verdict.challenge is not None
    return verdict.challenge


# -- the registry ---------------------------------------------------------------------------------


def test_registry_classifies_by_name_and_annotations() -> None:
    reg = ToolRegistry.from_policy(load_policy())
    assert reg.classify("release_weapon").effect == "lethal"
    assert reg.classify("fire_missile").approver_role == ROLE
    assert reg.classify("detonate_charge").approvals == 2
    assert reg.classify("get_track").effect == "observe"
    assert reg.classify("jam_radar").effect == "nonlethal"
    assert reg.classify("recommend_target").effect == "recommend"
    assert reg.classify("something_new").effect == "observe"  # unknown_tool_effect
    assert reg.classify("something_new", {"destructiveHint": True}).effect == "nonlethal"
    # an annotation raises a class, never lowers it
    assert reg.classify("get_track", {"redline/effect": "lethal"}).effect == "lethal"
    assert reg.classify("release_weapon", {"readOnlyHint": True, "destructiveHint": False}).effect == "lethal"
    assert reg.classify("something_new", {"destructiveHint": "true"}).effect == "observe"  # types must match too


def test_policy_errors_in_the_tool_section_name_file_line_and_field() -> None:
    from importlib import resources

    base = resources.files("redline.policy").joinpath("default.yaml").read_text(encoding="utf-8")
    bad = base.replace(
        "{match: 'fire_*', effect: lethal, approver_role: weapons_release_authority, target_arg: target}",
        "{match: 'fire_*', effect: lethal}",
    )
    assert bad != base
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "p.yaml")
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "{match: 'fire_*', effect: lethal}" in ln)
    assert err.value.file == "p.yaml" and err.value.line == line and err.value.field == "tools.registry.1"
    assert "approver_role" in str(err.value)


# -- the happy path and its single use ------------------------------------------------------------


def test_pass_hold_release_once(gate: Gate) -> None:
    assert gate.check_call("tf-1", "get_track", {"track_id": "T-0042"}).status == "pass"
    assert gate.check_call("tf-1", "jam_radar", {"band": "x"}).executable
    challenge = _held(gate)
    assert challenge["args_sha256"] == args_sha256(ARGS) and challenge["target"] == "T-0042"
    assert challenge["expires_at"] - challenge["issued_at"] == 15 * 60
    auth = sign(challenge)
    released = gate.check_call("tf-1", "release_weapon", ARGS, auth)
    assert released.status == "released" and released.operators == ("alice",)
    replay = gate.check_call("tf-1", "release_weapon", ARGS, auth)
    assert replay.status == "denied" and "replay" in replay.reason


@HYPO
@given(st.permutations(list(ARGS)))
def test_argument_order_does_not_matter(gate: Gate, order: list[str]) -> None:
    auth = sign(_held(gate))
    reordered = {k: ARGS[k] for k in order}
    assert gate.check_call("tf-1", "release_weapon", reordered, auth).status == "released"


def test_authorizations_for_other_calls_are_ignored_not_consumed(gate: Gate) -> None:
    a1 = sign(_held(gate, args={**ARGS, "target": "T-1"}))
    a2 = sign(_held(gate, args={**ARGS, "target": "T-2"}))
    assert gate.check_call("tf-1", "release_weapon", {**ARGS, "target": "T-2"}, [a1, a2]).status == "released"
    assert gate.check_call("tf-1", "release_weapon", {**ARGS, "target": "T-1"}, [a1, a2]).status == "released"


# -- tampering (property) -------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=12))

call_changes = st.one_of(
    st.tuples(st.just("tool"), st.sampled_from(["fire_missile", "strike_target", "release_weapon2", "Release_weapon"])),
    st.tuples(st.just("tenant"), st.text(min_size=1, max_size=12).filter(lambda t: t != "tf-1")),
    st.tuples(st.just("target"), st.text(max_size=12).filter(lambda t: t != "T-0042")),
    st.tuples(st.just("arg"), st.tuples(st.sampled_from(["munition", "aimpoint", "fuze", "target"]), json_scalars)),
    st.tuples(st.just("drop"), st.sampled_from(list(ARGS))),
)


@HYPO
@given(change=call_changes)
def test_any_change_to_the_call_is_rejected(gate: Gate, change: tuple[str, Any]) -> None:
    auth = sign(_held(gate))
    tenant, tool, args = "tf-1", "release_weapon", copy.deepcopy(ARGS)
    kind, value = change
    if kind == "tool":
        tool = value
    elif kind == "tenant":
        tenant = value
    elif kind == "target":
        args["target"] = value
    elif kind == "arg":
        args[value[0]] = value[1]
    else:
        del args[value]
    if args == ARGS and tool == "release_weapon" and tenant == "tf-1":
        return  # hypothesis drew the same value back: not a change
    outcome = gate.verify(tenant, tool, args, auth)
    assert not outcome.ok
    # the rejection did not burn the authorization: the real call still goes through, once
    assert gate.verify("tf-1", "release_weapon", ARGS, auth).ok
    assert not gate.verify("tf-1", "release_weapon", ARGS, auth).ok


CHALLENGE_FIELDS = [
    "tool",
    "tenant",
    "target",
    "args_sha256",
    "arguments",
    "expires_at",
    "issued_at",
    "nonce",
    "policy_version",
    "required_role",
    "approvals",
    "effect",
]


def _mutated(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, bool) or value is None:
        return data.draw(st.sampled_from(["x", 1, not value if isinstance(value, bool) else 0]))
    if isinstance(value, int):
        return value + data.draw(st.integers(1, 10**6)) * data.draw(st.sampled_from([1, -1]))
    if isinstance(value, str):
        return data.draw(st.text(max_size=70).filter(lambda s: s != value))
    if isinstance(value, dict):
        return {
            **value,
            data.draw(st.sampled_from(["target", "munition", "extra"])): data.draw(json_scalars.filter(lambda v: v != "T-0042")),
        }
    raise AssertionError(type(value))


@HYPO
@given(data=st.data())
def test_any_change_to_the_authorization_is_rejected(gate: Gate, data: st.DataObject) -> None:
    auth = sign(_held(gate))
    forged = copy.deepcopy(auth)
    where = data.draw(st.sampled_from(["challenge", "operator", "key_id", "signed_at", "signature", "re-signed"]))
    if where == "challenge":
        name = data.draw(st.sampled_from(CHALLENGE_FIELDS))
        forged["challenge"][name] = _mutated(forged["challenge"][name], data)
    elif where == "signature":
        raw = bytearray(unb64(forged["signature"]))
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        forged["signature"] = b64(bytes(raw))
    elif where == "re-signed":
        # a field changed and validly signed again by the same operator: still not the issued challenge
        name = data.draw(st.sampled_from(["expires_at", "nonce", "issued_at"]))
        ch = copy.deepcopy(auth["challenge"])
        ch[name] = _mutated(ch[name], data) if name == "nonce" else ch[name] + data.draw(st.integers(1, 600))
        forged = authorize(ch, KEYS["alice"], "alice", now=NOW)
    elif where == "signed_at":
        forged["signed_at"] += data.draw(st.integers(1, 10**6))
    else:
        forged[where] = _mutated(forged[where], data)
    assert forged != auth
    assert gate.check_call("tf-1", "release_weapon", ARGS, forged).status != "released"
    assert not gate.verify("tf-1", "release_weapon", ARGS, forged).ok
    assert gate.verify("tf-1", "release_weapon", ARGS, auth).ok


@HYPO
@given(late=st.integers(0, 10**6))
def test_expired_authorization_is_rejected(gate: Gate, clock: Clock, late: int) -> None:
    clock.now = NOW
    auth = sign(_held(gate))
    clock.now = auth["challenge"]["expires_at"] + late
    outcome = gate.verify("tf-1", "release_weapon", ARGS, auth)
    assert not outcome.ok and "expired" in outcome.reason
    clock.now = NOW


@HYPO
@given(who=st.sampled_from(["carol", "dave", "eve", "mallory-as-alice"]))
def test_revoked_wrong_role_or_unknown_operator_is_rejected(gate: Gate, who: str) -> None:
    challenge = _held(gate)
    if who == "eve":  # never registered
        auth = authorize(challenge, KEYS["alice"], "eve", now=NOW)
    elif who == "mallory-as-alice":  # alice's name, another key
        auth = authorize(challenge, KEYS["carol"], "alice", now=NOW)
    else:
        auth = sign(challenge, who)
    outcome = gate.verify("tf-1", "release_weapon", ARGS, auth)
    assert not outcome.ok
    expected = {"carol": "role", "dave": "revoked", "eve": "not registered", "mallory-as-alice": "key"}[who]
    assert expected in outcome.reason


def test_revocation_applies_to_authorizations_already_signed(gate: Gate) -> None:
    auth = sign(_held(gate), "bob")
    assert gate.store.revoke_operator("bob")
    assert "revoked" in gate.verify("tf-1", "release_weapon", ARGS, auth).reason


def test_two_person_rule(gate: Gate) -> None:
    args = {"target": "bridge-7", "charge": "demo-2"}
    challenge = _held(gate, "detonate_charge", args)
    assert challenge["approvals"] == 2
    alone = gate.check_call("tf-1", "detonate_charge", args, sign(challenge, "alice"))
    assert alone.status == "denied" and "two-person" in alone.reason
    twice = gate.check_call("tf-1", "detonate_charge", args, [sign(challenge, "alice"), sign(challenge, "alice", NOW + 1)])
    assert twice.status == "denied"
    with_wrong_role = gate.check_call("tf-1", "detonate_charge", args, [sign(challenge, "alice"), sign(challenge, "carol")])
    assert with_wrong_role.status == "denied"
    both = gate.check_call("tf-1", "detonate_charge", args, [sign(challenge, "alice"), sign(challenge, "bob")])
    assert both.status == "released" and set(both.operators) == {"alice", "bob"}


def test_a_challenge_the_gate_did_not_issue_is_rejected(gate: Gate, clock: Clock) -> None:
    # an operator crafting their own challenge (fresh nonce, right bindings) is not enough
    from redline.gate.challenge import build_challenge

    own = build_challenge(
        tenant="tf-1", tool=gate.classify("release_weapon"), arguments=ARGS, policy_version=gate.policy.version, now=NOW, lifetime_s=900
    )
    outcome = gate.verify("tf-1", "release_weapon", ARGS, sign(own))
    assert not outcome.ok and "not issued" in outcome.reason


def test_expired_challenges_are_purged_after_the_retention_and_stay_unredeemable(gate: Gate, clock: Clock) -> None:
    from redline.gate.gate import CHALLENGE_RETENTION_S

    old = _held(gate)
    clock.now += 3600.0  # expired, but inside the retention: kept
    kept = _held(gate, args={**ARGS, "target": "T-0043"})
    assert gate.store.challenge(old["nonce"]) is not None
    clock.now = kept["expires_at"] + CHALLENGE_RETENTION_S + 1.0
    fresh = _held(gate, args={**ARGS, "target": "T-0044"})
    assert gate.store.challenge(old["nonce"]) is None and gate.store.challenge(kept["nonce"]) is None
    assert gate.store.challenge(fresh["nonce"]) is not None
    # the purged challenge cannot be redeemed, even with a signature made while it was valid
    late = gate.check_call("tf-1", "release_weapon", ARGS, sign(old))
    assert late.status in ("denied", "approval_required") and not late.executable
    # a sweep runs at most once per PURGE_EVERY_S: the next issuance soon after deletes nothing
    clock.now += 60.0
    _held(gate, args={**ARGS, "target": "T-0045"})
    assert gate.store.challenge(fresh["nonce"]) is not None


def test_malformed_authorizations_are_denied_with_a_reason(gate: Gate) -> None:
    _held(gate)
    for bad in ({}, [], "x", {"type": "redline.gate.authorization/v1"}, [{"challenge": {"tool": "release_weapon"}}], 42):
        v = gate.check_call("tf-1", "release_weapon", ARGS, bad)  # type: ignore[arg-type]
        assert v.status in ("denied", "approval_required") and not v.executable


def test_operator_refuses_to_sign_a_challenge_whose_arguments_were_swapped(gate: Gate) -> None:
    challenge = _held(gate)
    challenge["arguments"] = {**ARGS, "target": "T-9999"}
    with pytest.raises(GateError, match="do not match"):
        sign(challenge)


# -- both databases, and two processes ------------------------------------------------------------


def test_valid_authorization_is_accepted_exactly_once_across_two_processes(db: str) -> None:
    gate = make_gate(db)
    auths = [sign(_held(gate, args={**ARGS, "target": f"T-{i}"})) for i in range(12)]
    gate.store.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(2)
        with ctx.Pool(2) as pool:
            a = pool.apply_async(verify_worker, (db, auths, start))
            b = pool.apply_async(verify_worker, (db, list(reversed(auths)), start))
            ra, rb = a.get(timeout=120), list(reversed(b.get(timeout=120)))
    assert all(x != y for x, y in zip(ra, rb, strict=True)), (ra, rb)  # each nonce released by exactly one


# -- failing closed -------------------------------------------------------------------------------


def test_store_unavailable_means_lethal_calls_do_not_run(gate: Gate) -> None:
    auth = sign(_held(gate))
    gate.store.conn.close()  # the database goes away under a running gate
    assert gate.check_call("tf-1", "get_track", {"track_id": "x"}).status == "pass"
    v = gate.check_call("tf-1", "release_weapon", ARGS, auth)
    assert v.status == "denied" and "unavailable" in v.reason
    assert gate.check_call("tf-1", "release_weapon", ARGS).status == "denied"


def test_unreachable_store_or_unreadable_policy_cannot_open_a_gate(tmp_path: Path) -> None:
    with pytest.raises(GateUnavailable):
        GateStore.open("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(GateUnavailable):
        GateStore.open(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    (tmp_path / "bad.yaml").write_text("policy_format: 1\nname: [broken\n")
    with pytest.raises(GateUnavailable, match="policy cannot be read"):
        open_gate(f"sqlite:///{tmp_path / 'g.db'}", str(tmp_path / "bad.yaml"))
    with pytest.raises(GateUnavailable, match="policy cannot be read"):
        open_gate(f"sqlite:///{tmp_path / 'g.db'}", str(tmp_path / "missing.yaml"))


def test_ledger_failure_means_the_call_does_not_run(tmp_path: Path) -> None:
    gate = open_gate(f"sqlite:///{tmp_path / 'g.db'}", None, str(tmp_path / "ledger.key"))
    assert gate.ledger is not None
    store = gate.store
    for name in ("alice",):
        store.add_operator(name, ROLE, KEYS[name].verify_key.raw(), KEYS[name].id)
    ch = gate.check_call("tf-1", "release_weapon", ARGS).challenge
    assert ch is not None
    auth = authorize(ch, KEYS["alice"], "alice")
    gate.ledger.backend.close()
    v = gate.check_call("tf-1", "release_weapon", ARGS, auth)
    assert v.status == "denied" and "ledger" in v.reason


# -- the wire convention for the gateway ----------------------------------------------------------


def test_authorizations_travel_in_a_header_or_the_body(gate: Gate) -> None:
    from redline.gate import authorizations_from, encode_header, without_redline

    a1 = sign(_held(gate, args={**ARGS, "target": "T-1"}))
    a2 = sign(_held(gate, args={**ARGS, "target": "T-2"}))
    body = {"model": "m", "messages": [], "redline": {"authorizations": [a2]}}
    found = authorizations_from(encode_header(a1), body)
    assert found == [a1, a2] and "redline" not in without_redline(body)
    for target in ("T-1", "T-2"):
        assert gate.check_call("tf-1", "release_weapon", {**ARGS, "target": target}, found).status == "released"
    assert authorizations_from(None, {"model": "m"}) == []
    for header, bad_body in (("%%%", None), (None, {"redline": [a1]}), (encode_header(a1)[:-3], None)):
        with pytest.raises(GateError):
            authorizations_from(header, bad_body)


def test_threads_sharing_one_gate_release_a_call_once(gate: Gate) -> None:
    from concurrent.futures import ThreadPoolExecutor

    auth = sign(_held(gate))
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: gate.check_call("tf-1", "release_weapon", ARGS, auth).status, range(16)))
    assert statuses.count("released") == 1 and statuses.count("denied") == 15


# -- tool calls in model output (what the gateway hands over) -------------------------------------


def test_openai_message_holds_lethal_calls_until_authorized_then_releases_once(gate: Gate) -> None:
    import orjson

    from redline.gate import gate_openai_message

    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_track", "arguments": '{"track_id": "T-0042"}'}},
            {"id": "c2", "type": "function", "function": {"name": "release_weapon", "arguments": orjson.dumps(ARGS).decode()}},
        ],
    }
    out, held = gate_openai_message(gate, "tf-1", message)
    assert [c["id"] for c in out["tool_calls"]] == ["c1"] and message["tool_calls"][1]["id"] == "c2"
    assert [(h.id, h.verdict.status) for h in held] == [("c2", "approval_required")]
    challenge = held[0].to_dict()["challenge"]
    auth = sign(challenge)
    out, held = gate_openai_message(gate, "tf-1", message, [auth])
    assert [c["id"] for c in out["tool_calls"]] == ["c1", "c2"] and held == []
    out, held = gate_openai_message(gate, "tf-1", message, [auth])
    assert [c["id"] for c in out["tool_calls"]] == ["c1"] and held[0].verdict.status == "denied"
    bad = {"tool_calls": [{"id": "c3", "function": {"name": "release_weapon", "arguments": "{not json"}}]}
    out, held = gate_openai_message(gate, "tf-1", bad)
    assert "tool_calls" not in out and held[0].verdict.status == "denied"


def test_anthropic_content_holds_lethal_tool_use(gate: Gate) -> None:
    from redline.gate import gate_anthropic_content

    content = [
        {"type": "text", "text": "Engaging."},
        {"type": "tool_use", "id": "tu1", "name": "release_weapon", "input": ARGS},
        {"type": "tool_use", "id": "tu2", "name": "get_track", "input": {"track_id": "T-0042"}},
    ]
    kept, held = gate_anthropic_content(gate, "tf-1", content)
    assert [b.get("id") for b in kept] == [None, "tu2"] and held[0].id == "tu1"
    kept, held = gate_anthropic_content(gate, "tf-1", content, [sign(held[0].verdict.challenge or {})])
    assert [b.get("id") for b in kept] == [None, "tu1", "tu2"] and held == []
