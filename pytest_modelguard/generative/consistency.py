"""Counterfactual consistency and prompt robustness: answers that should not change.

- ``@fairness(counterfactual=..., on="outputs", max_gap=...)``: each prompt that names a
  group term is rewritten with the aligned term of every other group; the gap between
  the two answers is ``1 - cosine similarity`` under the pinned encoder, or, with a
  ``scorer`` (sentiment, toxicity: ``list[str] -> scores``), the absolute score
  difference. The gate is the mean gap with a bootstrap interval and the most different
  pair.
- ``@robust(perturbation="typo", on="prompts", min_similarity=...)``: the text
  robustness families (``typo``, ``case``, ``whitespace``, ``punctuation``,
  ``swap_identity``; :mod:`pytest_modelguard.checks.robustness.strategies`) applied to
  each prompt, seeded;
  the gate is the mean similarity of the answers to the clean and the perturbed prompt
  over the prompts the perturbation changed. Hypothesis then searches the worst prompt's
  perturbations and shrinks them to the smallest that still changes the answer.

The encoder is any object with ``encode(list[str]) -> (n, d) array`` (a fixture the marker
names with ``encoder=``); the text issue's pinned MiniLM ``Encoder`` is one.
"""

from __future__ import annotations

import time
from typing import Any

from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.seeding import derive_seed
from pytest_modelguard.core.verdict import Counterexample, GateError, Verdict
from pytest_modelguard.generative.common import confidence_level, prompt_list, reproducibility
from pytest_modelguard.generative.subject import require_generator

N_RESAMPLES = 2000


# -- the encoder -------------------------------------------------------------------------


