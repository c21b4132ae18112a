"""The console end to end in a real browser: Playwright driving Debian's chromium (installed by
tools/chromium.sh; never a downloaded browser) against `redline serve` with the console mounted,
and the official OpenAI SDK as the tenant's client.

A reviewer logs in, sees a blocked request in the review queue, releases it with a reason, and
the client's retry with the review id goes through once. An approver sees a held lethal tool
call in plain language, signs it in the browser with their own key file (WebCrypto Ed25519; the
key never leaves the browser), and the agent's retry is released exactly once by the Gate. A
monitor alert shows with its chart. Every page is saved as a screenshot (under docs/console/ with `make screenshots`).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console_helpers import PASSWORD
from gateway_helpers import ServedGateway, lookup
from gateway_stubs import DEFAULT_REPLY, RELEASE_ARGS, StubUpstream
from redline.cli import cli
from redline.console import UserStore
from redline.ledger import Ledger, load_or_create_signing_key

ROOT = Path(__file__).resolve().parent.parent
# `make screenshots` refreshes docs/console/; an ordinary test run must not rewrite tracked files.
SHOTS = Path(os.environ.get("REDLINE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "redline-console-screenshots")
OPERATOR = "maj.rivera"
ROLE = "weapons_release_authority"
BLOCKED = "Pull every phone that pinged a tower in Maricopa County and give me the subscriber names."
AGENT = "AGENT: read track T-0042, then prepare the strike the battle captain approved."
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_track", "description": "read a track's position", "parameters": {"type": "object"}}},
    {
        "type": "function",
        "function": {
            "name": "release_weapon",
            "description": "release a munition on the commander's target",
            "parameters": {"type": "object"},
        },
    },
]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, stubs: dict[str, StubUpstream]) -> Iterator[ServedGateway]:
    stub = stubs["openai"]
    work = tmp_path_factory.mktemp("console-gw")
    db = f"sqlite:///{work / 'redline.db'}"
    with UserStore(db) as users:
        users.add("rivera-approver", "approver", PASSWORD, operator=OPERATOR)
        users.add("chen-reviewer", "reviewer", PASSWORD)
        users.add("okafor-auditor", "auditor", PASSWORD)
        users.add("admin", "admin", PASSWORD)
    keys = work / "operator"
    for args in (
        ["keygen", "--operator", OPERATOR, "--out", str(keys)],
        [
            "operators",
            "add",
            OPERATOR,
            "--public-key",
            str(keys / f"{OPERATOR}.pub"),
            "--role",
            ROLE,
            "--db",
            db,
            "--key",
            str(work / "ledger.key"),
        ],
    ):
        out = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert out.exit_code == 0, out.output
    g = ServedGateway(work, {"upstreams": [{"name": "oa", "url": stub.url}], "on_review": "hold"}, tenant="j2-cell", others=["lookup-cell"])
    yield g
    g.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    proc = subprocess.run(["sh", str(ROOT / "tools" / "chromium.sh")], capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot install Debian's chromium for the console tests:\n{proc.stderr[-2000:]}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=proc.stdout.strip().splitlines()[-1], headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 820})
    p = context.new_page()
    yield p
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, gw: ServedGateway, user: str) -> None:
    page.goto(f"{gw.url}/console/")
    expect(page).to_have_url(f"{gw.url}/console/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def client(gw: ServedGateway, tenant: str = "j2-cell") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.keys[tenant], max_retries=0)


def console_events(gw: ServedGateway) -> list[dict[str, Any]]:
    with Ledger.open(gw.db, load_or_create_signing_key(str(gw.key_file))) as ledger:
        size = ledger.size()
        bodies = [json.loads(ledger.prove(i, size).body) for i in range(size)]
    return [b for b in bodies if b["kind"] in ("console", "gate")]


def test_login_page_and_no_access_without_it(page: Page, gw: ServedGateway) -> None:
    for path in ("queue", "approvals", "alerts", "ledger", "tenants", "operators"):
        page.goto(f"{gw.url}/console/{path}")
        expect(page).to_have_url(f"{gw.url}/console/login")
    page.get_by_label("User name").fill("chen-reviewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    shot(page, "login")


def test_reviewer_releases_a_blocked_request_and_the_retry_goes_through_once(page: Page, gw: ServedGateway) -> None:
    ask: Any = [{"role": "user", "content": BLOCKED}]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(gw).chat.completions.create(model="gpt-x", messages=ask)
    rl = refused.value.response.json()["redline"]
    assert rl["decision"] == "block" and rl["red_line"] == "mass_domestic_surveillance"
    review_id = rl["review_id"]
    # without a reviewer's release, naming the review id changes nothing
    with pytest.raises(openai.PermissionDeniedError):
        client(gw).chat.completions.create(model="gpt-x", messages=ask, extra_headers={"x-redline-review-id": str(review_id)})

    log_in(page, gw, "chen-reviewer")
    page.get_by_role("link", name="Review queue").click()
    card = page.get_by_role("region", name=f"Review {review_id}")
    expect(card).to_contain_text("mass domestic surveillance")
    expect(card).to_contain_text("j2-cell")
    expect(card).to_contain_text(rl["rule"])
    shot(page, "review-queue")
    card.get_by_label("Reason").fill("False positive: aggregate coverage statistics for the county EOC, no subscriber output.")
    card.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("Released")

    # the same request from the same tenant, naming the review: through once, then refused again
    ok = client(gw).chat.completions.create(model="gpt-x", messages=ask, extra_headers={"x-redline-review-id": str(review_id)})
    assert ok.choices[0].message.content == DEFAULT_REPLY
    with pytest.raises(openai.PermissionDeniedError):
        client(gw).chat.completions.create(model="gpt-x", messages=ask, extra_headers={"x-redline-review-id": str(review_id)})
    # another tenant cannot redeem it
    with pytest.raises(openai.PermissionDeniedError):
        client(gw, "lookup-cell").chat.completions.create(
            model="gpt-x", messages=ask, extra_headers={"x-redline-review-id": str(review_id)}
        )
    page.get_by_role("link", name="released").click()
    expect(page.get_by_role("region", name=f"Review {review_id}")).to_contain_text("retried and let through")
    released = [e["payload"] for e in console_events(gw) if e["payload"].get("event") == "review_released"]
    assert released[-1]["review_id"] == review_id and released[-1]["user"] == "chen-reviewer" and "EOC" in released[-1]["reason"]


def test_approver_signs_a_held_lethal_call_in_the_browser_and_it_runs_once(page: Page, gw: ServedGateway) -> None:
    oa = client(gw)
    messages: list[Any] = [{"role": "user", "content": AGENT}]
    r = oa.chat.completions.create(model="gpt-x", messages=messages, tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_track"  # type: ignore[union-attr]
    messages += [
        r.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "T-0042 at grid 1234"},
    ]
    with pytest.raises(openai.PermissionDeniedError) as held:
        oa.chat.completions.create(model="gpt-x", messages=messages, tools=TOOLS)
    body = held.value.response.json()
    assert body["error"]["code"] == "redline_approval_required"

    # a reviewer sees the request but has nothing to sign with
    log_in(page, gw, "chen-reviewer")
    page.get_by_role("link", name="Authorizations").click()
    expect(page.get_by_text("Tenant j2-cell's agent asks to call release_weapon")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in browser and approve")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()

    log_in(page, gw, "rivera-approver")
    page.get_by_role("link", name="Authorizations").click()
    card = page.get_by_role("region", name="release_weapon on T-0042")
    expect(card).to_contain_text("lethal")
    expect(card).to_contain_text("GBU-39")
    expect(card).to_contain_text(ROLE)
    shot(page, "authorizations")
    key_file = gw.workdir / "operator" / f"{OPERATOR}.key"
    card.get_by_label("Your operator key file").set_input_files(str(key_file))
    card.get_by_role("button", name="Sign in browser and approve").click()
    expect(page.get_by_role("status")).to_contain_text("Signature verified")
    expect(page.get_by_role("region", name="release_weapon on T-0042")).to_contain_text("signed")

    # the agent retries as it was: the Gate releases the call with the approver's signature, once
    r = oa.chat.completions.create(model="gpt-x", messages=messages, tools=TOOLS)
    released = r.choices[0].message.tool_calls
    assert released is not None and released[0].function.name == "release_weapon"  # type: ignore[union-attr]
    assert json.loads(released[0].function.arguments) == RELEASE_ARGS  # type: ignore[union-attr]
    with pytest.raises(openai.PermissionDeniedError) as again:
        oa.chat.completions.create(model="gpt-x", messages=messages, tools=TOOLS)
    assert again.value.response.json()["error"]["code"] == "redline_approval_required"  # a new engagement needs a new signature
    gate = [e["payload"]["event"] for e in console_events(gw) if e["kind"] == "gate"]
    assert gate.count("released") == 1
    page.reload()
    expect(page.get_by_role("region", name="release_weapon on T-0042").first).to_be_visible()
    signed = [e["payload"] for e in console_events(gw) if e["payload"].get("event") == "authorization_signed"]
    assert signed[-1]["operator"] == OPERATOR and signed[-1]["user"] == "rivera-approver"
    assert "PRIVATE KEY" not in (gw.workdir / "serve.log").read_text()


def test_alert_with_its_chart_and_the_other_pages(page: Page, gw: ServedGateway) -> None:
    lookups = client(gw, "lookup-cell")
    refused = 0
    for i in range(45):
        try:
            lookups.chat.completions.create(model="gpt-x", messages=lookup(i))
        except openai.PermissionDeniedError:
            refused += 1
    assert refused >= 1
    log_in(page, gw, "okafor-auditor")
    page.get_by_role("link", name="Alerts").click()
    section = page.get_by_role("region", name="Tenant lookup-cell")
    chart = section.get_by_role("img", name="Tenant lookup-cell: distinct subjects and data categories over time")
    expect(chart).to_be_visible()
    expect(section).to_contain_text("monitor.mosaic.distinct_subjects")
    assert chart.locator("path").count() == 2 and chart.locator("line[stroke-dasharray='4 3']").count() >= 1
    shot(page, "alerts")
    page.get_by_role("link", name="Ledger").click()
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_role("status")).to_contain_text("Intact")
    page.get_by_label("Record number").fill("0")
    page.get_by_role("button", name="Prove").click()
    expect(page.get_by_role("status")).to_contain_text("is included in the tree")
    shot(page, "ledger")
    page.get_by_role("link", name="Tenants").click()
    expect(page.get_by_role("table", name="Tenants (2)")).to_contain_text("lookup-cell")
    shot(page, "tenants")
    page.get_by_role("link", name="Operators").click()
    expect(page.get_by_role("table")).to_contain_text(OPERATOR)
    shot(page, "operators")
    # keyboard: the skip link is the first stop and leads to the content
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    # a reviewer clears the alert with a reason; the tenant's lookups flow again
    page.get_by_role("button", name="Log out").click()
    log_in(page, gw, "chen-reviewer")
    page.get_by_role("link", name="Alerts").click()
    section = page.get_by_role("region", name="Tenant lookup-cell")
    section.get_by_label("Reason").fill("Directory-assistance desk: each lookup is a caller's own consented request.")
    section.get_by_role("button", name="Clear alert").click()
    expect(page.get_by_role("status")).to_contain_text("Alert cleared")
    expect(page.get_by_role("region", name="Tenant lookup-cell")).to_contain_text("cleared by chen-reviewer")
    assert lookups.chat.completions.create(model="gpt-x", messages=lookup(50)).choices[0].message.content == DEFAULT_REPLY
    cleared = [e["payload"] for e in console_events(gw) if e["payload"].get("event") == "alert_cleared"]
    assert cleared and cleared[-1]["user"] == "chen-reviewer"
