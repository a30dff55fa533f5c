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
from typing import Any

import numpy as np

from pytest_modelguard import attribution
from pytest_modelguard.adapters import Adapter, ModelOutput, adapt
from pytest_modelguard.checks._gate import decide, one_threshold
from pytest_modelguard.checks.perturbation import (
    examples_for,
    feature_names_of,
    image_bounds,
    run_search,
    tabular_columns,
    take,
)
from pytest_modelguard.dataset import Dataset, Predictions
from pytest_modelguard.profiles import PROFILES, Profile
from pytest_modelguard.verdict import GateError, Verdict

METHODS = ("integrated_gradients", "permutation")
#: integrated gradients must add up to f(x) - f(baseline) within this share of mean |f(x) - f(b)|
COMPLETENESS_TOLERANCE = 0.05
#: the small perturbations ``min_stability`` searches: (family, eps) per dataset kind
STABILITY_PERTURBATION = {"tabular": ("feature_jitter", 0.05), "image": ("gaussian_noise", 0.02)}
STABILITY_ROWS = 64  # rows one Hypothesis example perturbs and re-attributes, batched
RANKED_PIXELS = 20  # an image ranking lists the most important pixels only
SHOWN_ROWS = 5


def explainability(
    model: Any,
    dataset: Dataset,
    *,
    method: str | None = None,
    protected_not_in_top_k: int | None = None,
    proxies: list[str] | None = None,
    max_protected_share: float | None = None,
    min_stability: float | None = None,
    steps: int = 32,
    samples: int = 200,
    examples: int | None = None,
    protected_tokens: Any = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate the attributions of ``model`` on a seeded sample of ``samples`` rows.

    ``method`` is ``integrated_gradients`` (``steps`` midpoint steps from the feature means,
    zeros for images) or ``permutation``; by default integrated gradients when the model
    has gradients, else permutation. Exactly one threshold: ``protected_not_in_top_k=k``
    (no sensitive column of the dataset that is also a feature, nor any of ``proxies``,
    ranks among the k most important features), ``max_protected_share=`` (their share of
    the total importance) or ``min_stability=`` (worst mean Spearman correlation of a row's
    attribution ranking under ``examples`` Hypothesis perturbations).

    Text models: ``protected_tokens=`` (``"identity"``, a lexicon category or words) with
    ``protected_not_in_top_k=`` or ``max_protected_share=`` ranks token types by mean
    |attribution| (:mod:`pytest_modelguard.text.attribution`).
    """
    text_gate = min_stability is None and dataset is not None and dataset.kind == "text"
    if protected_tokens is not None or text_gate:
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
    started = time.perf_counter()
    name, threshold = one_threshold(
        "explainability",
        {
            "protected_not_in_top_k": protected_not_in_top_k,
            "max_protected_share": max_protected_share,
            "min_stability": min_stability,
        },
    )
    _check_threshold(name, threshold, protected_not_in_top_k)
    _check_count("steps", steps)
    _check_count("samples", samples)
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
    profile = profile or PROFILES["ci"]
    examples = examples_for(examples, profile) if name == "min_stability" else 0

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
    fn = attribution.differentiable(adapter)
    method = method or ("integrated_gradients" if fn is not None else "permutation")
    if method == "integrated_gradients" and fn is None:
        raise GateError(
            f"method='integrated_gradients' needs gradients, and a {adapter.name} has none "
            "here (Keras and TensorFlow models do); use method='permutation'"
        )

    explainer = _Explainer(adapter, dataset, method, fn, steps=steps, samples=samples, seed=seed)
    importance = explainer.importance
    ranks = 1 + (importance[None, :] > importance[:, None]).sum(axis=1)  # ties: best rank
    shares = np.clip(importance, 0.0, None) / np.clip(importance, 0.0, None).sum()
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
        seed: int,
    ) -> None:
        self.adapter, self.dataset, self.method = adapter, dataset, method
        self.fn, self.steps, self.seed = fn, steps, seed
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
        self.orders = np.stack([rng.permutation(len(self.rows)) for _ in range(width)])
        result = attribution.permutation_importance(
            self.adapter, self.sample, output, self.orders, self.columns
        )
        self.per_row, self.importance = result.changes, result.importance
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
        loss = "mean squared error rises" if output.kind == "values" else "accuracy drops"
        return f"how much the {loss} when the feature is shuffled"
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
    listed = ", ".join(names[j] for j in protected) or "none among the features"
    note = None
    if not protected:
        note = (
            "the model does not take any protected attribute as an input: none of the "
            f"sensitive columns {list(dataset.sensitive)} is a feature"
            + (" and no proxies= were named" if not evidence["proxies"] else "")
            + ", so none can rank among its most important features (a pass by construction;"
            " name features that stand in for them with proxies=)"
        )
        evidence["note"] = note
    importance = (
        "permutation importance"
        if explainer.method == "permutation"
        else "mean |integrated gradients| attribution"
    )
    if name == "protected_not_in_top_k":
        k = int(threshold)
        inside = [j for j in protected if ranks[j] <= k]
        evidence["k"] = k
        if inside:
            best = min(inside, key=lambda j: ranks[j])
            evidence["worst"] = f"{names[best]} at rank {int(ranks[best])} of {len(names)}"
        verdict = decide(
            requirement="explainability",
            metric="protected_in_top_k",
            values=np.array([len(inside)]),
            operator="<=",
            threshold=0.0,
            n=len(explainer.rows),
            formula=f"protected features ({listed}) among the {k} most important by {importance}",
            evidence=evidence,
        )
        return verdict, note
    share = float(shares[protected].sum()) if protected else 0.0
    verdict = decide(
        requirement="explainability",
        metric="protected_share",
        values=np.array([share]),
        operator="<=",
        threshold=threshold,
        n=len(explainer.rows),
        formula=f"sum of {importance} over protected features ({listed}) / sum over all",
        evidence=evidence,
    )
    return verdict, note


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
        perturbed = perturbation.apply(take(explainer.sample.features, index), context=self.context)
        after = explainer.attribute(perturbed, index)
        rho = attribution.spearman_rows(explainer.per_row[index], after)
        least = np.argsort(rho, kind="stable")[:SHOWN_ROWS]
        stability = float(rho.mean())
        outcome = {
            **perturbation.describe(),
            "window": int(window),
            "rows_in_example": len(index),
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

    from pytest_modelguard import strategies

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
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise GateError(
                f"protected_not_in_top_k={k!r}: give a positive integer k (protected features "
                "must rank below the k most important), e.g. protected_not_in_top_k=3"
            )
    elif name == "max_protected_share" and not 0.0 <= value < 1.0:
        raise GateError(
            f"max_protected_share={value!r}: a share lies in [0, 1], so give 0 <= "
            "max_protected_share < 1 (e.g. 0.05)"
        )
    elif name == "min_stability" and not 0.0 < value <= 1.0:
        raise GateError(
            f"min_stability={value!r}: a mean Spearman correlation; give 0 < min_stability "
            "<= 1 (e.g. 0.8)"
        )


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GateError(f"{name}={value!r}: give a positive integer")


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
