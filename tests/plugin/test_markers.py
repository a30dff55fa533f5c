"""Marker factories and the checks they stand for stay one interface."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import sklearn.linear_model  # noqa: F401  (in-process pytester runs must find it imported)

from pytest_modelguard import GateError, checks
from pytest_modelguard.core import spec
from pytest_modelguard.plugin import markers


@pytest.mark.parametrize("requirement", sorted(markers.GATES))
def test_the_marker_is_the_check_signature_read_without_importing_it(requirement):
    """The source reader (ast) sees what Python sees: same keywords, same defaults."""
    marker = inspect.signature(markers.GATES[requirement]).parameters
    check = inspect.signature(checks.REQUIREMENTS[requirement]).parameters
    marker_keywords = {
        name: p.default
        for name, p in marker.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in markers.PLUGIN_KEYWORDS
    }
    check_keywords = {
        name: p.default
        for name, p in check.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in markers.CONTEXT_KEYWORDS
    }
    assert marker_keywords == check_keywords
    assert markers.GATES[requirement].__doc__ == inspect.getdoc(checks.REQUIREMENTS[requirement])


def test_every_check_is_a_requirement_and_every_requirement_a_check():
    assert list(markers.GATES) == list(checks.REQUIREMENTS)
    assert list(markers.GATES)[:3] == ["performance", "fairness", "robust"]  # listing order


TOY = """
@requirement(example="min=0.9", needs=Needs(model="required", data="unused"), metric="toy")
def toy(
    model: Any,
    dataset: Any,
    *,
    min: Annotated[float | None, Reports("toy_score")] = None,
    helpers: Annotated[Any, Fixture("toy_helpers"), Needs(data="optional")] = None,
    report: Annotated[Any, FilePath()] = None,
    seed: int = 0,
) -> Verdict:
    \"\"\"Gate a toy requirement.

    More text.
    \"\"\"
    return Verdict(...)


