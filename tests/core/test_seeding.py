"""core/seeding.py: one session seed, a stable stream per test, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelguard.core.seeding import DEFAULT_SEED, derive_seed, parse_seed

ROOT = Path(__file__).resolve().parents[2]


def test_a_derived_seed_is_a_64_bit_function_of_every_part():
    seeds = {
        derive_seed(1, "t::a", 0),
        derive_seed(2, "t::a", 0),
        derive_seed(1, "t::b", 0),
        derive_seed(1, "t::a", 1),
    }
    assert len(seeds) == 4
    assert all(0 <= s < 2**64 for s in seeds)
    assert derive_seed(1, "t::a", 0) == derive_seed(1, "t::a", 0)
    # parts are separated, not concatenated: ("ab", "c") is not ("a", "bc")
    assert derive_seed(1, "ab", "c") != derive_seed(1, "a", "bc")


def test_a_derived_seed_does_not_depend_on_the_process_or_its_hash_seed():
    code = "from pytest_modelguard.core.seeding import derive_seed; print(derive_seed(5, 't', 2))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert outputs == {str(derive_seed(5, "t", 2))}


def test_parse_seed_reads_integers_random_and_last():
    assert parse_seed("42", None) == 42
    assert parse_seed("last", 17) == 17
    assert 0 <= parse_seed("random", None) < 2**32
    assert isinstance(DEFAULT_SEED, int)
    with pytest.raises(ValueError, match="no previous run"):
        parse_seed("last", None)
    with pytest.raises(ValueError, match="expected an integer"):
        parse_seed("seven", None)
