"""The console in process (Starlette's TestClient over a SQLite database): who can reach what,
CSRF, login rate limiting, tenant isolation, the review actions and what they record, and lethal
authorizations verified by the Gate without the server ever holding a private key."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from console_helpers import PASSWORD, csrf_of, login
from redline.cli import cli
from redline.console import UserStore, accounts, open_console
from redline.decide import Decision
from redline.gate import Gate, GateStore, authorize
from redline.gate.authorization import b64
from redline.gateway.reviewing import ReviewHook
from redline.ledger import Ledger, Redactor, SigningKey
from redline.monitor.store import open_store
from redline.policy import Policy
from redline.review import ReviewStore
from redline.store import parse_db_url
from redline.tenants import Tenant, TenantStore

ROLE = "weapons_release_authority"
ARGS = {"target": "T-0042", "munition": "GBU-39"}
SECRET_EXCERPT = "subscriber names for every phone in Maricopa"


@dataclass
class Env:
    db: str
    ledger: Ledger
    reviews: ReviewStore
    gate: Gate
    op_key: SigningKey
    app: Starlette
    challenge: dict[str, Any]

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def records(self, kind: str = "console") -> list[dict[str, Any]]:
        size = self.ledger.size()
        bodies = [json.loads(self.ledger.prove(i, size).body) for i in range(size)]
        return [b for b in bodies if b["kind"] == kind]


def _decision(policy: Policy, excerpt: str) -> Decision:
    return Decision(
        "block",
        "mass_domestic_surveillance",
        {},
        "mds.bulk",
        policy.version,
        evidence=[{"signal": "bulk", "text": excerpt}],
        signals=["bulk"],
    )


@pytest.fixture
def env(tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    # accounts made here use a cheaper scrypt cost so the suite stays fast; the cost is stored in
    # each hash, and test_password_hashes_are_scrypt checks the production parameters
    monkeypatch.setattr(accounts, "_N", 2**10)
    db = f"sqlite:///{tmp_path / 'redline.db'}"
    url = parse_db_url(db)
    ledger = Ledger.open(url, SigningKey.generate())
    tenants = TenantStore.open(url)
    for name in ("alpha", "bravo"):
        tenants.add(name, ["foreign_intelligence"])
    reviews = ReviewStore(url)
    gate_store = GateStore.open(url)
    op_key = SigningKey.generate()
    gate_store.add_operator("maj.rivera", ROLE, op_key.verify_key.raw(), op_key.id)
    gate = Gate(policy, gate_store, ledger)
    redactor = Redactor(b"k" * 32)
    for hold_id, tenant in ((101, "alpha"), (102, "bravo")):
        text = f"{tenant}: {SECRET_EXCERPT}"
        rec = redactor.decision(_decision(policy, text), request={"text": text}, tenant=tenant)
        reviews.add_hold(hold_id, tenant, "input", rec.payload["request_hash"], rec.payload)
    challenge = gate.challenge("alpha", "release_weapon", ARGS)
    reviews.add_challenge(challenge, 103)
    with UserStore(url) as users:
        users.add("rev", "reviewer", PASSWORD)
        users.add("rev-alpha", "reviewer", PASSWORD, tenant="alpha")
        users.add("appr", "approver", PASSWORD, operator="maj.rivera")
        users.add("aud", "auditor", PASSWORD)
        users.add("adm", "admin", PASSWORD)
    console = open_console(url, policy, ledger, reviews, gate_store=gate_store, tenants=tenants, monitor_store=open_store(url))
    app = Starlette(routes=[console.mount])
    yield Env(db, ledger, reviews, gate, op_key, app, challenge)
    console.close()
    reviews.close()
    gate_store.close()
    tenants.close()
    ledger.close()


def _paths(app: Starlette, env: Env) -> list[tuple[str, str]]:
    mount = app.routes[0]
    assert isinstance(mount, Mount)
    out = []
    for route in mount.routes:
        assert isinstance(route, Route)
        path = "/console" + route.path.replace("{hold_id:int}", "101").replace("{nonce}", env.challenge["nonce"]).replace(
            "{name}", "console.css"
        )
        for method in route.methods or ():
            if method != "HEAD":
                out.append((method, path))
    return out


def test_no_page_or_action_is_reachable_without_login(env: Env) -> None:
    client = env.client()
    public = {("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/console/static/{name}".replace("{name}", "console.css"))}
    paths = _paths(env.app, env)
    assert len(paths) >= 14
    for method, path in paths:
        if (method, path) in public:
            continue
        r = client.request(method, path, follow_redirects=False)
        if method == "GET":
            assert r.status_code == 303 and r.headers["location"] == "/console/login", (method, path)
        else:
            assert r.status_code == 401, (method, path)
        assert SECRET_EXCERPT not in r.text
    # a forged or stale cookie is no session either
    client.cookies.set("redline_console", "forged-token", path="/console")
    assert client.get("/console/queue", follow_redirects=False).status_code == 303
    assert env.reviews.hold(101).status == "pending"  # type: ignore[union-attr]


def test_login_sets_a_hardened_cookie_and_stores_only_hashes(env: Env) -> None:
    client = env.client()
    r = login(client, "rev")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    token = re.search(r"redline_console=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https adds it
    page = client.get("/console/queue")
    assert page.status_code == 200 and "Review 101" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    raw = Path(env.db.removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in raw and PASSWORD.encode() not in raw
    with UserStore(env.db) as users:
        stored = users.db.run("SELECT password FROM console_users WHERE name = 'rev'").rows[0][0]
    assert stored.startswith("scrypt$")
    assert [r["payload"]["event"] for r in env.records()] == ["login"]


def test_https_cookies_are_secure(env: Env) -> None:
    client = TestClient(env.app, base_url="https://testserver")
    r = login(client, "rev")
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_login_is_rate_limited_per_user_and_address(env: Env) -> None:
    client = env.client()
    for _ in range(5):
        assert login(client, "aud", "wrong password!!").status_code == 401
    r = login(client, "aud")  # the right password, but too late
    assert r.status_code == 429 and "Too many failed logins" in r.text
    assert login(client, "adm").status_code == 303  # another user from the same address is not locked out
    events = [r["payload"] for r in env.records()]
    assert [e["event"] for e in events].count("login_failed") == 5
    assert all("password" not in json.dumps(e) for e in events)
    # a name that is no account is not recorded (it may be a password typed in the wrong field)
    login(env.client(), "hunter2-oops", "x")
    assert env.records()[-1]["payload"] == {"event": "login_failed", "user": None, "role": None}


def test_login_form_needs_its_token(env: Env) -> None:
    client = env.client()
    r = client.post("/console/login", data={"username": "rev", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "redline_console=" not in r.headers.get("set-cookie", "")


def test_csrf_token_is_enforced_on_every_post(env: Env) -> None:
    client = env.client()
    login(client, "rev")
    for data in ({}, {"csrf": "guess"}, {"csrf": ""}):
        r = client.post("/console/queue/101", data={**data, "action": "release", "reason": "looks fine"})
        assert r.status_code == 403 and "CSRF" in r.text
    assert env.reviews.hold(101).status == "pending"  # type: ignore[union-attr]
    # another session's token is not this session's
    other = env.client()
    login(other, "rev")
    foreign = csrf_of(other, "/console/queue")
    r = client.post("/console/queue/101", data={"csrf": foreign, "action": "release", "reason": "looks fine"})
    assert r.status_code == 403
    r = client.post("/console/logout", data={})
    assert r.status_code == 403  # even logging out needs the token


def test_release_and_uphold_need_a_reason_and_are_recorded(env: Env) -> None:
    client = env.client()
    login(client, "rev")
    token = csrf_of(client, "/console/queue")
    r = client.post("/console/queue/101", data={"csrf": token, "action": "release", "reason": "  "})
    assert r.status_code == 400 and env.reviews.hold(101).status == "pending"  # type: ignore[union-attr]
    r = client.post("/console/queue/101", data={"csrf": token, "action": "release", "reason": "named subject under FISA order 24-117"})
    assert r.status_code == 200 and "Released" in r.text
    r = client.post("/console/queue/102", data={"csrf": token, "action": "uphold", "reason": "bulk selector"})
    assert "Upheld" in r.text
    again = client.post("/console/queue/101", data={"csrf": token, "action": "uphold", "reason": "changed my mind"})
    assert again.status_code == 409 and "already decided" in again.text
    events = [r["payload"] for r in env.records() if r["payload"]["event"].startswith("review_")]
    assert [(e["event"], e["review_id"], e["user"], e["reason"]) for e in events] == [
        ("review_released", 101, "rev", "named subject under FISA order 24-117"),
        ("review_upheld", 102, "rev", "bulk selector"),
    ]
    # a release is redeemed once, by the same tenant with the same request
    hold = env.reviews.hold(101)
    assert hold is not None
    assert not env.reviews.redeem(101, "bravo", hold.request_hash)
    assert not env.reviews.redeem(101, "alpha", "0" * 64)
    assert env.reviews.redeem(101, "alpha", hold.request_hash)
    assert not env.reviews.redeem(101, "alpha", hold.request_hash)
    assert not env.reviews.redeem(102, "bravo", env.reviews.hold(102).request_hash)  # type: ignore[union-attr]


def test_only_reviewers_decide_and_only_approvers_sign(env: Env) -> None:
    auth = authorize(env.challenge, env.op_key, "maj.rivera")
    for user in ("rev", "aud", "adm"):
        client = env.client()
        login(client, user)
        token = csrf_of(client, "/console/approvals")
        r = client.post(
            f"/console/approvals/{env.challenge['nonce']}", data={"csrf": token, "mode": "paste", "authorization": json.dumps(auth)}
        )
        assert r.status_code == 403, user
    assert env.reviews.challenge(env.challenge["nonce"]).signed_by == ()  # type: ignore[union-attr]
    client = env.client()
    login(client, "appr")
    assert client.get("/console/queue").status_code == 403  # approvers do not work the review queue
    token = csrf_of(client, "/console/approvals")
    r = client.post("/console/queue/101", data={"csrf": token, "action": "release", "reason": "not mine to decide"})
    assert r.status_code == 403 and env.reviews.hold(101).status == "pending"  # type: ignore[union-attr]
    aud = env.client()
    login(aud, "aud")
    r = aud.post("/console/queue/101", data={"csrf": csrf_of(aud, "/console/queue"), "action": "release", "reason": "x"})
    assert r.status_code == 403


def test_approver_pastes_redline_authorize_output_and_the_gate_releases_once(env: Env) -> None:
    client = env.client()
    login(client, "appr")
    page = client.get("/console/approvals")
    assert "release_weapon" in page.text and "T-0042" in page.text and "GBU-39" in page.text and "weapons_release_authority" in page.text
    token = csrf_of(client, "/console/approvals")
    url = f"/console/approvals/{env.challenge['nonce']}"
    # someone else's signature, an altered challenge and garbage are refused
    other = SigningKey.generate()
    forged = authorize(env.challenge, other, "maj.rivera")
    r = client.post(url, data={"csrf": token, "mode": "paste", "authorization": json.dumps(forged)})
    assert r.status_code == 400 and "names a key" in r.text
    altered = {**auth_for(env), "operator": "maj.rivera"}
    altered["challenge"] = {**altered["challenge"], "target": "T-9999"}
    r = client.post(url, data={"csrf": token, "mode": "paste", "authorization": json.dumps(altered)})
    assert r.status_code == 400 and "bad signature" in r.text
    r = client.post(url, data={"csrf": token, "mode": "paste", "authorization": "{not json"})
    assert r.status_code == 400
    auth = authorize(env.challenge, env.op_key, "maj.rivera")
    r = client.post(url, data={"csrf": token, "mode": "paste", "authorization": json.dumps(auth)})
    assert r.status_code == 200 and "Signature verified" in r.text
    assert env.reviews.challenge(env.challenge["nonce"]).signed_by == ("maj.rivera",)  # type: ignore[union-attr]
    # nothing is consumed until the call is retried through the Gate
    assert env.gate.store.challenge(env.challenge["nonce"]).consumed_at is None  # type: ignore[union-attr]
    events = [r["payload"] for r in env.records()]
    signed = [e for e in events if e["event"] == "authorization_signed"]
    assert len(signed) == 1 and signed[0]["operator"] == "maj.rivera" and "GBU-39" not in json.dumps(events)
    assert [e["event"] for e in events].count("authorization_rejected") == 2  # the forged and the altered one
    _gate_releases_once(env)


def test_browser_signature_over_the_page_message_is_accepted(env: Env) -> None:
    """What console.js does (WebCrypto Ed25519 over data-message), done here with the same key."""
    client = env.client()
    login(client, "appr")
    page = client.get("/console/approvals").text
    message = base64.b64decode(re.search(r'data-message="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    signed_at = re.search(r'name="signed_at" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    token = csrf_of(client, "/console/approvals")
    url = f"/console/approvals/{env.challenge['nonce']}"
    bad = client.post(
        url, data={"csrf": token, "mode": "webcrypto", "signed_at": signed_at, "signature": b64(SigningKey.generate().sign(message))}
    )
    assert bad.status_code == 400 and "bad signature" in bad.text
    good = client.post(url, data={"csrf": token, "mode": "webcrypto", "signed_at": signed_at, "signature": b64(env.op_key.sign(message))})
    assert good.status_code == 200 and "Signature verified" in good.text
    _gate_releases_once(env)


def auth_for(env: Env) -> dict[str, Any]:
    return authorize(env.challenge, env.op_key, "maj.rivera")


def _gate_releases_once(env: Env) -> None:
    """The gateway's review hook hands the stored authorization to the Gate: released once."""
    hook = ReviewHook(env.reviews, Redactor(b"k" * 32), True, lambda n: env.gate.store.challenge(n).consumed_at is not None)  # type: ignore[union-attr]
    import asyncio

    tenant = Tenant("alpha", ("foreign_intelligence",), "active", 0.0)
    found = asyncio.run(hook.authorizations(tenant, [("release_weapon", ARGS)]))
    assert len(found) == 1
    assert asyncio.run(hook.authorizations(tenant.__class__("bravo", (), "active", 0.0), [("release_weapon", ARGS)])) == []
    assert env.gate.check_call("alpha", "release_weapon", ARGS, found).status == "released"
    assert env.gate.check_call("alpha", "release_weapon", ARGS, found).status == "denied"  # replay
    assert asyncio.run(hook.authorizations(tenant, [("release_weapon", ARGS)])) == []  # spent: not handed over again


