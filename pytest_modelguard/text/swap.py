"""Identity-swap counterfactual fairness of a text classifier (after Garg et al. 2019).

Each text that mentions a group (a name, a gendered word, a religion ...) is rewritten
into every other chosen group, and all variants of all texts are scored in one batched
pass. The gate bounds the mean absolute score gap of the worst pair of groups (with a bootstrap
interval over texts); the flip rate (texts whose decision changes with the group alone)
is reported beside it. On a failure Hypothesis searches texts and subsets of their
identity terms and shrinks to a minimal counterexample: the shortest text, fewest swaps.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, ModelOutput, adapt
from pytest_modelguard.checks._gate import check_confidence, decide, interval, one_threshold
from pytest_modelguard.core import stats
from pytest_modelguard.core.dataset import Dataset, Predictions
from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.verdict import Counterexample, GateError, Verdict, require_count
from pytest_modelguard.text.lexicons import Scan, Swapper, resolve_groups, template_texts

METRIC = "identity_swap_gap"
TEXTS_PER_EXAMPLE = 16  # texts one Hypothesis example swaps and scores in one model call
#: total variation between groups' label distributions taken to mean "label by construction"
LABEL_SHIFT = 0.5
MIN_TEXTS_FOR_LABEL_CHECK = 10


def identity_swap(
    model: Any,
    dataset: Dataset | None,
    *,
    groups: Any,
    max_gap: float | None,
    lexicon: dict[str, Any] | None = None,
    exclude_terms: list[str] | None = None,
    templates: bool | None = None,
    pos_label: Any = None,
    decision_threshold: float = 0.5,
    confidence: float | None = None,
    n_resamples: int = 10_000,
    examples: int | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Gate the mean score change when a text's identity terms move to another group.

    ``groups`` names two or more groups of one category (or the category); ``lexicon=``
    adds groups ``{name: [terms]}``; ``exclude_terms=`` leaves words alone (say, gendered
    words that decide the label). With no dataset, or ``templates=True``, EEC-style
    template sentences are scored. The score is the probability of ``pos_label`` (the
    positive class of a binary model by default).
    """
    started = time.perf_counter()
    threshold = _check_options(max_gap, confidence, n_resamples, examples)
    chosen, category = resolve_groups(groups, lexicon)
    excluded = frozenset(t.lower() for t in exclude_terms or [])
    swapper = Swapper(chosen, excluded)
    texts, target, source = _texts(dataset, chosen, category, templates)
    adapter = adapt(model)
    if isinstance(adapter.model, Predictions):
        raise GateError(
            "identity swaps score rewritten texts, which stored Predictions cannot do: gate "
            "the model itself"
        )
    scan = swapper.scan(texts)
    rows = scan.rows
    if not len(rows):
        raise GateError(
            f"none of the {len(texts)} texts of {source} mentions a term of {swapper.names}, "
            "so nothing was swapped and the gate measured nothing (that is no evidence of "
            "fairness): use texts that mention these groups, templates=True, or add terms "
            "with lexicon="
        )
    evidence: dict[str, Any] = {
        "model": adapter.name,
        "texts": source,
        "groups": swapper.names,
        "category": category,
        "n_texts": len(texts),
        "n_swapped_texts": len(rows),
        "excluded_terms": sorted(excluded),
    }
    if target is not None:
        _label_by_construction(scan, target, swapper.names, evidence)
    scorer = _Scorer(adapter, pos_label, decision_threshold)
    measured = _measure(swapper, scan, rows, scorer, evidence)
    verdict = _decide(measured, threshold, evidence, confidence, n_resamples, seed)
    if verdict.status == "fail":
        search = _Search(swapper, scorer, texts, threshold, seed=seed, profile=profile)
        counterexample, evidence["search"] = search.run(rows, measured.per_text, examples=examples)
        verdict.counterexample = counterexample or None
        verdict.message = verdict.describe()
    verdict.duration = time.perf_counter() - started
    return verdict


def _check_options(
    max_gap: float | None, confidence: float | None, n_resamples: int, examples: int | None
) -> float:
    _, threshold = one_threshold("fairness", {"max_gap": max_gap})
    if not 0.0 <= threshold < 1.0:
        raise GateError(f"max_gap={max_gap!r}: a score gap lies in [0, 1]; use 0 <= max_gap < 1")
    check_confidence(confidence, n_resamples)
    if examples is not None:
        require_count("examples", examples, what="(Hypothesis examples)")
    return threshold


