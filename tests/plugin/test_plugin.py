"""The plugin as users meet it, through pytester: outcomes, errors, markers, seeds, JUnit, xdist."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import SCHEMAS

#: fixtures after the shared model and dataset (tests/conftest.py: holdout_project)
CONFTEST = """
@pytest.fixture(scope="session")
def keras_model():
    import keras
    return keras.models.load_model({keras_path!r})

@pytest.fixture(scope="session")
def all_rows():
    return Dataset.from_arrays(DATA["x"], DATA["y"], name="all")
"""


@pytest.fixture
def project(holdout_project, keras_binary_path) -> pytest.Pytester:
    pytester = holdout_project(
        groups=True, extra=CONFTEST.format(keras_path=str(keras_binary_path))
    )
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def junit(
    pytester: pytest.Pytester, *args: str, family: str = "xunit2"
) -> tuple[pytest.RunResult, ET.Element]:
    path = pytester.path / f"junit-{family}.xml"
    result = pytester.runpytest(f"--junitxml={path}", "-o", f"junit_family={family}", *args)
    return result, ET.parse(path).getroot()


def test_pass_fail_and_the_summary(project):
    project.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.7)
        def test_accuracy(): ...

        @performance(metric="roc_auc", min=0.999)
        def test_auc_too_strict(): ...

        @performance(metric="f1", min=0.5, model="keras_model", data="all_rows")
        def test_keras_f1(): ...
        """
    )
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL performance: roc_auc must be >= 0.999",
            "*measured  0.9*",
            "*formula   P(score(pos) > score(neg)) + P(tie) / 2",
            "*n         300",
            "*= modelguard =*",
            "PASS   test_*.py::test_accuracy  performance.accuracy = 0.*, required >= 0.7 (n=300)",
            "FAIL   test_*.py::test_auc_too_strict  performance.roc_auc = 0.*, required >= 0.999 (n=300)",
            "PASS   test_*.py::test_keras_f1  performance.f1 = 0.*, required >= 0.5 (n=600)",
            "3 gates: 2 pass, 1 fail (seed *)",
        ]
    )


def test_a_failing_body_and_a_gate_both_count(project):
    project.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.5)
        def test_body_fails():
            assert 1 == 2
        """
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*assert 1 == 2*", "PASS   *test_body_fails  performance.accuracy*"]
    )


@pytest.mark.parametrize(
    ("decorator", "message"),
    [
        (
            '@performance(metric="accuracy", mn=0.9)',
            "@performance: unknown keyword(s) mn; accepted: metric, min, max, confidence, *",
        ),
        (
            '@pytest.mark.modelguard_performance("accuracy", min=0.9)',
            "@performance: takes keyword arguments only*",
        ),
        (
            '@performance(metric="accuracy")',
            "@performance: performance gate needs a threshold: give min= or max=",
        ),
        (
            '@performance(metric="acc", min=0.9)',
            "@performance: unknown performance metric 'acc'; choose one of *",
        ),
        (
            '@performance(metric="accuracy", min=0.9, model="champion")',
            "@performance: no fixture named 'champion' provides the model: define one in conftest.py*",
        ),
        (
            '@performance(metric="accuracy", min=0.9, data="model")',
            "*the data for performance is a LogisticRegression*",
        ),
        (
            '@performance(metric="accuracy", min=0.9, model="broken")',
            "*the model predict raised RuntimeError on rows 0-299: boom",
        ),
        (
            '@performance(metric="roc_auc", min=0.9, data="one_class")',
            "*roc_auc is undefined: class 1 is no row of the target*",
        ),
    ],
)
def test_a_gate_that_cannot_be_evaluated_is_an_error(project, decorator, message):
    project.makepyfile(
        f"""
        import numpy as np
        import pytest
        from pytest_modelguard import Dataset, performance

        @pytest.fixture
        def broken():
            def predict(rows):
                raise RuntimeError("boom")
            return predict

        @pytest.fixture
        def one_class(dataset):
            return Dataset.from_arrays(dataset.features, np.zeros(len(dataset), dtype=int))

        {decorator}
        def test_gate(): ...

        def test_neighbour_still_runs(): ...
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([message, "ERROR  test_*::test_gate  performance.*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_missing_default_fixtures_say_how_to_provide_them(pytester):
    pytester.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.9)
        def test_gate(): ...
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no fixture named 'model' provides the model*or the ini option modelguard_model_fixture"]
    )


def test_ini_options_name_the_subject_fixtures(project):
    project.makeini(
        "[pytest]\naddopts = -p no:cacheprovider\n"
        "modelguard_model_fixture = keras_model\nmodelguard_data_fixture = all_rows\n"
    )
    project.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.5)
        def test_gate(): ...
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PASS   *performance.accuracy = * (n=600)"])


