"""The evidence contract: what each kind of gate puts in ``Verdict.evidence``.

A check measures; the report (``reporting/html.py``), the terminal summary and the
failure message (``verdict.py``) and the JSON schema of ``modelguard.json`` read what it
measured by key. Each kind of gate's evidence is declared here once, as a ``TypedDict``:
the keys a reader needs are ``Required`` (a plot is drawn from them), the others it may
read are declared with their shapes, and a check may add keys of its own (they are shown
in the report's evidence listing and kept in the JSON). ``tests/core/test_evidence.py``
runs real checks and validates their evidence against these types, and records every key
the report, the terminal and the messages read and fails on one that is not declared: a
renamed key fails a test instead of blanking a plot.

Imports nothing but ``typing``: the plugin side reads it at load time. No ``from
__future__ import annotations``: a TypedDict must see ``Required`` unquoted (Python 3.11).
"""

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, NotRequired, Required, TypedDict, Union

#: a JSON number: NaN and infinities are written as null (``reporting.signoff.plain``)
Number = float | None
#: ``[low, high]`` of an interval (a tuple in memory, a list in JSON), or null
Interval = tuple[Number, Number] | list[Number] | None


# -- keys any verdict may carry ------------------------------------------------------------


class Subject(TypedDict, total=False):
    """Which model or data a gate ran on (added by the plugin, ``fixtures._identify``)."""

    name: Required[str]
    fingerprint: str | None
    fingerprint_kind: str | None


class Subjects(TypedDict, total=False):
    model: Subject
    dataset: Subject


class Baseline(TypedDict):
    """The same gate in the baseline run (``gating/baseline.py``)."""

    value: float
    delta: float
    tolerance: Number
    regressed: bool


class Waiver(TypedDict, total=False):
    """The waiver that accepted a shortfall (``gating/waivers.py``)."""

    test: str
    reason: Required[str]
    owner: Required[str]
    expires: Required[str]
    source: str


class Common(TypedDict, total=False):
    """Keys the plugin, gating and the shared decision (``checks/_gate.py``) add to any
    gate's evidence, and that the messages, the terminal and every report row read."""

    subjects: Subjects
    baseline: Baseline
    waiver: Waiver
    #: the side of ``ci`` that decided the status (``Verdict.decided_bound``)
    decided_on: Literal["upper", "lower"]
    #: only the decided bound keeps its level: the message shows that bound alone
    one_sided_only: bool
    #: the group, class, eps or window whose value decided, in the message
    worst: Any
    #: what was required but not evidenced (compliance clauses), in the summary line
    lacking: list[Any]
    #: a short note the one-line summary ends with (the attack and norm a gate chose)
    summary_note: str


class ErrorEvidence(Common, total=False):
    """A gate that could not be evaluated (``Verdict.error``, ``GateError``)."""

    error: Required[str]
    traceback: str


# -- prediction logs: any performance or fairness gate on a log, per window ------------------


class Window(TypedDict, total=False):
    window: Required[str]
    value: Required[Number]
    ci: Interval
    n: int | None
    status: str


class LogWindows(TypedDict, total=False):
    """``logs.per_window``: the gate in each time window; the worst window decides."""

    windows: list[Window]
    window: str | None
    worst_window: str
    n_total: int


# -- performance -----------------------------------------------------------------------------


class PerformanceEvidence(Common, LogWindows, total=False):
    """``checks.performance``: ``per_class`` is drawn as bars, one per class."""

    output: str
    decision_threshold: float
    pos_label: str
    per_class: dict[str, Number]


# -- fairness ------------------------------------------------------------------------------


class GroupTable(TypedDict, total=False):
    """One sensitive column (or their intersection): each group's rates, ``n`` and
    ``weight``, and the metric with its interval."""

    groups: Required[dict[str, dict[str, Number]]]
    value: Required[Number]
    ci: Interval


