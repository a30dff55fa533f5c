"""Explainability: what the model's decisions rest on, and whether that explanation is stable.

Attributions come from integrated gradients (Keras / TensorFlow models: a ``GradientTape``
follows them) or permutation importance (any model) on a seeded sample of rows; the mean
magnitude per feature ranks the features globally. Three gates read that ranking:
``protected_not_in_top_k`` and ``max_protected_share`` keep protected attributes (and
named proxies) out of the decisive features, ``min_stability`` asks that a row's
attribution ranking survive small Hypothesis perturbations of the row.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, NoReturn

import numpy as np

from pytest_modelguard.adapters import Adapter, ModelOutput, adapt
from pytest_modelguard.checks._gate import (
    UNIT,
    check_threshold,
    decide,
    one_threshold,
    share_verdict,
)
from pytest_modelguard.checks.explainability import attribution
from pytest_modelguard.checks.robustness.perturbation import (
    examples_for,
    feature_names_of,
    image_bounds,
    rows_changed,
    run_search,
    tabular_columns,
    take,
)
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.spec import Reports, given_keywords, requirement, requirements
from pytest_modelguard.core.verdict import GateError, Verdict, require_count

METHODS = ("integrated_gradients", "permutation")
#: integrated gradients must add up to f(x) - f(baseline) within this share of mean |f(x) - f(b)|
COMPLETENESS_TOLERANCE = 0.05
#: the small perturbations ``min_stability`` searches: (family, eps) per dataset kind
STABILITY_PERTURBATION = {"tabular": ("feature_jitter", 0.05), "image": ("gaussian_noise", 0.02)}
STABILITY_ROWS = 64  # rows one Hypothesis example perturbs and re-attributes, batched
RANKED_PIXELS = 20  # an image ranking lists the most important pixels only
SHOWN_ROWS = 5
#: the protected gates decide only when the ranking is this sure (two-sided, over rows)
RANKING_CONFIDENCE = 0.95
RANKING_Z = 1.959964  # normal quantile of (1 + RANKING_CONFIDENCE) / 2
SHARE_RESAMPLES = 1000  # Poisson-bootstrap resamples of the rows for the share's interval


@requirement(example="protected_not_in_top_k=3", rank=60)
def explainability(
    model: Any,
    dataset: Dataset,
    *,
    method: str | None = None,
    protected_not_in_top_k: Annotated[int | None, Reports("protected_in_top_k")] = None,
    proxies: list[str] | None = None,
    max_protected_share: Annotated[float | None, Reports("protected_share")] = None,
    min_stability: Annotated[float | None, Reports("stability")] = None,
    steps: int = 32,
    samples: int = 200,
    repeats: int = 5,
    examples: int | None = None,
    protected_tokens: Any = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate the attributions of ``model`` on a seeded sample of ``samples`` rows.

    ``method`` is ``integrated_gradients`` (``steps`` midpoint steps from the feature means,
    zeros for images) or ``permutation`` (each feature shuffled ``repeats`` times, scored
    by log loss for classifiers and squared error for regressors); by default integrated
    gradients when the model has gradients, else permutation. The protected gates decide
    only when the ranking is sure at 95 % over the sampled rows; a ranking within noise of
    the threshold is an error ("ranking unstable at this n") that asks for more samples.
    Exactly one threshold: ``protected_not_in_top_k=k``
    (no sensitive column of the dataset that is also a feature, nor any of ``proxies``,
    ranks among the k most important features), ``max_protected_share=`` (their share of
    the total importance) or ``min_stability=`` (worst mean Spearman correlation of a row's
    attribution ranking under ``examples`` Hypothesis perturbations).

    Text models: ``protected_tokens=`` (``"identity"``, a lexicon category or words) with
    ``protected_not_in_top_k=`` or ``max_protected_share=`` ranks token types by mean
    |attribution| (:mod:`pytest_modelguard.text.attribution`).
    """
    if protected_tokens is not None or (dataset is not None and dataset.kind == "text"):
        _reject_tabular_only(repeats=repeats, examples=examples)
        return _token_gate(
            model, dataset, protected_tokens=protected_tokens, proxies=proxies,
            protected_not_in_top_k=protected_not_in_top_k,
            max_protected_share=max_protected_share, min_stability=min_stability,
            method=method, steps=steps, samples=samples, seed=seed,
        )  # fmt: skip
    started = time.perf_counter()
    name, threshold = one_threshold(
        "explainability",
        {
            "protected_not_in_top_k": protected_not_in_top_k,
            "max_protected_share": max_protected_share,
            "min_stability": min_stability,
        },
    )
    _check_options(name, threshold, protected_not_in_top_k, dataset, proxies, method=method,
                   steps=steps, samples=samples, repeats=repeats)  # fmt: skip
    profile = profile or PROFILES["ci"]
    examples = examples_for(examples, profile) if name == "min_stability" else 0

    adapter, names, protected, method, fn = _subject(
        model, dataset, name, threshold, proxies, method
    )
    explainer = _Explainer(
        adapter, dataset, method, fn, steps=steps, samples=samples, repeats=repeats, seed=seed
    )
    importance = explainer.importance
    ranks = 1 + (importance[None, :] > importance[:, None]).sum(axis=1)  # ties: best rank
    shares = np.clip(importance, 0.0, None) / np.clip(importance, 0.0, None).sum()
    evidence = _evidence(adapter, dataset, explainer, names, importance, shares, ranks,
                         protected, proxies)  # fmt: skip
    note = counterexample = None
    if name == "min_stability":
        verdict, counterexample = _stability(explainer, threshold, examples, profile, evidence)
    else:
        verdict, note = _protected_gate(
            name, threshold, names, protected, ranks, shares, dataset, explainer, evidence
        )
    verdict.counterexample = counterexample
    verdict.message = verdict.describe() + (f"\n  note      {note}" if note else "")
    verdict.duration = time.perf_counter() - started
    return verdict


