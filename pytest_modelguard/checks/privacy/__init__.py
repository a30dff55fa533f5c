"""Privacy: membership inference, personal identifiers in data, k-anonymity.

One gate kind per call. The membership-inference (MIA) gates run score-based attacks on
the model's cached outputs for its training members and for held-out rows (no shadow
models), so they cost the two inference passes and little more; a score-based attack
is a lower bound on what a stronger attacker learns. The PII gate scans text columns
(and text a model produces) with :mod:`pytest_modelguard.checks.privacy.pii`; the k-anonymity gate
counts the rows that share each combination of quasi-identifiers. Evidence never holds
a raw identifier or quasi-identifier value.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any

import numpy as np

from pytest_modelguard.adapters import ModelOutput, adapt
from pytest_modelguard.checks._gate import (
    UNIT,
    check_confidence,
    check_threshold,
    decide,
    interval,
    one_threshold,
)
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import Profile
from pytest_modelguard.core.spec import Fixture, Kind, Needs, Reports, dispatch, requirement
from pytest_modelguard.core.verdict import GateError, Verdict, require_count

ATTACKS = ("loss", "confidence")
MIN_SAMPLES = 30  # rows per side below which an attack AUC is noise
N_RESAMPLES = 1000  # bootstrap resamples for confidence=
BINS = 1000  # score bins the bootstrap resamples (exact below this many distinct scores)
ROC_POINTS = 101  # at most this many (fpr, tpr) points per attack in the evidence
EXAMPLES = 10  # redacted PII examples kept in the evidence
SMALLEST = 10  # smallest equivalence classes reported
MODEL_OUTPUT = "<model output>"


@requirement(example="max_mia_auc=0.6", rank=40, needs=Needs(model="optional", data="required"))
def privacy(
    model: Any,
    dataset: Dataset,
    *,
    max_mia_auc: Annotated[
        float | None, Reports("mia_auc"), Needs(model="required", members="required")
    ] = None,
    max_mia_advantage: Annotated[
        float | None, Reports("mia_advantage"), Needs(model="required", members="required")
    ] = None,
    members: Annotated[Dataset | None, Fixture("train_dataset")] = None,
    attack: str | None = None,
    samples: int | None = None,
    confidence: float | None = None,
    pii: Annotated[str | None, Reports("pii_findings")] = None,
    columns: list[str] | None = None,
    k_anonymity: Annotated[int | None, Reports("k_anonymity")] = None,
    quasi_identifiers: list[str] | None = None,
    on: Annotated[str | None, Needs(when="outputs", model="required", data="optional")] = None,
    prompts: Annotated[Any, Fixture(), Needs(data="unused")] = None,
    max_extraction_rate: Annotated[
        float | None, Reports("extraction_rate"), Needs(model="required", data="unused")
    ] = None,
    records: Annotated[Any, Fixture()] = None,
    prefix_words: int = 8,
    suffix_words: int = 8,
    max_exposure: Annotated[
        float | None, Reports("exposure"), Needs(model="required", data="unused")
    ] = None,
    canaries: Annotated[int | list[str] | None, Fixture()] = None,
    max_tpr_at_fpr: Annotated[
        dict[float, float] | None,
        Reports("tpr_at_fpr"),
        Needs(model="required", members="required", trainer="optional"),
    ] = None,
    trainer: Annotated[Any, Fixture("train_model")] = None,
    shadow_models: int | None = None,
    claimed_epsilon: Annotated[
        float | None,
        Reports("epsilon_lower_bound"),
        Needs(model="unused", members="required", trainer="required"),
    ] = None,
    delta: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate one privacy requirement of ``model`` / ``dataset``.

    Membership inference: ``members`` (training rows) against ``dataset`` (rows the model
    never saw), at ``max_mia_auc=`` or ``max_mia_advantage=``; ``attack="loss"`` or
    ``"confidence"`` (default both: the worse decides); ``samples=`` caps the equal-size
    seeded samples; ``confidence=`` decides on the upper bound of a bootstrap interval.
    ``pii="forbid"`` fails on any e-mail, phone, card, IBAN, SSN or IP address in the
    text ``columns`` (default: every text column) or in text the model outputs.
    ``k_anonymity=k`` needs every combination of ``quasi_identifiers`` on ``k`` rows.
    A generative model (``Generator``): ``pii="forbid", on="outputs"`` scans what it
    generates for ``prompts``; ``max_extraction_rate=`` (with ``records``) and
    ``max_exposure=`` (with ``canaries``) gate memorisation (see ``generative``).
    ``max_tpr_at_fpr=`` is LiRA (:mod:`~pytest_modelguard.checks.privacy.membership`) and
    ``claimed_epsilon=`` a differential-privacy audit
    (:mod:`~pytest_modelguard.checks.privacy.dp_audit`).
    """
    keywords = {
        k: v for k, v in locals().items() if k not in ("model", "dataset", "seed", "profile")
    }
    started = time.perf_counter()
    if on not in (None, "outputs", "data"):
        raise GateError(f"on={on!r}: choose 'outputs' (what a generator says) or 'data'")
    keywords["on"] = None if on == "data" else on  # the data is what a gate scans by default
    verdict = dispatch(
        "privacy", KINDS_OF_GATE, model, dataset, keywords, {"seed": seed, "profile": profile}
    )
    verdict.duration = verdict.duration or time.perf_counter() - started
    return verdict