def test_a_tenant_bound_user_sees_only_their_tenant(env: Env) -> None:
    client = env.client()
    login(client, "rev-alpha")
    page = client.get("/console/queue").text
    assert "alpha: " in page and "bravo" not in page
    token = csrf_of(client, "/console/queue")
    r = client.post("/console/queue/102", data={"csrf": token, "action": "release", "reason": "not my tenant"})
    assert r.status_code == 409 and "no held request 102" in r.text
    assert env.reviews.hold(102).status == "pending"  # type: ignore[union-attr]
    for path in ("/console/queue?status=all", "/console/approvals", "/console/alerts", "/console/ledger"):
        assert "bravo" not in client.get(path).text, path
    # a ledger record of another tenant is not shown, not even as a proof
    env.ledger.append(__import__("redline.ledger", fromlist=["Record"]).Record("decision", {"note": "bravo-only"}, "bravo"))
    seq = env.ledger.size() - 1
    r = client.get(f"/console/ledger/proof?seq={seq}")
    assert r.status_code == 404 and "bravo-only" not in r.text
    # the provider's staff (no tenant binding) see both
    staff = env.client()
    login(staff, "rev")
    page = staff.get("/console/queue").text
    assert "alpha: " in page and "bravo: " in page
    assert "bravo-only" in staff.get(f"/console/ledger/proof?seq={seq}").text


