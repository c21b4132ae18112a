"""Screening: list import, normalization, fuzzy matching with evidence, ownership, decisions, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.policy.schema import Screening
from redline.screen import (
    InvalidNameError,
    ListFormatError,
    ListStore,
    Owner,
    OwnershipError,
    Screener,
    parse_owners,
    read_lists,
    rescreen,
)
from redline.screen.normalize import check_name, normalize
from redline.store import StoreError

ROOT = Path(__file__).resolve().parent.parent
DOD = str(ROOT / "data/lists/dod_1260h_2026-06-08.csv")
ALIASES = str(ROOT / "data/lists/dod_1260h_aliases.csv")
FTM = str(ROOT / "tests/data/screen/ftm_sample.jsonl")
HEADER = "name,clean_name,alias,previous_name,parent_name,listed\n"


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(read_lists([DOD, ALIASES]).entries, Screening(unsupported_regions=["CN", "RU"]))


def _csv(tmp_path: Path, body: str, name: str = "list_2026-01-01.csv") -> str:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return str(p)


# --- normalization -------------------------------------------------------------------------------


def test_normalize_drops_legal_forms_and_unifies_abbreviations() -> None:
    assert normalize("Huawei Technologies Co., Ltd.").tokens == ("huawei", "technology")
    assert normalize("HUAWEI TECH CO LTD").tokens == ("huawei", "technology")
    assert normalize("Aviation Industry Corp. of China").tokens == ("aviation", "industry", "china")
    assert normalize("AVIC Xi’an Aircraft").tokens == ("avic", "xian", "aircraft")


def test_normalize_reads_chinese_as_english_words_and_pinyin() -> None:
    n = normalize("华为技术有限公司")
    assert n.tokens == ("huawei", "technology")
    assert any("pinyin 华为→huawei" in note for note in n.notes)
    assert normalize("中国电子科技集团公司第十四研究所").tokens == ("china", "electronic", "technology", "14", "research", "institute")
    assert normalize("Zhongguo Dianzi Keji Jituan").tokens == ("china", "electronic", "technology")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 10_000, "characters long"),
        ("Huawei\x00Technologies", "control"),
        ("Hua\u200bwei", "invisible"),
        ("Huаwei", "mixes scripts"),  # Cyrillic а
        ("---", "no letters"),
        (42, "must be a string"),
    ],
)
def test_bad_names_get_clear_errors(name: object, why: str) -> None:
    with pytest.raises(InvalidNameError, match=why):
        check_name(name)


# --- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "entity"),
    [
        ("Huawei Technologies Company Limited", "Huawei Technologies Co., Ltd."),
        ("华为技术有限公司", "Huawei Technologies Co., Ltd."),
        ("Haikang Weishi", "Hangzhou Hikvision Digital Technology Co., Ltd."),
        ("China Aviation Industry Corporation", "Aviation Industry Corporation of China Ltd."),
        ("Semiconductor Mfg Intl Corp", "Semiconductor Manufacturing International Corporation"),
        ("Technologies Huawei Co Ltd", "Huawei Technologies Co., Ltd."),
        ("Continental Aerospace Technologies Inc", "Continental Aerospace Technologies, Inc."),
    ],
)
def test_strong_variants_are_refused_with_the_right_entity(screener: Screener, query: str, entity: str) -> None:
    result = screener.screen(query)
    assert result.decision == "refuse"
    assert result.matches[0].entity == entity


@pytest.mark.parametrize(
    "query",
    ["Huawie Technologies", "Hikvison Digital Technology", "Huawei Device Co., Ltd.", "Dahua Technology USA Inc.", "DJI"],
)
def test_typos_subsidiaries_and_short_acronyms_are_at_least_reviewed(screener: Screener, query: str) -> None:
    assert screener.screen(query).decision in ("refuse", "review")


@pytest.mark.parametrize(
    "query",
    [
        "Continental AG",
        "Holland America Line",
        "China Southern Airlines",
        "Samsung Electronics Co., Ltd.",
        "Aisin Corporation",
        "Cirrus Logic",
    ],
)
def test_confusable_unlisted_names_are_not_refused(screener: Screener, query: str) -> None:
    assert screener.screen(query).decision != "refuse"


def test_every_listed_name_as_written_is_refused(screener: Screener) -> None:
    import csv

    with open(DOD, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for text in (row["name"], row["clean_name"]):  # raw names carry "(Alias)", "(formerly ...)"
            assert screener.screen(text).decision == "refuse", text


def test_traditional_characters_read_like_simplified(screener: Screener) -> None:
    assert screener.screen("華為技術有限公司").matches[0].entity == "Huawei Technologies Co., Ltd."
    assert screener.screen("長江存儲科技有限責任公司").decision == "refuse"


def test_short_acronym_alone_is_only_reviewed(screener: Screener) -> None:
    assert screener.screen("CTG Inc").decision == "review"  # China Three Gorges' alias, and many other firms'
    assert screener.screen("Nio Gold Corp").decision != "refuse"
    assert screener.screen("NIO, Inc.").decision == "refuse"  # the entity's own full name


def test_name_parts_are_screened_too(screener: Screener) -> None:
    from redline.screen.screener import name_parts

    parts = [p for p, _ in name_parts("Acme Co. (formerly Volga Works) d/b/a Acme")]
    assert parts[1:] == ["Acme Co.", "Acme", "Volga Works"]
    m = screener.screen("Globex Trading LLC (formerly Hangzhou Hikvision Digital Technology Co., Ltd.)").matches[0]
    assert m.entity.startswith("Hangzhou Hikvision") and any("part of the name" in t for t in m.transformations)


def test_unrelated_name_is_clear(screener: Screener) -> None:
    result = screener.screen("Acme Plumbing Supplies of Ohio")
    assert result.decision == "clear" and result.matches == ()


def test_match_carries_evidence(screener: Screener) -> None:
    m = screener.screen("Hik Vision Digital Tech").matches[0].to_dict()
    assert m["entity"] == "Hangzhou Hikvision Digital Technology Co., Ltd."
    ev = m["evidence"]
    assert {"query": "hik vision", "listed": "hikvision", "similarity": 1.0} in ev["pairs"]
    assert any("abbreviation tech→technology" in t for t in ev["transformations"])
    assert m["name_kind"] in ("name", "alias")


def test_subsidiary_match_names_its_parent(screener: Screener) -> None:
    m = screener.screen("Avicopter PLC").matches[0]
    assert m.parent is not None and "Aviation Industry Corporation of China" in m.parent


def test_homoglyph_query_is_folded_and_says_so(screener: Screener) -> None:
    result = screener.screen("Huаwei Technologies")  # Cyrillic а
    assert result.decision == "refuse"
    assert any("mixed scripts" in t for t in result.matches[0].transformations)


# --- ownership -----------------------------------------------------------------------------------


def test_indirect_majority_by_listed_entity_is_refused(screener: Screener) -> None:
    owners = parse_owners([{"name": "Shell Holdings BV", "percent": 60, "owners": [{"name": "Huawei Technologies", "percent": 70}]}])
    result = screener.screen("Acme Robotics LLC", owners)
    assert result.decision == "refuse"
    assert result.ownership is not None and result.ownership.restricted_percent == 60


def test_unsupported_regions_aggregate_above_limit(screener: Screener) -> None:
    owners = [Owner("Alpha Capital", 30, "CN"), Owner("Beta Capital", 25, "RU"), Owner("Gamma Fund", 45, "DE")]
    assert screener.screen("Acme Robotics LLC", owners).decision == "refuse"
    owners = [Owner("Alpha Capital", 30, "CN"), Owner("Gamma Fund", 70, "DE")]
    assert screener.screen("Acme Robotics LLC", owners).decision == "clear"


def test_minority_stake_through_a_clear_owner_does_not_count(screener: Screener) -> None:
    owners = parse_owners(
        [{"name": "Mid Holdings", "percent": 80, "owners": [{"name": "Huawei", "percent": 40}, {"name": "Pension Fund", "percent": 60}]}]
    )
    assert screener.screen("Acme Robotics LLC", owners).decision == "clear"


def test_missing_percentages_send_to_review(screener: Screener) -> None:
    owners = parse_owners([{"name": "Huawei Technologies", "percent": None}, {"name": "Founder Trust", "percent": 40}])
    result = screener.screen("Acme Robotics LLC", owners)
    assert result.decision == "review"
    assert result.ownership is not None and any("unknown" in p for p in result.ownership.problems)


def test_ownership_cycle_is_reported_not_looped(screener: Screener) -> None:
    owners = parse_owners(
        [{"name": "A Corp", "percent": 100, "owners": [{"name": "B Corp", "percent": 100, "owners": [{"name": "A Corp", "percent": 100}]}]}]
    )
    result = screener.screen("Acme Robotics LLC", owners)
    assert result.ownership is not None and any("cycle" in p for p in result.ownership.problems)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"name": "x"}, "a list of owners"),
        ([{"percent": 10}], "name"),
        ([{"name": "A", "percent": 150}], "0 to 100"),
        ([{"name": "A", "percent": "half"}], "0 to 100"),
        ([{"name": "A", "percent": 10, "region": "China"}], "ISO country code"),
        ([{"name": "A", "percent": 10, "stake": 3}], "unknown field"),
    ],
)
def test_bad_ownership_declarations(data: object, why: str) -> None:
    with pytest.raises(OwnershipError, match=why):
        parse_owners(data)


# --- list files ----------------------------------------------------------------------------------


def test_dod_list_reads_with_parents() -> None:
    parsed = read_lists([DOD])
    assert parsed.name == "dod_1260h" and len(parsed.entries) == 188
    by_name = {e.name: e for e in parsed.entries}
    avicopter = by_name["Avicopter PLC"]
    assert avicopter.parent_id == by_name["Aviation Industry Corporation of China Ltd."].entity_id
    assert parsed.warnings == ()


def test_alias_file_merges_into_the_same_entities() -> None:
    plain, merged = read_lists([DOD]), read_lists([DOD, ALIASES])
    assert len(plain.entries) == len(merged.entries)
    huawei = next(e for e in merged.entries if e.name == "Huawei Technologies Co., Ltd.")
    assert any(n.text == "华为技术有限公司" for n in huawei.names)


def test_ftm_jsonl_is_read_with_ownership_links() -> None:
    parsed = read_lists([FTM])
    by_id = {e.entity_id: e for e in parsed.entries}
    assert set(by_id) == {"os-acme-defense", "os-acme-optics", "os-person-1"}
    assert by_id["os-acme-optics"].parent_id == "os-acme-defense"
    assert by_id["os-acme-defense"].countries == ("RU",)
    screener = Screener(parsed.entries)
    assert screener.screen("Volga Optical Works").matches[0].entity_id == "os-acme-optics"
    assert screener.screen("Ivan Sidorov Petrovich").decision in ("refuse", "review")


@pytest.mark.parametrize(
    ("body", "where", "why"),
    [
        (",,Some Alias,,,\n", ":2:", "empty"),
        ('x,"Huawei\x07 Tech",,,,\n', ":2:", "control"),
        ('x,"' + "A" * 10_000 + '",,,,\n', ":2:", "characters long"),
        ('x,"Acme Co",,,,\nx,"Huаwei",,,,\n', ":3:", "mixes scripts"),
        ('x,"Acme",extra,,,,,\n', ":2:", "fields"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path: Path, body: str, where: str, why: str) -> None:
    path = _csv(tmp_path, body)
    with pytest.raises(ListFormatError) as e:
        read_lists([path])
    assert f"{path}{where}" in str(e.value) and why in str(e.value)


def test_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER.encode() + b"x,\xff\xfe,,,,\n")
    with pytest.raises(ListFormatError, match=r"bad.csv:2: not valid UTF-8"):
        read_lists([str(bad)])
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("foo,bar\n1,2\n")
    with pytest.raises(ListFormatError, match="missing column"):
        read_lists([str(nohead)])
    ftm = tmp_path / "x.jsonl"
    ftm.write_text(
        '{"id": "a", "schema": "Company", "properties": {"name": ["Good Co"]}}\n{"id": "b", "schema": "Company", "properties": {}}\nnot json\n'
    )
    with pytest.raises(ListFormatError) as e:
        read_lists([str(ftm)])
    assert "x.jsonl:2: entity 'b' has no name" in str(e.value) and "x.jsonl:3: not JSON" in str(e.value)
    with pytest.raises(ListFormatError, match="cannot read"):
        read_lists([str(tmp_path / "missing.csv")])


# --- store ---------------------------------------------------------------------------------------


def _store_roundtrip(url: str, tmp_path: Path) -> None:
    v1 = _csv(tmp_path, 'x,"Acme Missile Works Co., Ltd.",Acme Missiles,,,2026-01-01\n', "acme_2026-01-01.csv")
    v2 = _csv(
        tmp_path,
        'x,"Acme Missile Works Co., Ltd.",Acme Missiles,,,2026-01-01\nx,"Globex Drone Corp",,,,2026-02-01\n',
        "acme_2026-02-01.csv",
    )
    with ListStore(url) as store:
        version, new = store.import_list(read_lists([v1]))
        assert (version.list_name, version.version, new) == ("acme", 1, True)
        assert store.import_list(read_lists([v1]))[1] is False  # same bytes: same version
        entries, versions = store.current()
        screener = Screener(entries, list_versions=versions)
        tenants = [("t1", "Globex Drone Corporation", None), ("t2", "Acme Missile Works", None)]
        first = rescreen(screener, store, tenants)
        assert {(c.id, c.old, c.new) for c in first} == {("t1", None, "clear"), ("t2", None, "refuse")}
        # an interrupted import leaves nothing behind
        with pytest.raises(StoreError):
            store.import_list(read_lists([v2]), fail_after=1)
        assert [v.version for v in store.versions()] == [1]
        store.import_list(read_lists([v2]))
        entries, versions = store.current()
        assert versions == {"acme": 2} and len(entries) == 2
        changes = rescreen(Screener(entries, list_versions=versions), store, tenants)
        assert [(c.id, c.old, c.new) for c in changes] == [("t1", "clear", "refuse")]
        assert changes[0].result.list_versions == {"acme": 2}


def test_store_sqlite(tmp_path: Path) -> None:
    _store_roundtrip(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)


def test_store_postgres(tmp_path: Path, pg_server: str) -> None:
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as conn:
        for t in ("screen_entries", "screen_list_versions", "screen_subjects"):
            conn.execute(f"DROP TABLE IF EXISTS {t}")
    _store_roundtrip(pg_server, tmp_path)


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_import_show_screen(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    r = runner.invoke(cli, ["lists", "import", DOD, ALIASES, "--db", db])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["imported"]["entries"] == 188
    r = runner.invoke(cli, ["lists", "show", "--db", db])
    assert r.exit_code == 0 and "dod_1260h v1" in r.output
    r = runner.invoke(cli, ["screen", "海康威视", "--db", db])
    out = json.loads(r.output)
    assert out["decision"] == "refuse" and out["matches"][0]["entity"].startswith("Hangzhou Hikvision")
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"id": "a", "name": "Acme Plumbing"}\n'
        '{"id": "b", "name": "Shell Co", "owners": [{"name": "Zhongxin Guoji", "percent": 51}]}\n'
        '{"id": "c", "name": ""}\n'
        "oops\n",
        encoding="utf-8",
    )
    r = runner.invoke(cli, ["screen", "--jsonl", str(lines), "--db", db])
    rows = [json.loads(x) for x in r.output.splitlines()]
    assert [row.get("decision") for row in rows] == ["clear", "refuse", None, None]
    assert rows[2]["id"] == "c" and "empty" in rows[2]["error"]
    assert rows[3]["id"] == 4 and "not JSON" in rows[3]["error"]


def test_cli_screen_with_list_files_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["screen", "Acme Defense Industries Corp", "--list", FTM])
    assert r.exit_code == 0 and json.loads(r.output)["decision"] == "refuse"
    r = runner.invoke(cli, ["screen", "x" * 10_000, "--list", FTM])
    assert r.exit_code == 1 and "characters long" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["screen", "Acme", "--db", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert r.exit_code == 1 and "no lists" in r.output
    bad = _csv(tmp_path, 'x,"Good Co",,,,\n,,Alias Only,,,\n')
    db = f"sqlite:///{tmp_path / 'd.db'}"
    r = runner.invoke(cli, ["lists", "import", bad, "--db", db])
    assert r.exit_code == 1 and ":3:" in r.output and "nothing imported" in r.output
    r = runner.invoke(cli, ["lists", "show", "--db", db])
    assert "no lists imported" in r.output


def test_cli_import_rescreens_and_reports_changes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    tenants = tmp_path / "tenants.jsonl"
    tenants.write_text('{"id": "t1", "name": "Acme Precision Optics"}\n', encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli, ["lists", "import", FTM, "--db", db, "--rescreen", str(tenants)])
    assert r.exit_code == 0, r.output
    changes = [orjson.loads(x)["change"] for x in r.stdout.splitlines()[1:]]
    assert changes[0]["id"] == "t1" and changes[0]["new"] == "refuse"
    r = runner.invoke(cli, ["lists", "import", FTM, "--db", db, "--rescreen", str(tenants)])
    assert len(r.stdout.splitlines()) == 1  # same list, same decision: nothing changed


# --- policy settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "why"),
    [
        ("  review_score: 0.7\n", "  review_score: 0.95\n", "screening", "review_score must not be above refuse_score"),
        ("  unsupported_regions: [CN, HK, MO, RU, IR, KP]\n", "  unsupported_regions: [cn, RU]\n", "screening.unsupported_regions", "ISO"),
        ("  refuse_score: 0.9\n", "  refuse_score: 1.5\n", "screening.refuse_score", "less than or equal to 1"),
        ("  max_matches: 5\n", "  max_matches: 5\n  colour: red\n", "screening.colour", "Extra inputs"),
    ],
)
def test_screening_policy_errors_name_file_line_field(tmp_path: Path, old: str, new: str, field: str, why: str) -> None:
    from redline.policy import PolicyError, load_policy

    src = (ROOT / "src/redline/policy/default.yaml").read_text(encoding="utf-8")
    assert old in src
    path = tmp_path / "p.yaml"
    path.write_text(src.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policy(str(path))
    line = src[: src.index(old)].count("\n") + 1
    assert e.value.file == str(path) and e.value.field == field and why in e.value.message
    assert e.value.line is not None and abs(e.value.line - line) <= 6