OTHER = 1
"""


def test_a_new_requirement_is_one_declaration(pytestconfig):
    (toy,) = spec.read_declarations(TOY, "tests.toy")
    pytestconfig.addinivalue_line("markers", "modelguard_toy: registered by the plugin")
    factory = markers.make_factory(toy)
    assert str(inspect.signature(factory)) == (
        "(*, min: 'float | None' = None, helpers: 'Any' = None, report: 'Any' = None, "
        "model: 'str | None' = None, data: 'str | None' = None, "
        "max_regression: 'float | None' = None, **unknown) -> 'pytest.MarkDecorator'"
    )
    assert factory(min=0.9, helpers=None).mark.kwargs == {"min": 0.9}
    assert factory(min=0.9).mark.name == "modelguard_toy"
    assert toy.summary == "Gate a toy requirement."
    assert toy.example == "min=0.9"
    assert toy.metric_of({}) == "toy"
    assert toy.metric_of({"min": 0.9}) == "toy_score"
    assert toy.subject_needs({"min": 0.9}) == {"model": "required", "data": "unused"}
    assert toy.subject_needs({"helpers": "mine"}) == {
        "model": "required",
        "data": "optional",
        "helpers": "optional",
    }
    assert toy.fixture_keywords() == {"helpers": "toy_helpers"}
    assert toy.path_keywords() == ("report",)


def test_a_keyword_added_to_a_check_signature_alone_shows_up_in_the_marker():
    """Edit only the check's source (here: a copy of checks/robustness.py in memory): the
    marker, its help and its validation follow."""
    source = Path(
        importlib.import_module("pytest_modelguard.checks.robustness").__file__
    ).read_text()
    edited = source.replace(
        "    confidence: float | None = None,\n    seed: int = 0,",
        "    confidence: float | None = None,\n"
        '    max_wobble: Annotated[float | None, Reports("wobble")] = None,\n'
        "    seed: int = 0,",
        1,
    )
    assert edited != source
    (robust,) = spec.read_declarations(edited, "pytest_modelguard.checks.robustness")
    assert "max_wobble" not in markers.defaults("robust")  # the real one is untouched
    factory = markers.make_factory(robust)
    assert "max_wobble" in inspect.signature(factory).parameters
    assert factory(max_wobble=0.1).mark.kwargs == {"max_wobble": 0.1}
    assert robust.metric_of({"max_wobble": 0.1}) == "wobble"
    assert spec.json_types(robust.keywords["max_wobble"]) == ("number",)


def test_reading_the_declarations_loads_nothing_heavy():
    code = (
        "import sys; from pytest_modelguard.plugin import markers; "
        "lines = markers.marker_lines(); assert len(lines) == len(markers.GATES) + 1; "
        "heavy = [m for m in ('numpy', 'pandas', 'sklearn', 'tensorflow') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- one rule for "one kind of gate per call" -----------------------------------------------

FOREIGN = re.compile(
    r"^(\w+)= does not apply to an? [\w -]+ gate \(\1= is for [\w -]+ gates\): remove it, "
    r"or write a second @(robust|security|privacy|fairness) marker$"
)
TWO_KINDS = re.compile(
    r"^a (robust|security|privacy|fairness) gate checks one thing, got [\w -]+ \(\w+=\) and "
    r"[\w -]+ \(\w+=\): write one @\1 marker \(or call\) per kind$"
)


@pytest.mark.parametrize(
    ("requirement", "keywords"),
    [
        ("robust", {"perturbation": "gaussian_noise", "attack": "pgd"}),
        ("robust", {"monotonic": {"f0": "increasing"}, "eps": 0.1}),
        ("robust", {"eps": 0.1, "max_flip_rate": 0.1}),  # an adversarial gate by default
        ("security", {"fuzz": True, "eps": 0.1}),
        ("security", {"sha256": "0" * 64, "allow": ["numpy.*"]}),
        ("privacy", {"pii": "forbid", "attack": "loss"}),
        ("privacy", {"k_anonymity": 5, "columns": ["text"]}),
        ("fairness", {"stereotype": "crows_pairs", "max_preference": 0.5, "lexicon": {}}),
        ("fairness", {"stereotype": "crows_pairs", "max_preference": 0.5, "sensitive": "sex"}),
        ("fairness", {"counterfactual": "identity", "on": "outputs", "exclude_terms": ["x"]}),
        ("fairness", {"counterfactual": "identity", "on": "outputs", "pos_label": 1}),
        ("fairness", {"counterfactual": "identity", "groups": "religion", "prompts": ["a"]}),
        ("fairness", {"association": "weat", "decision_threshold": 0.3}),
        ("fairness", {"max_disparity": 0.1, "samples": 10}),
    ],
)
def test_a_keyword_of_another_kind_is_the_same_error_everywhere(requirement, keywords):
    with pytest.raises(GateError) as raised:
        checks.REQUIREMENTS[requirement](None, None, **keywords)
    assert FOREIGN.match(str(raised.value)), str(raised.value)


@pytest.mark.parametrize(
    ("requirement", "keywords"),
    [
        ("robust", {"perturbation": "gaussian_noise", "monotonic": {"f0": "increasing"}}),
        ("security", {"sha256": "0" * 64, "fuzz": True}),
        ("privacy", {"pii": "forbid", "k_anonymity": 5}),
        ("fairness", {"stereotype": "crows_pairs", "on": "outputs"}),
        ("fairness", {"max_disparity": 0.1, "association": "weat"}),
        ("fairness", {"counterfactual": "identity", "max_preference": 0.5}),
    ],
)
def test_two_kinds_in_one_call_is_the_same_error_everywhere(requirement, keywords):
    with pytest.raises(GateError) as raised:
        checks.REQUIREMENTS[requirement](None, None, **keywords)
    assert TWO_KINDS.match(str(raised.value)), str(raised.value)


def test_every_kind_keyword_is_a_keyword_of_its_check():
    """A kind that names a keyword its check does not take could never be chosen."""
    for requirement, module, table in [
        ("robust", "robustness", "KINDS"),
        ("security", "security", "KINDS_OF_GATE"),
        ("privacy", "privacy", "KINDS_OF_GATE"),
        ("fairness", "fairness", "KINDS_OF_GATE"),
    ]:
        kinds = getattr(importlib.import_module(f"pytest_modelguard.checks.{module}"), table)
        accepted = set(spec.requirements()[requirement].keywords)
        declared = {name for kind in kinds for name in kind.keywords}
        assert declared <= accepted, declared - accepted
        assert accepted <= declared, accepted - declared  # nothing silently ignored


def test_a_mark_carries_only_what_was_given():
    mark = markers.performance(metric="f1", min=0.8, per_class=False, typo=1).mark
    assert mark.name == "modelguard_performance"
    assert mark.kwargs == {"metric": "f1", "min": 0.8, "typo": 1}
    assert markers.performance(metric="accuracy", min=1).mark.kwargs == {"min": 1}


@pytest.mark.parametrize(
    ("requirement", "keywords", "metric"),
    [
        ("performance", {}, "accuracy"),
        ("performance", {"metric": "f1"}, "f1"),
        ("fairness", {}, "demographic_parity_difference"),
        ("robust", {"eps": 0.1}, "accuracy_drop"),
        ("robust", {"perturbation": "gaussian_noise"}, "flip_rate"),
        ("privacy", {"k_anonymity": 5}, "k_anonymity"),
        ("security", {"safe_load": True}, "unsafe_globals"),
        ("transparency", {"model_card": "card.md"}, "missing_fields"),
        ("compliance", {"framework": "eu-ai-act"}, "eu-ai-act"),
    ],
)
def test_an_error_verdict_is_named_by_the_metric_the_gate_would_report(
    requirement, keywords, metric
):
    assert markers.metric_of(requirement, keywords) == metric


REQ, OPT, NO = "required", "optional", "unused"


@pytest.mark.parametrize(
    ("requirement", "keywords", "needs"),
    [
        ("performance", {"min": 0.8}, {"model": REQ, "data": REQ}),
        (
            "security",
            {"sha256": "0" * 64, "artifact": "m.keras"},
            {"model": NO, "data": NO, "artifact": OPT},
        ),
        ("security", {"fuzz": True}, {"model": REQ, "data": OPT}),
        (
            "security",
            {"prompt_injection": "shipped", "max_leak_rate": 0.0},
            {"model": REQ, "data": NO},
        ),
        ("privacy", {"pii": "forbid"}, {"model": OPT, "data": REQ}),
        ("privacy", {"pii": "forbid", "on": "data"}, {"model": OPT, "data": REQ}),
        ("privacy", {"pii": "forbid", "on": "outputs"}, {"model": REQ, "data": OPT}),
        (
            "privacy",
            {"pii": "forbid", "on": "outputs", "prompts": "p"},
            {"model": REQ, "data": NO, "prompts": OPT},
        ),
        ("privacy", {"max_mia_auc": 0.6}, {"model": REQ, "data": REQ, "members": REQ}),
        (
            "privacy",
            {"max_tpr_at_fpr": {0.01: 0.1}},
            {"model": REQ, "data": REQ, "members": REQ, "trainer": OPT},
        ),
        (
            "privacy",
            {"claimed_epsilon": 1.0, "canaries": 50},
            {"model": NO, "data": REQ, "members": REQ, "trainer": REQ, "canaries": OPT},
        ),
        (
            "privacy",
            {"max_exposure": 3.0, "canaries": "c"},
            {"model": REQ, "data": NO, "canaries": OPT},
        ),
        ("fairness", {"counterfactual": "identity"}, {"model": REQ, "data": OPT}),
        (
            "fairness",
            {"counterfactual": "identity", "on": "outputs"},
            {"model": REQ, "data": OPT, "encoder": OPT},
        ),
        (
            "fairness",
            {"counterfactual": "identity", "on": "outputs", "scorer": "s"},
            {"model": REQ, "data": OPT, "encoder": NO, "scorer": OPT},
        ),
        ("fairness", {"association": "weat"}, {"model": REQ, "data": NO}),
        (
            "robust",
            {"on": "prompts", "min_similarity": 0.8},
            {"model": REQ, "data": OPT, "encoder": OPT},
        ),
        ("transparency", {"model_card": "c.md"}, {"model": NO, "data": NO}),
        (
            "transparency",
            {"verify_claims": True},
            {"model": REQ, "data": REQ, "members": OPT, "trainer": OPT},
        ),
        ("drift", {"max_psi": 0.2}, {"model": NO, "data": REQ, "reference": REQ}),
        ("compliance", {"framework": "eu-ai-act"}, {"model": NO, "data": NO}),
    ],
)
def test_the_subjects_a_gate_needs_come_from_the_declaration(requirement, keywords, needs):
    assert markers.subject_needs(requirement, keywords) == needs


# -- the plugin's marks coexist with a suite's own ------------------------------------------

#: a suite that already has markers named like the requirements
SUITE_MARKERS = (
    "performance security privacy fairness robust explainability transparency compliance"
)


@pytest.fixture
def suite(holdout_project) -> pytest.Pytester:
    pytester = holdout_project()
    markers_ini = "\n".join(f"    {name}: the suite's own" for name in SUITE_MARKERS.split())
    pytester.makeini(
        f"[pytest]\naddopts = -p no:cacheprovider --strict-markers\nmarkers =\n{markers_ini}\n"
    )
    return pytester


def test_a_suites_own_marks_named_like_requirements_run_untouched(suite):
    suite.makepyfile(
        """
        import pytest
        from pytest_modelguard import performance

        @pytest.mark.performance
        def test_plain(request):
            assert request.node.get_closest_marker("performance").args == ()

        @pytest.mark.performance("slow", budget_ms=20)
        def test_with_arguments(request):
            mark = request.node.get_closest_marker("performance")
            assert mark.args == ("slow",) and mark.kwargs == {"budget_ms": 20}

        @pytest.mark.security(level=3)
        @pytest.mark.privacy
        @pytest.mark.fairness(max_disparity="not ours")
        @pytest.mark.robust
        @pytest.mark.compliance
        def test_many(request):
            assert request.node.get_closest_marker("security").kwargs == {"level": 3}

        @performance(metric="accuracy", min=0.5)
        def test_gate(): ...
        """
    )
    result = suite.runpytest("-rA")
    result.assert_outcomes(passed=4)
    # only the plugin's gate has a verdict; the suite's marks are not modelguard gates
    result.stdout.fnmatch_lines(["*1 gates: 1 pass*"])
    result.stdout.no_fnmatch_line("*test_plain  *")
    result.stdout.no_fnmatch_line("*test_many  *")
    # -m per requirement kind: the suite's mark and the plugin's are told apart
    suite.runpytest("-m", "performance").assert_outcomes(passed=2, deselected=2)
    suite.runpytest("-m", "modelguard_performance").assert_outcomes(passed=1, deselected=3)


def test_policy_files_attach_the_plugins_marks(suite):
    (suite.path / "modelguard.toml").write_text(
        '[[requirement]]\nname = "floor"\nkind = "performance"\nmetric = "accuracy"\nmin = 0.5\n'
    )
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.performance
        def test_suite_own(): ...
        """
    )
    result = suite.runpytest("-m", "modelguard_performance", "-q")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*modelguard.toml::floor  performance.accuracy = *"])