class GroupFairnessEvidence(Common, LogWindows, total=False):
    """``checks.fairness`` on a group metric: ``by_sensitive`` is drawn per column."""

    by_sensitive: Required[dict[str, GroupTable]]
    sensitive: Required[list[str]]
    method: Required[str]
    output: str
    intersectional: bool
    min_group_size: int
    pos_label: str
    decision_threshold: float
    weighted: bool
    ignored_groups: dict[str, dict[str, int]]


#: the fairness metrics gated on groups of rows (``checks.fairness.METRICS``, tested equal)
GROUP_METRICS = frozenset(
    f"{rate}_{kind}"
    for rate, kinds in {
        "demographic_parity": ("difference", "ratio"),
        "equalized_odds": ("difference", "ratio"),
        "equal_opportunity": ("difference", "ratio"),
        "false_positive_rate": ("difference",),
        "false_negative_rate": ("difference",),
        "true_positive_rate": ("difference",),
        "true_negative_rate": ("difference",),
        "selection_rate": ("difference",),
        "accuracy": ("difference", "group_min"),
        "precision": ("difference",),
    }.items()
    for kind in kinds
)


# -- robustness and attack success -------------------------------------------------------------


class CurvePoint(TypedDict, total=False):
    eps: Required[float]
    robust_accuracy: Required[Number]
    accuracy_drop: Number
    ci: Interval


class AdversarialEvidence(Common, total=False):
    """``checks.robust`` under attack: ``curve`` is drawn as robust accuracy against eps."""

    curve: Required[list[CurvePoint]]
    clean_accuracy: Required[Number]
    attack: Required[str]
    norm: Required[str | None]


class EpsPoint(TypedDict, total=False):
    eps: Required[float]
    attack_success: Required[Number]
    ci: Interval


class AttackSuccessEvidence(Common, total=False):
    """``checks.security(max_attack_success=)``: ``per_eps`` is drawn against eps."""

    per_eps: Required[list[EpsPoint]]
    attack: Required[str]
    norm: Required[str | None]


# -- privacy: membership inference -------------------------------------------------------------


class Roc(TypedDict):
    fpr: list[float]
    tpr: list[float]


Attack = TypedDict(  # a key with a dot: the functional form
    "Attack",
    {"roc": Required[Roc], "auc": NotRequired[Number], "tpr_at_fpr_0.001": NotRequired[Number]},
)


class MembershipEvidence(Common, total=False):
    """Membership inference (``privacy(max_mia_auc=)``, LiRA's ``max_tpr_at_fpr=``):
    ``attacks`` is drawn as ROC curves, on a log FPR axis when ``roc_scale`` is ``log``."""

    attacks: Required[dict[str, Attack]]
    roc_scale: Literal["linear", "log"]


# -- explainability --------------------------------------------------------------------------


class Ranked(TypedDict, total=False):
    feature: Required[str]
    importance: Required[Number]
    share: Number
    rank: int
    protected: Required[bool]


class TokenAttribution(TypedDict):
    tokens: list[str]
    attributions: list[Number]


class AttributionEvidence(Common, total=False):
    """``checks.explainability``: ``ranking`` is drawn as bars (protected features in red);
    a text model's ``token_attributions`` shade each token of a few texts."""

    ranking: Required[list[Ranked]]
    method: Required[str]
    attributed: str
    protected_features: list[str]
    k: int
    token_attributions: list[TokenAttribution]


# -- transparency and compliance -------------------------------------------------------------


class Claim(TypedDict, total=False):
    claim: Required[str]
    metric: Required[str]
    claimed: Required[Number]
    measured: Required[Number]


class ClaimsEvidence(Common, total=False):
    """``checks.transparency(verify_claims=True)``: claims drawn against measurements."""

    claims: Required[list[Claim]]


class Clause(TypedDict, total=False):
    clause: Required[str]
    title: Required[str]
    needs: Required[list[str]]
    tests: Required[dict[str, list[str]]]
    status: Required[str]
    reason: str | None
    example: str | None


class ComplianceEvidence(Common, total=False):
    """``checks.compliance``: the clause matrix, with the tests that evidence each clause."""

    framework: Required[str]
    matrix: Required[list[Clause]]
    lacking: Required[list[Any]]


