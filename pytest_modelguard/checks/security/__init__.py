"""Security: the artifact is the reviewed one, loads without running code, survives hostile
input and bounded attacks.

One call gates one of four things, chosen by its keyword: ``sha256=`` (integrity of the
file), ``safe_load=True`` (no code runs when it is loaded: pickle opcodes are read, never
unpickled, and Keras files must load with ``safe_mode=True``), ``fuzz=True`` (Hypothesis
feeds malformed batches to the prediction function) or ``max_attack_success=`` (the share
of correctly classified rows an adversarial attack flips).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.adapters import Adapter, adapt, to_numpy
from pytest_modelguard.checks._gate import UNIT, check_threshold, decide
from pytest_modelguard.checks.security import scanning as pickles
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.spec import Fixture, Kind, Needs, Reports, dispatch, requirement
from pytest_modelguard.core.verdict import Counterexample, GateError, Verdict, require_count

_HEX = re.compile(r"[0-9a-fA-F]{64}")


@requirement(example='sha256="..."', rank=50, needs=Needs(model="unused", data="unused"))
def security(
    model: Any = None,
    dataset: Dataset | None = None,
    *,
    sha256: Annotated[str | None, Reports("sha256")] = None,
    artifact: Annotated[Any, Fixture(path=True)] = None,
    safe_load: Annotated[bool, Reports("unsafe_globals")] = False,
    allow: list[str] | None = None,
    allow_unscanned: list[str] | None = None,
    fuzz: Annotated[
        bool, Reports("fuzz_failures"), Needs(model="required", data="optional")
    ] = False,
    examples: int | None = None,
    max_attack_success: Annotated[
        float | None, Reports("attack_success"), Needs(model="required", data="required")
    ] = None,
    eps: float | list[float] | None = None,
    attack: str | None = None,
    norm: str | None = None,
    samples: int = 500,
    prompt_injection: Annotated[
        Any, Reports("leak_rate"), Needs(model="required", data="unused")
    ] = None,
    max_leak_rate: Annotated[float | None, Needs(model="required", data="unused")] = None,
    system_prompt: str | None = None,
    canary: str | None = None,
    attacks: list[str] | None = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate one security property; which one is chosen by ``sha256=``, ``safe_load=True``,
    ``fuzz=True``, ``max_attack_success=`` or, for a generative model, ``prompt_injection=``
    with ``max_leak_rate=`` (exactly one of them)."""
    keywords = {
        k: v for k, v in locals().items() if k not in ("model", "dataset", "seed", "profile")
    }
    started = time.perf_counter()
    verdict = dispatch(
        "security", KINDS_OF_GATE, model, dataset, keywords,
        {"seed": seed, "profile": profile or PROFILES["ci"]},
    )  # fmt: skip
    verdict.duration = verdict.duration or time.perf_counter() - started
    return verdict


def _sha256(model: Any, dataset: Any, *, sha256: Any, artifact: Any) -> Verdict:
    return _integrity(_artifact(artifact, "sha256"), sha256)


def _safe_load_gate(
    model: Any, dataset: Any, *, safe_load: Any, artifact: Any, allow: Any, allow_unscanned: Any
) -> Verdict:
    if safe_load is not True:
        raise GateError(f"safe_load= takes True, got {safe_load!r}")
    path = _artifact(artifact, "safe_load")
    return _safe_load(path, pickles.check_allow(allow), _check_patterns(allow_unscanned))


def _fuzz_gate(model: Any, dataset: Any, *, fuzz: Any, **search: Any) -> Verdict:
    if fuzz is not True:
        raise GateError(f"fuzz= takes True, got {fuzz!r}")
    return _fuzz(model, dataset, **search)


def _prompt_injection(model: Any, dataset: Any, **spec: Any) -> Verdict:
    from pytest_modelguard.generative.injection import prompt_injection_gate

    if spec["prompt_injection"] is None:
        raise GateError(
            "a prompt-injection gate takes prompt_injection= with max_leak_rate= (and "
            "system_prompt=, canary=, attacks=, examples=, confidence=)"
        )
    return prompt_injection_gate(model, **spec)