def _rows(dataset: Any) -> Dataset:
    if not isinstance(dataset, Dataset):
        raise GateError(f"the data is a {type(dataset).__name__}: pass a pytest_modelguard.Dataset")
    return dataset


def _lira(model: Any, dataset: Any, *, members: Any, **spec: Any) -> Verdict:
    from pytest_modelguard.checks.privacy.membership import lira_gate

    return lira_gate(model, _rows(dataset), members, **spec)


def _dp_audit(model: Any, dataset: Any, *, members: Any, canaries: Any, **spec: Any) -> Verdict:
    from pytest_modelguard.checks.privacy.dp_audit import dp_audit_gate

    if isinstance(canaries, str | list):
        raise GateError(
            "canaries= is a number of canaries for claimed_epsilon= (canary texts are for "
            "max_exposure=)"
        )
    return dp_audit_gate(model, _rows(dataset), members, canaries=canaries, **spec)


def _k_anonymity_gate(
    model: Any, dataset: Any, *, k_anonymity: Any, quasi_identifiers: Any
) -> Verdict:
    return _k_anonymity(_rows(dataset), k_anonymity, quasi_identifiers)


def _pii_outputs(
    model: Any, dataset: Any, *, on: Any, pii: Any, prompts: Any, profile: Any
) -> Verdict:
    from pytest_modelguard.generative.memorisation import pii_outputs_gate

    if pii is None:
        raise GateError("on='outputs' scans what a generator says: add pii='forbid'")
    prompts = prompts if prompts is not None else dataset
    return pii_outputs_gate(model, prompts, pii=pii, profile=profile)


def _extraction(model: Any, dataset: Any, *, records: Any, on: Any, **spec: Any) -> Verdict:
    from pytest_modelguard.generative.memorisation import extraction_gate

    return extraction_gate(model, records, **spec)


def _exposure(model: Any, dataset: Any, *, on: Any, **spec: Any) -> Verdict:
    from pytest_modelguard.generative.memorisation import exposure_gate

    return exposure_gate(model, **spec)


_HERE = "pytest_modelguard.checks.privacy"
#: the kinds of privacy gate, each with the keywords it takes; ``on="outputs"`` is the
#: PII gate of a generator's answers, and it may accompany the other generative gates
KINDS_OF_GATE = (
    Kind(
        "membership inference",
        triggers=("max_mia_auc", "max_mia_advantage"),
        options=("members", "attack", "samples", "confidence"),
        run=f"{_HERE}:_membership_inference",
        context=("seed",),
    ),
    Kind(
        "LiRA membership inference",
        triggers=("max_tpr_at_fpr",),
        options=("members", "samples", "trainer", "shadow_models"),
        run=_lira,
    ),
    Kind(
        "differential-privacy audit",
        triggers=("claimed_epsilon",),
        options=("members", "delta", "trainer", "canaries", "confidence"),
        run=_dp_audit,
    ),
    Kind("pii", triggers=("pii",), options=("columns",), run=f"{_HERE}:_pii", context=()),
    Kind(
        "k-anonymity",
        triggers=("k_anonymity",),
        options=("quasi_identifiers",),
        run=_k_anonymity_gate,
        context=(),
    ),
    Kind(
        "PII in outputs",
        triggers=("on",),
        options=("pii", "prompts"),
        run=_pii_outputs,
        context=("profile",),
    ),
    Kind(
        "extraction",
        triggers=("max_extraction_rate",),
        options=("records", "prefix_words", "suffix_words", "confidence", "on"),
        run=_extraction,
        context=("profile",),
    ),
    Kind(
        "exposure",
        triggers=("max_exposure",),
        options=("canaries", "samples", "confidence", "on"),
        run=_exposure,
        context=("seed",),
    ),
)