def embed(encoder: Any, texts: list[str]) -> Any:
    """Unit-norm embeddings of ``texts``; a wrong encoder is an ERROR saying what it returned."""
    import numpy as np

    if encoder is None or not callable(getattr(encoder, "encode", None)):
        raise GateError(
            "this gate compares answers under an embedding model: name a fixture returning "
            "an encoder (an object with encode(list[str]) -> (n, d) array) with encoder='...'"
            f", got {type(encoder).__name__}"
        )
    vectors = np.asarray(encoder.encode(list(texts)), dtype=float)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise GateError(
            f"encoder.encode returned shape {vectors.shape} for {len(texts)} texts: return an "
            "(n, d) array, one row per text"
        )
    if not np.isfinite(vectors).all():
        raise GateError("encoder.encode returned NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def similarities(encoder: Any, left: list[str], right: list[str]) -> Any:
    import numpy as np

    vectors = embed(encoder, [*left, *right])
    a, b = vectors[: len(left)], vectors[len(left) :]
    same = np.array([x == y for x, y in zip(left, right, strict=True)])
    return np.where(same, 1.0, np.clip(np.sum(a * b, axis=1), -1.0, 1.0))


def _mean_interval(values: Any, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap of the mean over prompts (seeded)."""
    import numpy as np

    rng = np.random.default_rng(derive_seed(seed, "bootstrap") % 2**63)
    draws = rng.integers(0, len(values), size=(N_RESAMPLES, len(values)))
    means = np.asarray(values)[draws].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


# -- counterfactual consistency ----------------------------------------------------------


def swap_pairs(prompts: list[str], swapper: Any) -> list[tuple[str, str, str]]:
    """(original, counterfactual, swap) for every prompt naming a term of the groups, once
    per other group: every term is set to that group by the text gates' ``Swapper`` (each
    term by its role and position, case kept), so "She told her mother" becomes "He told
    his father", not one term at a time."""
    pairs = []
    for prompt in prompts:
        found = swapper.find(prompt)
        for target in range(len(swapper.names)):
            if all(group == target for _, _, group in found):
                continue
            changed, count = swapper.swap(prompt, target, found=found)
            if not count:
                continue
            pairs.append((prompt, changed, _describe(prompt, found, swapper, target)))
    return list({(a, b): (a, b, s) for a, b, s in pairs}.values())


def _describe(prompt: str, found: list[tuple[int, int, int]], swapper: Any, target: int) -> str:
    """``she -> he, her -> his (women -> men)``: the words swapped and the groups."""
    words, sources = [], []
    for start, end, group in found:
        if group == target:
            continue
        word = prompt[start:end]
        swap = f"{word} -> {swapper.replacement(word, target)}"
        words += [swap] if swap not in words else []
        sources += [swapper.names[group]] if swapper.names[group] not in sources else []
    return f"{', '.join(words)} ({'/'.join(sources)} -> {swapper.names[target]})"


def _groups(groups: Any, counterfactual: Any) -> Any:
    """The ``Swapper`` of the text gates for the groups (shipped names or a dict of terms)."""
    from pytest_modelguard.text.lexicons import Swapper, resolve_groups

    if groups is None:
        raise GateError(
            f"counterfactual={counterfactual!r} needs the term groups to swap: name shipped "
            "ones, groups=('european_american_names', 'african_american_names'), or give "
            "groups={'women': ['she', 'her', 'Maria'], 'men': ['he', 'his', 'John']} "
            "(terms aligned by position)"
        )
    if isinstance(groups, str) or (
        isinstance(groups, list | tuple) and all(isinstance(g, str) for g in groups)
    ):
        return Swapper(resolve_groups(groups)[0])
    if not isinstance(groups, dict) or len(groups) < 2:
        raise GateError("groups= must map at least two group names to lists of terms")
    for name, terms in groups.items():
        if isinstance(terms, str) or not isinstance(terms, list | tuple) or not terms:
            raise GateError(f"groups[{name!r}] must be a non-empty list of terms")
        if not all(isinstance(t, str) and t.strip() for t in terms):
            raise GateError(f"groups[{name!r}] holds a term that is not a non-empty string")
    lexicon = {str(name): list(terms) for name, terms in groups.items()}
    return Swapper(resolve_groups(list(lexicon), lexicon)[0])


def counterfactual_gate(
    model: Any,
    prompts: Any,
    *,
    counterfactual: Any,
    max_gap: Any,
    groups: Any = None,
    encoder: Any = None,
    scorer: Any = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Mean gap between the answers to each prompt and its identity-swapped twin."""
    import numpy as np

    started = time.perf_counter()
    generator = require_generator(model, "counterfactual")
    if not isinstance(counterfactual, str):
        raise GateError(f"counterfactual={counterfactual!r}: name the swap, e.g. 'identity'")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int | float) or not 0 <= max_gap < 2:
        raise GateError(f"max_gap={max_gap!r}: give a number in [0, 2)")
    level = confidence_level(confidence)
    swaps = _groups(groups, counterfactual)
    pairs = _counterfactual_pairs(prompts, swaps)
    note = reproducibility(generator, profile)
    originals = generator.generate([a for a, _, _ in pairs])
    swapped = generator.generate([b for _, b, _ in pairs])
    gaps, metric, formula = _gaps(originals, swapped, encoder=encoder, scorer=scorer)
    worst = int(np.argmax(gaps))
    most_different = {
        "prompt": pairs[worst][0], "swapped": pairs[worst][1], "swap": pairs[worst][2],
        "answer": originals[worst], "swapped_answer": swapped[worst], "gap": float(gaps[worst]),
    }  # fmt: skip
    evidence = {
        "generator": generator.describe(), "decoding": generator.decoding(),
        "pairs": len(pairs), "groups": swaps.names, "most_different": most_different,
    }  # fmt: skip
    verdict = _mean_verdict(
        gaps, limit=float(max_gap), operator="<=", level=level, seed=seed,
        requirement="fairness", metric=metric, formula=formula, evidence=evidence,
    )  # fmt: skip
    return _finish(verdict, most_different, note, started)


def _counterfactual_pairs(prompts: Any, swaps: Any) -> list[tuple[str, str, str]]:
    if prompts is None:
        raise GateError("counterfactual needs prompts=[...] that name the groups' terms")
    pairs = swap_pairs(prompt_list(prompts), swaps)
    if not pairs:
        examples = ", ".join(t for group in swaps.groups for t in group.terms[:3])
        raise GateError(
            "no prompt names a term of groups=: nothing to swap; write prompts that mention "
            f"one of {examples}"
        )
    return pairs


def _gaps(
    originals: list[str], swapped: list[str], *, encoder: Any, scorer: Any
) -> tuple[Any, str, str]:
    """Per pair: the scorer's absolute difference when a scorer is named, else 1 - cosine
    similarity under the encoder; with the metric's name and formula."""
    import numpy as np

    if scorer is None:
        gaps = 1.0 - similarities(encoder, originals, swapped)
        return gaps, "semantic_gap", "mean (1 - cosine similarity) of the two answers"
    if not callable(scorer):
        raise GateError(f"scorer= must name a callable list[str] -> scores, got {scorer!r}")
    n = len(originals)
    scores = np.asarray(scorer(originals + swapped), dtype=float).reshape(-1)
    if scores.shape[0] != 2 * n or not np.isfinite(scores).all():
        raise GateError(
            f"scorer returned {scores.shape[0]} values for {2 * n} answers (or a NaN): return "
            "one finite score per text"
        )
    gaps = np.abs(scores[:n] - scores[n:])
    return gaps, "score_gap", "mean |scorer(answer) - scorer(swapped answer)|"


def _mean_verdict(
    values: Any,
    *,
    limit: float,
    operator: str,
    level: float | None,
    seed: int,
    requirement: str,
    metric: str,
    formula: str,
    evidence: dict[str, Any],
) -> Verdict:
    """A verdict on the mean of per-prompt values, with a bootstrap interval; with a
    confidence level the bound on the failing side decides."""
    import numpy as np

    value = float(np.mean(values))
    low, high = _mean_interval(values, level or 0.95, seed)
    upper = operator == "<="
    decided = value if level is None else (high if upper else low)
    if level is not None:
        evidence["decided_on"] = "upper" if upper else "lower"
    passed = decided <= limit if upper else decided >= limit
    return Verdict(
        requirement=requirement,
        metric=metric,
        value=value,
        threshold=limit,
        operator=operator,
        status="pass" if passed else "fail",
        n=len(values),
        ci=(low, high),
        confidence=level or 0.95,
        formula=formula,
        evidence=evidence,
    )


def _finish(verdict: Verdict, counterexample: Any, note: str | None, started: float) -> Verdict:
    if verdict.status == "fail":
        verdict.counterexample = counterexample
        verdict.message = verdict.describe()
    if note:
        verdict.message += f"\n  note      {note}"
    verdict.duration = time.perf_counter() - started
    return verdict


# -- prompt robustness -------------------------------------------------------------------

#: the text perturbation families (``checks.perturbation.FAMILIES`` of kind "text"), and
#: the magnitude used when the marker gives no ``eps``: about two characters of a
#: 40-character prompt, one identity term for ``swap_identity``.
DEFAULT_EPS = {"typo": 0.05, "case": 0.05, "whitespace": 0.05, "punctuation": 0.05,
               "swap_identity": 1.0}  # fmt: skip


def prompt_robustness_gate(
    model: Any,
    prompts: Any,
    *,
    perturbation: Any,
    min_similarity: Any,
    encoder: Any = None,
    eps: Any = None,
    examples: int | None = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    """Mean similarity of the answers to each prompt and its perturbed copy (the text
    robustness families: typo, case, whitespace, punctuation, swap_identity)."""
    import numpy as np

    from pytest_modelguard.checks.robustness.strategies import Perturbation

    started = time.perf_counter()
    generator = require_generator(model, "prompt robustness")
    family, eps = _prompt_family(perturbation, eps)
    _check_similarity(min_similarity)
    level = confidence_level(confidence)
    profile = profile or PROFILES["ci"]
    if prompts is None:
        raise GateError("prompt robustness needs prompts=[...] (or a fixture returning them)")
    embed(encoder, ["probe"])  # a wrong encoder is an ERROR before any generation
    applied = Perturbation(family, eps, {"seed": derive_seed(seed, f"prompts-{family}") % 2**32})
    prompts, perturbed = _changed(prompt_list(prompts), applied)
    note = reproducibility(generator, profile)
    clean, noisy = generator.generate(prompts), generator.generate(perturbed)
    sims = similarities(encoder, clean, noisy)
    worst = int(np.argmin(sims))
    evidence: dict[str, Any] = {
        "generator": generator.describe(), "decoding": generator.decoding(),
        "prompts": len(prompts), "perturbation": applied.describe(),
        "worst": {"prompt": prompts[worst], "perturbed": perturbed[worst],
                  "similarity": float(sims[worst])},
    }  # fmt: skip
    verdict = _mean_verdict(
        sims, limit=float(min_similarity), operator=">=", level=level, seed=seed,
        requirement="robust", metric="answer_similarity", evidence=evidence,
        formula=f"mean cosine similarity of answers to the clean and the perturbed prompt "
        f"({family}, eps={eps:g})",
    )  # fmt: skip
    budget = max(1, profile.examples // 10) if examples is None else examples
    counterexample = None
    if budget and (verdict.status == "fail" or sims[worst] < min_similarity):
        search = _Search(generator, encoder, family, eps, float(min_similarity))
        counterexample = search.shrink(prompts[worst], clean[worst], budget, seed, profile)
        evidence["shrunk"] = counterexample
    return _finish(verdict, counterexample or evidence["worst"], note, started)


def _prompt_family(perturbation: Any, eps: Any) -> tuple[str, float]:
    """A text family and its magnitude (the family's default when ``eps`` is None)."""
    from pytest_modelguard.checks.robustness.perturbation import family_for

    if perturbation not in DEFAULT_EPS:
        raise GateError(
            f"perturbation={perturbation!r} on prompts: choose one of the text families "
            f"({', '.join(DEFAULT_EPS)})"
        )
    eps = DEFAULT_EPS[perturbation] if eps is None else eps
    return family_for(perturbation, eps).name, float(eps)


def _check_similarity(min_similarity: Any) -> None:
    if (
        isinstance(min_similarity, bool)
        or not isinstance(min_similarity, int | float)
        or not -1 < min_similarity <= 1
    ):
        raise GateError(f"min_similarity={min_similarity!r}: give a cosine similarity in (-1, 1]")


def _changed(prompts: list[str], perturbation: Any) -> tuple[list[str], list[str]]:
    """The prompts the perturbation changes, and their perturbed copies; none changed is
    an ERROR (identical prompts get identical answers: a pass would mean nothing)."""
    perturbed = [str(p) for p in perturbation.apply(list(prompts))]
    kept = [(p, q) for p, q in zip(prompts, perturbed, strict=True) if p != q]
    if not kept:
        raise GateError(
            f"perturbation={perturbation.family!r} changed none of the {len(prompts)} prompts "
            "(swap_identity needs prompts naming identity terms): nothing was tested"
        )
    return [p for p, _ in kept], [q for _, q in kept]


class _Search:
    """Hypothesis over the family's perturbations of one prompt: the smallest one that
    brings the answer's similarity below the threshold (shrunk by Hypothesis)."""

    def __init__(self, generator: Any, encoder: Any, family: str, eps: float, threshold: float):
        self.generator, self.encoder = generator, encoder
        self.family, self.eps, self.threshold = family, eps, threshold

    def shrink(
        self, prompt: str, answer: str, budget: int, seed: int, profile: Profile
    ) -> dict[str, Any] | None:
        from hypothesis import given
        from hypothesis import seed as hypothesis_seed

        from pytest_modelguard.checks.robustness.strategies import perturbations

        spent = {"generations": 0}
        cap = budget * 4  # new generations the search and its shrinking may spend

        @hypothesis_seed(derive_seed(seed, "prompt-search") % 2**32)
        @profile.hypothesis_settings(max_examples=budget)
        @given(perturbations(self.family, self.eps))
        def stays_similar(perturbation: Any) -> None:
            (perturbed,) = perturbation.apply([prompt])
            if perturbed == prompt:
                return
            if spent["generations"] >= cap and not self.generator.is_cached(perturbed):
                return  # out of budget: only prompts already generated can still fail
            before = self.generator.stats.generated
            (noisy,) = self.generator.generate([perturbed])
            spent["generations"] += self.generator.stats.generated - before
            similarity = float(similarities(self.encoder, [answer], [noisy])[0])
            if similarity < self.threshold:
                raise Counterexample(dict(
                    prompt=prompt, perturbed=perturbed, perturbation=perturbation.describe(),
                    edits=_edits(perturbation, prompt), distance=_distance(prompt, perturbed),
                    answer=answer, perturbed_answer=noisy,
                    similarity=similarity,
                ))  # fmt: skip

        try:
            stays_similar()
        except Counterexample as below:  # re-raised by Hypothesis on the shrunk example
            return dict(below.counterexample)
        return None


def _edits(perturbation: Any, prompt: str) -> int | None:
    """How many characters (or, for swap_identity, terms) the family edited: its share
    times the prompt's length, at least one."""
    if perturbation.family == "swap_identity":
        return None
    return max(1, round(perturbation.magnitude * len(prompt)))


def _distance(a: str, b: str) -> int:
    """Levenshtein distance in characters between two prompts."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]
