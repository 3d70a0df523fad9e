# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test check lint typecheck venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

## make run: create .venv, install, and run `feeds run` on config/ and seeds/
run: $(STAMP)
	$(BIN)/feeds run

## make test: install the test dependencies and run the whole suite
test: $(TSTAMP)
	@scripts/ensure-browser
	$(BIN)/python -m pytest -n 2 -q

## make check: ruff and mypy --strict
check: lint typecheck

lint: $(TSTAMP)
	$(BIN)/python -m ruff check .

typecheck: $(TSTAMP)
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) public var .pytest_cache .mypy_cache .ruff_cache

## make fuzz: coverage-guided fuzzing (atheris, installed on demand) of the feed and article
## parsers, canonical_url, the sanitiser and the config loader, FUZZ_SECONDS per target
## (default 60); crash inputs land in tests/data/fuzz-regressions/ (fuzz/run.py)
.PHONY: fuzz
fuzz: $(TSTAMP)
	$(BIN)/python fuzz/run.py --seconds $(or $(FUZZ_SECONDS),60) $(FUZZ_TARGETS)