#: the kinds of security gate, each with the keywords it takes
KINDS_OF_GATE = (
    Kind("sha256", triggers=("sha256",), options=("artifact",), run=_sha256, context=()),
    Kind(
        "safe_load",
        triggers=("safe_load",),
        options=("artifact", "allow", "allow_unscanned"),
        run=_safe_load_gate,
        context=(),
    ),
    Kind("fuzz", triggers=("fuzz",), options=("examples",), run=_fuzz_gate),
    Kind(
        "attack success",
        triggers=("max_attack_success",),
        options=("eps", "attack", "norm", "samples"),
        run="pytest_modelguard.checks.security:_attack_success",
        context=("seed",),
    ),
    Kind(
        "prompt injection",
        triggers=("prompt_injection", "max_leak_rate"),
        options=("system_prompt", "canary", "attacks", "examples", "confidence"),
        run=_prompt_injection,
    ),
)


def _verdict(
    metric: str,
    value: float,
    operator: str,
    threshold: float,
    *,
    formula: str,
    evidence: dict[str, Any],
    counterexample: Any = None,
    n: int | None = None,
) -> Verdict:
    verdict = decide(
        requirement="security",
        metric=metric,
        values=np.array([value]),
        operator=operator,  # type: ignore[arg-type]
        threshold=threshold,
        n=n,  # type: ignore[arg-type]
        formula=formula,
        evidence=evidence,
    )
    if verdict.status == "fail" and counterexample is not None:
        verdict.counterexample = counterexample
        verdict.message = verdict.describe()
    return verdict


# -- the artifact ---------------------------------------------------------------------------


def _artifact(artifact: Any, gate: str) -> Path:
    """The artifact's path: ``artifact=`` is a path, or a fixture's value that is one."""
    if artifact is None:
        raise GateError(
            f"the {gate}= gate is about a file: name it with artifact='models/model.keras' "
            "(a path, or the name of a fixture that returns one)"
        )
    if not isinstance(artifact, str | os.PathLike):
        raise GateError(
            f"artifact= must be a path (str or pathlib.Path), or name a fixture returning "
            f"one; got a {type(artifact).__name__}"
        )
    path = Path(artifact)
    if not path.exists():
        raise GateError(
            f"artifact {str(artifact)!r} does not exist (looked at {path.resolve()}); give an "
            "absolute path or one relative to pytest's rootdir (to the working directory "
            "when called without pytest)"
        )
    return path


def _integrity(path: Path, expected: Any) -> Verdict:
    if not isinstance(expected, str) or not _HEX.fullmatch(expected.strip()):
        raise GateError(
            f"sha256={expected!r} is not a SHA-256 digest (64 hexadecimal characters); "
            f"compute it with: sha256sum {path}"
        )
    if path.is_dir():
        raise GateError(
            f"sha256= needs a file, but {path} is a directory: archive it (zip/tar) and gate "
            "the archive, or gate a file inside it"
        )
    expected = expected.strip().lower()
    with path.open("rb") as file:
        actual = hashlib.file_digest(file, "sha256").hexdigest()
    evidence = {
        "artifact": str(path),
        "bytes": path.stat().st_size,
        "expected": expected,
        "actual": actual,
    }
    return _verdict(
        "sha256",
        1.0 if actual == expected else 0.0,
        ">=",
        1.0,
        formula="1 if sha256(artifact) == expected else 0",
        evidence=evidence,
        counterexample={
            "artifact": str(path),
            "expected": expected,
            "actual": actual,
            "fix": "if this artifact is the reviewed one, set sha256= to the actual digest",
        },
    )


def _check_patterns(patterns: Any) -> tuple[str, ...]:
    """``allow_unscanned=``: glob patterns over the places the evidence lists as not scanned."""
    if patterns is None:
        return ()
    if isinstance(patterns, str) or not isinstance(patterns, list | tuple):
        raise GateError(
            "allow_unscanned= takes a list of glob patterns naming pieces the scan cannot read "
            f"(as listed under 'unscanned' in the evidence, e.g. ['model.pt!*/extra.bin']), "
            f"got {patterns!r}"
        )
    if not all(isinstance(p, str) and p for p in patterns):
        raise GateError(f"allow_unscanned= entries must be non-empty strings, got {patterns!r}")
    return tuple(patterns)


