"""Counterfactual consistency and prompt robustness: answers that should not change.

- ``@fairness(counterfactual=..., on="outputs", max_gap=...)``: each prompt that names a
  group term is rewritten with the aligned term of every other group; the gap between
  the two answers is ``1 - cosine similarity`` under the pinned encoder, or, with a
  ``scorer`` (sentiment, toxicity: ``list[str] -> scores``), the absolute score
  difference. The gate is the mean gap with a bootstrap interval and the most different
  pair.
- ``@robust(perturbation="typo", on="prompts", min_similarity=...)``: seeded typos in
  each prompt; the gate is the mean similarity of the answers to the clean and the
  perturbed prompt. Hypothesis then searches the worst prompt's typos and shrinks them
  to the fewest edits that still change the answer.

The encoder is any object with ``encode(list[str]) -> (n, d) array`` (a fixture the marker
names with ``encoder=``); the text issue's pinned MiniLM ``Encoder`` is one.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pytest_modelguard.core.profiles import PROFILES, Profile
from pytest_modelguard.core.seeding import derive_seed
from pytest_modelguard.core.verdict import GateError, Verdict
from pytest_modelguard.generative.common import confidence_level, prompt_list, reproducibility
from pytest_modelguard.generative.subject import require_generator

N_RESAMPLES = 2000
TYPO_OPS = ("swap", "drop", "double", "neighbour")
_KEYBOARD = {
    c: n
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i, c in enumerate(row)
    for n in [row[i - 1] if i else row[i + 1]]
}


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


def swap_pairs(prompts: list[str], groups: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(original, counterfactual, swap) for every prompt naming a term of one group:
    the term is replaced by the term at the same position of each other group."""
    pairs = []
    for prompt in prompts:
        for name, terms in groups.items():
            for index, term in enumerate(terms):
                pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
                if not pattern.search(prompt):
                    continue
                for other, replacements in groups.items():
                    if other == name:
                        continue
                    swap = replacements[min(index, len(replacements) - 1)]
                    changed = pattern.sub(lambda m, s=swap: _same_case(m.group(0), s), prompt)
                    pairs.append((prompt, changed, f"{term} -> {swap} ({name} -> {other})"))
    return list({(a, b): (a, b, s) for a, b, s in pairs}.values())


def _same_case(original: str, word: str) -> str:
    return word[:1].upper() + word[1:] if original[:1].isupper() else word


def _groups(groups: Any, counterfactual: Any) -> dict[str, list[str]]:
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
        return _shipped_groups(groups)
    if not isinstance(groups, dict) or len(groups) < 2:
        raise GateError("groups= must map at least two group names to lists of terms")
    for name, terms in groups.items():
        if isinstance(terms, str) or not isinstance(terms, list | tuple) or not terms:
            raise GateError(f"groups[{name!r}] must be a non-empty list of terms")
        if not all(isinstance(t, str) and t.strip() for t in terms):
            raise GateError(f"groups[{name!r}] holds a term that is not a non-empty string")
    return {name: list(terms) for name, terms in groups.items()}


