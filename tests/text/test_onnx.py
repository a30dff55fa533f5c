"""ONNX Runtime sessions as subjects: real graphs converted from scikit-learn by skl2onnx
(tabular and a TF-IDF text pipeline taking strings) and an embedding-lookup + mean-pool
encoder built with onnx.helper. Each is cross-checked against its source: the same
probabilities (1e-5), the same verdicts, the same embeddings."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from pytest_modelguard import Dataset, Encoder, checks  # noqa: E402
from pytest_modelguard.adapters import adapt  # noqa: E402
from pytest_modelguard.adapters.onnx import OnnxAdapter  # noqa: E402
from pytest_modelguard.core.verdict import GateError  # noqa: E402
from tests.text.conftest import make_texts  # noqa: E402

#: skl2onnx's StringNormalizer defaults to en_US.UTF-8, which minimal images lack
LOCALE = "C.UTF-8"


def session_of(graph) -> object:
    return ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def logistic(tabular) -> LogisticRegression:
    return LogisticRegression().fit(tabular["x_train"], tabular["y_train"])


def converted(logistic: LogisticRegression, *, zipmap: bool):
    """The LogisticRegression as ONNX, with probabilities as a tensor or as ZipMap's list of
    {class: p} maps (skl2onnx's default)."""
    from skl2onnx.common.data_types import FloatTensorType

    graph = skl2onnx.to_onnx(
        logistic,
        initial_types=[("x", FloatTensorType([None, 6]))],
        options={id(logistic): {"zipmap": zipmap}},
    )
    return session_of(graph)


@pytest.fixture(scope="module", params=["tensor", "zipmap"])
def logistic_onnx(request, logistic):
    return converted(logistic, zipmap=request.param == "zipmap")


@pytest.fixture(scope="module")
def text_pipeline():
    texts, labels = make_texts(1200, biased=True, seed=1)
    return make_pipeline(TfidfVectorizer(), LogisticRegression(C=20)).fit(texts, labels)


@pytest.fixture(scope="module")
def text_onnx(text_pipeline):
    from skl2onnx.common.data_types import StringTensorType

    options = {id(text_pipeline[0]): {"locale": LOCALE}, id(text_pipeline[-1]): {"zipmap": False}}
    graph = skl2onnx.to_onnx(
        text_pipeline, initial_types=[("text", StringTensorType([None, 1]))], options=options
    )
    return session_of(graph)


def test_probabilities_equal_scikit_learn(logistic, logistic_onnx, binary_dataset):
    adapter = adapt(logistic_onnx)
    assert isinstance(adapter, OnnxAdapter) and "ONNX Runtime" in adapter.name
    output = adapter.outputs(binary_dataset)
    assert output.kind == "probabilities" and output.classes.tolist() == [0, 1]
    expected = logistic.predict_proba(binary_dataset.features)
    np.testing.assert_allclose(output.array, expected, atol=1e-5)
    assert adapter.identity()["fingerprint_kind"] == "onnx-sha256"
    assert adapter.size_bytes() > 0


def test_gates_give_the_sklearn_verdicts(logistic, logistic_onnx, binary_dataset):
    for spec in (
        {"metric": "accuracy", "min": 0.8, "confidence": 0.95},
        {"metric": "roc_auc", "min": 0.99},  # fails on both
    ):
        on_onnx = checks.performance(logistic_onnx, binary_dataset, **spec)
        on_sklearn = checks.performance(logistic, binary_dataset, **spec)
        assert on_onnx.status == on_sklearn.status
        assert on_onnx.value == pytest.approx(on_sklearn.value, abs=1e-6)
    assert {on_onnx.status, on_sklearn.status} == {"fail"}
    fair = {"metric": "demographic_parity_difference", "max_disparity": 0.1, "sensitive": "group"}
    on_onnx = checks.fairness(logistic_onnx, binary_dataset, **fair)
    on_sklearn = checks.fairness(logistic, binary_dataset, **fair)
    assert (on_onnx.status, on_onnx.value) == (on_sklearn.status, on_sklearn.value)


def test_adversarial_gates_are_decision_based_and_say_so(logistic, tabular):
    pytest.importorskip("foolbox")
    logistic_onnx = converted(logistic, zipmap=False)
    holdout = Dataset.from_arrays(tabular["x"][:300], tabular["y"][:300], name="holdout")
    spec = {"eps": 0.3, "samples": 10, "seed": 3, "max_accuracy_drop": 0.05}
    on_onnx = checks.robust(logistic_onnx, holdout, **spec)
    on_sklearn = checks.robust(logistic, holdout, **spec)
    assert on_onnx.evidence["attack"] == "hopskipjump"  # no gradients: decision-based
    assert "hopskipjump (linf" in on_onnx.message  # the verdict names the attack and its norm
    assert on_onnx.status == on_sklearn.status == "fail"
    assert on_onnx.value == pytest.approx(on_sklearn.value, abs=0.07)
    with pytest.raises(GateError, match="attack='pgd' needs gradients, but ONNX Runtime"):
        checks.robust(logistic_onnx, holdout, eps=0.1, attack="pgd", max_accuracy_drop=0.1)
    with pytest.raises(GateError, match="needs gradients"):
        checks.robust(logistic_onnx, holdout, eps=0.1, attack="ensemble", max_accuracy_drop=0.1)


def test_a_string_graph_scores_texts_like_its_pipeline(text_pipeline, text_onnx, name_texts):
    output = adapt(text_onnx).outputs(name_texts)
    expected = text_pipeline.predict_proba(list(name_texts.features))
    np.testing.assert_allclose(output.array, expected, atol=1e-5)
    swap = {
        "counterfactual": "identity",
        "groups": ("european_american_names", "african_american_names"),
        "max_gap": 0.05,
        "seed": 11,
    }
    on_onnx = checks.fairness(text_onnx, name_texts, **swap)
    on_sklearn = checks.fairness(text_pipeline, name_texts, **swap)
    assert on_onnx.status == on_sklearn.status == "fail"  # the pipeline learned the bias
    assert on_onnx.value == pytest.approx(on_sklearn.value, abs=1e-5)
    assert on_onnx.counterexample["gap"] > 0.05
    tokens = {"protected_tokens": "identity", "protected_not_in_top_k": 3, "samples": 60}
    on_onnx = checks.explainability(text_onnx, name_texts, seed=5, **tokens)
    on_sklearn = checks.explainability(text_pipeline, name_texts, seed=5, **tokens)
    assert on_onnx.evidence["method"] == "occlusion"
    assert on_onnx.status == on_sklearn.status
    ranked = [(r["token"], r["importance"]) for r in on_onnx.evidence["ranking"][:5]]
    expected = [(r["token"], r["importance"]) for r in on_sklearn.evidence["ranking"][:5]]
    assert [t for t, _ in ranked] == [t for t, _ in expected]
    np.testing.assert_allclose([v for _, v in ranked], [v for _, v in expected], atol=1e-5)


# -- an encoder built with onnx.helper: embedding lookup, mask, mean pool -----------------

VOCABULARY = [
    "[pad]",
    "[unk]",
    *sorted({w for t in make_texts(400, biased=False, seed=5)[0] for w in t.lower().split()}),
]


def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
    """Whitespace tokens to ids, padded with 0; the mask marks real tokens."""
    index = {w: i for i, w in enumerate(VOCABULARY)}
    rows = [[index.get(w, 1) for w in t.lower().split()] or [1] for t in texts]
    width = max(map(len, rows))
    ids = np.zeros((len(rows), width), np.int64)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = row
    return {"input_ids": ids, "attention_mask": (ids > 0).astype(np.float32)}


@pytest.fixture(scope="module")
def embeddings() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(len(VOCABULARY), 12)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder_session(embeddings):
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["vectors"]),
        helper.make_node("Unsqueeze", ["attention_mask", "last"], ["mask3"]),
        helper.make_node("Mul", ["vectors", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "one"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "one"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mean_pool_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, [None, None]),
            helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, [None, None]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, 12])],
        initializer=[
            numpy_helper.from_array(embeddings, "table"),
            numpy_helper.from_array(np.array([-1], np.int64), "last"),
            numpy_helper.from_array(np.array([1], np.int64), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return session_of(model)


def numpy_encode(texts: list[str], embeddings: np.ndarray) -> np.ndarray:
    feeds = tokenize(texts)
    mask = feeds["attention_mask"][:, :, None]
    return (embeddings[feeds["input_ids"]] * mask).sum(axis=1) / mask.sum(axis=1)


def test_an_onnx_encoder_returns_the_mean_pooled_embeddings(encoder_session, embeddings):
    texts = ["Emily said the food was great", "a sad day for Jamal", "unheard words"]
    encoder = Encoder.from_onnx(encoder_session, tokenize=tokenize)
    np.testing.assert_allclose(encoder.encode(texts), numpy_encode(texts, embeddings), atol=1e-6)
    with pytest.raises(GateError, match="2 inputs"):  # it cannot guess ids from strings
        Encoder.from_onnx(encoder_session)
    with pytest.raises(GateError, match="2 inputs"):  # texts need tokenize= there too
        adapt(encoder_session).outputs(Dataset.from_texts(texts, np.array([0, 1, 0])))


def test_an_onnx_string_graph_is_an_encoder_and_gates_like_its_source(text_pipeline, text_onnx):
    """The TF-IDF step alone, exported, is an encoder on strings: as_encoder takes it."""
    from skl2onnx.common.data_types import StringTensorType

    tfidf = text_pipeline[0]
    graph = skl2onnx.to_onnx(
        tfidf,
        initial_types=[("text", StringTensorType([None, 1]))],
        options={id(tfidf): {"locale": LOCALE}},
    )
    session = session_of(graph)
    texts = ["Emily said the food was great", "a sad day for Jamal"]
    from pytest_modelguard.text.encoders import as_encoder

    vectors = as_encoder(session).encode(texts)
    np.testing.assert_allclose(vectors, tfidf.transform(texts).toarray(), atol=1e-5)


def _per_column_session(pipeline, columns):
    from skl2onnx.common.data_types import FloatTensorType

    types = [(c, FloatTensorType([None, 1])) for c in columns]
    options = {id(pipeline[-1]): {"zipmap": False}}
    return session_of(skl2onnx.to_onnx(pipeline, initial_types=types, options=options))


def test_a_graph_with_one_input_per_column_is_fed_by_column_name(tabular):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    columns = list("abcdef")
    train = pd.DataFrame(tabular["x_train"], columns=columns)
    pipeline = make_pipeline(
        ColumnTransformer([("n", StandardScaler(), columns)]), LogisticRegression()
    ).fit(train, tabular["y_train"])
    session = _per_column_session(pipeline, columns)
    # the dataset's columns in another order than the graph's inputs: matched by name
    holdout = pd.DataFrame(tabular["x"], columns=columns)[columns[::-1]]
    dataset = Dataset.from_pandas(holdout.assign(y=tabular["y"]), target="y", name="df")
    output = adapt(session).outputs(dataset)
    expected = pipeline.predict_proba(holdout)
    np.testing.assert_allclose(output.array, expected, atol=1e-5)
    on_onnx = checks.performance(session, dataset, metric="accuracy", min=0.5)
    assert on_onnx.value == pytest.approx(checks.performance(pipeline, dataset, min=0.5).value)
    renamed = Dataset.from_pandas(
        holdout.rename(columns={"a": "A"}).assign(y=tabular["y"]), target="y", name="renamed"
    )
    with pytest.raises(GateError, match=r"no column \['a'\]"):
        adapt(session).outputs(renamed)
    with pytest.raises(GateError, match="no column"):
        adapt(session).outputs(_tabular(tabular))  # unnamed columns


@pytest.fixture(scope="module")
def per_column(tabular):
    """A scikit-learn pipeline on six named columns and its skl2onnx graph with one input per
    column, and the holdout with its columns in the reverse of the graph's order."""
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    columns = list("abcdef")
    train = pd.DataFrame(tabular["x_train"], columns=columns)
    pipeline = make_pipeline(
        ColumnTransformer([("n", StandardScaler(), columns)]), LogisticRegression()
    ).fit(train, tabular["y_train"])
    holdout = pd.DataFrame(tabular["x"][:300], columns=columns)[columns[::-1]]
    return pipeline, _per_column_session(pipeline, columns), holdout


def test_adversarial_rows_reach_a_per_column_graph_by_name(per_column, tabular):
    """The robustness gate attacks rows of its own, passed with the dataset's column names
    (``attacks._NumpyLogits``): fed by position, they reached the wrong graph inputs when the
    dataset's column order is not the graph's (probabilities off by up to 1.0), so the attack
    started from misclassified rows and the gate measured the misfeed (review)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("foolbox")
    pipeline, session, holdout = per_column
    attacked = pd.DataFrame(holdout.to_numpy(np.float32), columns=list(holdout.columns))
    fed = adapt(session).predict_batch(attacked)
    np.testing.assert_allclose(fed, pipeline.predict_proba(holdout), atol=1e-5)
    dataset = Dataset.from_pandas(holdout.assign(y=tabular["y"][:300]), target="y", name="df")
    spec = {"eps": 0.05, "samples": 20, "seed": 3, "max_accuracy_drop": 0.5}
    on_onnx = checks.robust(session, dataset, **spec)
    on_sklearn = checks.robust(pipeline, dataset, **spec)
    assert on_onnx.evidence["attack"] == "hopskipjump" == on_sklearn.evidence["attack"]
    assert on_onnx.value == pytest.approx(on_sklearn.value, abs=0.1)
    assert on_onnx.value < 0.3, on_onnx.message  # eps 0.05 breaks few of 20 rows


def test_attack_rows_of_a_reordered_array_dataset_reach_a_per_column_graph_by_name(
    per_column, tabular
):
    """A dataset made from arrays names its columns but its rows do not: the rows an attack
    builds from it carry the dataset's names for a graph that feeds inputs by name
    (``needs_column_names``), so columns in another order than the graph's are not misfed."""
    pytest.importorskip("foolbox")
    from pytest_modelguard.checks.robustness import attacks

    pipeline, session, holdout = per_column
    reordered = Dataset.from_arrays(
        holdout.to_numpy(np.float32), tabular["y"][:300], feature_names=list(holdout.columns)
    )
    adapter = adapt(session)
    expected = pipeline.predict_proba(holdout)
    np.testing.assert_allclose(adapter.outputs(reordered).array, expected, atol=1e-5)
    target = attacks.target_of(adapter, reordered, None, [0.05], "linf")
    assert target.columns == list(holdout.columns)
    model_function, _ = attacks._numpy_logits(
        adapter, target.output_kind, target.classes, lambda rows: rows, target.columns
    )
    logits = model_function(target.x)  # what the attack's foolbox model sees
    np.testing.assert_allclose(np.exp(logits), expected, atol=1e-5)
    in_order = adapt(session).predict_batch(holdout[list("abcdef")].to_numpy(np.float32))
    np.testing.assert_allclose(in_order, expected, atol=1e-5)  # unnamed rows: graph order


def test_the_fingerprint_is_the_graph_as_loaded(logistic, tmp_path):
    import hashlib

    from skl2onnx.common.data_types import FloatTensorType

    path = tmp_path / "model.onnx"
    graph = skl2onnx.to_onnx(logistic, initial_types=[("x", FloatTensorType([None, 6]))])
    path.write_bytes(graph.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    adapter = OnnxAdapter(session)
    other = LogisticRegression(C=0.001).fit(np.eye(6, dtype=np.float32), [0, 1] * 3)
    changed = skl2onnx.to_onnx(other, initial_types=[("x", FloatTensorType([None, 6]))])
    path.write_bytes(changed.SerializeToString())  # the file changes after loading
    identity = adapter.identity()
    assert identity["fingerprint_kind"] == "onnx-sha256"
    assert identity["fingerprint"] == hashlib.sha256(graph.SerializeToString()).hexdigest()
    path.unlink()
    assert adapter.size_bytes() == len(graph.SerializeToString())


def test_text_on_a_numeric_graph_needs_tokenize(logistic_onnx, name_texts, tabular):
    with pytest.raises(GateError, match="tokenize="):
        adapt(logistic_onnx).outputs(name_texts)
    with pytest.raises(GateError, match=r"Dataset\.from_texts"):
        checks.performance(OnnxAdapter(_string_session()), _tabular(tabular), min=0.5)


def _string_session():
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["text"], ["out"])
    graph = helper.make_graph(
        [node],
        "strings",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("out", TensorProto.STRING, [None])],
    )
    return session_of(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _tabular(tabular) -> Dataset:
    return Dataset.from_arrays(tabular["x"][:50], tabular["y"][:50], name="rows")


ONNX_CONFTEST = """
import numpy as np
import onnxruntime
import pytest
import skl2onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from pytest_modelguard import Dataset

rng = np.random.default_rng(0)
X = rng.normal(size=(400, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 1] > 0).astype(int)

@pytest.fixture(scope="session")
def model():
    fitted = LogisticRegression().fit(X[:300], Y[:300])
    graph = skl2onnx.to_onnx(fitted, initial_types=[("x", FloatTensorType([None, 4]))])
    return onnxruntime.InferenceSession(
        graph.SerializeToString(), providers=["CPUExecutionProvider"]
    )

@pytest.fixture(scope="session")
def dataset():
    return Dataset.from_arrays(X[300:], Y[300:], name="holdout")
"""

ONNX_TESTS = """
from pytest_modelguard import performance, robust

@performance(metric="accuracy", min=0.9)
def test_accuracy(): ...

@robust(eps=0.1, attack="pgd", max_accuracy_drop=0.2)
def test_pgd_on_a_session(): ...
"""


def test_an_onnx_session_fixture_through_pytest(pytester: pytest.Pytester):
    pytester.makeconftest(ONNX_CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_onnx_gates=ONNX_TESTS)
    result = pytester.runpytest("-rA")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("errors") == 1, result.stdout.str()
    out = result.stdout.str()
    assert "performance.accuracy" in out
    assert "attack='pgd' needs gradients, but ONNX Runtime session" in out