def _safe_load(
    path: Path, allow: tuple[str, ...], allow_unscanned: tuple[str, ...] = ()
) -> Verdict:
    scan = pickles.scan_path(path, allow=allow, allow_unscanned=allow_unscanned)
    evidence: dict[str, Any] = {
        "artifact": str(path),
        "scanned": scan.pieces,
        "unscanned": [{"where": where, "why": why} for where, why in scan.unscanned],
        "references": sorted({name for name, _ in scan.references}),
        "unsafe": [{"name": f.name, "where": f.where, "reason": f.reason} for f in scan.unsafe],
        "allow": list(allow),
        "allow_unscanned": list(allow_unscanned),
    }
    findings = [str(f) for f in scan.unsafe]
    if _is_keras(path):
        if findings:
            evidence["keras_safe_mode"] = "not attempted: the static scan already failed"
        else:
            refusal = _keras_safe_load(path)
            evidence["keras_safe_mode"] = refusal or "loaded"
            if refusal:
                findings.append(f"keras safe_mode: {refusal}")
                evidence["unsafe"].append(
                    {"name": "keras safe_mode", "where": path.name, "reason": refusal}
                )
    return _verdict(
        "unsafe_globals",
        float(len(findings)),
        "<=",
        0.0,
        formula="globals outside the allow-list, calls of anything else, unreadable or unscanned "
        "pieces, unsafe graph ops + code Keras safe_mode refuses",
        evidence=evidence,
        counterexample=findings[:10],
        n=len(scan.references),
    )


def _is_keras(path: Path) -> bool:
    """A Keras model file: ``.keras``, or an HDF5 file holding a ``model_config``."""
    if path.is_dir():
        return False
    if path.suffix.lower() == ".keras":
        return True
    if path.suffix.lower() in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError:
            return False
        try:
            with h5py.File(path, "r") as file:
                return "model_config" in file.attrs
        except OSError:  # not HDF5 after all: the scan has said what it is
            return False
    return False


def _keras_safe_load(path: Path) -> str | None:
    """Why ``keras.saving.load_model(safe_mode=True)`` refuses the file, or None if it loads."""
    try:
        import keras
    except ImportError as exc:
        raise GateError(
            f"{path.name} is a Keras model: safe_load loads it with safe_mode=True, which "
            "needs keras (pip install 'pytest-modelguard[tensorflow]')"
        ) from exc
    try:
        keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # a refusal of any kind means it does not load safely
        return f"{type(exc).__name__}: {exc}".strip()[:500]
    return None


# -- fuzzing --------------------------------------------------------------------------------

