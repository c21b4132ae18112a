"""Tenants on SQLite and PostgreSQL, the `redline tenants` commands, and the gateway config file."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.gateway import ConfigError, load_config
from redline.gateway.auth import Authenticator, presented_key
from redline.tenants import TenantError, TenantStore, hash_key

AUTHORITIES = ["foreign_intelligence", "law_enforcement"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tenants.db'}"
    url: str = request.getfixturevalue("pg_server")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS tenants")
    return url


def test_add_authenticate_list_revoke(db: str) -> None:
    with TenantStore.open(db, AUTHORITIES) as store:
        tenant, key = store.add("Acme Analytics", ["foreign_intelligence", "foreign_intelligence"], profile={"owners": []})
        other, other_key = store.add("Beta Lab")
        assert key != other_key and key.startswith("rl-") and len(key) > 40
        assert tenant.authorities == ("foreign_intelligence",) and tenant.status == "active"
        assert store.authenticate(key) == tenant
        assert store.authenticate(other_key) == other
        assert store.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert store.authenticate("") is None and store.authenticate("not-a-key") is None
        assert [t.name for t in store.list()] == ["Acme Analytics", "Beta Lab"]
        store.revoke("Acme Analytics")
        assert store.authenticate(key) is None
        assert store.get("Acme Analytics").status == "revoked"  # type: ignore[union-attr]
    with TenantStore.open(db) as again:  # persisted, keys stored only as hashes
        assert again.authenticate(other_key) == other
        rows = again._run("SELECT key_hash FROM tenants ORDER BY name")
        assert [r[0] for r in rows] == [hash_key(key), hash_key(other_key)]


def test_add_rejects_duplicates_unknown_authorities_and_bad_names(db: str) -> None:
    with TenantStore.open(db, AUTHORITIES) as store:
        store.add("one")
        with pytest.raises(TenantError, match="already exists"):
            store.add("one")
        with pytest.raises(TenantError, match="unknown authority 'mind_control'"):
            store.add("two", ["mind_control"])
        for bad in ("", " padded", "x" * 201, "line\nbreak"):
            with pytest.raises(TenantError, match="tenant name"):
                store.add(bad)
        refused, key = store.add("listed entity", status="refused")
        assert store.authenticate(key) is None and refused.status == "refused"


def test_authenticator_headers_and_cache(tmp_path: Path) -> None:
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "Basic abc"}) is None
    assert presented_key({"x-api-key": "abc"}) == "abc"
    assert presented_key({}) is None
    with TenantStore.open(f"sqlite:///{tmp_path / 't.db'}") as store:
        _, key = store.add("t")
        cached, uncached = Authenticator(store, cache_s=60), Authenticator(store, cache_s=0)
        assert cached.tenant({"x-api-key": key}) is not None
        store.revoke("t")
        assert uncached.tenant({"x-api-key": key}) is None  # revocation is immediate without a cache
        assert cached.tenant({"x-api-key": key}) is not None  # and within the cache time with one


LIST_1260H = Path("data/lists/dod_1260h_2026-06-08.csv")


def test_tenants_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    unscreenable = runner.invoke(cli, ["tenants", "add", "ops-cell", "--db", db])
    assert unscreenable.exit_code == 2 and "no restricted-entity list is loaded" in unscreenable.stderr  # fail closed
    added = runner.invoke(cli, ["tenants", "add", "ops-cell", "--db", db, "--authority", "operational_planning", "--unscreened"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    with TenantStore.open(db) as store:
        assert store.authenticate(key).name == "ops-cell"  # type: ignore[union-attr]
    listed = runner.invoke(cli, ["tenants", "list", "--db", db, "--json"])
    assert json.loads(listed.stdout)["authorities"] == ["operational_planning"]
    assert json.loads(listed.stdout)["profile"]["screening"] == {"decision": "unscreened"}
    assert key not in listed.stdout and hash_key(key) not in listed.stdout
    bad = runner.invoke(cli, ["tenants", "add", "x", "--db", db, "--authority", "nope"])
    assert bad.exit_code == 2 and "unknown authority 'nope'" in bad.stderr
    assert runner.invoke(cli, ["tenants", "revoke", "ops-cell", "--db", db]).exit_code == 0
    missing = runner.invoke(cli, ["tenants", "revoke", "ghost", "--db", db])
    assert missing.exit_code == 2 and "no tenant 'ghost'" in missing.stderr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "port: 9000\nupstreams:\n  - url: http://a/v1\n  - url: ftp://b/v1\n    format: anthropic\n",
            r"gw\.yaml:4: upstreams\.1\.url: .*http",
        ),
        ("port: 9000\nbreaker:\n  failures: 0\n", r"gw\.yaml:3: breaker\.failures: .*greater than or equal to 1"),
        ("port: 9000\nupstream: []\n", r"gw\.yaml:2: upstream: Extra inputs"),
        ("port: [\n", r"gw\.yaml:\d+: not valid YAML"),
    ],
)
def test_config_file_errors_name_file_line_and_field(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=error):
        load_config(str(path))


def test_config_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))
    path.write_text(
        "on_review: hold\nupstreams:\n  - url: http://a/v1/\n  - {url: 'http://b/v1', format: anthropic, api_key_env: B_KEY, models: {x: y}}\n"
    )
    config = load_config(str(path))
    assert [u.name for u in config.upstreams] == ["openai-1", "anthropic-2"]
    assert config.upstreams[0].url == "http://a/v1" and config.on_review == "hold"


def test_serve_reports_a_bad_config_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("limits:\n  max_body_bytes: 10\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    assert "gw.yaml:2: limits.max_body_bytes" in result.stderr and "Traceback" not in result.output


def _keys_work(db: str, key: str) -> bool:
    with TenantStore.open(db) as store:
        return store.authenticate(key) is not None


def test_tenant_creation_is_screened_against_the_imported_lists(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'screened.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["lists", "import", str(LIST_1260H), "--db", db]).exit_code == 0
    clear = runner.invoke(cli, ["tenants", "add", "Harbor Point Analytics LLC", "--db", db])
    assert clear.exit_code == 0, clear.output
    assert _keys_work(db, clear.stdout.strip().splitlines()[-1])
    listed = runner.invoke(cli, ["tenants", "add", "HUAWEI TECHNOLOGIES CO LTD", "--db", db])
    assert listed.exit_code == 3 and "refused by screening" in listed.stderr
    assert '"decision":"refuse"' in listed.stderr and "Huawei" in listed.stderr  # the evidence is shown
    owners = json.dumps([{"name": "Huawei Investment & Holding Co., Ltd.", "percent": 60}])
    owned = runner.invoke(cli, ["tenants", "add", "Blue Lantern Systems", "--db", db, "--owners", owners])
    assert owned.exit_code == 3  # majority-owned by a listed entity
    with TenantStore.open(db) as store:
        statuses = {t.name: t.status for t in store.list()}
        profile = store.get("Blue Lantern Systems").profile  # type: ignore[union-attr]
    assert statuses == {"Harbor Point Analytics LLC": "active", "HUAWEI TECHNOLOGIES CO LTD": "refused", "Blue Lantern Systems": "refused"}
    assert profile["screening"]["decision"] == "refuse" and profile["screening"]["list_versions"]
    bad_owners = runner.invoke(cli, ["tenants", "add", "X Corp", "--db", db, "--owners", "[{"])
    assert bad_owners.exit_code == 2 and "--owners" in bad_owners.stderr


def test_a_list_import_rescreens_every_tenant(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rescreen.db'}"
    runner = CliRunner()
    first = tmp_path / "list_2026-01-01.csv"
    first.write_text(
        "name,clean_name,alias,previous_name,parent_name,listed\nNorthwind Ordnance Group,Northwind Ordnance Group,,,,2026-01-01\n"
    )
    assert runner.invoke(cli, ["lists", "import", str(first), "--db", db]).exit_code == 0
    added = runner.invoke(cli, ["tenants", "add", "Kestrel Avionics Ltd", "--db", db])
    key = added.stdout.strip().splitlines()[-1]
    assert added.exit_code == 0 and _keys_work(db, key)
    second = tmp_path / "list_2026-02-01.csv"
    second.write_text(first.read_text() + "Kestrel Avionics Limited,Kestrel Avionics Limited,,,,2026-02-01\n")
    imported = runner.invoke(cli, ["lists", "import", str(second), "--db", db])
    assert imported.exit_code == 0, imported.output
    change = next(json.loads(line)["tenant_change"] for line in imported.stdout.splitlines() if "tenant_change" in line)
    assert change["tenant"] == "Kestrel Avionics Ltd" and change["old"] == "active" and change["new"] == "refused"
    assert not _keys_work(db, key)  # the newly listed customer is cut off at once


def test_a_tenant_held_for_review_works_only_after_a_reviewer_activates_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'review.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["lists", "import", str(LIST_1260H), "--db", db]).exit_code == 0
    held = runner.invoke(cli, ["tenants", "add", "Dahua Bank", "--db", db])  # a listed brand plus a generic word
    assert held.exit_code == 4 and "needs a reviewer" in held.stderr
    key = held.stdout.strip().splitlines()[-1]
    assert not _keys_work(db, key)
    assert runner.invoke(cli, ["tenants", "activate", "Dahua Bank", "--db", db]).exit_code == 0
    assert _keys_work(db, key)
    again = runner.invoke(cli, ["tenants", "activate", "Dahua Bank", "--db", db])
    assert again.exit_code == 2 and "only a tenant held for review" in again.stderr


def test_a_tenants_cyber_scope_is_validated_and_kept_in_its_profile(tmp_path: Path) -> None:
    """`--cyber-scope` is what the gateway hands the intrusion detector; a malformed entry is refused."""
    db = f"sqlite:///{tmp_path / 'scope.db'}"
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "tenants",
            "add",
            "Red Team Cell",
            "--db",
            db,
            "--unscreened",
            "--authority",
            "cyber_operations",
            "--cyber-scope",
            "10.20.0.0/16",
            "--cyber-scope",
            "*.range.example",
        ],
    )
    assert added.exit_code == 0, added.output
    with TenantStore.open(db) as store:
        tenant = store.get("Red Team Cell")
    assert tenant is not None and tenant.profile["cyber_scope"] == ["10.20.0.0/16", "*.range.example"]
    bad = runner.invoke(cli, ["tenants", "add", "Blue Cell", "--db", db, "--unscreened", "--cyber-scope", "10.0.0.0/99"])
    assert bad.exit_code == 2 and "--cyber-scope" in bad.stderr
    with TenantStore.open(db) as store:
        assert store.get("Blue Cell") is None