# -- membership inference ---------------------------------------------------------------


def _membership_inference(
    model: Any,
    dataset: Any,
    *,
    max_mia_auc: float | None,
    max_mia_advantage: float | None,
    members: Any,
    attack: str | None,
    samples: int | None,
    confidence: float | None,
    seed: int,
) -> Verdict:
    """Score-based attacks on the model's outputs for members and non-members; the worse
    attack decides, on the upper bound of its interval with ``confidence``."""
    thresholds = {"max_mia_auc": max_mia_auc, "max_mia_advantage": max_mia_advantage}
    metric, threshold = _membership_request(thresholds, attack, samples, confidence)
    if model is None:
        raise GateError("membership inference attacks a model: pass the model")
    dataset = _rows(dataset)
    members = _members(members, dataset)
    adapter, member_output, other_output = _membership_outputs(model, members, dataset)
    attacks = _attacks(member_output, attack)
    m = min(len(members), len(dataset), samples or len(members))
    if m < MIN_SAMPLES:
        raise GateError(
            f"membership inference needs at least {MIN_SAMPLES} members and {MIN_SAMPLES} "
            f"non-members; got {len(members)} and {len(dataset)}: add rows"
        )
    rng = np.random.default_rng([seed, 1])  # the bootstrap draws from seed itself
    member_scores = _scores(attacks, member_output, members.target, _sample(rng, len(members), m))
    other_scores = _scores(attacks, other_output, dataset.target, _sample(rng, len(dataset), m))
    curves = {name: _Curve(member_scores[name], other_scores[name]) for name in attacks}
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "members": members.name,
        "dataset": dataset.name,
        "output": member_output.kind,
        "n_members": m,
        "n_non_members": m,
        "sampled_from": [len(members), len(dataset)],
        "membership_score": {name: SCORES[name] for name in attacks},
    }
    return _membership_verdict(curves, metric, threshold, confidence, seed, 2 * m, evidence)


def _membership_request(
    thresholds: dict[str, float | None], attack: Any, samples: Any, confidence: Any
) -> tuple[str, float]:
    """The metric and threshold of a membership-inference gate that can fail."""
    name, threshold = one_threshold("privacy", thresholds)
    metric = name.removeprefix("max_")
    what = "an attack AUC" if metric == "mia_auc" else "an advantage (TPR - FPR)"
    check_threshold(name, threshold, operator="<=", within=UNIT, what=what)
    if metric == "mia_auc" and not 0.5 < threshold < 1.0:
        raise GateError(
            f"max_mia_auc={threshold!r}: an attack AUC of 0.5 is guessing and 1.0 is total "
            "leakage; use 0.5 < max_mia_auc < 1 (0.55-0.6 is typical)"
        )
    if metric == "mia_advantage" and not 0.0 < threshold < 1.0:
        raise GateError(
            f"max_mia_advantage={threshold!r}: an advantage (TPR - FPR) lies in [0, 1]; use "
            "0 < max_mia_advantage < 1 (0.1-0.2 is typical)"
        )
    if attack is not None and attack not in ATTACKS:
        raise GateError(f"attack={attack!r}: use one of {', '.join(ATTACKS)} (or None for both)")
    if samples is not None:
        require_count("samples", samples, at_least=MIN_SAMPLES)
    check_confidence(confidence, N_RESAMPLES)
    return metric, threshold


def _membership_outputs(model: Any, members: Dataset, dataset: Dataset) -> tuple[Any, Any, Any]:
    """The adapter and its (cached) outputs on the members and on the non-members."""
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError(
            "stored Predictions are aligned with one dataset, but membership inference needs "
            "outputs for members and non-members: gate the model itself"
        )
    member_output = adapter.outputs(members)
    other_output = adapter.outputs(dataset)
    if member_output.kind != other_output.kind:
        raise GateError(
            f"the model's outputs look like {member_output.kind} on the members but "
            f"{other_output.kind} on the non-members: state them with adapt(model, "
            "output=...) in the model fixture"
        )
    return adapter, member_output, other_output


