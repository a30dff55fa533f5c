"""Pickle opcode scanning: real pickles, joblib files and archives; nothing is unpickled."""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_modelguard.checks.security import scanning as pickles
from pytest_modelguard.core.verdict import GateError


class CreatesFile:
    """Unpickling this opens ``path`` for writing: it creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class Custom:
    """A class of the user's own, outside the default allow-list."""


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, x[:, 0] > 0)


def names(scan: pickles.Scan) -> list[str]:
    return [f.name for f in scan.unsafe]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_that_would_create_a_file_is_unsafe_and_the_file_is_never_created(
    tmp_path, protocol
):
    target = tmp_path / "created_by_unpickling.txt"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(CreatesFile(target), protocol=protocol))

    scan = pickles.scan_path(path)

    assert names(scan) == ["io.open"]
    assert scan.unsafe[0].reason.startswith("denied")
    assert scan.unsafe[0].where.startswith("model.pkl @")
    assert not target.exists()
    pickle.loads(path.read_bytes()).close()  # the artifact is truly hostile: loading creates it
    assert target.exists()


def test_stack_global_operands_are_resolved_through_the_memo():
    # builtins/eval pushed, memoised, popped; later fetched with BINGET: names hidden from a
    # scanner that only looks at the strings right before STACK_GLOBAL
    data = (
        b"\x80\x04\x8c\x08builtins\x940\x8c\x04eval\x940"  # MEMOIZE, POP twice
        b"h\x00h\x01\x93\x8c\x031+1\x85R."  # BINGET 0, BINGET 1, STACK_GLOBAL, REDUCE
    )
    scan = pickles.scan_pickle(data, where="hidden")
    assert names(scan) == ["builtins.eval"]
    fetch = b"j" + struct.pack("<I", 0) + b"j" + struct.pack("<I", 1)  # LONG_BINGET 0, 1
    data = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x9400" + fetch + b"\x93."
    assert names(pickles.scan_pickle(data, where="long")) == ["os.system"]


def test_dotted_names_escape_no_wildcard():
    # protocol 4 resolves "os.system" as an attribute path of an allowed module
    data = b"\x80\x04\x8c\x0csklearn.base\x8c\tos.system\x93."
    scan = pickles.scan_pickle(data, where="dotted")
    assert names(scan) == ["sklearn.base.os.system"]
    assert pickles.allowed("sklearn.base", "BaseEstimator")
    assert not pickles.allowed("sklearn.utils", "check_array")  # sklearn.*: classes only


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_of_a_real_pipeline_are_clean(tmp_path, pipeline, compress):
    path = tmp_path / "model.joblib"
    joblib.dump(pipeline, path, compress=compress)
    scan = pickles.scan_path(path)
    assert scan.unsafe == []
    referenced = {name for name, _ in scan.references}
    assert "sklearn.pipeline.Pipeline" in referenced
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in referenced


def test_a_hostile_object_inside_a_joblib_object_array_is_found(tmp_path, pipeline):
    target = tmp_path / "never.txt"
    path = tmp_path / "model.joblib"
    weights = np.arange(1000.0)
    joblib.dump({"model": pipeline, "w": weights, "extra": np.array([CreatesFile(target)])}, path)
    scan = pickles.scan_path(path)
    assert names(scan) == ["io.open"]
    assert "(object array)" in scan.unsafe[-1].where
    assert not target.exists()


def test_user_classes_need_allow_and_dangerous_entries_cannot_be_allowed():
    data = pickle.dumps(Custom())
    assert names(pickles.scan_pickle(data, where="c")) == [
        "tests.checks.security.test_scanning.Custom"
    ]
    for allow in (["tests.checks.security.test_scanning.Custom"], ["tests.*"]):
        assert pickles.scan_pickle(data, where="c", allow=allow).unsafe == []
    with pytest.raises(GateError, match="cannot be allowed"):
        pickles.check_allow(["os.system"])
    with pytest.raises(GateError, match="cannot be allowed"):
        pickles.check_allow(["subprocess.*"])
    with pytest.raises(GateError, match="is not 'module"):
        pickles.check_allow(["not a name"])
    with pytest.raises(GateError, match="must be a list"):
        pickles.check_allow("tests.*")


def test_a_truncated_pickle_is_unsafe_not_skipped():
    data = pickle.dumps({"a": [1, 2, 3]}, protocol=4)[:-5]
    scan = pickles.scan_pickle(data, where="cut")
    assert names(scan) == ["<unreadable pickle>"]


def test_pickles_inside_zip_members_npz_and_hdf5_are_found(tmp_path):
    hostile = pickle.dumps(CreatesFile(tmp_path / "never.txt"), protocol=2)
    archive = tmp_path / "model.pt"  # a torch-style zip: data.pkl among raw members
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", hostile)
        z.writestr("archive/data/0", np.arange(16, dtype=np.float32).tobytes())
    assert [f.where for f in pickles.scan_path(archive).unsafe] == ["model.pt!archive/data.pkl @2"]

    npz = tmp_path / "arrays.npz"
    np.savez(npz, ok=np.arange(3), bad=np.array([CreatesFile(tmp_path / "never.txt")]))
    assert names(pickles.scan_path(npz)) == ["io.open"]

    h5py = pytest.importorskip("h5py")
    h5 = tmp_path / "weights.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("kernel", data=np.ones((3, 3)))
        f.attrs["extra"] = np.void(hostile)
    scan = pickles.scan_path(h5)
    assert names(scan) == ["io.open"] and scan.unsafe[0].where.startswith("weights.h5!/@extra")
    assert not (tmp_path / "never.txt").exists()


def test_a_format_it_does_not_know_is_an_error(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07\x12\x07pytorch")
    with pytest.raises(GateError, match="does not know the format"):
        pickles.scan_path(path)


def test_bytes_that_only_look_compressed_inside_an_archive_are_not_findings(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("tensor", b"\x78\x9c" + bytes(range(50)))  # zlib-like header, not zlib
    assert pickles.scan_path(archive).unsafe == []