KINDS = ("nan", "inf", "huge", "dtype", "rank", "width", "empty")
HUGE = (3.4e38, -3.4e38, 1e300, -1e300)
ROWS = 8  # at most this many rows in one malformed batch
_CRASHES = (SystemError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Case:
    """One malformed batch, described so that Hypothesis can shrink it."""

    kind: str
    rows: tuple[int, ...]  # rows of the pool the batch starts from
    cells: tuple[tuple[int, int], ...] = ()  # (row in batch, flat feature) to corrupt
    value: Any = None  # the corrupting value, dtype name, or axis change


class _Fuzzer:
    """Builds malformed batches from valid rows and judges the model's answer."""

    def __init__(self, adapter: Adapter, pool: Any) -> None:
        self.adapter, self.pool = adapter, pool
        self.frame = hasattr(pool, "iloc")
        shape = np.shape(pool)
        self.n, self.width = shape[0], int(np.prod(shape[1:]))
        self.tried = 0
        self.failed: dict[str, dict[str, Any]] = {}

    def batch(self, case: Case) -> Any:
        pool, rows = self.pool, list(case.rows)
        if self.frame:
            return self._frame_batch(case)
        base = np.asarray(pool)[rows]
        if case.kind in ("nan", "inf", "huge"):
            dtype = np.float64 if abs(case.value) > 3.5e38 else np.result_type(base, np.float32)
            batch = base.astype(dtype)
            flat = batch.reshape(len(rows), -1)
            for r, c in case.cells:
                flat[r % len(rows), c % self.width] = case.value
            return flat.reshape(batch.shape)
        if case.kind == "dtype":
            if case.value == "str":
                return base.astype(str)
            if case.value == "object":
                batch = base.astype(object)
                batch.reshape(len(rows), -1)[0, 0] = None
                return batch
            return base.astype(np.complex128) + 1j
        if case.kind == "rank":
            return base[0] if case.value < 0 else base[:, None]
        if case.kind == "width":
            if case.value < 0:
                return base[..., :-1]
            return np.concatenate([base, base[..., -1:]], axis=-1)
        return base[:0]  # empty

    def _frame_batch(self, case: Case) -> Any:
        frame = self.pool.iloc[list(case.rows)].reset_index(drop=True)
        numeric = [c for c in frame.columns if frame[c].dtype.kind in "biuf"]
        if case.kind in ("nan", "inf", "huge", "dtype") and not numeric:
            return frame  # nothing numeric to corrupt: a valid batch
        if case.kind in ("nan", "inf", "huge"):
            frame = frame.astype({c: np.float64 for c in numeric})
            for r, c in case.cells:
                frame.loc[r % len(frame), numeric[c % len(numeric)]] = case.value
            return frame
        if case.kind == "dtype":
            cast = {"str": str, "object": object, "complex": np.complex128}[case.value]
            frame = frame.astype({numeric[0]: cast})
            if case.value == "object":
                frame.loc[0, numeric[0]] = None
            return frame
        if case.kind == "rank":
            values = frame.to_numpy()
            return values[0] if case.value < 0 else values[:, None]
        if case.kind == "width":
            if case.value < 0:
                return frame.iloc[:, :-1]
            return frame.assign(__extra__=frame.iloc[:, -1])
        return frame.iloc[:0]

    def judge(self, case: Case) -> dict[str, Any] | None:
        """A counterexample when the model's answer to the malformed batch is unsafe."""
        self.tried += 1
        batch = self.batch(case)
        try:
            with warnings.catch_warnings():  # overflow on hostile input is expected, not news
                warnings.simplefilter("ignore", RuntimeWarning)
                raw = self.adapter.predict_batch(batch)
        except _CRASHES as exc:
            problem = f"crashed with {type(exc).__name__}: {exc}"
        except Exception as exc:
            problem = None if str(exc).strip() else f"raised {type(exc).__name__} with no message"
        else:
            problem = _bad_output(raw, batch, case)
        if problem is None:
            return None
        found = {"kind": case.kind, "input": _describe(batch), "problem": problem}
        self.failed.setdefault(case.kind, found)
        return found


def _bad_output(raw: Any, batch: Any, case: Case) -> str | None:
    try:
        out = to_numpy(raw)
    except GateError as exc:
        return str(exc)
    rows = len(batch)
    allowed_rows = {rows, 1} if case.kind == "rank" and case.value < 0 else {rows}
    if out.ndim == 0 or out.shape[0] not in allowed_rows:
        return f"returned shape {out.shape} for a batch of {rows} rows (one output per row)"
    if out.dtype.kind in "fc":
        bad = ~np.isfinite(out)
    elif out.dtype.kind == "O":
        bad = np.array([isinstance(v, float) and not math.isfinite(v) for v in out.ravel()])
    else:
        return None
    if bad.any():
        at = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), out.shape)
        value = out[at]
        return f"returned {value} at output index {tuple(int(i) for i in at)}"
    return None


def _describe(batch: Any) -> dict[str, Any]:
    """What the shrunk input was: its type, dtype, shape and its first values."""
    if hasattr(batch, "iloc"):
        values = batch.to_numpy()
        dtypes = sorted({str(t) for t in batch.dtypes})
        head = {"type": "DataFrame", "dtype": ", ".join(dtypes), "columns": len(batch.columns)}
    else:
        values = np.asarray(batch)
        head = {"type": "ndarray", "dtype": str(values.dtype)}
    first = [_plain(v) for v in values.ravel()[:6]]
    return {**head, "shape": list(values.shape), "first_values": first}


def _plain(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, complex):
        return str(value)
    return value


def _pool(adapter: Adapter, model: Any, dataset: Dataset | None) -> Any:
    """Valid rows to corrupt: the dataset's (first 64), else zeros of the model's input shape."""
    if dataset is not None:
        if dataset.is_streaming:
            raise GateError("fuzz=True needs an in-memory dataset (or none), not a stream")
        prepared = adapter.prepare(dataset)
        pool = prepared.iloc[:64] if hasattr(prepared, "iloc") else np.asarray(prepared)[:64]
        if len(pool) == 0:
            raise GateError(f"dataset {dataset.name!r} has no rows to build malformed inputs from")
        if not hasattr(pool, "iloc") and (pool.ndim < 2 or pool.dtype.kind not in "biuf"):
            raise GateError(
                f"fuzz=True builds malformed batches from numeric rows; dataset "
                f"{dataset.name!r} has features of shape {pool.shape} and dtype {pool.dtype}"
            )
        return pool
    shape = getattr(model, "input_shape", None)
    if shape is None and hasattr(model, "n_features_in_"):
        shape = (None, int(model.n_features_in_))
    if (
        not isinstance(shape, tuple)
        or len(shape) < 2
        or not all(isinstance(d, int) and d > 0 for d in shape[1:])
    ):
        raise GateError(
            f"fuzz=True needs the shape of one input row: define a dataset fixture, or use a "
            f"model that declares it (a Keras model's input_shape, a fitted scikit-learn "
            f"estimator's n_features_in_); {adapter.name} declares {shape!r}"
        )
    return np.zeros((4, *shape[1:]), dtype=np.float32) + 0.5