def _texts(
    dataset: Dataset | None, chosen: list[Any], category: str, templates: bool | None
) -> tuple[list[str], np.ndarray | None, str]:
    """The texts to swap (the dataset's, or template sentences), their labels, their source."""
    if dataset is None if templates is None else bool(templates):
        texts = template_texts(chosen, category)
        return texts, None, f"{len(texts)} EEC-style template sentences"
    if dataset is None:
        raise GateError("templates=False needs a text dataset: give one or drop templates=")
    if dataset.is_streaming or dataset.kind != "text":
        raise GateError(
            f"identity swaps rewrite texts, but dataset {dataset.name!r} is "
            f"{'a stream' if dataset.is_streaming else dataset.kind}: build it with "
            "Dataset.from_texts(texts, target) (or templates=True to use template texts)"
        )
    return list(dataset.features), dataset.target, f"dataset {dataset.name!r}"


@dataclass
class _Measured:
    """The per-text score differences between groups, and what the verdict reports."""

    names: list[str]
    differences: np.ndarray  # (texts, pairs): score(text as b) - score(text as a)
    gaps: np.ndarray  # (pairs,): mean |difference|
    labels: list[str]  # "a vs b" per pair

    @property
    def per_text(self) -> np.ndarray:
        return np.abs(self.differences).max(axis=1)


def _measure(
    swapper: Swapper, scan: Scan, rows: np.ndarray, scorer: _Scorer, evidence: dict[str, Any]
) -> _Measured:
    """Every swapped variant of every text scored in one batched pass, and the gaps."""
    names = swapper.names
    variants = [swapper.swap_all(scan, h) for h in range(len(names))]
    batch = [variants[h][i] for i in rows.tolist() for h in range(len(names))]
    scores, decisions = scorer(batch)
    scores = scores.reshape(len(rows), len(names))
    decisions = decisions.reshape(len(rows), len(names))
    evidence["score"] = scorer.described
    evidence["variants_scored"] = int(scores.size)
    pairs = list(itertools.combinations(range(len(names)), 2))
    labels = [f"{names[a]} vs {names[b]}" for a, b in pairs]
    differences = np.stack([scores[:, b] - scores[:, a] for a, b in pairs], axis=1)
    # the mean absolute gap (Garg et al.'s counterfactual token fairness gap): a signed mean
    # lets a name scored up and another scored down cancel to 0
    gaps = np.abs(differences).mean(axis=0)
    flipped = (decisions != decisions[:, :1]).any(axis=1)
    evidence["mean_score"] = {g: float(scores[:, h].mean()) for h, g in enumerate(names)}
    evidence["flip_rate"] = float(flipped.mean())
    evidence["flipped_texts"] = int(flipped.sum())
    evidence["pairs"] = {
        label: {"gap": float(gaps[p]), "signed_gap": float(differences[:, p].mean())}
        for p, label in enumerate(labels)
    }
    worst = int(np.argmax(np.abs(differences).max(axis=1)))
    evidence["largest_text_gap"] = {
        "text": scan.texts[rows[worst]],
        "scores": {g: float(scores[worst, h]) for h, g in enumerate(names)},
    }
    return _Measured(names, differences, gaps, labels)


def _decide(
    measured: _Measured,
    threshold: float,
    evidence: dict[str, Any],
    confidence: float | None,
    n_resamples: int,
    seed: int,
) -> Verdict:
    """The verdict on the worst pair's gap (its bootstrap upper bound with ``confidence``)."""
    low = high = None
    absolute = np.abs(measured.differences)
    if confidence is not None:

        def statistic(weights: np.ndarray) -> np.ndarray:
            return weights @ absolute / weights.sum(axis=1, keepdims=True)

        low, high = interval(
            np.ones(len(absolute)),
            statistic,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
            metric=METRIC,
            evidence=evidence,
        )
        evidence["interval"] = "percentile, Poisson bootstrap over the swapped texts"
        for p, label in enumerate(measured.labels):
            evidence["pairs"][label]["ci"] = [float(low[p]), float(high[p])]
    return decide(
        requirement="fairness",
        metric=METRIC,
        values=measured.gaps,
        operator="<=",
        threshold=threshold,
        n=len(absolute),
        formula="max over group pairs mean_texts |score(text as b) - score(text as a)|",
        evidence=evidence,
        labels=measured.labels,
        confidence=confidence,
        low=low,
        high=high,
    )


