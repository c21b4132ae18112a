"""The policy file: validated on load, errors name file / line / field, version is a content hash."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from redline.cli import cli
from redline.policy import RED_LINES, PolicyError, load_policy, parse_policy

DEFAULT_TEXT = resources.files("redline.policy").joinpath("default.yaml").read_text(encoding="utf-8")


def test_default_policy_encodes_both_red_lines(policy):
    doc = policy.document
    assert set(doc.red_lines) == set(RED_LINES)
    assert doc.home_country.code == "US"
    assert doc.on_classifier_error == "block"
    assert doc.rules[-1].id == "allow.default"
    # tool effect classes of POLICY.md section 5 are declared
    effects = {t.effect for t in doc.tools.registry}
    assert {"observe", "recommend", "nonlethal", "lethal"} <= effects
    assert "foreign_intelligence" in doc.authorities


def test_version_is_hash_of_canonical_form(policy):
    assert len(policy.version) == 64
    # comments and key order do not change the version; content does
    reordered = "# a comment\n" + DEFAULT_TEXT
    assert parse_policy(reordered, "x.yaml").version == policy.version
    data = yaml.safe_load(DEFAULT_TEXT)
    data["thresholds"]["autonomous_weapons"]["block"] = 0.95
    changed = parse_policy(yaml.safe_dump(data), "x.yaml")
    assert changed.version != policy.version


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "bad.yaml")
    return info.value


def test_wrong_type_names_line_and_field():
    text = DEFAULT_TEXT.replace(
        "  mass_domestic_surveillance: {block: 0.85, review: 0.4}", "  mass_domestic_surveillance: {block: high, review: 0.5}"
    )
    err = _error(text)
    assert err.field == "thresholds.mass_domestic_surveillance.block"
    assert err.line == DEFAULT_TEXT.splitlines().index("  mass_domestic_surveillance: {block: 0.85, review: 0.4}") + 1
    assert str(err).startswith(f"bad.yaml:{err.line}: thresholds.mass_domestic_surveillance.block")


def test_unknown_key_is_an_error():
    err = _error(DEFAULT_TEXT.replace("on_classifier_error: block", "on_clasifier_error: block"))
    assert "on_clasifier_error" in err.field
    assert (
        err.line is not None
        and "on_clasifier_error" in DEFAULT_TEXT.replace("on_classifier_error", "on_clasifier_error").splitlines()[err.line - 1]
    )


def test_rule_naming_unknown_signal():
    err = _error(DEFAULT_TEXT.replace("all: [materiel_defense]", "all: [materiel_defence]"))
    assert "unknown signal 'materiel_defence'" in err.message
    assert err.field.startswith("rules.0.when")


def test_bad_regex_names_pattern_line():
    bad = DEFAULT_TEXT.replace("    patterns: ['\\b(?:browsing|", "    patterns: ['\\b(?:browsing(|", 1)
    err = _error(bad)
    assert err.field.startswith("signals.data_browsing.patterns")
    assert "RE2" in err.message


def test_invalid_yaml_and_non_mapping():
    assert "not valid YAML" in _error("a: [1, 2\n").message
    assert "mapping" in _error("- just\n- a list\n").message


def test_threshold_order_checked():
    err = _error(DEFAULT_TEXT.replace("{block: 0.85, review: 0.4}", "{block: 0.4, review: 0.5}", 1))
    assert "review threshold" in err.message


def test_missing_file():
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy("/nonexistent/policy.yaml")


def test_cli_exits_2_on_bad_policy(tmp_path: Path):
    bad = tmp_path / "p.yaml"
    bad.write_text(DEFAULT_TEXT.replace("policy_format: 1", "policy_format: 7"))
    result = CliRunner().invoke(cli, ["classify", "hello", "--policy", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and "policy_format" in result.output