def _probes(fuzzer: _Fuzzer) -> list[Case]:
    """One fixed case of each kind and variant: every kind is tried at least once."""
    rows = tuple(range(min(4, fuzzer.n)))
    cells = ((0, 0),)
    cases = [Case("nan", rows, cells, math.nan)]
    cases += [Case("inf", rows, cells, v) for v in (math.inf, -math.inf)]
    cases += [Case("huge", rows, cells, v) for v in HUGE]
    cases += [Case("dtype", rows, (), v) for v in ("str", "object", "complex")]
    cases += [Case("rank", rows, (), v) for v in (-1, 1)]
    widths = (-1, 1) if fuzzer.width > 1 else (1,)
    cases += [Case("width", rows, (), v) for v in widths]
    return [*cases, Case("empty", rows)]


def _search(
    fuzzer: _Fuzzer,
    kinds: tuple[str, ...],
    examples: int,
    seed: int,
    profile: Profile,
    search: dict[str, Any],
) -> dict[str, Any] | None:
    """A failing malformed input of one of ``kinds``, shrunk by Hypothesis, or None."""
    import hypothesis
    from hypothesis import given
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky

    @st.composite
    def cases(draw: Any) -> Case:
        kind = draw(st.sampled_from(kinds))
        rows = tuple(draw(st.lists(st.integers(0, fuzzer.n - 1), min_size=1, max_size=ROWS)))
        if kind in ("nan", "inf", "huge"):
            cell = st.tuples(st.integers(0, len(rows) - 1), st.integers(0, fuzzer.width - 1))
            cells = tuple(draw(st.lists(cell, min_size=1, max_size=4)))
            value = {
                "nan": st.just(math.nan),
                "inf": st.sampled_from([math.inf, -math.inf]),
                "huge": st.sampled_from(HUGE),
            }[kind]
            return Case(kind, rows, cells, draw(value))
        variants = {
            "dtype": ["str", "object", "complex"],
            "rank": [-1, 1],
            "width": [-1, 1] if fuzzer.width > 1 else [1],
            "empty": [None],
        }[kind]
        return Case(kind, rows, (), draw(st.sampled_from(variants)))

    settings = profile.hypothesis_settings(max_examples=examples)

    @hypothesis.seed(seed)
    @settings
    @given(cases())
    def answers_clearly(case: Case) -> None:
        found = fuzzer.judge(case)
        if found is not None:
            raise Counterexample(found)

    try:
        answers_clearly()
    except Counterexample as unsafe:
        search["found_by"] = f"hypothesis, shrunk (kinds searched: {', '.join(kinds)})"
        return unsafe.counterexample
    except Flaky:
        search["note"] = "a failure did not reproduce on the same input (nondeterministic model)"
    return None


def _fuzz(
    model: Any, dataset: Dataset | None, *, examples: int | None, seed: int, profile: Profile
) -> Verdict:
    if model is None:
        raise GateError("fuzz=True feeds inputs to a model: define a model fixture")
    if examples is not None:
        require_count("examples", examples, what="(Hypothesis examples)")
    try:
        import hypothesis  # noqa: F401  (checked here: the search needs it)
    except ImportError as exc:
        raise GateError(
            "fuzz=True searches inputs with Hypothesis: pip install hypothesis"
        ) from exc

    adapter = adapt(model)
    fuzzer = _Fuzzer(adapter, _pool(adapter, model, dataset))
    for case in _probes(fuzzer):
        fuzzer.judge(case)
    budget = examples or profile.examples
    search: dict[str, Any] = {"examples": budget, "seed": seed, "found_by": None}
    counterexample = _search(fuzzer, KINDS, budget, seed, profile, search)
    if counterexample is None and fuzzer.failed:  # a probe failed: shrink within its kinds
        counterexample = _search(fuzzer, tuple(fuzzer.failed), budget, seed, profile, search)
    if counterexample is None and fuzzer.failed:
        counterexample = next(iter(fuzzer.failed.values()))
        search["found_by"] = "fixed probe"
    if counterexample is not None:
        counterexample = {**counterexample, "found_by": search["found_by"]}
    evidence = {
        "model": adapter.name,
        "dataset": None if dataset is None else dataset.name,
        "kinds": list(KINDS),
        "failing_kinds": {kind: found["problem"] for kind, found in fuzzer.failed.items()},
        "search": search,
    }
    return _verdict(
        "fuzz_failures",
        float(len(fuzzer.failed)),
        "<=",
        0.0,
        formula="kinds of malformed input (NaN, ±Inf, huge, dtype, rank, width, empty) "
        "answered with NaN/Inf, malformed output or a crash",
        evidence=evidence,
        counterexample=counterexample,
        n=fuzzer.tried,
    )


