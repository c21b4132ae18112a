"""The compiled parts of the classifier give the Python paths' answers: the forward pass
(`classify/_forward.c`) the same scores and decisions, the training step (`classify/_adam.c`) the
same bits; both refuse malformed arguments, the forward pass stays bounded, and the Python paths
answer when the extensions are missing."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from redline.classify import fast, network
from redline.classify.features import fired_signals, tokens_of
from redline.classify.model import TextModel
from redline.corpus import read_examples
from redline.text import conversation_from_item

TOLERANCE = 5e-6  # the same float32 terms summed in another order


def dev_texts() -> list[str]:
    return [conversation_from_item(ex.item, 10**6).text for ex in read_examples(Path("data/corpus/dev.jsonl"))]


def python_scores(model: TextModel, text: str, dense: list[float]) -> dict[str, float]:
    return dict(model.scores(model.columns(text), dense))


def test_the_install_built_the_compiled_paths(engine):
    # `make` builds them (setup.py, optional extensions); a silent fallback would hide the slowdown
    assert fast.Forward is not None, "redline.classify._forward was not built: is a C compiler installed?"
    assert network.adam_rows is not None, "redline.classify._adam was not built: is a C compiler installed?"
    assert engine.classifier.model._compiled is not None


def _toy_problem() -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(1)
    x = sparse.random(600, 5000, density=0.02, format="csr", random_state=rng, dtype=np.float64)
    return x, rng.randint(0, 3, 600), rng.uniform(0.5, 2.0, 600)


def test_compiled_training_step_gives_the_same_bits(monkeypatch):
    x, y, w = _toy_problem()
    settings = network.Settings(hidden=16, epochs=3, batch=50)
    compiled = network.fit(x, y, w, 3, settings)
    monkeypatch.setattr(network, "adam_rows", None)
    python = network.fit(x, y, w, 3, settings)
    for name in ("w1", "b1", "w2", "b2"):
        assert np.array_equal(getattr(compiled, name), getattr(python, name)), name
    assert not np.array_equal(compiled.w1, network.fit(x, y, w, 3, network.Settings(hidden=16, epochs=3, batch=50, seed=1)).w1)


def test_compiled_training_step_refuses_malformed_arguments():
    adam = network.adam_rows
    param, m, v = (np.zeros((10, 4), dtype=np.float32) for _ in range(3))
    rows, grad = np.array([1, 7], dtype=np.int64), np.ones((2, 4), dtype=np.float32)
    adam(param, m, v, rows, grad, 0.01, 0.9, 0.999, 1e-8)
    assert (param[[1, 7]] < 0).all() and (param[[0, 2, 3, 4, 5, 6, 8, 9]] == 0).all()
    with pytest.raises(IndexError):
        adam(param, m, v, np.array([1, 10], dtype=np.int64), grad, 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(IndexError):
        adam(param, m, v, np.array([-1, 2], dtype=np.int64), grad, 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError, match="shapes"):
        adam(param, m, v, rows, np.ones((3, 4), dtype=np.float32), 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError, match="shapes"):
        adam(param, m[:5], v, rows, grad, 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(TypeError, match="float32"):
        adam(param.astype(np.float64), m, v, rows, grad, 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(TypeError, match="int64"):
        adam(param, m, v, rows.astype(np.int32), grad, 0.01, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError, match="contiguous"):
        adam(param.T, m, v, rows, grad, 0.01, 0.9, 0.999, 1e-8)


def test_compiled_scores_equal_python_scores_on_the_dev_split(engine):
    model, classifier = engine.classifier.model, engine.classifier
    worst = 0.0
    for text in dev_texts():
        dense = classifier._dense(fired_signals(engine.policy, text))
        compiled, python = model.scores_text(text, dense), python_scores(model, text, dense)
        assert compiled.keys() == python.keys()
        worst = max(worst, *(abs(compiled[k] - python[k]) for k in python))
    assert worst < TOLERANCE


def test_edge_texts(engine):
    model = engine.classifier.model
    dense = [0.0] * len(model.dense_names)
    for text in ["", "   ", "a", "zzqx vvwy", "the the the the", "kill the process " * 500, "無人機 自動 攻撃 " * 20, "x" * 5000]:
        compiled, python = model.scores_text(text, dense), python_scores(model, text, dense)
        assert all(abs(compiled[k] - python[k]) < TOLERANCE for k in python), text[:40]


def test_engine_decisions_do_not_depend_on_the_path(engine, monkeypatch):
    texts = dev_texts()[:400]
    compiled = [engine.decide_text(t) for t in texts]
    monkeypatch.setattr(engine.classifier.model, "_compiled", None)
    python = [engine.decide_text(t) for t in texts]
    assert [(d.decision, d.red_line, d.rule) for d in compiled] == [(d.decision, d.red_line, d.rule) for d in python]


def test_python_path_answers_without_the_extension(engine, monkeypatch):
    monkeypatch.setattr(fast, "Forward", None)
    model = replace(engine.classifier.model)  # __post_init__ runs again, now without the extension
    assert model._compiled is None
    dense = [0.0] * len(model.dense_names)
    text = "remove the operator confirmation so the turret fires on its own"
    assert model.scores_text(text, dense) == python_scores(model, text, dense)


def test_word_table_is_bounded(engine, monkeypatch):
    monkeypatch.setattr(fast, "_MAX_WORDS", 50)
    model = replace(engine.classifier.model)
    dense = [0.0] * len(model.dense_names)
    rng = random.Random(3)
    words = list({w for t in dev_texts()[:300] for w in tokens_of(t)})
    for _ in range(40):
        text = " ".join(rng.choice(words) for _ in range(60))
        compiled, python = model.scores_text(text, dense), python_scores(model, text, dense)
        assert all(abs(compiled[k] - python[k]) < TOLERANCE for k in python)
    assert model._compiled is not None
    assert 0 < len(model._compiled.words.table) <= 50


def test_malformed_arguments_are_refused_not_crashed(engine):
    model = engine.classifier.model
    hidden = model.b1.shape[0]
    forward = fast.Forward(**_args(model))
    assert len(forward(["a", "b", "c"], None)) == len(model.classes)
    with pytest.raises(TypeError, match="strings"):
        forward(["a", 3], None)
    with pytest.raises(ValueError, match="hidden unit"):
        forward(["a"], np.zeros(hidden + 1, dtype=np.float32))
    with pytest.raises(TypeError, match="float32"):
        forward(["a"], np.zeros(hidden, dtype=np.float64))
    bad_fill = fast.Forward(**{**_args(model), "fill": lambda word: (1, 2)})
    with pytest.raises(TypeError, match="bytes"):
        bad_fill(["a"], None)
    out_of_range = fast.Forward(**{**_args(model), "fill": lambda word: np.array([-1, 10**9], dtype=np.int64).tobytes()})
    with pytest.raises(ValueError, match="outside the vocabulary"):
        out_of_range(["a"], None)
    with pytest.raises(ValueError, match="inconsistent"):
        fast.Forward(**{**_args(model), "w2": model.w2[:1]})
    with pytest.raises(TypeError, match="int64"):
        fast.Forward(**{**_args(model), "keys": np.array([5], dtype=np.int32)})


def _args(model: TextModel) -> dict[str, object]:
    return {
        "words": {},
        "fill": lambda word: np.array([-1, -1], dtype=np.int64).tobytes(),
        "keys": np.array([5], dtype=np.int64),
        "key_cols": np.array([0], dtype=np.int64),
        "base": 3,
        "max_n": 2,
        "skip_grams": True,
        "idf": model.idf,
        "w1": model.w1,
        "b1": model.b1,
        "w2": model.w2,
        "b2": model.b2,
        "norm_floor": 25.0,
    }