def _membership_verdict(
    curves: dict[str, _Curve],
    metric: str,
    threshold: float,
    confidence: float | None,
    seed: int,
    n: int,
    evidence: dict[str, Any],
) -> Verdict:
    """Decide on the worst attack (its interval's upper bound with ``confidence``)."""
    values = np.array([curve.point[metric] for curve in curves.values()])
    low = high = None
    if confidence is not None:
        bounds = [
            curve.interval(metric, confidence, seed + i, evidence)
            for i, curve in enumerate(curves.values())
        ]
        low, high = np.array(bounds).T
        evidence["interval"] = (
            f"percentile, Poisson bootstrap of member/non-member counts in at most {BINS} "
            "score bins, shifted by the binning's effect on the point estimate"
        )
        if metric == "mia_advantage":  # a maximum over thresholds: biased up, so only the
            evidence["one_sided_only"] = True  # upper bound keeps its level (statistics.md)
    evidence["attacks"] = {
        name: curve.summary(None if low is None else (float(low[i]), float(high[i])), metric)
        for i, (name, curve) in enumerate(curves.items())
    }
    verdict = decide(
        requirement="privacy",
        metric=metric,
        values=values,
        labels=list(curves),
        operator="<=",
        threshold=threshold,
        confidence=confidence,
        low=low,
        high=high,
        n=n,
        formula=FORMULAS[metric],
        evidence=evidence,
    )
    if len(curves) > 1:
        verdict.message += "\n  attacks   " + ", ".join(
            f"{name} {metric}={values[i]:.4g}" for i, name in enumerate(curves)
        )
    return verdict


SCORES = {
    "loss": "-(cross-entropy of the true label); -(squared error) for regression",
    "confidence": "the largest class probability (no label needed)",
}
FORMULAS = {
    "mia_auc": "max over attacks of P(score(member) > score(non-member)) + P(tie) / 2",
    "mia_advantage": "max over attacks and thresholds of TPR - FPR",
}


def _members(members: Any, dataset: Dataset) -> Dataset:
    """The training members, checked to be comparable with the non-members."""
    if members is None:
        raise GateError(
            "membership inference needs the training members: pass members=<Dataset of "
            "training rows> (in pytest, define a fixture named train_dataset or name one "
            "with members='...')"
        )
    if not isinstance(members, Dataset):
        raise GateError(
            f"members= is a {type(members).__name__}: pass a pytest_modelguard.Dataset of "
            "training rows"
        )
    if members.is_streaming or dataset.is_streaming:
        raise GateError(
            "membership inference needs members and non-members in memory; build them with "
            "Dataset.from_arrays / from_pandas / from_csv (not from_batches)"
        )
    if members.is_dataframe != dataset.is_dataframe:
        raise GateError(
            "members and non-members must have the same form: one has a DataFrame of "
            "features, the other an array"
        )
    if members.is_dataframe:
        ours, theirs = (
            list(map(str, members.features.columns)),
            list(map(str, dataset.features.columns)),
        )
        if ours != theirs:
            raise GateError(
                f"members have feature columns {ours} but non-members {theirs}: build both "
                "with the same columns, in the same order"
            )
    else:
        ours_shape = np.shape(members.features)[1:]
        theirs_shape = np.shape(dataset.features)[1:]
        if ours_shape != theirs_shape:
            raise GateError(
                f"member rows have shape {ours_shape} but non-member rows {theirs_shape}: "
                "both must be rows of the same model input"
            )
    if members.fingerprint == dataset.fingerprint:
        raise GateError(
            f"members and non-members are the same data ({dataset.name!r}): the gate's "
            "dataset must hold rows the model was not trained on"
        )
    shared = np.isin(row_hashes(dataset), row_hashes(members)) | near_duplicates(dataset, members)
    if shared.any():
        raise GateError(
            f"{int(shared.sum())} of the {len(dataset)} non-member rows of {dataset.name!r} "
            f"are also member rows of {members.name!r} (same label, features equal or within "
            f"{NEAR:g} of each feature's scale, e.g. a float32 copy): an attack "
            "cannot tell a row from itself, so overlap pulls the AUC towards 0.5 and hides "
            "leakage; give non-members the model never saw (drop the shared rows)"
        )
    return members


#: numeric features this close (relative to the feature's scale) are the same value: a
#: float32 copy of a float64 row differs by about 6e-8 of its magnitude
NEAR = 1e-6