def test_a_gate_used_wrongly_is_an_error_of_its_test_only(suite):
    suite.makepyfile(
        """
        from pytest_modelguard import fairness, performance, robust

        @performance
        def test_bare_performance(): ...

        @fairness
        def test_bare_fairness(): ...

        @robust
        def test_bare_robust(): ...

        @performance(0.8)
        def test_positional(): ...

        def test_unit():
            assert 1 + 1 == 2
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*@performance: @performance is used without parentheses: a gate states its "
            'requirement, e.g. @performance(metric="accuracy", min=0.8)*',
            "*@fairness: @fairness is used without parentheses*",
            "*@robust: @robust is used without parentheses*",
            "*@performance: takes keyword arguments only, got positional (0.8,)*",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*TypeError*")


def test_a_bare_gate_on_a_class_is_an_error_of_its_tests():
    @markers.performance
    class TestSomething:
        def test_it(self): ...

    (mark,) = TestSomething.pytestmark
    assert mark.name == "modelguard_performance"
    with pytest.raises(GateError, match="@performance is used without parentheses"):
        markers.spec_from_mark(mark, model_fixture="model", data_fixture="dataset")


def test_a_mark_the_plugin_did_not_make_is_never_a_gate():
    for name in ["performance", "modelguard", "modelguard_nothing", "security"]:
        assert markers.requirement_of(SimpleNamespace(name=name)) is None
    assert markers.requirement_of(SimpleNamespace(name="modelguard_security")) == "security"


# -- through pytest: help, validation and policy files from the signatures ------------------


def test_pytest_markers_lists_every_gate_with_its_check_keywords(suite):
    result = suite.runpytest("--markers")
    out = result.stdout.str()
    for requirement, check in checks.REQUIREMENTS.items():
        (line,) = [
            line
            for line in out.splitlines()
            if line.startswith(f"@pytest.mark.modelguard_{requirement}(")
        ]
        for name, parameter in inspect.signature(check).parameters.items():
            if (
                parameter.kind is inspect.Parameter.KEYWORD_ONLY
                and name not in markers.CONTEXT_KEYWORDS
            ):
                assert f"{name}={parameter.default!r}" in line, (requirement, name)
        first_line = inspect.getdoc(check).split("\n\n")[0].split()[0]
        assert f"select with -m modelguard_{requirement}. {first_line}" in line


def test_misused_keywords_are_errors_of_their_tests_only(suite):
    """An unknown keyword names the accepted ones; a keyword of another kind says which
    kind takes it; a policy value of the wrong type gives its file, line and type."""
    suite.makepyfile(
        """
        from pytest_modelguard import privacy, robust, security

        @robust(eps=0.1, max_wobble=0.2)
        def test_typo(): ...

        @privacy(pii="forbid", colums=["text"])
        def test_other_typo(): ...

        @security(fuzz=True, eps=0.1)
        def test_mixed(): ...

        def test_unit(): ...
        """
    )
    (suite.path / "modelguard.toml").write_text(
        '[[requirement]]\nname = "floor"\nkind = "performance"\nmin = "0.8"\n\n'
        '[[requirement]]\nname = "fine"\nkind = "performance"\nmin = 0.5\n'
    )
    result = suite.runpytest("test_misused_keywords_are_errors_of_their_tests_only.py",
                             "modelguard.toml")  # fmt: skip
    result.assert_outcomes(passed=2, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*@robust: unknown keyword(s) max_wobble; accepted: eps, attack, norm, steps, *",
            "*@privacy: unknown keyword(s) colums; accepted: max_mia_auc, *, columns, *",
            "*@security: eps= does not apply to a fuzz gate (eps= is for attack success gates)*",
            "*modelguard.toml:1: min = '0.8' is a TOML string; @performance takes min: float | None*",
        ],
        consecutive=False,
    )
    # recorded under the entry's requirement and metric, not a "policy" pseudo-requirement
    result.stdout.fnmatch_lines(["*ERROR*modelguard.toml::floor*performance.accuracy*"])
    result.stdout.no_fnmatch_line("*policy.requirement*")


def test_the_policy_schema_is_generated_from_the_signatures():
    jsonschema = pytest.importorskip("jsonschema")
    schema = markers.policy_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    example = Path(__file__).parents[2] / "example_project" / "tests" / "modelguard.toml"
    entries = tomllib.loads(example.read_text())["requirement"]
    assert entries
    for entry in entries:
        assert not list(validator.iter_errors(entry)), entry
    wrong = [
        {"kind": "performance", "min": "0.8"},
        {"kind": "performance", "mn": 0.8},
        {"kind": "robust", "samples": 1.5},
        {"kind": "nothing"},
    ]
    for entry in wrong:
        assert list(validator.iter_errors(entry)), entry
    assert json.dumps(schema)  # plain JSON: it can be published as a file


def test_every_subject_a_declaration_needs_is_one_the_plugin_can_resolve():
    """A Needs(...) role the plugin cannot name a fixture for would be a KeyError at run time."""
    for name, requirement in spec.requirements().items():
        roles = set(requirement.needs)
        for keyword in requirement.keywords.values():
            for _, subjects in keyword.needs:
                roles |= set(subjects)
        assert roles <= {"model", "data", *requirement.fixture_keywords()}, name


# -- policy-file types: what the checks accept, and TOML's string keys ------------------------


@pytest.mark.parametrize(
    ("requirement", "entry"),
    [
        ("fairness", {"counterfactual": "identity", "max_gap": 0.1, "groups": "religion"}),
        (
            "fairness",
            {
                "counterfactual": "identity",
                "max_gap": 0.1,
                "groups": ["european_american_names", "african_american_names"],
            },
        ),
        ("fairness", {"counterfactual": "identity", "max_gap": 0.1, "groups": {"a": ["x"]}}),
        ("drift", {"reference": "ref", "max_psi": 0.2, "features": "age"}),
        ("drift", {"reference": "ref", "max_psi": 0.2, "features": ["age"]}),
        ("privacy", {"max_tpr_at_fpr": {"0.001": 0.01}}),
    ],
)
def test_a_policy_entry_takes_what_the_check_takes(requirement, entry):
    assert markers.entry_problem(requirement, entry) is None


def test_numeric_dict_keys_written_in_toml_reach_the_check_as_numbers():
    entry = tomllib.loads('max_tpr_at_fpr = { "0.001" = 0.01, "1e-2" = 0.05 }')
    mark = pytest.mark.modelguard_privacy(**entry).mark
    gate = markers.spec_from_mark(mark, model_fixture="model", data_fixture="dataset")
    assert gate.keywords["max_tpr_at_fpr"] == {0.001: 0.01, 0.01: 0.05}


def test_a_non_numeric_key_of_a_numeric_dict_says_toml_keys_are_strings():
    problem = markers.entry_problem("privacy", {"max_tpr_at_fpr": {"low": 0.01}})
    assert problem is not None and "TOML keys are strings" in problem, problem


def test_a_profile_scaled_keyword_given_at_its_default_is_kept():
    """The profile scales n_resamples only when the gate does not give it; a given 2000 (the
    default) dropped by the factory would be scaled, unlike the same policy entry."""
    mark = markers.performance(metric="log_loss", max=5.0, confidence=0.95, n_resamples=2000).mark
    assert mark.kwargs["n_resamples"] == 2000
    assert "n_resamples" not in markers.performance(metric="log_loss", max=5.0).mark.kwargs