# -- drift ---------------------------------------------------------------------------------


class FeatureDrift(TypedDict, total=False):
    kind: Required[str]
    bins: Required[list[str]]
    reference: Required[list[int]]
    current: Required[list[int]]
    drifted: Required[bool]
    psi: Number
    js_distance: Number
    chi2: Number
    p_value: Number
    p_adjusted: Number


class DriftEvidence(Common, total=False):
    """``checks.drift``: ``features`` are drawn as reference against current histograms."""

    features: Required[dict[str, FeatureDrift]]
    drifted: Required[list[str]]
    reference: str
    bins: int
    correction: str


# -- which type a verdict's evidence has ---------------------------------------------------------

#: (requirement, metrics or None for any) -> the declared evidence, first match wins
KINDS: list[tuple[str, frozenset[str] | None, type]] = [
    ("performance", None, PerformanceEvidence),
    ("fairness", GROUP_METRICS, GroupFairnessEvidence),
    ("robust", frozenset({"robust_accuracy", "accuracy_drop"}), AdversarialEvidence),
    ("security", frozenset({"attack_success"}), AttackSuccessEvidence),
    ("privacy", frozenset({"mia_auc", "mia_advantage", "tpr_at_fpr"}), MembershipEvidence),
    ("explainability", None, AttributionEvidence),
    ("transparency", frozenset({"claim_error"}), ClaimsEvidence),
    ("compliance", None, ComplianceEvidence),
    ("drift", None, DriftEvidence),
]


def evidence_type(requirement: str, metric: str, status: str = "pass") -> type:
    """The declared evidence of a verdict; :class:`Common` for the gates nothing plots."""
    if status == "error":
        return ErrorEvidence
    for kind, metrics, declared in KINDS:
        if kind == requirement and (metrics is None or metric in metrics):
            return declared
    return Common


def declared_types() -> list[type]:
    return [Common, ErrorEvidence, *(declared for _, _, declared in KINDS)]


def declared_shape(key: str) -> Any:
    """The type the first declared evidence kind gives ``key`` (Any when none declares it):
    what a reader may rely on where a verdict's own kind does not declare the key (the
    report draws a log's ``windows`` on any gate, drift's too)."""
    for declared in declared_types():
        hints = _hints(declared)
        if key in hints:
            return hints[key]
    return Any


# -- validation ------------------------------------------------------------------------------