def near_duplicates(dataset: Dataset, members: Dataset) -> np.ndarray:
    """Which rows of ``dataset`` have a member row with the same label and non-numeric
    values whose numeric features all lie within ``NEAR`` of each feature's scale (largest
    magnitude or range): a copy that was cast, rounded or nudged is still the same row."""
    import pandas as pd

    ours, theirs = _frame(dataset), _frame(members)
    numeric = [c for c in ours.columns if c != "<target>" and _is_number(ours[c], theirs[c])]
    found = np.zeros(len(ours), dtype=bool)
    if not numeric or len(theirs) == 0:
        return found
    try:
        from sklearn.neighbors import KDTree
    except ImportError:  # exact matches are still caught by the row hashes
        return found
    both = pd.concat([ours[numeric], theirs[numeric]]).to_numpy(dtype=np.float64)
    finite = np.where(np.isfinite(both), both, 0.0)
    spread = np.ptp(finite, axis=0)
    scale = NEAR * np.maximum(np.maximum(spread, np.abs(finite).max(axis=0)), 1e-300)
    keys = [c for c in ours.columns if c not in numeric]  # label and non-numeric columns
    key_ours = pd.util.hash_pandas_object(ours[keys], index=False).to_numpy()
    key_theirs = pd.util.hash_pandas_object(theirs[keys], index=False).to_numpy()
    x_ours = finite[: len(ours)] / scale
    x_theirs = finite[len(ours) :] / scale
    for key in np.intersect1d(key_ours, key_theirs):
        rows = np.flatnonzero(key_ours == key)
        tree = KDTree(x_theirs[key_theirs == key], metric="chebyshev")
        found[rows] = tree.query_radius(x_ours[rows], r=1.0, count_only=True) > 0
    return found


def _is_number(left: Any, right: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right)


def _frame(dataset: Dataset) -> Any:
    """Features (columns by position) and the label of each row, numbers as float64."""
    import pandas as pd

    features = dataset.features
    if dataset.is_dataframe:
        frame = features.reset_index(drop=True)
        frame.columns = range(frame.shape[1])
    else:
        frame = pd.DataFrame(np.asarray(features).reshape(len(dataset), -1))
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    frame = frame.astype({c: np.float64 for c in numeric})
    target = pd.Series(dataset.target)
    if pd.api.types.is_numeric_dtype(target):
        target = target.astype(np.float64)
    frame["<target>"] = target.to_numpy()
    return frame


def row_hashes(dataset: Dataset) -> np.ndarray:
    """A 64-bit hash of each row's content (features and label), equal for equal rows
    whatever the container, row order or numeric dtype."""
    import pandas as pd

    return pd.util.hash_pandas_object(_frame(dataset), index=False).to_numpy()


def _attacks(output: ModelOutput, attack: str | None) -> list[str]:
    """The attacks to run, or an error saying which attack needs which model output."""
    needs = (
        "attack='loss' needs class probabilities or logits (or regression values) and the "
        "true labels; attack='confidence' needs class probabilities or logits"
    )
    if output.kind in ("probabilities", "logits"):
        return [attack] if attack else list(ATTACKS)
    if output.kind == "values":
        if attack == "confidence":
            raise GateError(
                f"the model returns regression values, which have no confidence: {needs}; "
                "use attack='loss'"
            )
        return ["loss"]
    raise GateError(
        f"membership inference attacks need scores, but the model returns {output.kind}: "
        f"{needs}. Return probabilities (predict_proba, a softmax/sigmoid output) or logits "
        "(adapt(model, output='logits'))"
    )