def _subject(
    model: Any,
    dataset: Dataset,
    name: str,
    threshold: float,
    proxies: list[str] | None,
    method: str | None,
) -> tuple[Adapter, list[str], list[int], str, Any]:
    """The model's adapter, its feature names, the protected ones among them and the method."""
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError(
            "explainability re-runs the model on changed inputs, which stored Predictions "
            "cannot do; give the model itself"
        )
    names = _feature_names(dataset)
    protected = _protected(dataset, names, proxies)
    if name == "protected_not_in_top_k" and threshold >= len(names):
        raise GateError(
            f"protected_not_in_top_k={int(threshold)} but the model has {len(names)} features, "
            f"so every feature is in the top {int(threshold)}; give k < {len(names)}"
        )
    method, fn = _method_for(adapter, method)
    if protected == [] and name != "min_stability":
        _nothing_to_measure(dataset, proxies)
    return adapter, names, protected, method, fn


def _evidence(
    adapter: Adapter,
    dataset: Dataset,
    explainer: _Explainer,
    names: list[str],
    importance: np.ndarray,
    shares: np.ndarray,
    ranks: np.ndarray,
    protected: list[int],
    proxies: list[str] | None,
) -> dict[str, Any]:
    evidence = {
        "model": adapter.name,
        "dataset": dataset.name,
        **explainer.evidence,
        "ranking": _ranking(names, importance, shares, ranks, protected, dataset.kind),
    }
    if dataset.kind == "tabular":
        evidence["sensitive"] = list(dataset.sensitive)
        evidence["proxies"] = list(proxies or [])
        evidence["protected_features"] = [names[j] for j in protected]
    return evidence