def test_umbrella_marker_selects_gates(project):
    project.makepyfile(
        """
        import pytest
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.5)
        def test_gate(): ...

        @pytest.mark.modelguard_performance(metric="recall", min=0.5)
        def test_raw_mark(): ...

        def test_unit(): ...
        """
    )
    project.runpytest("-m", "modelguard", "--strict-markers").assert_outcomes(
        passed=2, deselected=1
    )
    project.runpytest("-m", "not modelguard_performance").assert_outcomes(passed=1, deselected=2)


def test_markers_are_registered_with_their_signature(project):
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.modelguard_performance(*, metric='accuracy', min=None, max=None, confidence=None, *model=None, data=None, max_regression=None): modelguard gate written @performance(...); select with -m modelguard_performance.*",
            "@pytest.mark.modelguard: carried by every modelguard gate test*",
        ]
    )


def test_the_imperative_fixture_records_like_a_marker(project):
    project.makepyfile(
        """
        import pytest
        from pytest_modelguard import GateFailure

        def test_imperative(modelguard, model, dataset):
            verdict = modelguard.performance(model, dataset, metric="accuracy", min=0.5)
            assert verdict.status == "pass"
            weak = modelguard.check("performance", model, dataset, metric="accuracy", min=0.99)
            assert weak.status == "fail"
            assert len(modelguard.verdicts) == 2

        def test_imperative_fails(modelguard, model, dataset):
            modelguard.performance(model, dataset, metric="f1", min=0.99)
        """
    )
    result, root = junit(project, family="xunit1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GateFailure: FAIL performance: f1 must be >= 0.99*"])
    names = [p.get("name") for p in root.iter("property")]
    assert "modelguard.performance.accuracy.value" in names
    assert "modelguard.performance.accuracy[2].value" in names
    assert "modelguard.performance.f1.status" in names