def _scores(
    attacks: list[str], output: ModelOutput, target: np.ndarray, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Each attack's membership scores of ``rows`` (higher = more likely a member), in
    log space so that saturated probabilities of an overfit model still rank."""
    array, truth = output.array[rows].astype(np.float64), target[rows]
    if output.kind == "values":
        if truth.dtype.kind not in "biuf":
            raise GateError(f"the loss attack needs a numeric target; it has {truth.dtype}")
        return {"loss": -((truth.astype(np.float64) - array.reshape(len(rows))) ** 2)}
    log_p = _log_probabilities(array, output.kind)
    scores = {}
    if "confidence" in attacks:
        two = log_p.shape[1] == 2  # numpy's row-wise max is slow on two columns
        scores["confidence"] = np.maximum(*log_p.T) if two else log_p.max(axis=1)
    if "loss" in attacks:
        scores["loss"] = log_p[np.arange(len(rows)), _columns_of(truth, output, log_p.shape[1])]
    return scores


def _columns_of(truth: np.ndarray, output: ModelOutput, k: int) -> np.ndarray:
    """The score column of each row's true class (for the loss attack)."""
    classes = output.classes if output.classes is not None else np.arange(k)
    if output.classes is None and truth.dtype.kind in "iu":  # the label is the column
        column, unknown = truth, (truth < 0) | (truth >= k)
    else:
        try:
            order = np.argsort(classes)
            found = np.minimum(np.searchsorted(classes, truth, sorter=order), len(classes) - 1)
            column = order[found]
            unknown = classes[column] != truth
        except TypeError:  # labels that do not compare with the classes (str vs int)
            column, unknown = np.zeros(len(truth), np.int64), np.ones(len(truth), bool)
    if np.any(unknown):
        labels = list(dict.fromkeys(str(u) for u in truth[unknown][:100]))[:5]
        raise GateError(
            f"the target has labels {labels} that the model's score columns do not stand "
            f"for (classes {[str(c) for c in classes[:10]]}); the loss attack needs the "
            "true class of every row (for a regression model, return adapt(model, "
            "output='values') from the model fixture)"
        )
    return column


def _log_probabilities(array: np.ndarray, kind: str) -> np.ndarray:
    if kind == "logits":
        if array.ndim == 1:  # binary logit z: log sigmoid(-z), log sigmoid(z)
            return -np.logaddexp(0.0, np.column_stack([array, -array]))
        shifted = array - array.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.column_stack([1.0 - array, array]) if array.ndim == 1 else array
    with np.errstate(divide="ignore"):
        return np.log(np.clip(p, np.finfo(np.float64).tiny, 1.0))


def _sample(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """``m`` of ``n`` row indices, seeded; every row in order when ``m == n``."""
    return np.arange(n) if m == n else np.sort(rng.choice(n, m, replace=False))


class _Curve:
    """The ROC of one attack as counts of members and non-members per distinct score,
    in descending score order: rows of the same score and side are interchangeable, so
    these counts are all a rank statistic needs (ties count half)."""

    def __init__(self, member_scores: np.ndarray, other_scores: np.ndarray) -> None:
        scores = np.r_[member_scores, other_scores]
        order = np.argsort(scores)[::-1]
        ranked = scores[order]
        ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # of each distinct score
        tp = np.cumsum(order < len(member_scores))[ends]  # members scored at least as high
        self.members = np.diff(tp, prepend=0).astype(np.float64)
        self.others = np.diff(ends + 1 - tp, prepend=0).astype(np.float64)
        self.fpr, self.tpr = (a[0] for a in _roc(self.members[None], self.others[None]))
        self.point = {
            k: float(v[0]) for k, v in _statistics(self.fpr[None], self.tpr[None]).items()
        }

    def interval(
        self, metric: str, confidence: float, seed: int, evidence: dict[str, Any]
    ) -> tuple[float, float]:
        """Bootstrap interval from at most ``BINS`` bins of adjacent scores (a resample
        costs O(bins), not O(rows)), shifted by what binning does to the point value."""
        members, others = self.members, self.others
        if len(members) > BINS:  # adjacent distinct scores share a bin of ~equal row count
            sizes = members + others
            where = ((np.cumsum(sizes) - sizes) * (BINS / sizes.sum())).astype(np.int64)
            members, others = np.bincount(where, members), np.bincount(where, others)
            used = members + others > 0
            members, others = members[used], others[used]
        binned = len(members)

        def statistic(w: np.ndarray) -> np.ndarray:
            return _statistics(*_roc(w[:, :binned], w[:, binned:]))[metric]

        low, high = interval(
            np.r_[members, others],
            statistic,
            confidence=confidence,
            n_resamples=N_RESAMPLES,
            seed=seed,
            metric=metric,
            evidence=evidence,
        )
        shift = self.point[metric] - float(statistic(np.r_[members, others][None])[0])
        return float(low) + shift, float(high) + shift

    def summary(self, ci: tuple[float, float] | None, metric: str) -> dict[str, Any]:
        """AUC, advantage, the interval of the gated metric and a thinned ROC (plain JSON)."""
        fpr, tpr = self.fpr, self.tpr
        keep = np.unique(np.linspace(0, len(fpr) - 1, ROC_POINTS).round().astype(int))
        return {
            "auc": self.point["mia_auc"],
            "advantage": self.point["mia_advantage"],
            f"{metric}_ci": None if ci is None else list(ci),
            "roc": {"fpr": fpr[keep].round(5).tolist(), "tpr": tpr[keep].round(5).tolist()},
        }


def _roc(members: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR at every threshold, from (0, 0) to (1, 1), for weights ``(r, scores)``
    of members and non-members in descending score order."""
    tp, fp = np.cumsum(members, axis=1), np.cumsum(others, axis=1)
    zero = np.zeros((len(tp), 1))
    return np.hstack([zero, fp / fp[:, -1:]]), np.hstack([zero, tp / tp[:, -1:]])


def _statistics(fpr: np.ndarray, tpr: np.ndarray) -> dict[str, np.ndarray]:
    """AUC and advantage of ROC curves ``(r, thresholds)``."""
    # the trapezoid between distinct scores counts a tie as half a win: the rank AUC
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]), axis=1) / 2.0
    return {"mia_auc": auc, "mia_advantage": np.max(tpr - fpr, axis=1)}


# -- personal identifiers ---------------------------------------------------------------


def _pii(model: Any, dataset: Any, *, pii: str | None, columns: list[str] | None) -> Verdict:
    """Personal identifiers in the data's text columns and in text the model outputs."""
    from pytest_modelguard.checks.privacy import pii as detectors

    dataset = _rows(dataset)
    if pii != "forbid":
        raise GateError(f"pii={pii!r}: the PII gate takes pii='forbid'")
    if dataset.is_streaming:
        raise GateError(
            f"the PII gate scans an in-memory Dataset; {dataset.name!r} is a stream of batches"
        )
    if len(dataset) == 0:
        raise GateError(
            f"dataset {dataset.name!r} has no rows: a PII scan of nothing finds nothing, "
            "which is no evidence; give the gate the data to scan"
        )
    texts = _text_columns(dataset, columns)
    evidence: dict[str, Any] = {"dataset": dataset.name, "kinds": list(detectors.KINDS)}
    note = _model_texts(model, dataset, texts, evidence)
    if not texts:
        raise GateError(
            f"dataset {dataset.name!r} has no text columns to scan: name the columns with "
            f"columns=[...] (available: {', '.join(_named_columns(dataset)) or 'none'})"
        )
    counts, examples, scanned = _scan_texts(texts)
    evidence["columns"] = list(texts)
    evidence["texts_scanned"] = scanned
    if not any(scanned.values()):
        raise GateError(
            f"nothing to scan: the column(s) {', '.join(map(repr, texts))} of dataset "
            f"{dataset.name!r} hold no text on any of its {len(dataset)} rows (empty or "
            "missing values only); name the columns that hold text with columns=[...]"
        )
    evidence["findings"] = {
        kind: {column: n for (k, column), n in sorted(counts.items()) if k == kind}
        for kind in detectors.KINDS
        if any(k == kind for k, _ in counts)
    }
    evidence["examples"] = examples
    verdict = decide(
        requirement="privacy",
        metric="pii_findings",
        values=np.array([sum(counts.values())]),
        operator="<=",
        threshold=0.0,
        n=len(dataset),
        formula="count of valid e-mail, phone, card, IBAN, SSN and IP findings",
        evidence=evidence,
    )
    if counts:
        verdict.message += "\n  found     " + ", ".join(
            f"{kind} in {column!r} ({n})" for (kind, column), n in sorted(counts.items())
        )
        verdict.message += "\n  e.g.      " + "; ".join(
            f"row {e['row']} of {e['column']!r}: {e['kind']} {e['redacted']}" for e in examples[:3]
        )
    verdict.message += f"\n  scanned   {', '.join(map(repr, texts))}"
    if note:
        verdict.message += f"\n  {note}"
    return verdict


def _model_texts(model: Any, dataset: Dataset, texts: dict[str, Any], evidence: dict) -> str:
    """Add the model's text output to ``texts``; a note says why it was not scanned."""
    if model is None:
        return ""
    adapter = adapt(model)
    evidence["model"] = adapter.name
    try:
        output = adapter.outputs(dataset)
    except GateError:  # its message may quote a raw value of the data: not shown
        note = "model output not scanned: the model does not run on this data"
    else:
        if output.array.dtype.kind in "USO" and output.array.ndim == 1:
            texts[MODEL_OUTPUT] = output.array
            return ""
        note = f"model output not scanned: it is {output.kind}, not text"
    evidence["model_output"] = note
    return note


def _scan_texts(
    texts: dict[str, Any],
) -> tuple[Counter[tuple[str, str]], list[dict[str, Any]], dict[str, int]]:
    """Findings per (kind, column), the first redacted examples, and non-empty texts per column."""
    from pytest_modelguard.checks.privacy import pii as detectors

    counts: Counter[tuple[str, str]] = Counter()
    examples = []
    scanned: dict[str, int] = {}
    for column, values in texts.items():
        strings = detectors.as_texts(values)
        scanned[column] = sum(1 for text in strings if text.strip())
        for finding in detectors.scan(strings):
            counts[finding.kind, column] += 1
            if len(examples) < EXAMPLES:
                examples.append(
                    {
                        "kind": finding.kind,
                        "column": column,
                        "row": finding.row,
                        "redacted": finding.redacted,
                    }
                )
    return counts, examples, scanned


def _text_columns(dataset: Dataset, columns: list[str] | None) -> dict[str, Any]:
    """The columns to scan: those named, or every column of strings/objects."""
    available = _named_columns(dataset)
    if columns is not None:
        if isinstance(columns, str) or not columns:
            raise GateError(f"columns={columns!r}: give a non-empty list of column names")
        absent = [c for c in columns if c not in available]
        if absent:
            raise GateError(
                f"column(s) {', '.join(map(repr, absent))} not in dataset {dataset.name!r}; "
                f"its columns are: {', '.join(available) or 'none'}"
            )
        return {c: available[c] for c in columns}
    return {c: v for c, v in available.items() if _is_text(v)}


def _is_text(values: Any) -> bool:
    kind = getattr(getattr(values, "dtype", None), "kind", "O")
    return kind in "USO"


def _named_columns(dataset: Dataset) -> dict[str, Any]:
    """Every column a privacy gate can name: features (DataFrame columns, or
    ``feature_names`` of an array) and sensitive columns."""
    features = dataset.features
    found: dict[str, Any] = {}
    if dataset.is_dataframe:
        found.update({str(c): features[c] for c in features.columns})
    else:
        array = np.asarray(features)
        if array.ndim == 1:
            found[(dataset.feature_names or ["<features>"])[0]] = array
        elif array.ndim == 2:
            names = dataset.feature_names or [f"<features>[{j}]" for j in range(array.shape[1])]
            found.update({name: array[:, j] for j, name in enumerate(names)})
    found.update(dataset.sensitive)
    return found


# -- k-anonymity ------------------------------------------------------------------------


def _k_anonymity(dataset: Dataset, k: Any, quasi_identifiers: list[str] | None) -> Verdict:
    import pandas as pd

    require_count("k_anonymity", k, at_least=2, what="(every row is 1-anonymous)")
    if not quasi_identifiers or isinstance(quasi_identifiers, str):
        raise GateError(
            "k_anonymity= needs quasi_identifiers=[...]: the columns that together could "
            "single a person out (e.g. ['age', 'zip', 'sex'])"
        )
    available = _named_columns(dataset)
    absent = [c for c in quasi_identifiers if c not in available]
    if absent:
        raise GateError(
            f"quasi-identifier column(s) {', '.join(map(repr, absent))} not in dataset "
            f"{dataset.name!r}; its columns are: {', '.join(available) or 'none'}"
        )
    codes = np.column_stack(
        [
            pd.factorize(np.asarray(available[c]), use_na_sentinel=False)[0]
            for c in quasi_identifiers
        ]
    )
    if len(codes) == 0:
        raise GateError(f"dataset {dataset.name!r} has no rows")
    _, sizes = np.unique(codes, axis=0, return_counts=True)
    sizes = np.sort(sizes)
    below = sizes[sizes < k]
    evidence: dict[str, Any] = {
        "dataset": dataset.name,
        "quasi_identifiers": list(quasi_identifiers),
        "classes": len(sizes),
        "smallest_classes": sizes[:SMALLEST].tolist(),
        "classes_below_k": len(below),
        "rows_below_k": int(below.sum()),
        "distinct_values": {c: int(codes[:, i].max()) + 1 for i, c in enumerate(quasi_identifiers)},
    }
    verdict = decide(
        requirement="privacy",
        metric="k_anonymity",
        values=np.array([sizes[0]]),
        operator=">=",
        threshold=float(k),
        n=len(codes),
        formula=f"min over combinations of {', '.join(quasi_identifiers)} of their row count",
        evidence=evidence,
    )
    if len(below):
        widest = max(evidence["distinct_values"].items(), key=lambda item: item[1])
        verdict.message += (
            f"\n  below k   {len(below)} of {len(sizes)} classes, {int(below.sum())} rows; "
            f"generalise (e.g. {widest[0]!r} has {widest[1]} distinct values) or suppress them"
        )
    return verdict
