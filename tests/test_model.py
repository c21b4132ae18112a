"""The model artifact is plain data, hash-checked, reproducible; classifier failures fail closed."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from redline.classify import Assessment, ClassifierError
from redline.classify.model import load_model, packaged_model_path, save_model, sha256_hex
from redline.classify.train import fit
from redline.cli import cli
from redline.corpus import read_examples
from redline.engine import Engine
from redline.policy import parse_policy

MODEL = packaged_model_path("builtin-model.json")


def test_packaged_model_matches_its_hash():
    _model, digest = load_model(MODEL)
    assert digest == sha256_hex(MODEL.read_bytes())
    assert MODEL.read_bytes().lstrip().startswith(b"{"), "plain JSON, not a pickle"


def test_tampered_model_is_refused(tmp_path: Path):
    copy = tmp_path / "m.json"
    shutil.copy(MODEL, copy)
    shutil.copy(MODEL.with_name(MODEL.name + ".sha256"), tmp_path / "m.json.sha256")
    load_model(copy)  # intact copy loads
    raw = bytearray(copy.read_bytes())
    raw[100] = ord("A") if raw[100] != ord("A") else ord("B")
    copy.write_bytes(bytes(raw))
    with pytest.raises(ClassifierError, match="SHA-256"):
        load_model(copy)
    result = CliRunner().invoke(cli, ["classify", "hi", "--model", str(copy)])
    assert result.exit_code == 2 and "SHA-256" in result.output


def test_missing_sidecar_and_policy_pin(tmp_path: Path):
    copy = tmp_path / "m.json"
    shutil.copy(MODEL, copy)
    with pytest.raises(ClassifierError, match="hash file"):
        load_model(copy)
    shutil.copy(MODEL.with_name(MODEL.name + ".sha256"), tmp_path / "m.json.sha256")
    with pytest.raises(ClassifierError, match="pinned by the policy"):
        load_model(copy, expected_sha256="0" * 64)


def test_training_is_deterministic_and_reproduces_the_packaged_model(policy, tmp_path: Path):
    examples = list(read_examples(Path("data/corpus/train.jsonl")))
    digest = save_model(fit(policy, examples), tmp_path / "m.json")
    assert digest == sha256_hex(MODEL.read_bytes()), "the committed model is exactly `redline train` on the committed corpus"


class Broken:
    name = "broken"

    def assess(self, conversation) -> Assessment:
        raise ClassifierError("backend down")

    def assess_many(self, conversations):
        raise ClassifierError("backend down")


def test_classifier_error_fails_closed_by_default(policy):
    d = Engine(policy, Broken()).decide_text("anything at all")
    assert d.decision == "block" and d.rule == "error.fail_closed" and d.error == "backend down"


def test_fail_open_is_a_policy_choice():
    text = resources.files("redline.policy").joinpath("default.yaml").read_text()
    data = yaml.safe_load(text)
    data["on_classifier_error"] = "allow"
    open_policy = parse_policy(yaml.safe_dump(data), "open.yaml")
    d = Engine(open_policy, Broken()).decide_text("anything")
    assert d.decision == "allow" and d.rule == "error.fail_open" and d.error == "backend down"
    assert d.to_dict()["error"] == "backend down"