def _token_gate(
    model: Any,
    dataset: Dataset | None,
    *,
    protected_tokens: Any,
    proxies: list[str] | None,
    protected_not_in_top_k: int | None,
    max_protected_share: float | None,
    min_stability: float | None,
    method: str | None,
    steps: int,
    samples: int,
    seed: int,
) -> Verdict:
    """A text model's gate: protected tokens kept out of the top of its token attributions."""
    if protected_tokens is None and min_stability is not None:
        protected_tokens = "identity"  # stability ranks every token; identity terms are shown
    if protected_tokens is None:
        raise GateError(
            f"dataset {dataset.name!r} is text: name the tokens to keep out of the top "
            "with protected_tokens='identity' (or a category, or a list of words)"
        )
    if dataset is None or dataset.kind != "text" or proxies is not None:
        raise GateError(
            "protected_tokens= applies to text datasets (Dataset.from_texts) and replaces "
            "proxies=; for tabular data name protected features with proxies="
        )
    from pytest_modelguard.text.attribution import token_gate

    return token_gate(
        model,
        dataset,
        protected_tokens=protected_tokens,
        protected_not_in_top_k=protected_not_in_top_k,
        max_protected_share=max_protected_share,
        min_stability=min_stability,
        method=method,
        steps=steps,
        samples=samples,
        seed=seed,
    )


def _reject_tabular_only(**keywords: Any) -> None:
    """Token attributions shuffle no features and draw no Hypothesis examples: a text gate
    given ``repeats=`` or ``examples=`` would ignore it (defaults read from the signature)."""
    given = given_keywords(keywords, requirements()["explainability"].defaults())
    if given:
        names = " and ".join(f"{name}=" for name in given)
        raise GateError(
            f"{names} {'does' if len(given) == 1 else 'do'} not apply to a text model's token "
            "attributions (they apply to tabular and image permutation attributions and "
            "stability): remove it"
        )


def _check_options(
    name: str,
    threshold: float,
    protected_not_in_top_k: Any,
    dataset: Dataset,
    proxies: list[str] | None,
    *,
    method: str | None,
    steps: int,
    samples: int,
    repeats: int,
) -> None:
    """Keywords that cannot apply to this gate or this dataset are errors before any work."""
    _check_threshold(name, threshold, protected_not_in_top_k)
    _check_count("steps", steps)
    _check_count("samples", samples)
    _check_count("repeats", repeats)
    if method is not None and method not in METHODS:
        raise GateError(f"method={method!r}: use one of {', '.join(METHODS)} (or None for auto)")
    if dataset.kind == "text":
        raise GateError(
            f"dataset {dataset.name!r} is text: attributions need numeric features (tabular "
            "or image); gate a text model with @robust(perturbation=...) instead"
        )
    if dataset.kind == "image" and name != "min_stability":
        raise GateError(
            f"{name}= gates named features, but dataset {dataset.name!r} holds images whose "
            "features are pixels: protected gates do not apply to images; use min_stability="
        )
    if proxies is not None and name == "min_stability":
        raise GateError(
            "proxies= names features for protected_not_in_top_k= or max_protected_share=; "
            "drop it from a min_stability= gate"
        )


def _method_for(adapter: Adapter, method: str | None) -> tuple[str, Any]:
    """The attribution method (integrated gradients where the model has gradients) and the
    differentiable function it needs (None for permutation)."""
    fn = attribution.differentiable(adapter)
    method = method or ("integrated_gradients" if fn is not None else "permutation")
    if method == "integrated_gradients" and fn is None:
        raise GateError(
            f"method='integrated_gradients' needs gradients, and a {adapter.name} has none "
            "here (Keras and TensorFlow models do); use method='permutation'"
        )
    return method, fn


def _nothing_to_measure(dataset: Dataset, proxies: list[str] | None) -> NoReturn:
    raise GateError(
        "nothing to measure: the model takes no protected attribute as an input (none of "
        f"the dataset's sensitive columns {list(dataset.sensitive)} is among its features"
        + (", and no proxies= were named" if not proxies else "")
        + "), so no protected feature can rank high and the gate would pass by "
        "construction. Name the features that stand in for a protected attribute with "
        "proxies=[...], or pass the attribute as a feature (how much it leaks through "
        "other features is what @fairness gates measure)"
    )


# -- attributions on the sample ---------------------------------------------------------------


