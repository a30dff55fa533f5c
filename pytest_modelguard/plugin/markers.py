"""Gate markers: the factories users decorate tests with, and marker -> spec.

``@performance(metric="f1", min=0.8)`` is ``pytest.mark.modelguard_performance(...)``
with the arguments checked against a documented keyword-only signature. The marks live
in the plugin's own namespace (``modelguard_<requirement>``): a suite's own
``pytest.mark.performance`` or ``pytest.mark.security`` is never the plugin's to act on.
A mistake in the arguments (a wrong keyword, a positional value, ``@performance``
without parentheses) does not break collection of the module: it makes that one test
an ERROR that names it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from pytest_modelguard.core.verdict import GateError

UMBRELLA = "modelguard"
#: every gate's mark is named ``modelguard_<requirement>`` (``-m modelguard_fairness``)
MARK_PREFIX = f"{UMBRELLA}_"
#: keywords every gate marker takes that the plugin, not the check, acts on
PLUGIN_KEYWORDS = ("model", "data", "max_regression")
#: keywords a check may take that the plugin supplies, never the marker
CONTEXT_KEYWORDS = ("seed", "profile", "session_verdicts")

GATES: dict[str, Callable[..., pytest.MarkDecorator]] = {}


def mark_name(requirement: str) -> str:
    """The name of the mark a requirement's gates carry: ``modelguard_<requirement>``."""
    return f"{MARK_PREFIX}{requirement}"


def requirement_of(mark: pytest.Mark) -> str | None:
    """The requirement a mark is a gate of, or None for any mark the plugin did not make."""
    if not mark.name.startswith(MARK_PREFIX):
        return None
    requirement = mark.name[len(MARK_PREFIX) :]
    return requirement if requirement in GATES else None


def gate_marks(item: pytest.Item) -> list[pytest.Mark]:
    """The test's gate marks, closest first; any other mark is the suite's own."""
    return [mark for mark in item.iter_markers() if requirement_of(mark) is not None]


def _gate(factory: Callable[..., pytest.MarkDecorator]) -> Callable[..., pytest.MarkDecorator]:
    """Register a factory. Used wrongly (``@performance`` without parentheses, a positional
    value) it still returns a mark, whose test is then an ERROR saying what to write: one
    mistake never stops the collection of a whole module."""
    name = factory.__name__

    @functools.wraps(factory)
    def tolerant(*args: Any, **kwargs: Any) -> Any:
        if not args:
            return factory(**kwargs)
        decorator = getattr(pytest.mark, mark_name(name))
        if len(args) == 1 and not kwargs and _is_test(args[0]):  # bare @performance
            return decorator.with_args(_Bare(name))(args[0])
        return decorator(*args, **kwargs)

    GATES[name] = tolerant
    return tolerant


@dataclass(frozen=True)
class _Bare:
    """The positional argument of a gate used without parentheses."""

    requirement: str

    def __repr__(self) -> str:
        return f"<@{self.requirement} without parentheses>"


def _is_test(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value)