def problems(value: Any, declared: Any, path: str = "evidence") -> list[str]:
    """What in ``value`` breaks ``declared`` (a TypedDict or a type expression): a missing
    required key, or a value of another shape. Keys a type does not declare are allowed."""
    if declared is Any:
        return []
    if _is_typed_dict(declared):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        hints = _hints(declared)
        found = [f"{path}: no {key!r}" for key in sorted(declared.__required_keys__ - set(value))]
        for key, item in value.items():
            if key in hints:
                found += problems(item, hints[key], f"{path}.{key}")
        return found
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (Union, types.UnionType):
        arms = [problems(value, arm, path) for arm in args]
        if any(not arm for arm in arms):
            return []
        return [f"{path}: {_name(value)} is none of {declared}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin in (list, tuple):
        return _sequence_problems(value, origin, args, path)
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {_name(value)}, not an object"]
        return [p for key, item in value.items() for p in problems(item, args[1], f"{path}.{key}")]
    return [] if _is_instance(value, declared) else [f"{path}: {_name(value)}, not {declared}"]


def _sequence_problems(value: Any, origin: Any, args: tuple[Any, ...], path: str) -> list[str]:
    if not isinstance(value, list | tuple):
        return [f"{path}: {_name(value)}, not a list"]
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            return [f"{path}: {len(value)} items, not {len(args)}"]
        return [
            p
            for i, (v, a) in enumerate(zip(value, args, strict=True))
            for p in problems(v, a, f"{path}[{i}]")
        ]
    item = args[0] if args else Any
    return [p for i, v in enumerate(value) for p in problems(v, item, f"{path}[{i}]")]


def is_declared(path: tuple[Any, ...], declared: Any = None) -> bool:
    """Whether a reader's path into the evidence (keys, and ``int`` for list items) is
    declared by ``declared``, or by any declared evidence type when it is None."""
    if declared is None:
        return any(is_declared(path, kind) for kind in declared_types())
    if not path or declared is Any:
        return True
    step, rest = path[0], path[1:]
    if _is_typed_dict(declared):
        hints = _hints(declared)
        return isinstance(step, str) and step in hints and is_declared(rest, hints[step])
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (Union, types.UnionType):
        return any(is_declared(path, arm) for arm in args if arm is not type(None))
    if origin in (list, tuple):
        return isinstance(step, int) and is_declared(rest, args[0] if args else Any)
    if origin is dict:
        return is_declared(rest, args[1])
    return False


def keys(declared: Any) -> Iterator[str]:
    """Every key ``declared`` names, nested ones as dotted paths (``*`` for any key)."""
    if _is_typed_dict(declared):
        for key, hint in _hints(declared).items():
            yield key
            yield from (f"{key}.{inner}" for inner in keys(hint))
        return
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (Union, types.UnionType):
        for arm in args:
            yield from keys(arm)
    elif origin in (list, tuple) and args:
        yield from keys(args[0])
    elif origin is dict:
        yield from (f"*.{inner}" for inner in keys(args[1]))


def _is_typed_dict(declared: Any) -> bool:
    return isinstance(declared, type) and hasattr(declared, "__required_keys__")


def _hints(declared: type) -> dict[str, Any]:
    return typing.get_type_hints(declared)  # Required/NotRequired stripped


def _is_instance(value: Any, declared: Any) -> bool:
    if declared is type(None) or declared is None:
        return value is None
    if declared is float:  # a JSON number: an int is a float here, a bool is not
        return isinstance(value, int | float) and not isinstance(value, bool)
    if declared is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, declared)


def _name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# -- the same declarations as JSON Schema (``modelguard-report.schema.json``) ----------------


def json_schema() -> dict[str, Any]:
    """Each declared kind as JSON Schema (draft 2020-12), by type name: the report schema's
    ``$defs.evidence_kinds``, which ``schema_rules`` apply to the verdicts of each kind."""
    return {kind.__name__: _schema(kind) for kind in declared_types()}


def schema_rules() -> list[dict[str, Any]]:
    """The report schema's rules: a verdict of a declared kind that is not an error has
    that kind's evidence."""
    rules = []
    for requirement, metrics, declared in KINDS:
        when: dict[str, Any] = {"requirement": {"const": requirement}}
        if metrics is not None:
            when["metric"] = {"enum": sorted(metrics)}
        when["status"] = {"enum": ["pass", "fail", "waived"]}
        rules.append(
            {
                "if": {"properties": when, "required": sorted(when)},
                "then": {
                    "properties": {
                        "evidence": {"$ref": f"#/$defs/evidence_kinds/{declared.__name__}"}
                    }
                },
            }
        )
    return rules


_JSON_TYPES = {float: "number", int: "integer", str: "string", bool: "boolean"}


def _schema(declared: Any) -> dict[str, Any]:
    if declared is Any:
        return {}
    if declared is type(None):
        return {"type": "null"}
    if declared in _JSON_TYPES:
        return {"type": _JSON_TYPES[declared]}
    if _is_typed_dict(declared):
        hints = _hints(declared)
        return {
            "type": "object",
            "required": sorted(declared.__required_keys__),
            "properties": {key: _schema(hint) for key, hint in hints.items()},
        }
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(arm) for arm in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list or (origin is tuple and args and args[-1] is Ellipsis):
        return {"type": "array", "items": _schema(args[0]) if args else {}}
    if origin is tuple:
        items = [_schema(arm) for arm in args]
        return {
            "type": "array",
            "prefixItems": items,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1])}
    raise TypeError(f"no JSON Schema for {declared!r}")