def _shipped_groups(names: Any) -> dict[str, list[str]]:
    """The text lexicons' groups (a category or group names), as term lists aligned by
    position: each role (e.g. female and male first names) cut to its shortest length."""
    from pytest_modelguard.text.lexicons import resolve_groups

    found, _ = resolve_groups(names)
    roles = [role for role in found[0].roles if all(role in g.roles for g in found)]
    if not roles:
        raise GateError(f"groups={names!r}: the groups share no role to align their terms by")
    terms: dict[str, list[str]] = {g.name: [] for g in found}
    for role in roles:
        shortest = min(len(g.roles[role]) for g in found)
        for group in found:
            terms[group.name] += group.roles[role][:shortest]
    return terms


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
    import numpy as np

    started = time.perf_counter()
    generator = require_generator(model, "counterfactual")
    if not isinstance(counterfactual, str):
        raise GateError(f"counterfactual={counterfactual!r}: name the swap, e.g. 'identity'")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int | float) or not 0 <= max_gap < 2:
        raise GateError(f"max_gap={max_gap!r}: give a number in [0, 2)")
    level = confidence_level(confidence)
    swaps = _groups(groups, counterfactual)
    if prompts is None:
        raise GateError("counterfactual needs prompts=[...] that name the groups' terms")
    pairs = swap_pairs(prompt_list(prompts), swaps)
    if not pairs:
        raise GateError(
            "no prompt names a term of groups=: nothing to swap; write prompts that mention "
            f"one of {', '.join(t for terms in swaps.values() for t in terms[:3])}"
        )
    note = reproducibility(generator, profile)
    originals = generator.generate([a for a, _, _ in pairs])
    swapped = generator.generate([b for _, b, _ in pairs])
    if scorer is not None:
        if not callable(scorer):
            raise GateError(f"scorer= must name a callable list[str] -> scores, got {scorer!r}")
        scores = np.asarray(scorer(originals + swapped), dtype=float).reshape(-1)
        if scores.shape[0] != 2 * len(pairs) or not np.isfinite(scores).all():
            raise GateError(
                f"scorer returned {scores.shape[0]} values for {2 * len(pairs)} answers (or a "
                "NaN): return one finite score per text"
            )
        gaps = np.abs(scores[: len(pairs)] - scores[len(pairs) :])
        metric, formula = "score_gap", "mean |scorer(answer) - scorer(swapped answer)|"
    else:
        gaps = 1.0 - similarities(encoder, originals, swapped)
        metric, formula = "semantic_gap", "mean (1 - cosine similarity) of the two answers"
    value = float(np.mean(gaps))
    low, high = _mean_interval(gaps, level or 0.95, seed)
    worst = int(np.argmax(gaps))
    decided = value if level is None else high
    evidence = {
        "generator": generator.describe(),
        "decoding": generator.decoding(),
        "pairs": len(pairs),
        "groups": list(swaps),
        "most_different": {
            "prompt": pairs[worst][0],
            "swapped": pairs[worst][1],
            "swap": pairs[worst][2],
            "answer": originals[worst],
            "swapped_answer": swapped[worst],
            "gap": float(gaps[worst]),
        },
    }
    if level is not None:
        evidence["decided_on"] = "upper"
    verdict = Verdict(
        requirement="fairness",
        metric=metric,
        value=value,
        threshold=float(max_gap),
        operator="<=",
        status="pass" if decided <= max_gap else "fail",
        n=len(pairs),
        ci=(low, high),
        confidence=level or 0.95,
        formula=formula,
        evidence=evidence,
    )
    if verdict.status == "fail":
        verdict.counterexample = evidence["most_different"]
        verdict.message = verdict.describe()
    if note:
        verdict.message += f"\n  note      {note}"
    verdict.duration = time.perf_counter() - started
    return verdict


# -- prompt robustness -------------------------------------------------------------------


