"""Pickles crafted so that a scanner reading them differently from the loader misses a call.

Each payload opens a file for writing when loaded (by ``pickle.load`` or ``joblib.load``,
as its test says); none of them is ever loaded here, only scanned.
"""

from __future__ import annotations

import pickle
import struct

import joblib
import numpy as np
import pytest

from pytest_modelguard.checks.security import scanning as pickles

#: protocol 0 opcodes: builtins.open('x', 'w'), then POP
PAYLOAD = b"cbuiltins\nopen\n(S'x'\nS'w'\ntR0"


def names(scan: pickles.Scan) -> list[str]:
    return [f.name for f in scan.unsafe]


def text(value: str) -> bytes:
    raw = value.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def dtype(spec: str, state: bytes = b"") -> bytes:
    """``numpy.dtype(spec, False, True)``, then BUILD with ``state`` if given."""
    build = state + b"b" if state else b""
    return text("numpy") + text("dtype") + b"\x93" + text(spec) + b"\x89\x88\x87R" + build


def wrapper(dtype_pickle: bytes, shape: int, *, extra: bytes = b"", how: str = "newobj") -> bytes:
    """A joblib NumpyArrayWrapper with its state, up to and including its BUILD."""
    cls = text("joblib.numpy_pickle") + text("NumpyArrayWrapper") + b"\x93"
    if how == "newobj":
        obj = cls + b")\x81"
    else:  # copyreg.__newobj__(cls) through REDUCE
        obj = text("copyreg") + text("__newobj__") + b"\x93" + cls + b"\x85R"
    state = (
        b"}("
        + text("dtype")
        + dtype_pickle
        + text("shape")
        + b"J"
        + struct.pack("<i", shape)
        + b"\x85"
        + text("order")
        + text("C")
        + extra
        + b"u"
    )
    return obj + state + b"b"


def test_sklearn_wildcard_allows_only_classes_sklearn_defines():
    # sklearn.datasets._openml does `from gzip import GzipFile`: GzipFile('x', 'wb') makes a file
    data = (
        b"\x80\x04"
        + text("sklearn.datasets._openml")
        + text("GzipFile")
        + b"\x93"
        + text("x")
        + text("wb")
        + b"\x86R."
    )
    assert names(pickles.scan_pickle(data, where="m")) == ["sklearn.datasets._openml.GzipFile"]
    for qualname in (
        "sklearn.utils._testing.NamedTemporaryFile",
        "sklearn.utils._testing.TempMemmap",  # test helpers are out
        "sklearn.datasets._base.Path",
        "sklearn.neighbors.tests.test_kd_tree.KDTree",
        "sklearn..base.BaseEstimator",
    ):
        assert not pickles.allowed(*qualname.rsplit(".", 1)), qualname
    for qualname in (
        "sklearn.base.BaseEstimator",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.tree._tree.Tree",  # compiled
    ):
        assert pickles.allowed(*qualname.rsplit(".", 1)), qualname


def test_a_call_hidden_in_joblib_array_bytes_is_found_for_pickle_load():
    # joblib.load skips the array bytes; pickle.load of the same file runs them as opcodes
    data = b"\x80\x04" + wrapper(dtype("u1"), len(PAYLOAD)) + PAYLOAD + b"."
    scan = pickles.scan_pickle(data, where="m.pkl")
    assert names(scan) == ["builtins.open"]
    assert "read by pickle.load" in scan.unsafe[0].where


def test_an_alignment_of_none_reads_no_padding():
    # joblib reads padding only when the attribute is not None: a scanner that reads one
    # here skips len(PAYLOAD) bytes more than joblib.load, right over the payload
    extra = text("numpy_array_alignment_bytes") + b"N"
    data = b"\x80\x04" + wrapper(dtype("u1"), 1, extra=extra) + bytes([len(PAYLOAD) - 1])
    assert names(pickles.scan_pickle(data + PAYLOAD + b".", where="m")) == ["builtins.open"]


