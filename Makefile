# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test check lint typecheck venv clean bench bench-quick

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

## make test: install the test dependencies and run the whole suite. The browser tests need
## Chromium: installed from Debian's packages when missing (root and apt-get; it says so first).
## FEEDS_SKIP_BROWSER=1 make test installs nothing and skips them (ignored under CI=true).
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

## make bench: feeds vs reader on a generated 1,000-feed corpus served by nginx on 127.0.0.1
## (bench/README.md); medians of 3, table printed and written to bench/results/latest.json
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## make bench-scale: feeds worker's cost to PostgreSQL (bench/scale.py): a dispatch tick at
## 10k and 100k due sources, rows written per source, procrastinate's cost per job; with
## BENCH_ARGS="--quick --throughput": 1 and 2 feeds worker processes on the bench corpus
.PHONY: bench-scale
bench-scale: $(TSTAMP)
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

## make bench-quick: the same on 200 feeds, once (about a minute)
bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

## make bench-dedupe: precision and recall of near-duplicate merges on a generated, labelled
## corpus (plus real feeds from tests/data/corpus/), a threshold sweep, and the time to add an
## entry at 10k and 100k stored entries (bench/dedupe/README.md; a few minutes on 2 cores).
## BENCH_DEDUPE_ARGS=--quick times 10k only.
.PHONY: bench-dedupe
bench-dedupe: $(STAMP)
	$(BIN)/python bench/dedupe/run.py $(BENCH_DEDUPE_ARGS)


## make crash-test: the crash harness at full strength: `feeds run` killed with SIGKILL at
## CRASH_KILLS (default 100) random moments, checking outputs, state and the runs after
## (tests/test_crash.py; CRASH_SEED=N replays a sequence). The normal suite kills 10 times.
.PHONY: crash-test
crash-test: $(TSTAMP)
	CRASH_KILLS=$(or $(CRASH_KILLS),100) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_crash.py

## make soak: the daemon against 500 loopback sources with 10 s intervals for SOAK_SECONDS
## (default 300); memory must stay flat and descriptors must not leak (tests/test_soak.py;
## figures in tests/artifacts/soak.json)
.PHONY: soak
soak: $(TSTAMP)
	SOAK_SECONDS=$(or $(SOAK_SECONDS),300) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_soak.py