def typo(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply ``(word position, character position, operation)`` edits to the words of
    ``text`` that have at least two letters; positions wrap around."""
    words = text.split(" ")
    editable = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 2]
    if not editable:
        return text
    for word_at, char_at, op in edits:
        index = editable[word_at % len(editable)]
        word = words[index]
        letters = [i for i, c in enumerate(word) if c.isalpha()]
        i = letters[char_at % len(letters)]
        if op == "swap" and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif op == "drop":
            word = word[:i] + word[i + 1 :]
        elif op == "double":
            word = word[:i] + word[i] + word[i:]
        elif op == "neighbour":
            near = _KEYBOARD.get(word[i].lower(), word[i])
            word = word[:i] + near + word[i + 1 :]
        words[index] = word
    return " ".join(words)


def prompt_robustness_gate(
    model: Any,
    prompts: Any,
    *,
    perturbation: Any,
    min_similarity: Any,
    encoder: Any = None,
    edits: int = 2,
    examples: int | None = None,
    confidence: float | None = None,
    seed: int = 0,
    profile: Profile | None = None,
) -> Verdict:
    import numpy as np

    started = time.perf_counter()
    generator = require_generator(model, "prompt robustness")
    if perturbation != "typo":
        raise GateError(
            f"perturbation={perturbation!r} on prompts: choose 'typo' (the text branch's "
            "families connect here)"
        )
    if (
        isinstance(min_similarity, bool)
        or not isinstance(min_similarity, int | float)
        or not -1 < min_similarity <= 1
    ):
        raise GateError(f"min_similarity={min_similarity!r}: give a cosine similarity in (-1, 1]")
    if isinstance(edits, bool) or not isinstance(edits, int) or edits < 1:
        raise GateError(f"edits={edits!r}: give a positive number of typos per prompt")
    level = confidence_level(confidence)
    profile = profile or PROFILES["ci"]
    if prompts is None:
        raise GateError("prompt robustness needs prompts=[...] (or a fixture returning them)")
    prompts = prompt_list(prompts)
    embed(encoder, ["probe"])  # a wrong encoder is an ERROR before any generation
    note = reproducibility(generator, profile)
    rng = np.random.default_rng(derive_seed(seed, "typos") % 2**63)
    perturbed = [
        typo(p, [(int(rng.integers(1 << 16)), int(rng.integers(1 << 16)),
                  TYPO_OPS[int(rng.integers(len(TYPO_OPS)))]) for _ in range(edits)])
        for p in prompts
    ]  # fmt: skip
    clean = generator.generate(prompts)
    noisy = generator.generate(perturbed)
    sims = similarities(encoder, clean, noisy)
    value = float(np.mean(sims))
    low, high = _mean_interval(sims, level or 0.95, seed)
    decided = value if level is None else low
    worst = int(np.argmin(sims))
    budget = max(1, profile.examples // 10) if examples is None else examples
    evidence: dict[str, Any] = {
        "generator": generator.describe(),
        "decoding": generator.decoding(),
        "prompts": len(prompts),
        "edits_per_prompt": edits,
        "worst": {"prompt": prompts[worst], "perturbed": perturbed[worst],
                  "similarity": float(sims[worst])},
    }  # fmt: skip
    if level is not None:
        evidence["decided_on"] = "lower"
    counterexample = None
    if budget and (decided < min_similarity or sims[worst] < min_similarity):
        counterexample = _shrink_typos(
            generator, encoder, prompts[worst], clean[worst], min_similarity, edits,
            budget, seed, profile,
        )  # fmt: skip
        evidence["shrunk"] = counterexample
    verdict = Verdict(
        requirement="robust",
        metric="answer_similarity",
        value=value,
        threshold=float(min_similarity),
        operator=">=",
        status="pass" if decided >= min_similarity else "fail",
        n=len(prompts),
        ci=(low, high),
        confidence=level or 0.95,
        formula=f"mean cosine similarity of answers to the clean and the typo'd prompt ({edits} "
        "typos each)",
        evidence=evidence,
    )
    if verdict.status == "fail":
        verdict.counterexample = counterexample or evidence["worst"]
        verdict.message = verdict.describe()
    if note:
        verdict.message += f"\n  note      {note}"
    verdict.duration = time.perf_counter() - started
    return verdict


def _shrink_typos(
    generator: Any,
    encoder: Any,
    prompt: str,
    answer: str,
    threshold: float,
    edits: int,
    budget: int,
    seed: int,
    profile: Profile,
) -> dict[str, Any] | None:
    """Hypothesis: the fewest typos in ``prompt`` that bring the answer below ``threshold``."""
    from hypothesis import given
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    found: dict[str, Any] = {}
    spent = {"generations": 0}
    cap = budget * 4  # new generations the search and its shrinking may spend
    edit = st.tuples(st.integers(0, 63), st.integers(0, 63), st.sampled_from(TYPO_OPS))

    @hypothesis_seed(derive_seed(seed, "typo-search") % 2**32)
    @profile.hypothesis_settings(max_examples=budget)
    @given(st.lists(edit, min_size=1, max_size=max(edits, 1) * 2))
    def stays_similar(chosen: list[tuple[int, int, str]]) -> None:
        perturbed = typo(prompt, chosen)
        before = generator.stats.generated
        if spent["generations"] >= cap and not generator.is_cached(perturbed):
            return  # out of budget: only prompts already generated can still fail
        (noisy,) = generator.generate([perturbed])
        spent["generations"] += generator.stats.generated - before
        similarity = float(similarities(encoder, [answer], [noisy])[0])
        if similarity < threshold:
            found.update(prompt=prompt, perturbed=perturbed, edits=len(chosen),
                         answer=answer, perturbed_answer=noisy, similarity=similarity)  # fmt: skip
            raise _Below()

    try:
        stays_similar()
    except _Below:
        return dict(found)
    return None


class _Below(AssertionError):
    """The answer to a typo'd prompt fell below the similarity threshold."""