def test_a_dtype_state_that_changes_the_item_size_is_followed():
    # numpy.dtype('V64') whose BUILD state makes it 1 byte wide: joblib.load reads 1 byte
    size = 64
    state = b"(K\x03" + text("|") + b"NNNK\x01K\x01K\x00t"
    data = b"\x80\x04" + wrapper(dtype(f"V{size}", state), 1) + b"\x00"
    payload = PAYLOAD + b"N0" * ((size - 1 - len(PAYLOAD)) // 2)  # NONE, POP: fill to 63
    assert len(payload) == size - 1
    assert names(pickles.scan_pickle(data + payload + b".", where="m")) == ["builtins.open"]


def test_a_record_dtype_with_an_object_field_is_a_nested_pickle(tmp_path):
    class_ref = b"\x80\x04" + text("builtins") + text("open") + b"\x93" + text("x") + text("w")
    records = np.zeros(1, dtype=[("a", "O")])
    path = tmp_path / "m.joblib"
    joblib.dump({"r": records}, path)
    clean = pickles.scan_path(path)
    assert clean.unsafe == []
    # the record's object field is a nested pickle, read by joblib with pickle's Unpickler
    data = path.read_bytes()
    nested = data.index(b"\x80", 2)  # the nested stream of the object array
    hostile = data[:nested] + class_ref + b"\x86R."
    assert "builtins.open" in names(pickles.scan_pickle(hostile, where="m"))


def test_a_wrapper_inside_an_object_array_is_read_as_a_plain_pickle():
    # joblib reads an object array's pickle with pickle's own Unpickler: a wrapper there is
    # an ordinary object and the bytes after it are opcodes
    inner = b"\x80\x04" + wrapper(dtype("u1"), len(PAYLOAD)) + PAYLOAD + b"."
    data = b"\x80\x04" + wrapper(dtype("O8"), 1) + inner + b"."
    assert names(pickles.scan_pickle(data, where="m")) == ["builtins.open"]


def test_a_wrapper_made_through_copyreg_newobj_is_a_wrapper():
    # joblib.load skips 5 array bytes; a scanner that does not know the object is a wrapper
    # reads them as BINBYTES swallowing the payload
    array = b"B" + struct.pack("<I", len(PAYLOAD))
    data = b"\x80\x04" + wrapper(dtype("u1"), len(array), how="copyreg") + array + PAYLOAD + b"."
    assert "builtins.open" in names(pickles.scan_pickle(data, where="m"))


@pytest.mark.parametrize("wrapper_args", [b"K\x01\x85", b"K\x01K\x02\x86"])
def test_a_wrapper_built_by_its_constructor_is_unreadable(wrapper_args):
    cls = text("joblib.numpy_pickle") + text("NumpyArrayWrapper") + b"\x93"
    data = b"\x80\x04" + cls + wrapper_args + b"R}b."
    assert names(pickles.scan_pickle(data, where="m")) == ["<unreadable pickle>"]


def test_an_object_array_marked_for_memory_mapping_is_unreadable():
    extra = text("allow_mmap") + b"\x88"
    data = b"\x80\x04" + wrapper(dtype("O8"), 1, extra=extra) + pickle.dumps([1]) + b"."
    assert names(pickles.scan_pickle(data, where="m")) == ["<unreadable pickle>"]


def test_a_protocol_0_pickle_after_the_first_stream_is_scanned():
    # a loader calling pickle.load twice reads it; protocol 0 has no header to look for
    data = pickle.dumps([1, 2], protocol=4) + PAYLOAD + b"N."
    assert names(pickles.scan_pickle(data, where="m")) == ["builtins.open"]
    # bytes after a stream that are no pickle: the file is not what it claims, a finding
    scan = pickles.scan_pickle(pickle.dumps([1]) + b"\x00\xff raw", where="m")
    assert names(scan) == ["<unreadable bytes after a pickle>"]


def test_python_2_names_are_mapped_only_for_protocols_0_to_2():
    body = text("copy_reg") + text("_reconstructor") + b"\x93."
    assert pickles.scan_pickle(b"\x80\x02" + body, where="m").unsafe == []
    assert names(pickles.scan_pickle(b"\x80\x04" + body, where="m")) == ["copy_reg._reconstructor"]
    eval_ = b"c__builtin__\neval\n."  # protocol 0: the unpickler imports builtins.eval
    assert names(pickles.scan_pickle(eval_, where="m")) == ["builtins.eval"]
