"""Fuzzing in the normal suite: mutated real documents and arbitrary bytes into the
parsers, the URL canonicaliser, the sanitiser and the config loader; and a replay of
every crash the fuzzers (``make fuzz``) have found.

The targets and their properties live in ``fuzz_targets.py``, shared with the atheris
harnesses in ``fuzz/``. Runs are derandomised so the suite stays repeatable; set
``FUZZ_RANDOM=1`` for fresh examples and ``FUZZ_EXAMPLES=<factor>`` for longer runs.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from fuzz_targets import (
    REGRESSIONS,
    SEEDS,
    TARGETS,
    TOKENS,
    Hang,
    Op,
    known_bug,
    mutate,
    replay_files,
    time_limit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_FACTOR = float(os.environ.get("FUZZ_EXAMPLES", "1"))
_RANDOM = os.environ.get("FUZZ_RANDOM", "") not in {"", "0"}


def _settings(examples: int) -> settings:
    if _RANDOM:
        return settings(max_examples=max(1, int(examples * _FACTOR)), deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    return settings(max_examples=max(1, int(examples * _FACTOR)), deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def _seeds(target: str) -> tuple[bytes, ...]:
    return tuple(SEEDS[target]())


def run(target: str, data: bytes) -> None:
    """Run one input under its time limit; crashes already known and reported are let through."""
    try:
        with time_limit():
            TARGETS[target](data)
    except Hang:
        raise
    except Exception as exc:
        if known_bug(target, exc) is None:
            raise


_ops = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 1 << 20), st.integers(0, 1 << 16),
              st.integers(0, 1 << 20)),
    min_size=1, max_size=6,
)


def mutated(target: str) -> st.SearchStrategy[bytes]:
    seeds = _seeds(target)

    def apply(pair: tuple[bytes, list[Op]]) -> bytes:
        seed, ops = pair
        return mutate(seed, ops, seeds, TOKENS[target])

    return st.tuples(st.sampled_from(seeds), _ops).map(apply)


def inputs(target: str) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(target), st.binary(max_size=300))


def test_every_target_has_seeds() -> None:
    for target in TARGETS:
        assert len(_seeds(target)) >= 3, target


def test_mutations_are_deterministic() -> None:
    seeds = _seeds("parse")
    ops: list[Op] = [(k, 1234 * k, 77, 999) for k in range(8)]
    once = mutate(seeds[0], ops, seeds, TOKENS["parse"])
    assert once == mutate(seeds[0], ops, seeds, TOKENS["parse"])
    assert once != seeds[0]


# --- the properties ------------------------------------------------------------------


@_settings(150)
@given(data=inputs("parse"))
def test_fuzz_parse_document_and_normalize(data: bytes) -> None:
    """Only ParseError escapes; each recovered entry normalises to a safe, canonical Entry."""
    run("parse", data)


@_settings(150)
@given(data=inputs("articles"))
def test_fuzz_parse_article(data: bytes) -> None:
    run("articles", data)


@_settings(300)
@given(data=st.one_of(inputs("canonical"),
                      st.builds(lambda u, b: u.encode() + b"\0" + b.encode(),
                                st.text(max_size=40), st.text(max_size=30))))
def test_fuzz_canonical_url_is_idempotent(data: bytes) -> None:
    run("canonical", data)


@_settings(150)
@given(data=inputs("sanitize"))
def test_fuzz_sanitize_html_leaves_nothing_active(data: bytes) -> None:
    run("sanitize", data)


@_settings(120)
@given(data=inputs("config"))
def test_fuzz_config_errors_are_config_error_lines(data: bytes) -> None:
    """load_config on mutated configs: a Config, or ConfigErrors each of one 'file:line: ...' line."""
    run("config", data)


# --- crashes found so far ------------------------------------------------------------

# Regression files for bugs in modules this work does not own, each reported with a
# suggested fix. strict: when the bug is fixed the test XPASSes and fails, and the
# entry (and the matching KNOWN_BUGS line in fuzz_targets.py) should go.
XFAIL: dict[str, str] = {}


def _replay_params() -> list[object]:
    params: list[object] = []
    for target in TARGETS:
        for path in replay_files(target):
            rel = path.relative_to(REGRESSIONS).as_posix()
            marks = [pytest.mark.xfail(strict=True, reason=XFAIL[rel])] if rel in XFAIL else []
            params.append(pytest.param(target, path, id=rel, marks=marks))
    return params


@pytest.mark.parametrize(("target", "path"), _replay_params())
def test_fuzz_regression(target: str, path: Path) -> None:
    """Every input a fuzzer crashed on, replayed with no tolerance for known bugs."""
    with time_limit():
        TARGETS[target](path.read_bytes())


def test_every_xfail_has_its_file() -> None:
    for rel in XFAIL:
        assert (REGRESSIONS / rel).is_file(), rel