def test_ledger_page_verifies_and_proves(env: Env) -> None:
    client = env.client()
    login(client, "aud")
    page = client.get("/console/ledger")
    assert page.status_code == 200 and "Records" in page.text
    r = client.post("/console/ledger/verify", data={"csrf": csrf_of(client, "/console/ledger")})
    assert "Intact" in r.text
    r = client.get("/console/ledger/proof?seq=0")
    assert "is included in the tree" in r.text
    assert client.get("/console/ledger/proof?seq=abc").status_code == 400
    assert [e["payload"]["event"] for e in env.records()][-2:] == ["ledger_verified", "ledger_proof"]
    rev = env.client()
    login(rev, "rev")
    assert rev.post("/console/ledger/verify", data={"csrf": csrf_of(rev, "/console/ledger")}).status_code == 403


def test_tenants_and_operators_pages(env: Env) -> None:
    client = env.client()
    login(client, "adm")
    t = client.get("/console/tenants").text
    assert "alpha" in t and "bravo" in t
    o = client.get("/console/operators").text
    assert "maj.rivera" in o and ROLE in o
    rev = env.client()
    login(rev, "rev")
    assert rev.get("/console/tenants").status_code == 403


def test_users_cli_add_list_disable(env: Env, tmp_path: Path) -> None:
    key = str(tmp_path / "ledger.key")
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["users", "add", "ops1", "--role", "auditor", "--password-stdin", "--db", env.db, "--key", key],
        input="a-long-enough-password\n",
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "add", "ops2", "--role", "auditor", "--password-stdin", "--db", env.db, "--key", key], input="short\n")
    assert r.exit_code == 2 and "at least 12" in r.output
    r = runner.invoke(
        cli,
        ["users", "add", "ops1", "--role", "auditor", "--password-stdin", "--db", env.db, "--key", key],
        input="a-long-enough-password\n",
    )
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(cli, ["users", "add", "x", "--role", "boss", "--password-stdin", "--db", env.db], input="a-long-enough-password\n")
    assert r.exit_code == 2
    listed = [json.loads(line) for line in runner.invoke(cli, ["users", "list", "--db", env.db, "--json"]).output.splitlines()]
    assert {"name": "ops1", "role": "auditor", "tenant": None, "operator": None, "active": True} in listed
    assert all("password" not in row for row in listed)
    client = env.client()
    assert login(client, "ops1", "a-long-enough-password").status_code == 303
    assert client.get("/console/ledger").status_code == 200
    r = runner.invoke(cli, ["users", "disable", "ops1", "--db", env.db, "--key", key])
    assert r.exit_code == 0, r.output
    assert client.get("/console/ledger", follow_redirects=False).status_code == 303  # its session ended
    assert login(env.client(), "ops1", "a-long-enough-password").status_code == 401
    with UserStore(env.db) as users:
        assert not users.get("ops1").active  # type: ignore[union-attr]