def performance(
    *,
    metric: str = "accuracy",
    min: float | None = None,
    max: float | None = None,
    confidence: float | None = None,
    n_resamples: int = 2000,
    per_class: bool = False,
    decision_threshold: float = 0.5,
    pos_label: Any = None,
    batch_size: int = 32,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Model quality must reach min= (or stay under max=): accuracy, f1, roc_auc, rmse, ..."""
    return _mark("performance", locals())


performance = _gate(performance)


def fairness(
    *,
    metric: str = "demographic_parity_difference",
    max_disparity: float | None = None,
    min_ratio: float | None = None,
    min: float | None = None,
    sensitive: str | list[str] | None = None,
    intersectional: bool = False,
    method: str = "between_groups",
    pos_label: Any = None,
    decision_threshold: float = 0.5,
    min_group_size: int = 30,
    small_groups: str = "error",
    missing: str = "error",
    confidence: float | None = None,
    n_resamples: int = 10_000,
    examples: int | None = None,
    stereotype: str | None = None,
    max_preference: float | None = None,
    bias_types: list[str] | None = None,
    samples: int | None = None,
    counterfactual: str | None = None,
    on: str | None = None,
    max_gap: float | None = None,
    groups: dict[str, list[str]] | None = None,
    encoder: str | None = None,
    scorer: str | None = None,
    prompts: str | list[str] | None = None,
    lexicon: dict[str, Any] | None = None,
    exclude_terms: list[str] | None = None,
    templates: bool | None = None,
    association: str | None = None,
    targets: Any = None,
    attributes: Any = None,
    max_effect_size: float | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Groups must be treated alike: max_disparity= for differences, min_ratio= for ratios, min=;
    text: counterfactual="identity" with max_gap=, association="weat" with max_effect_size=."""
    return _mark("fairness", locals())


fairness = _gate(fairness)


def robust(
    *,
    eps: float | list[float] | None = None,
    attack: str | None = None,
    norm: str | None = None,
    steps: int | None = None,
    restarts: int = 1,
    max_accuracy_drop: float | None = None,
    min_accuracy: float | None = None,
    samples: int = 500,
    bounds: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
    perturbation: str | None = None,
    max_flip_rate: float | None = None,
    examples: int | None = None,
    immutable: list[str] | None = None,
    monotonic: dict[str, str] | None = None,
    max_violation_rate: float | None = None,
    on: str | None = None,
    min_similarity: float | None = None,
    encoder: str | None = None,
    prompts: str | list[str] | None = None,
    confidence: float | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Predictions must survive attacks (eps=, attack=; max_accuracy_drop= defaults to 0.05),
    perturbations (perturbation=, max_flip_rate=) or keep directions (monotonic=); a
    generator's answers must survive typos in prompts (on="prompts", min_similarity=)."""
    return _mark("robust", locals())


robust = _gate(robust)


def privacy(
    *,
    max_mia_auc: float | None = None,
    max_mia_advantage: float | None = None,
    members: str | None = None,
    attack: str | None = None,
    samples: int | None = None,
    confidence: float | None = None,
    pii: str | None = None,
    columns: list[str] | None = None,
    k_anonymity: int | None = None,
    quasi_identifiers: list[str] | None = None,
    on: str | None = None,
    prompts: str | list[str] | None = None,
    max_extraction_rate: float | None = None,
    records: str | list[str] | None = None,
    prefix_words: int = 8,
    suffix_words: int = 8,
    max_exposure: float | None = None,
    canaries: int | str | list[str] | None = None,
    max_tpr_at_fpr: dict[float, float] | None = None,
    trainer: str | None = None,
    shadow_models: int | None = None,
    claimed_epsilon: float | None = None,
    delta: float | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """No leak of who was trained on (max_mia_auc=; LiRA: max_tpr_at_fpr=, trainer=), a
    differential-privacy claim not refuted (claimed_epsilon=, delta=), no personal
    identifiers (pii="forbid"), no singled-out person (k_anonymity=, quasi_identifiers=)."""
    return _mark("privacy", locals())


privacy = _gate(privacy)


def security(
    *,
    sha256: str | None = None,
    artifact: str | None = None,
    safe_load: bool = False,
    allow: list[str] | None = None,
    allow_unscanned: list[str] | None = None,
    fuzz: bool = False,
    examples: int | None = None,
    max_attack_success: float | None = None,
    eps: float | list[float] | None = None,
    attack: str | None = None,
    norm: str | None = None,
    samples: int = 500,
    prompt_injection: str | list[str] | None = None,
    max_leak_rate: float | None = None,
    system_prompt: str | None = None,
    canary: str | None = None,
    attacks: list[str] | None = None,
    confidence: float | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """The artifact is the reviewed one (sha256=), loads without running code (safe_load=True),
    survives hostile input (fuzz=True) and attacks (max_attack_success=)."""
    return _mark("security", locals())


security = _gate(security)


def explainability(
    *,
    method: str | None = None,
    protected_not_in_top_k: int | None = None,
    proxies: list[str] | None = None,
    max_protected_share: float | None = None,
    min_stability: float | None = None,
    steps: int = 32,
    samples: int = 200,
    repeats: int = 5,
    examples: int | None = None,
    protected_tokens: Any = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Decisions must not rest on protected attributes (protected_not_in_top_k=,
    max_protected_share=) and explanations must be stable (min_stability=)."""
    return _mark("explainability", locals())


explainability = _gate(explainability)


def transparency(
    *,
    model_card: str | None = None,
    required: list[str] | None = None,
    verify_claims: bool = False,
    tolerance: float = 0.01,
    members: str | None = None,
    trainer: str | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """The model card must exist, be complete (required=) and tell the truth about the
    metrics it claims (verify_claims=True, within tolerance=)."""
    return _mark("transparency", locals())


transparency = _gate(transparency)


def compliance(
    *,
    framework: str | None = None,
    scope: list[str] | None = None,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """Every clause of framework= ("eu-ai-act", "nist-ai-rmf") in scope= must have passing
    evidence among the session's other gates; runs after them."""
    return _mark("compliance", locals())


compliance = _gate(compliance)

Need = Literal["required", "optional", "unused"]
#: fixture-valued keywords and the fixture each names by default
FIXTURE_KEYWORDS = {"members": "train_dataset", "artifact": None, "trainer": "train_model"}
#: generative-model keywords whose string value names a fixture (a list is the value)
GENERATIVE_FIXTURE_KEYWORDS = {
    "encoder": "encoder", "scorer": None, "prompts": None, "records": None, "canaries": None,
}  # fmt: skip
_GENERATIVE_TRIGGERS = {
    "security": ("prompt_injection", "max_leak_rate"),
    "privacy": ("max_extraction_rate", "max_exposure"),
    # counterfactual= with on="outputs" (the on= keyword triggers it); without on= it is a
    # text classifier's identity-swap gate
    "fairness": ("stereotype", "max_preference"),
    "robust": ("min_similarity",),
}


def _generative_needs(requirement: str, keywords: dict[str, Any]) -> dict[str, Need] | None:
    """A generative gate needs the generator, perhaps prompts from data, and the
    fixture-valued keywords it was given (the encoder by default)."""
    triggered = any(keywords.get(k) is not None for k in _GENERATIVE_TRIGGERS.get(requirement, ()))
    on = keywords.get("on") in ("outputs", "prompts")
    if not (triggered or on):
        return None
    needs: dict[str, Need] = {"model": "required", "data": "unused"}
    if on and keywords.get("prompts") is None:
        needs["data"] = "optional"
    for keyword in GENERATIVE_FIXTURE_KEYWORDS:
        if keywords.get(keyword) is not None:
            needs[keyword] = "optional"
    uses_encoder = keywords.get("min_similarity") is not None or (
        keywords.get("counterfactual") is not None and keywords.get("scorer") is None
    )
    if uses_encoder:
        needs["encoder"] = "optional"
    return needs


#: keywords that take a file path; a relative one is relative to pytest's rootdir
PATH_KEYWORDS = ("artifact", "model_card")


def subject_needs(requirement: str, keywords: dict[str, Any]) -> dict[str, Need]:
    """Which subjects a gate uses: ``model``, ``data`` and fixture-valued keywords.

    A required subject that no fixture provides is an ERROR; an optional one is passed as
    None (for ``artifact=``, a value that names no fixture is a path).
    """
    generative = _generative_needs(requirement, keywords)
    if generative is not None:
        return generative
    if requirement == "security":
        needs: dict[str, Need] = {"model": "unused", "data": "unused"}
        if keywords.get("fuzz"):
            needs.update(model="required", data="optional")
        if keywords.get("max_attack_success") is not None:
            needs.update(model="required", data="required")
        if keywords.get("artifact") is not None:
            needs["artifact"] = "optional"
        return needs
    if requirement == "compliance":
        return {"model": "unused", "data": "unused"}
    if requirement == "drift":
        return {"model": "unused", "data": "required", "reference": "required"}
    if requirement == "fairness" and keywords.get("association") is not None:
        return {"model": "required", "data": "unused"}  # an encoder on word sets
    if requirement == "fairness" and keywords.get("counterfactual") is not None:
        return {"model": "required", "data": "optional"}  # template texts when there is none
    if requirement == "transparency":
        used: Need = "required" if keywords.get("verify_claims") else "unused"
        needs = {"model": used, "data": used}
        if keywords.get("verify_claims"):  # for a card's privacy claim (a DP audit)
            needs.update(members="optional", trainer="optional")
        return needs
    if requirement == "privacy":
        needs = {"model": "optional", "data": "required"}
        if keywords.get("max_mia_auc") is not None or keywords.get("max_mia_advantage") is not None:
            needs.update(model="required", members="required")
        if keywords.get("max_tpr_at_fpr") is not None:  # without a trainer: a lower bound
            needs.update(model="required", members="required", trainer="optional")
        if keywords.get("claimed_epsilon") is not None:  # the audit trains its own run
            needs.update(model="unused", members="required", trainer="required")
        return needs
    return {"model": "required", "data": "required"}


#: the metric a gate reports, by the keyword that chooses its kind (first match wins)
_METRIC_BY_KEYWORD = {
    "robust": [
        ("min_similarity", "answer_similarity"),
        ("monotonic", "violation_rate"),
        ("perturbation", "flip_rate"),
        ("min_accuracy", "robust_accuracy"),
    ],
    "privacy": [
        ("max_mia_auc", "mia_auc"),
        ("max_mia_advantage", "mia_advantage"),
        ("max_extraction_rate", "extraction_rate"),
        ("max_exposure", "exposure"),
        ("max_tpr_at_fpr", "tpr_at_fpr"),
        ("claimed_epsilon", "epsilon_lower_bound"),
        ("pii", "pii_findings"),
        ("k_anonymity", "k_anonymity"),
    ],
    "security": [
        ("prompt_injection", "leak_rate"),
        ("sha256", "sha256"),
        ("safe_load", "unsafe_globals"),
        ("fuzz", "fuzz_failures"),
        ("max_attack_success", "attack_success"),
    ],
    "explainability": [
        ("protected_not_in_top_k", "protected_in_top_k"),
        ("max_protected_share", "protected_share"),
        ("min_stability", "stability"),
    ],
    "transparency": [("verify_claims", "claim_error"), ("model_card", "missing_fields")],
    "compliance": [],
    "fairness": [("stereotype", "stereotype_preference"), ("counterfactual", "identity_swap_gap")],
}
_DEFAULT_METRIC = {"robust": "accuracy_drop"}


def metric_of(requirement: str, keywords: dict[str, Any]) -> str:
    """The metric a gate is about, for naming its verdict when the check could not run."""
    if "metric" in keywords:
        return str(keywords["metric"])
    if requirement == "compliance" and keywords.get("framework"):
        return str(keywords["framework"])
    if requirement == "fairness" and keywords.get("counterfactual") and keywords.get("on"):
        return "semantic_gap"  # a generative model's answers, compared under an encoder
    if requirement == "fairness" and isinstance(keywords.get("association"), str):
        return f"{keywords['association']}_effect_size"
    for keyword, metric in _METRIC_BY_KEYWORD.get(requirement, []):
        if keywords.get(keyword):
            return metric
    default = defaults(requirement).get("metric") if requirement in GATES else None
    return str(default or _DEFAULT_METRIC.get(requirement, requirement))


def defaults(requirement: str) -> dict[str, Any]:
    parameters = inspect.signature(GATES[requirement]).parameters.values()  # the factory's
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _mark(name: str, arguments: dict[str, Any]) -> pytest.MarkDecorator:
    """The mark with the keywords that differ from the defaults (the check owns defaults),
    plus unknown ones, which the test reports as an ERROR when it runs."""
    unknown = arguments.pop("unknown")
    default = defaults(name)
    given = {k: v for k, v in arguments.items() if not _same(v, default[k])}
    return getattr(pytest.mark, mark_name(name))(**given, **unknown)


def _same(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


@dataclass(frozen=True)
class GateSpec:
    """One gate of a test: the requirement, its subject fixtures and check keywords."""

    requirement: str
    model_fixture: str
    data_fixture: str
    keywords: dict[str, Any]
    max_regression: float | None = None


def accepted_keywords(requirement: str) -> list[str]:
    return list(defaults(requirement))


def spec_from_mark(mark: pytest.Mark, *, model_fixture: str, data_fixture: str) -> GateSpec:
    """Validate a gate marker's arguments; a mistake is a :class:`GateError` saying what to fix."""
    requirement = requirement_of(mark)
    if requirement is None:
        raise GateError(f"{mark.name!r} is not a modelguard gate mark")
    accepted = accepted_keywords(requirement)
    if len(mark.args) == 1 and isinstance(mark.args[0], _Bare):
        raise GateError(
            f"@{requirement} is used without parentheses: a gate states its requirement, "
            f"e.g. @{requirement}({_EXAMPLE.get(requirement, '...')}); accepted keywords: "
            f"{', '.join(accepted)}"
        )
    if mark.args:
        raise GateError(
            f"takes keyword arguments only, got positional {mark.args!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    unknown = sorted(set(mark.kwargs) - set(accepted))
    if unknown:
        raise GateError(f"unknown keyword(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    keywords = dict(mark.kwargs)
    model = keywords.pop("model", None) or model_fixture
    data = keywords.pop("data", None) or data_fixture
    max_regression = keywords.pop("max_regression", None)
    if max_regression is not None and (
        isinstance(max_regression, bool)
        or not isinstance(max_regression, int | float)
        or not max_regression >= 0
    ):
        raise GateError(f"max_regression={max_regression!r}: give a number >= 0 (absolute)")
    return GateSpec(requirement, model, data, keywords, max_regression)


#: what a gate used without parentheses is told to write
_EXAMPLE = {
    "performance": 'metric="accuracy", min=0.8',
    "fairness": 'metric="demographic_parity_difference", max_disparity=0.1',
    "robust": 'eps=0.03, attack="pgd"',
    "privacy": "max_mia_auc=0.6",
    "security": 'sha256="..."',
    "explainability": "protected_not_in_top_k=3",
    "transparency": 'model_card="MODEL_CARD.md"',
    "compliance": 'framework="eu-ai-act"',
}


def marker_lines() -> list[str]:
    """``pytest --markers`` lines: every gate with its full signature."""
    lines = []
    for name, factory in GATES.items():
        signature = ", ".join(
            f"{p.name}={p.default!r}"
            for p in inspect.signature(factory).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        lines.append(
            f"{mark_name(name)}(*, {signature}): modelguard gate written @{name}(...); "
            f"select with -m {mark_name(name)}. {summary}"
        )
    lines.append(
        f"{UMBRELLA}: carried by every modelguard gate test; select them with -m {UMBRELLA}."
    )
    return lines


# -- drift: data and scores against a reference (prediction logs) ---------------------------


def drift(
    *,
    reference: str | None = None,
    features: list[str] | None = None,
    max_psi: float | None = None,
    max_js: float | None = None,
    alpha: float | None = None,
    correction: str = "holm",
    bins: int = 10,
    scores: bool = True,
    min_group_size: int = 30,
    model: str | None = None,
    data: str | None = None,
    max_regression: float | None = None,
    **unknown: Any,
) -> pytest.MarkDecorator:
    """The data must not drift from reference= (a fixture): max_psi=, max_js=, or alpha= for
    chi-square tests per feature with Holm/BH correction."""
    return _mark("drift", locals())


_gate(drift)
FIXTURE_KEYWORDS["reference"] = "reference"
_METRIC_BY_KEYWORD["drift"] = [
    ("max_psi", "psi"),
    ("max_js", "js_distance"),
    ("alpha", "p_value"),
]