class _Explainer:
    """Attributions of one seeded sample of rows, and how to recompute them on changed rows."""

    def __init__(
        self,
        adapter: Adapter,
        dataset: Dataset,
        method: str,
        fn: attribution.Differentiable | None,
        *,
        steps: int,
        samples: int,
        repeats: int,
        seed: int,
    ) -> None:
        self.adapter, self.dataset, self.method = adapter, dataset, method
        self.fn, self.steps, self.seed, self.repeats = fn, steps, seed, repeats
        clean = adapter.outputs(dataset)  # the cached pass every gate shares
        rng = np.random.default_rng(seed)
        n = len(dataset)
        self.rows = rng.choice(n, size=min(samples, n), replace=False)
        self.sample = Dataset(
            take(dataset.features, self.rows),
            dataset.target[self.rows],
            feature_names=dataset.feature_names,
            kind=dataset.kind,
            name=f"{dataset.name} (sample)",
        )
        output = ModelOutput(array=clean.array[self.rows], kind=clean.kind, classes=clean.classes)
        self.output_kind = clean.kind
        self.columns = attribution.output_columns(output)
        self.evidence: dict[str, Any] = {
            "method": method,
            "samples": len(self.rows),
            "attributed": _attributed(output, method),
        }
        if method == "integrated_gradients":
            self._gradients(output)
        else:
            self._permutation(output, rng)
        if not np.any(self.importance > 0):
            raise GateError(
                f"no feature changes the model's output on the {len(self.rows)} sampled rows "
                f"(every {method} importance is <= 0): a constant model cannot be explained; "
                "check the model, or raise samples="
            )

    def _gradients(self, output: ModelOutput) -> None:
        assert self.fn is not None
        x = self.adapter.prepare(self.sample)
        if self.dataset.kind == "image":
            self.baseline, described = np.zeros(x.shape[1:], np.float32), "zeros"
        else:
            self.baseline = self.adapter.prepare(self.dataset).mean(axis=0)
            described = "feature means of the dataset"
        result = self._integrate(x, self.columns)
        base = self.fn.outputs(self.baseline[None])[0]
        base = base[self.columns] if self.columns is not None else base[0]
        delta = attribution.row_scores(output, self.columns) - base
        gap = np.abs(result.attributions.reshape(len(x), -1).sum(axis=1) - delta)
        completeness = float(gap.max() / max(float(np.abs(delta).mean()), 1e-12))
        self.per_row = attribution.per_feature(result.attributions)
        self.contributions = self.per_row  # importance is their mean over rows
        self.importance = self.per_row.mean(axis=0)
        self.evidence.update(
            reference_input=described,  # not "baseline": that key is the baseline comparison
            steps=self.steps,
            completeness=completeness,
            completeness_tolerance=COMPLETENESS_TOLERANCE,
            passes={"gradient": result.passes, "forward": 1},
        )
        if not completeness <= COMPLETENESS_TOLERANCE:
            raise GateError(
                f"integrated gradients with steps={self.steps} do not add up: on some row "
                "sum(attributions) misses f(x) - f(baseline) by "
                f"{completeness:.1%} of the mean |f(x) - f(baseline)| (at most "
                f"{COMPLETENESS_TOLERANCE:.0%} allowed); raise steps= (e.g. "
                f"steps={self.steps * 4}) or use method='permutation'"
            )

    def _integrate(self, x: np.ndarray, columns: np.ndarray | None) -> attribution.Gradients:
        assert self.fn is not None
        return attribution.integrated_gradients(
            self.fn,
            x,
            self.baseline,
            columns,
            steps=self.steps,
            batch_size=self.adapter.batch_size,
        )

    def _permutation(self, output: ModelOutput, rng: np.random.Generator) -> None:
        width = attribution.n_features(self.sample.features)
        n = len(self.rows)
        orders = np.stack(
            [np.stack([rng.permutation(n) for _ in range(width)]) for _ in range(self.repeats)]
        )
        self.orders = orders[0]  # the per-row attributions (stability) use the first repeat
        result = attribution.permutation_importance(
            self.adapter, self.sample, output, orders, self.columns
        )
        self.per_row, self.importance = result.changes, result.importance
        self.contributions = result.contributions
        self.evidence["repeats"] = self.repeats
        self.evidence["scoring"] = result.scoring
        self.evidence["passes"] = {"inference": result.passes, "clean": "cached"}

    def attribute(self, features: Any, window: np.ndarray) -> np.ndarray:
        """Per-row attribution magnitudes of changed sample rows ``window``: the same
        attributed score, baseline or donor values as the clean rows had."""
        rows = Dataset(
            features,
            self.sample.target[window],
            feature_names=self.dataset.feature_names,
            kind=self.dataset.kind,
            name=self.sample.name,
        )
        columns = None if self.columns is None else self.columns[window]
        if self.method == "integrated_gradients":
            x = self.adapter.prepare(rows)
            return attribution.per_feature(self._integrate(x, columns).attributions)
        replacements = [
            attribution.feature_column(self.sample.features, j)[order[window]]
            for j, order in enumerate(self.orders)
        ]
        return attribution.score_changes(self.adapter, rows, replacements, columns)