class _Scorer:
    """Scores and decisions for a list of texts, in the adapter's batches (not cached)."""

    def __init__(self, adapter: Adapter, pos_label: Any, threshold: float) -> None:
        self.adapter, self.pos_label, self.threshold = adapter, pos_label, threshold
        self.described = ""
        self.calls = 0

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        positions: dict[str, int] = {}
        inverse = np.array([positions.setdefault(t, len(positions)) for t in texts])
        unique = list(positions)  # each distinct text scored once
        batch = Dataset.from_texts(unique, np.zeros(len(unique), dtype=int), name="swaps")
        output = self.adapter.predict(batch)
        self.calls += 1
        scores, decisions = self._read(output)
        return scores[inverse], decisions[inverse]

    def _read(self, output: ModelOutput) -> tuple[np.ndarray, np.ndarray]:
        array = output.array
        if output.kind == "values":
            raise GateError(
                f"identity swaps compare class scores, but the model {self.adapter.name} "
                "returns regression values"
            )
        if output.kind == "labels":
            if self.pos_label is None:
                raise GateError(
                    f"the model {self.adapter.name} returns labels: say which label counts "
                    "with pos_label= (the score is then 1 for it, 0 otherwise)"
                )
            self.described = f"1 if label == {self.pos_label!r}"
            return (array == self.pos_label).astype(float), array
        if array.ndim == 1:
            p = 1 / (1 + np.exp(-array)) if output.kind == "logits" else array.astype(float)
            probabilities = np.column_stack([1 - p, p])
        else:
            scores = array.astype(float)
            if output.kind == "logits":
                scores = np.exp(scores - scores.max(axis=1, keepdims=True))
                scores /= scores.sum(axis=1, keepdims=True)
            probabilities = scores
        classes = (
            np.asarray(output.classes)
            if output.classes is not None
            else np.arange(probabilities.shape[1])
        )
        if self.pos_label is None:
            if probabilities.shape[1] != 2:
                raise GateError(
                    f"the model scores {probabilities.shape[1]} classes: name the class whose "
                    f"probability is compared with pos_label= (one of {classes.tolist()})"
                )
            column = 1
        else:
            matches = np.flatnonzero(classes == self.pos_label)
            if not len(matches):
                raise GateError(
                    f"pos_label={self.pos_label!r} is not a class of the model "
                    f"({classes.tolist()}); give a class index or label"
                )
            column = int(matches[0])
        self.described = f"P(class {classes[column]!s})"
        if probabilities.shape[1] == 2:
            decisions = (probabilities[:, 1] >= self.threshold).astype(int)
        else:
            decisions = probabilities.argmax(axis=1)
        return probabilities[:, column], decisions