def test_an_unknown_keyword_of_an_imperative_call_is_a_gate_error(project):
    """Like a marker's: an ERROR naming the accepted keywords, not an internal TypeError."""
    project.makepyfile(
        """
        def test_unknown(modelguard, model, dataset):
            verdict = modelguard.check("performance", model, dataset, min=0.5, bogus=1)
            assert verdict.status == "error"
            assert ": unknown keyword(s) bogus; accepted: metric, " in verdict.message
            assert "report it" not in verdict.message
            verdict = modelguard.check("performance", model, dataset, min=0.5, seed=3)
            assert ": unknown keyword(s) seed; accepted: " in verdict.message
        """
    )
    project.runpytest("-q", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_an_imperative_call_takes_numeric_keys_written_as_strings_like_a_policy_file(
    holdout_project,
):
    """A policy file writes ``max_tpr_at_fpr = { "0.1" = 0.5 }`` (TOML keys are strings) and
    the gate gets {0.1: 0.5}; the same dict given to ``modelguard.check`` was an ERROR
    ("a false-positive rate in (0, 1)") until both paths shared one conversion (review)."""
    members = """
@pytest.fixture(scope="session")
def members():
    return Dataset.from_arrays(DATA["x"][:300], DATA["y"][:300], name="train")
"""
    project = holdout_project(extra=members)
    project.makepyfile(
        """
        def test_lira(modelguard, model, dataset, members):
            spec = dict(members=members, samples=100)
            numbers = modelguard.check("privacy", model, dataset, max_tpr_at_fpr={0.1: 0.5}, **spec)
            strings = modelguard.check("privacy", model, dataset, max_tpr_at_fpr={"0.1": 0.5}, **spec)
            for verdict in (numbers, strings):  # each call has its own seed: values differ
                assert verdict.status in ("pass", "fail"), verdict.message
                assert (verdict.metric, verdict.threshold) == ("tpr_at_fpr", 0.5)
                assert "at FPR    0.1 (" in verdict.message, verdict.message
        """
    )
    project.runpytest("-q", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_seed_in_header_reused_with_last_and_validated(pytester):
    pytester.makepyfile(
        """
        def test_rng(modelguard_rng, modelguard_seed):
            print("DRAW", modelguard_seed, modelguard_rng.integers(1_000_000))
        """
    )
    first = pytester.runpytest("-s", "--modelguard-seed=random")
    header = [line for line in first.outlines if line.startswith("modelguard: seed")]
    assert len(header) == 1
    seed = header[0].split()[2]
    draw = next(line[line.index("DRAW") :] for line in first.outlines if "DRAW" in line)
    again = pytester.runpytest("-s", "--modelguard-seed=last")
    assert f"modelguard: seed {seed} (rerun with --modelguard-seed={seed})" in again.stdout.str()
    assert draw in again.stdout.str()
    pinned = pytester.runpytest("-s", f"--modelguard-seed={seed}")
    assert draw in pinned.stdout.str()
    other = pytester.runpytest("-s", f"--modelguard-seed={int(seed) + 1}")
    assert draw not in other.stdout.str()
    bad = pytester.runpytest("--modelguard-seed=soon")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--modelguard-seed='soon': expected an integer, 'random' or 'last'"])


CI_TESTS = """
from pytest_modelguard import performance

@performance(metric="accuracy", min=0.5, confidence=0.95)
def test_accuracy(): ...

@performance(metric="roc_auc", min=0.5, confidence=0.9, n_resamples=500)
def test_auc(): ...

@performance(metric="recall", min=0.99)
def test_recall_fails(): ...
"""


def suite_properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}


def test_junit_xunit2_is_schema_valid_and_keyed_by_test_id(project):
    xmlschema = pytest.importorskip("xmlschema")
    project.makepyfile(test_gates=CI_TESTS)
    result, root = junit(project, family="xunit2")
    result.assert_outcomes(passed=2, failed=1)
    assert (
        "is incompatible with junit_family" not in result.stdout.str()
    )  # record_property's warning
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(
        str(project.path / "junit-xunit2.xml")
    )
    assert not [tc for tc in root.iter("testcase") if tc.find("properties") is not None]
    properties = suite_properties(root)
    prefix = "test_gates.py::test_accuracy::modelguard.performance.accuracy."
    assert {
        f"{prefix}{field}"
        for field in ("value", "threshold", "operator", "ci_low", "ci_high", "status", "n")
    } <= set(properties)
    assert properties[prefix + "operator"] == ">=" and properties[prefix + "n"] == "300"
    assert (
        float(properties[prefix + "ci_low"])
        < float(properties[prefix + "value"])
        < float(properties[prefix + "ci_high"])
    )
    assert (
        properties["test_gates.py::test_recall_fails::modelguard.performance.recall.status"]
        == "fail"
    )


@pytest.mark.parametrize("family", ["xunit1", "legacy"])
def test_junit_xunit1_puts_properties_in_the_testcase(project, family):
    project.makepyfile(test_gates=CI_TESTS)
    result, root = junit(project, family=family)
    result.assert_outcomes(passed=2, failed=1)
    case = next(tc for tc in root.iter("testcase") if tc.get("name") == "test_auc")
    properties = {p.get("name"): p.get("value") for p in case.find("properties")}
    assert properties["modelguard.performance.roc_auc.status"] == "pass"
    assert properties["modelguard.performance.roc_auc.threshold"] == "0.5"
    assert root.find("testsuite").find("properties") is None


def test_same_seed_same_verdicts_and_xdist_matches_serial(project):
    pytest.importorskip("xdist")
    project.makepyfile(test_gates=CI_TESTS)
    serial_xml, parallel_xml = project.path / "serial.xml", project.path / "parallel.xml"
    serial = project.runpytest_subprocess("--modelguard-seed=11", f"--junitxml={serial_xml}")
    parallel = project.runpytest_subprocess(
        "--modelguard-seed=11", "-n", "2", f"--junitxml={parallel_xml}"
    )
    serial.assert_outcomes(passed=2, failed=1)
    parallel.assert_outcomes(passed=2, failed=1)
    serial_properties = suite_properties(ET.parse(serial_xml).getroot())
    assert len(serial_properties) == 7 + 7 + 5
    assert suite_properties(ET.parse(parallel_xml).getroot()) == serial_properties
    summary = [line for line in serial.outlines if line.startswith(("PASS", "FAIL"))]
    assert summary == [line for line in parallel.outlines if line.startswith(("PASS", "FAIL"))]


def test_disabling_the_plugin(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.modelguard_performance(metric="accuracy", min=0.99)
        def test_gate(): ...
        """
    )
    project.runpytest().assert_outcomes(failed=1)
    project.runpytest("-p", "no:modelguard").assert_outcomes(passed=1)


def test_hooks_adapt_new_frameworks_and_observe_verdicts(project):
    project.makeconftest(
        project.path.joinpath("conftest.py").read_text()
        + """
from pytest_modelguard.adapters import Adapter

class Thresholder:
    '''A "framework" the plugin does not know.'''

class ThresholderAdapter(Adapter):
    output = "labels"

    def predict_batch(self, rows):
        return (rows[:, 0] > 0).astype(int)

def pytest_modelguard_adapt(model):
    if isinstance(model, Thresholder):
        return ThresholderAdapter(model)

SEEN = []

def pytest_modelguard_verdict(verdict, nodeid):
    SEEN.append((nodeid, verdict.metric, verdict.status))

def pytest_sessionfinish(session):
    print("OBSERVED", SEEN)

@pytest.fixture
def thresholder():
    return Thresholder()
"""
    )
    project.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="accuracy", min=0.6, model="thresholder")
        def test_custom(): ...
        """
    )
    result = project.runpytest("-s")
    result.assert_outcomes(passed=1)
    observed = "OBSERVED [('test_hooks_adapt_new_frameworks_and_observe_verdicts.py::test_custom', 'accuracy', 'pass')]"
    assert observed in result.stdout.str()


def test_importing_the_plugin_stays_light():
    heavy = (
        "tensorflow",
        "keras",
        "fairlearn",
        "foolbox",
        "pandas",
        "sklearn",
        "hypothesis",
        "numpy",
    )
    code = (
        "import sys, pytest_modelguard, pytest_modelguard.plugin; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_profile_is_chosen_shown_and_defaults_to_ci_under_ci(pytester, monkeypatch):
    pytester.makepyfile("def test_nothing(): ...")
    monkeypatch.delenv("CI", raising=False)
    assert "profile dev" in pytester.runpytest().stdout.str()
    assert "profile release" in pytester.runpytest("--modelguard-profile=release").stdout.str()
    monkeypatch.setenv("CI", "true")
    assert "profile ci" in pytester.runpytest().stdout.str()
    bad = pytester.runpytest("--modelguard-profile=fast")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


POLICY = """
[[requirement]]
name = "accuracy_floor"
kind = "performance"
metric = "accuracy"
min = 0.7

[[requirement]]
kind = "performance"
metric = "recall"
min = 0.999

[[requirement]]
name = "typo"
kind = "performance"
metric = "accuracy"
mn = 0.7

[[requirement]]
name = "unknown_kind"
kind = "fairnes"
"""


def test_policy_file_requirements_are_test_items(project):
    project.path.joinpath("modelguard.toml").write_text(POLICY)
    project.makepyfile(test_unit="def test_unit(): ...")
    result, root = junit(project, "-rA", family="xunit2")
    result.assert_outcomes(passed=2, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*modelguard.toml:13: performance: unknown keyword(s) mn; accepted: metric, min, *",
            "*modelguard.toml:19: unknown requirement kind 'fairnes'; choose one of performance, fairness, *",
            "PASS   modelguard.toml::accuracy_floor  performance.accuracy = *, required >= 0.7 (n=300)",
            "FAIL   modelguard.toml::performance_2  performance.recall = *, required >= 0.999 (n=300)",
        ]
    )
    properties = suite_properties(root)
    assert (
        properties["modelguard.toml::accuracy_floor::modelguard.performance.accuracy.status"]
        == "pass"
    )
    selected = project.runpytest("-m", "modelguard", "--collect-only", "-q")
    selected.stdout.fnmatch_lines(
        [
            "modelguard.toml::accuracy_floor",
            "modelguard.toml::performance_2",
            "modelguard.toml::typo",
            "modelguard.toml::unknown_kind",
        ]
    )
    assert "test_unit" not in selected.stdout.str()


def test_policy_in_pyproject_and_a_broken_file(project):
    project.path.joinpath("pyproject.toml").write_text(
        '[tool.modelguard]\n\n[[tool.modelguard.requirement]]\nkind = "performance"\nmetric = "f1"\nmin = 0.5\n'
    )
    project.runpytest("pyproject.toml").assert_outcomes(passed=1)
    project.path.joinpath("modelguard.toml").write_text("[[requirement]\nkind = 1\n")
    broken = project.runpytest("modelguard.toml")
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(["*modelguard.toml: not valid TOML: *line 1*"])


def test_the_release_profile_draws_more_resamples_unless_a_gate_says(project):
    # f1: a bootstrapped metric (accuracy has a closed-form Wilson interval, no resamples)
    project.makeconftest(
        project.path.joinpath("conftest.py").read_text()
        + """
def pytest_modelguard_verdict(verdict, nodeid):
    print("RESAMPLES", nodeid.split("::")[-1], verdict.evidence["n_resamples"])
"""
    )
    project.makepyfile(
        """
        from pytest_modelguard import performance

        @performance(metric="f1", min=0.1, confidence=0.95)
        def test_default(): ...

        @performance(metric="f1", min=0.1, confidence=0.95, n_resamples=300)
        def test_given(): ...
        """
    )
    assert (
        "RESAMPLES test_default 2000"
        in project.runpytest("-s", "--modelguard-profile=ci").stdout.str()
    )
    release = project.runpytest("-s", "--modelguard-profile=release").stdout.str()
    assert "RESAMPLES test_default 10000" in release and "RESAMPLES test_given 300" in release