def _attributed(output: ModelOutput, method: str) -> str:
    if method == "permutation":
        loss = {"values": "mean squared error", "labels": "0/1 loss"}.get(output.kind, "log loss")
        return f"how much the {loss} rises when the feature is shuffled"
    score = {"probabilities": "probability", "logits": "logit"}.get(output.kind)
    if score and output.array.ndim == 2:
        return f"the {score} of the predicted class"
    if score:
        return f"the model's single output (the positive-class {score})"
    return "the model's output"


# -- gates ------------------------------------------------------------------------------------


def _protected_gate(
    name: str,
    threshold: float,
    names: list[str],
    protected: list[int],
    ranks: np.ndarray,
    shares: np.ndarray,
    dataset: Dataset,
    explainer: _Explainer,
    evidence: dict[str, Any],
) -> tuple[Verdict, str | None]:
    listed = ", ".join(names[j] for j in protected)
    importance = (
        f"permutation importance ({explainer.evidence['scoring']}, {explainer.repeats} repeats)"
        if explainer.method == "permutation"
        else "mean |integrated gradients| attribution"
    )
    n = len(explainer.rows)
    contributions = explainer.contributions
    if name == "protected_not_in_top_k":
        k = int(threshold)
        bounds = _rank_bounds(contributions, protected)
        evidence["k"] = k
        evidence["rank_interval"] = {
            names[j]: list(bounds[j]) for j in protected
        }  # ranks possible at 95 % over the sampled rows
        inside = [j for j in protected if bounds[j][1] <= k]  # surely among the top k
        unsure = [j for j in protected if bounds[j][0] <= k < bounds[j][1]]
        if unsure and not inside:
            shown = ", ".join(f"{names[j]} ranks {bounds[j][0]}-{bounds[j][1]}" for j in unsure[:3])
            raise GateError(
                f"ranking unstable at this n: with {n} sampled rows {shown} of {len(names)} "
                f"at {RANKING_CONFIDENCE:.0%} confidence, so whether it is among the {k} "
                f"most important features is noise; raise samples= (now {n}) to decide"
            )
        if inside:
            best = min(inside, key=lambda j: ranks[j])
            evidence["worst"] = f"{names[best]} at rank {int(ranks[best])} of {len(names)}"
        verdict = decide(
            requirement="explainability",
            metric="protected_in_top_k",
            values=np.array([len(inside)]),
            operator="<=",
            threshold=0.0,
            n=n,
            formula=(
                f"protected features ({listed}) surely among the {k} most important by "
                f"{importance}, at {RANKING_CONFIDENCE:.0%} over the sampled rows"
            ),
            evidence=evidence,
        )
        return verdict, None
    share = float(shares[protected].sum())
    low, high = _share_interval(contributions, protected, explainer.seed)
    verdict = share_verdict(
        share, low, high, threshold=threshold, n=n, sampled="rows", resamples=SHARE_RESAMPLES,
        confidence=RANKING_CONFIDENCE, evidence=evidence,
        formula=f"sum of {importance} over protected features ({listed}) / sum over all",
    )  # fmt: skip
    return verdict, None