def _label_by_construction(
    scan: Scan, target: np.ndarray, names: list[str], evidence: dict[str, Any]
) -> None:
    """Warn when the label follows the group (swaps would then change the truth)."""
    # the texts whose terms all belong to one group, by group
    codes = np.unique(scan.text_of * len(names) + np.asarray(scan.groups, dtype=np.int64))
    texts, counts = np.unique(codes // len(names), return_counts=True)
    single = np.isin(codes // len(names), texts[counts == 1])
    owners, members = codes[single] % len(names), codes[single] // len(names)
    pure = {int(g): members[owners == g] for g in np.unique(owners)}
    big = {g: idx for g, idx in pure.items() if len(idx) >= MIN_TEXTS_FOR_LABEL_CHECK}
    if len(big) < 2:
        return
    shown = np.asarray(target).astype(str)
    labels = np.unique(shown[np.concatenate(list(big.values()))])
    dists = {
        g: np.array([np.mean(shown[idx] == label) for label in labels]) for g, idx in big.items()
    }
    shift = max(
        0.5 * np.abs(dists[a] - dists[b]).sum() for a, b in itertools.combinations(dists, 2)
    )
    if shift >= LABEL_SHIFT:
        message = (
            f"the labels of texts that mention {' / '.join(names[g] for g in big)} differ "
            f"by a total variation of {shift:.2f}: the label may follow the group by "
            "construction, and then a swap changes the truth, not only the group; leave "
            "such words out with exclude_terms=[...]"
        )
        evidence["label_depends_on_group"] = float(shift)
        warnings.warn(message, UserWarning, stacklevel=3)


class _Search:
    """The shortest text and fewest swaps whose score moves by more than ``threshold``:
    Hypothesis draws texts, target groups and subsets of their identity terms, and shrinks."""

    def __init__(
        self,
        swapper: Swapper,
        scorer: _Scorer,
        texts: list[str],
        threshold: float,
        *,
        seed: int,
        profile: Profile | None,
    ) -> None:
        self.swapper, self.scorer, self.texts = swapper, scorer, texts
        self.threshold, self.seed = threshold, seed
        self.profile = profile or PROFILES["ci"]
        self.order: list[int] = []

    def run(
        self, rows: np.ndarray, per_text: np.ndarray, *, examples: int | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The counterexample (empty if none) and how the search went."""
        from hypothesis.errors import Flaky

        texts = self.texts
        self.order = sorted(rows.tolist(), key=lambda i: (len(texts[i]), i))
        large = [int(rows[k]) for k in np.flatnonzero(per_text > self.threshold)]
        examples = examples or self.profile.examples
        search: dict[str, Any] = {"examples": examples, "seed": self.seed}
        try:
            self._hypothesis(examples)()
        except Counterexample as gap:
            return gap.counterexample, {**search, "found_by": "hypothesis"}
        except Flaky:
            search["note"] = "the model's scores did not reproduce on a rerun of the same texts"
        # the exhaustive pass knows texts that move: the shortest stands in
        for i in sorted(large, key=lambda i: (len(texts[i]), i)):
            for h in range(len(self.swapper.names)):
                terms = len(self.swapper.find(texts[i]))
                found = self.probe([(self.order.index(i), h, [True] * terms)])
                if found is not None:
                    return found, {**search, "found_by": "exhaustive pass"}
        search["note"] = (
            "the mean gap exceeds max_gap, but no single text moves by more than max_gap: "
            "the gap is a small shift spread over many texts"
        )
        return {}, search

    def _hypothesis(self, examples: int) -> Callable[[], None]:
        import hypothesis
        from hypothesis import Phase, given
        from hypothesis import strategies as st

        settings = self.profile.hypothesis_settings(
            max_examples=examples, phases=(Phase.generate, Phase.target, Phase.shrink)
        )
        groups, order, texts, swapper = (
            len(self.swapper.names),
            self.order,
            self.texts,
            self.swapper,
        )

        @st.composite
        def one(draw: Any) -> tuple[int, int, list[bool]]:
            k = draw(st.integers(0, len(order) - 1))
            h = draw(st.integers(0, groups - 1))
            terms = len(swapper.find(texts[order[k]]))
            return k, h, draw(st.lists(st.booleans(), min_size=terms, max_size=terms))

        @hypothesis.seed(self.seed)
        @settings
        @given(st.lists(one(), min_size=1, max_size=TEXTS_PER_EXAMPLE))
        def score_does_not_move(drawn: list[tuple[int, int, list[bool]]]) -> None:
            found = self.probe(drawn)
            if found is not None:
                raise Counterexample(found)

        return score_does_not_move

    def probe(self, drawn: list[tuple[int, int, list[bool]]]) -> dict[str, Any] | None:
        """Score the drawn texts and their swaps in one call; the first that moves too far."""
        import hypothesis

        batch, meta = [], []
        for k, h, mask in drawn:
            text = self.texts[self.order[k]]
            swapped, changed = self.swapper.swap(text, h, mask=mask)
            if changed:
                batch += [text, swapped]
                meta.append((text, swapped, h, changed))
        if not batch:
            return None
        scores, decisions = self.scorer(batch)
        gaps = np.abs(scores[1::2] - scores[0::2])
        hypothesis.target(float(gaps.max()))
        over = np.flatnonzero(gaps > self.threshold)
        if not len(over):
            return None
        j = int(over[0])
        text, swapped, h, changed = meta[j]
        return {
            "text": text,
            "swapped": swapped,
            "to_group": self.swapper.names[h],
            "swaps": int(changed),
            "score": float(scores[2 * j]),
            "swapped_score": float(scores[2 * j + 1]),
            "gap": float(gaps[j]),
            "decision": _plain(decisions[2 * j]),
            "swapped_decision": _plain(decisions[2 * j + 1]),
        }


def _plain(value: Any) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


__all__ = ["METRIC", "identity_swap", "stats"]
