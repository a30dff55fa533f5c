"""Marker factories and the checks they stand for stay one interface."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
import sklearn.linear_model  # noqa: F401  (in-process pytester runs must find it imported)

from pytest_modelguard import GateError, checks
from pytest_modelguard.plugin import markers


@pytest.mark.parametrize("requirement", sorted(markers.GATES))
def test_every_marker_keyword_is_a_check_keyword_with_the_same_default(requirement):
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