def test_password_hashes_are_scrypt_and_checked_in_full() -> None:
    stored = accounts.hash_password(PASSWORD)
    kind, n, r, p, salt, dk = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", "32768", "8", "1") and len(base64.b64decode(dk)) == 32 and len(base64.b64decode(salt)) == 16
    assert accounts.check_password(PASSWORD, stored)
    assert not accounts.check_password(PASSWORD + "!", stored)
    assert not accounts.check_password(PASSWORD, "scrypt$bad")
    assert accounts.hash_password(PASSWORD) != stored  # salted


def test_admin_revokes_tenants_and_operators_with_a_reason(env: Env) -> None:
    client = env.client()
    login(client, "adm")
    token = csrf_of(client, "/console/tenants")
    r = client.post("/console/tenants/bravo/revoke", data={"csrf": token, "reason": ""})
    assert r.status_code == 400
    r = client.post("/console/tenants/bravo/revoke", data={"csrf": token, "reason": "contract ended"})
    assert r.status_code == 200 and "Revoked" in r.text
    assert "revoked" in client.get("/console/tenants").text
    r = client.post("/console/operators/maj.rivera/revoke", data={"csrf": token, "reason": "left the unit"})
    assert r.status_code == 200 and "Operator revoked" in r.text
    assert not env.gate.store.operator("maj.rivera").active  # type: ignore[union-attr]
    events = [(r["payload"]["event"], r["payload"].get("reason")) for r in env.records()]
    assert ("tenant_revoked", "contract ended") in events and ("operator_revoked", "left the unit") in events
    assert "operator_revoked" in [r["payload"]["event"] for r in env.records("gate")]
    # a revoked operator's signature no longer passes the console's check
    appr = env.client()
    login(appr, "appr")
    r = appr.post(
        f"/console/approvals/{env.challenge['nonce']}",
        data={"csrf": csrf_of(appr, "/console/approvals"), "mode": "paste", "authorization": json.dumps(auth_for(env))},
    )
    assert r.status_code == 403 and "revoked" in r.text
    # auditors look but do not manage
    aud = env.client()
    login(aud, "aud")
    r = aud.post("/console/tenants/alpha/revoke", data={"csrf": csrf_of(aud, "/console/tenants"), "reason": "x"})
    assert r.status_code == 403