# -- adversarial success --------------------------------------------------------------------


def _attack_success(
    model: Any,
    dataset: Dataset | None,
    *,
    max_attack_success: float | None,
    eps: float | None,
    attack: str | None,
    norm: str | None,
    samples: int,
    seed: int,
) -> Verdict:
    """Share of correctly classified rows that the attack flips within ``eps``; the attack
    layer is the robustness gate's (:mod:`pytest_modelguard.checks.robustness.attacks`)."""
    from pytest_modelguard.checks.robustness import attacks, eps_values
    from pytest_modelguard.checks.robustness.attacks import stratified_rows

    threshold = _attack_request(model, dataset, max_attack_success, samples)
    epsilons = eps_values(eps)
    adapter = adapt(model)
    spec, norm, steps = attacks.resolve(adapter, attack, norm, None, 1)
    target = attacks.target_of(adapter, dataset, None, epsilons, norm)
    candidates = np.flatnonzero(target.correct)
    if not len(candidates):
        raise GateError(
            f"the model classifies no row of dataset {dataset.name!r} correctly: there is "
            "nothing for an attack to flip"
        )
    rows = candidates[stratified_rows(dataset.target[candidates], samples, seed)]
    run = attacks.attack_target(
        target, rows, attack=spec.name, norm=norm, eps=epsilons, steps=steps, restarts=1, seed=seed
    )
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "dataset": dataset.name,
        "attack": spec.name,
        "norm": norm,
        "steps": steps,
        "eps": epsilons,
        **target.bounds_evidence,
        "logits": run.logits,
        "correct_rows": len(candidates),
    }
    return _attack_verdict(run, rows, epsilons, threshold, evidence)


def _attack_request(model: Any, dataset: Any, threshold: Any, samples: Any) -> float:
    """The threshold of an attack-success gate, once the request is one that can fail."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise GateError(f"max_attack_success={threshold!r} must be a number in [0, 1)")
    check_threshold(
        "max_attack_success", threshold, operator="<=", within=UNIT, what="a share of attacked rows"
    )
    if model is None or dataset is None:
        raise GateError("max_attack_success= attacks a model on data: define model and dataset")
    require_count("samples", samples, what="(rows to attack)")
    if isinstance(model, Predictions):
        raise GateError(
            "stored Predictions cannot be attacked: the attack runs the model on new inputs"
        )
    return float(threshold)


def _attack_verdict(
    run: Any, rows: np.ndarray, epsilons: list[float], threshold: float, evidence: dict[str, Any]
) -> Verdict:
    """Decide on the worst eps's share of flipped rows; a failure names a flipped row."""
    from pytest_modelguard.checks.robustness import wilson

    n = len(rows)
    flipped = run.success.sum(axis=1)
    rates = flipped / n
    evidence["samples"] = n
    evidence["per_eps"] = [
        {"eps": e, "attack_success": float(rates[i]), "ci": list(wilson(int(flipped[i]), n))}
        for i, e in enumerate(epsilons)
    ]
    evidence["attack_seed"] = run.seed
    verdict = decide(
        requirement="security",
        metric="attack_success",
        values=rates,
        labels=[f"eps={e:g}" for e in epsilons],
        operator="<=",
        threshold=threshold,
        n=n,
        formula="correctly classified rows the attack flips within eps / correctly classified "
        "rows attacked",
        evidence=evidence,
    )
    if verdict.status == "fail":
        worst = int(np.argmax(rates))
        row = int(rows[np.flatnonzero(run.success[worst])[0]])
        verdict.counterexample = {"row": row, "eps": epsilons[worst], "attack": evidence["attack"]}
        verdict.message = verdict.describe()
    return verdict