def _rank_bounds(contributions: np.ndarray, protected: list[int]) -> dict[int, tuple[int, int]]:
    """The ranks each protected feature can hold given the noise of the sampled rows.

    Feature ``q`` surely outranks ``p`` when the paired mean of their per-row contributions
    differs by more than ``RANKING_Z`` standard errors (rows are shared, so the
    comparison is paired); ``p``'s rank lies between 1 + the features that surely outrank
    it and 1 + those that may.
    """
    n = len(contributions)
    bounds = {}
    for p in protected:
        difference = contributions - contributions[:, [p]]  # (rows, features): q minus p
        mean = difference.mean(axis=0)
        se = difference.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
        others = np.arange(contributions.shape[1]) != p
        surely = int(np.sum((mean - RANKING_Z * se > 0) & others))
        maybe = int(np.sum((mean + RANKING_Z * se > 0) & others))
        bounds[p] = (1 + surely, 1 + maybe)
    return bounds


def _share_interval(
    contributions: np.ndarray, protected: list[int], seed: int
) -> tuple[float, float]:
    """Percentile interval of the protected share from a Poisson bootstrap of the rows."""
    rng = np.random.default_rng([seed, 2])
    weights = rng.poisson(1.0, size=(SHARE_RESAMPLES, len(contributions))).astype(np.float64)
    importance = np.clip(
        np.einsum("rn,nf->rf", weights, contributions) / weights.sum(axis=1, keepdims=True),
        0.0,
        None,
    )
    total = importance.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = importance[:, protected].sum(axis=1) / total
    tail = (1.0 - RANKING_CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(shares, [tail, 100 - tail])
    return float(low), float(high)


class _StabilityProbe:
    """Perturbs one window of sampled rows and re-attributes it in one batched pass."""

    rate_key = "instability"

    def __init__(self, explainer: _Explainer, context: Any, min_stability: float) -> None:
        self.explainer, self.context = explainer, context
        self.threshold = 1.0 - min_stability
        self.size = min(len(explainer.rows), STABILITY_ROWS)
        self.windows = len(explainer.rows) // self.size
        self.outcomes: list[dict[str, Any]] = []

    def __call__(self, perturbation: Any, window: int) -> dict[str, Any]:
        explainer = self.explainer
        index = np.arange(window * self.size, (window + 1) * self.size)
        original = take(explainer.sample.features, index)
        perturbed = perturbation.apply(original, context=self.context)
        after = explainer.attribute(perturbed, index)
        rho = attribution.spearman_rows(explainer.per_row[index], after)
        least = np.argsort(rho, kind="stable")[:SHOWN_ROWS]
        stability = float(rho.mean())
        outcome = {
            **perturbation.describe(),
            "window": int(window),
            "rows_in_example": len(index),
            "inputs_changed": rows_changed(original, perturbed),
            "stability": stability,
            "instability": 1.0 - stability,
            "least_stable_rows": [int(explainer.rows[index[i]]) for i in least],
            "spearman": [round(float(rho[i]), 4) for i in least],
        }
        self.outcomes.append(outcome)
        return outcome


def _stability(
    explainer: _Explainer,
    min_stability: float,
    examples: int,
    profile: Profile,
    evidence: dict[str, Any],
) -> tuple[Verdict, dict[str, Any] | None]:
    dataset = explainer.dataset
    if explainer.output_kind == "labels":
        raise GateError(
            f"the model {explainer.adapter.name} returns only labels, so a row's attributions "
            "are 0/1 flips whose ranking cannot be compared; give a model that returns "
            "scores (predict_proba, probabilities or logits)"
        )
    flat = float(np.mean(np.ptp(explainer.per_row, axis=1) == 0))
    if flat > 0.5:
        raise GateError(
            f"the attributions of {flat:.0%} of the sampled rows are all equal, so their "
            "ranking cannot be compared; raise samples= or check that the model uses its "
            "inputs on these rows"
        )
    family, eps = STABILITY_PERTURBATION[dataset.kind]
    if dataset.kind == "image":
        context: Any = image_bounds(dataset.features, dataset.bounds)
    else:
        context = tabular_columns(dataset.features, dataset.feature_names, dataset.bounds, [])
    probe = _StabilityProbe(explainer, context, min_stability)

    from pytest_modelguard.checks.robustness import strategies

    drawn = strategies.perturbations(family, eps)
    found, search = run_search(
        probe, drawn, examples=examples, seed=explainer.seed, profile=profile
    )
    worst = 1.0 - search.pop("worst_instability")
    search["worst_stability"] = worst
    search["mean_stability"] = float(np.mean([o["stability"] for o in probe.outcomes]))
    evidence.update(perturbation={"family": family, "eps": eps}, rows_per_example=probe.size)
    evidence["search"] = search
    verdict = decide(
        requirement="explainability",
        metric="stability",
        values=np.array([worst]),
        operator=">=",
        threshold=min_stability,
        n=probe.size,
        formula=(
            f"min over {search['examples_evaluated']} Hypothesis examples of the mean over "
            f"{probe.size} rows of Spearman(|attribution(x)|, |attribution({family}(x), "
            f"eps <= {eps:g})|)"
        ),
        evidence=evidence,
    )
    return verdict, found


# -- validation and names ---------------------------------------------------------------------


def _check_threshold(name: str, value: float, k: Any) -> None:
    if name == "protected_not_in_top_k":
        require_count(
            "protected_not_in_top_k",
            k,
            what="k (protected features must rank below the k most important), "
            "e.g. protected_not_in_top_k=3",
        )
    elif name == "max_protected_share":
        check_threshold(name, value, operator="<=", within=UNIT, what="a share of importance")
    elif name == "min_stability":
        check_threshold(name, value, operator=">=", within=(-1.0, 1.0), what="a Spearman mean")
    if name == "min_stability" and not 0.0 < value <= 1.0:
        raise GateError(
            f"min_stability={value!r}: a mean Spearman correlation; give 0 < min_stability "
            "<= 1 (e.g. 0.8)"
        )


def _check_count(name: str, value: Any) -> None:
    require_count(name, value)


def _feature_names(dataset: Dataset) -> list[str]:
    features = dataset.features
    if dataset.kind == "image":
        shape = np.shape(features)
        if len(shape) not in (3, 4):
            raise GateError(
                f"image attributions need features of shape (N, H, W) or (N, H, W, C); "
                f"dataset {dataset.name!r} has shape {shape}"
            )
        return [f"pixel[{r},{c}]" for r in range(shape[1]) for c in range(shape[2])]
    return feature_names_of(features, dataset.feature_names)


def _protected(dataset: Dataset, names: list[str], proxies: list[str] | None) -> list[int]:
    """Indices of features that are sensitive columns of the dataset, or named proxies."""
    if dataset.kind == "image":
        return []
    if proxies is not None and (
        isinstance(proxies, str) or not all(isinstance(p, str) for p in proxies)
    ):
        raise GateError(f"proxies={proxies!r}: give a list of feature names, e.g. ['zip_code']")
    unknown = [p for p in proxies or [] if p not in names]
    if unknown:
        raise GateError(
            f"proxies= names {unknown}, which are not features of the model; the features "
            f"are {', '.join(names[:30])}"
        )
    wanted = set(dataset.sensitive) | set(proxies or [])
    return [j for j, name in enumerate(names) if name in wanted]


def _ranking(
    names: list[str],
    importance: np.ndarray,
    shares: np.ndarray,
    ranks: np.ndarray,
    protected: list[int],
    kind: str,
) -> list[dict[str, Any]]:
    order = np.argsort(-importance, kind="stable")
    if kind == "image":
        order = order[:RANKED_PIXELS]
    chosen = set(protected)
    return [
        {
            "feature": names[j],
            "importance": float(importance[j]),
            "share": float(shares[j]),
            "rank": int(ranks[j]),
            "protected": j in chosen,
        }
        for j in order
    ]
