"""A corpus of hostile artifacts, built here, after the public bypasses of pickle scanners.

Each test names the write-up it follows: picklescan's GitHub security advisories (GHSA-*),
JFrog's "3 zero-day vulnerabilities in PickleScan" (CVE-2025-10155/10156/10157), Sonatype's
picklescan CVEs (CVE-2025-1716/1889/1944/1945), fickling's checks (BUILD on a class, calls of
computed callables, polyglots) and modelscan's SavedModel operator checks. Every payload
would open a file for writing (or run a command) when loaded; none is ever loaded here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import zipfile
import zlib

import numpy as np
import pytest

from pytest_modelguard import checks
from pytest_modelguard.checks.security import scanning as pickles
from pytest_modelguard.core.verdict import GateError

#: protocol 0: builtins.open('x', 'w'), then POP (no header a scanner could look for)
OPEN0 = b"cbuiltins\nopen\n(S'x'\nS'w'\ntR0"
#: a complete protocol 0 pickle whose loading opens a file
HOSTILE0 = OPEN0 + b"N."


def text(value: str) -> bytes:
    raw = value.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def call4(module: str, name: str, *args: str) -> bytes:
    """A protocol 4 pickle calling module.name(*args) through STACK_GLOBAL + REDUCE."""
    body = text(module) + text(name) + b"\x93(" + b"".join(text(a) for a in args) + b"tR"
    return b"\x80\x04" + body + b"."


def names(scan: pickles.Scan) -> list[str]:
    return [f.name for f in scan.unsafe]


def scan_file(tmp_path, name: str, data: bytes, **kw) -> pickles.Scan:
    path = tmp_path / name
    path.write_bytes(data)
    return pickles.scan_path(path, **kw)


# -- parsing as the unpickler does ----------------------------------------------------------


def test_int_in_base_0_is_read_as_the_unpickler_reads_it():
    # the C unpickler reads INT with strtol(base 0): 'I0x10' is 16; pickletools refuses it.
    # A scanner built on pickletools stops there and misses what the loader runs next.
    assert pickle.loads(b"I0x10\n.") == 16  # harmless: proves the unpickler accepts it
    assert pickle.loads(b"L0x10L\n.") == 16  # LONG: base 0 as well
    data = b"I0x10\n0" + HOSTILE0
    assert names(pickles.scan_pickle(data, where="m")) == ["builtins.open"]


def test_a_call_before_a_malformed_tail_is_found_and_the_tail_is_a_finding():
    # picklescan GHSA-9gvj-pp9x-gcfr ("pickle parsing logic flaw"): a scanner that drops a
    # stream when it fails to parse reports nothing, the unpickler has already called open
    data = OPEN0 + b"\xff\xfe"
    scan = pickles.scan_pickle(data, where="m")
    assert names(scan) == ["builtins.open", "<unreadable pickle>"]


def test_int_inside_joblib_array_bytes_does_not_stop_the_pickle_load_reading():
    # joblib.load skips the array bytes; pickle.load of the file reads them as opcodes,
    # and a base-0 INT must not end the scan of that reading
    wrapper_cls = text("joblib.numpy_pickle") + text("NumpyArrayWrapper") + b"\x93"
    array = b"I0x10\n0" + OPEN0
    dtype = text("numpy") + text("dtype") + b"\x93" + text("u1") + b"\x89\x88\x87R"
    state = (
        b"}("
        + text("dtype")
        + dtype
        + text("shape")
        + b"J"
        + struct.pack("<i", len(array))
        + b"\x85"
        + text("order")
        + text("C")
        + b"u"
    )
    data = b"\x80\x04" + wrapper_cls + b")\x81" + state + b"b" + array + b"."
    scan = pickles.scan_pickle(data, where="m.joblib")
    assert names(scan) == ["builtins.open"]
    assert "read by pickle.load" in scan.unsafe[0].where


def test_marks_fence_the_stack_as_in_the_unpickler():
    # REDUCE right after MARK underflows in _pickle.c; a scanner that pops the mark as an
    # argument reads on with a stack the unpickler never has: here it is a parse error
    data = b"\x80\x04" + text("builtins") + text("set") + b"\x93(R."
    assert names(pickles.scan_pickle(data, where="m")) == ["<unreadable pickle>"]
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(b"(R.")  # harmless: no global involved


# -- calls that are not named, allowed globals (fickling's checks) -----------------------------


def test_calling_what_a_call_returned_is_a_finding():
    # builtins.dict() is allowed; calling the dict it returns is not a named global
    data = b"\x80\x04" + text("builtins") + text("dict") + b"\x93)R)R."
    scan = pickles.scan_pickle(data, where="m")
    assert names(scan) == ["<REDUCE of a computed callable>"]


def test_calling_a_memoised_literal_or_an_extension_code_is_a_finding():
    data = b"\x80\x04" + text("os") + b"\x94)R."  # a str as the callable
    assert "<REDUCE of a computed callable>" in names(pickles.scan_pickle(data, where="m"))
    ext = b"\x80\x02\x82\x01)R."  # EXT1 1: copyreg's extension registry names no callable
    assert names(pickles.scan_pickle(ext, where="m"))[0] == "<extension code 1>"


def test_build_applied_to_a_class_is_a_finding():
    # fickling: BUILD on a global sets attributes of the class (or module object) itself,
    # e.g. replacing a method every later instance runs
    state = b"N}" + text("__reduce__") + text("x") + b"s\x86"
    data = b"\x80\x04" + text("sklearn.base") + text("BaseEstimator") + b"\x93" + state + b"b."
    scan = pickles.scan_pickle(data, where="m")
    assert names(scan) == ["sklearn.base.BaseEstimator"]
    assert "BUILD applied to a global" in scan.unsafe[0].reason


def test_a_stored_library_function_that_is_called_is_a_finding():
    # numpy.mean may be stored (FunctionTransformer(np.mean)); calling it while loading not
    data = call4("numpy", "mean", "x")
    scan = pickles.scan_pickle(data, where="m")
    assert names(scan) == ["numpy.mean"] and "called by REDUCE" in scan.unsafe[0].reason
    stored = b"\x80\x04" + text("numpy") + text("mean") + b"\x93."
    assert pickles.scan_pickle(stored, where="m").unsafe == []


def test_arguments_built_by_a_call_are_a_finding():
    # builtins.tuple([numpy.mean]) is a tuple at load time: the storable function would be
    # handed to _reconstructor as its base class, hidden from a look at the tuple literal
    body = (
        text("copyreg")
        + text("_reconstructor")
        + b"\x93"
        + text("builtins")
        + text("tuple")
        + b"\x93]("
        + text("sklearn.base")
        + text("BaseEstimator")
        + b"\x93"
        + text("numpy")
        + text("mean")
        + b"\x93Ne\x85RR."
    )
    scan = pickles.scan_pickle(b"\x80\x04" + body, where="m")
    assert names(scan) == ["copyreg._reconstructor"]
    assert "arguments the scan cannot see" in scan.unsafe[0].reason


def test_a_class_passed_to_reconstructor_must_be_callable():
    # copyreg._reconstructor(cls, base, state) calls base.__new__ and base.__init__
    body = (
        text("copyreg")
        + text("_reconstructor")
        + b"\x93"
        + text("sklearn.base")
        + text("BaseEstimator")
        + b"\x93"
        + text("numpy")
        + text("mean")
        + b"\x93N\x87R."
    )
    assert names(pickles.scan_pickle(b"\x80\x04" + body, where="m")) == ["numpy.mean"]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pip", "main"),  # CVE-2025-1716 (Sonatype): pip.main installs a package
        ("asyncio.unix_events", "_UnixSubprocessTransport._start"),  # CVE-2025-10157 (JFrog)
        ("timeit", "timeit"),  # GHSA-v7x6-rv5q-mhwc
        ("ensurepip", "_run_pip"),  # GHSA-xp4f-hrf8-rxw7
        ("pydoc", "pipepager"),
        ("pkgutil", "resolve_name"),  # GHSA-vvpj-8cmc-gx39: resolves any name
        ("importlib", "import_module"),
        ("marshal", "loads"),
        ("operator", "attrgetter"),
        ("_operator", "methodcaller"),
        ("functools", "partial"),
        ("numpy.testing._private.utils", "runstring"),  # exec() under another name
        ("numpy.f2py.crackfortran", "myeval"),
        ("numpy", "load"),  # a library function that loads files: never storable
        ("sklearn.datasets", "dump_svmlight_file"),
        ("idlelib.autocomplete", "AutoComplete.get_entity"),
        ("cProfile", "run"),
        ("torch.serialization", "load"),
        ("sklearn.base", "os.system"),  # protocol 4 resolves a dotted attribute path
        ("numpy.random._examples.cffi.extending", "ffi"),  # compiles when imported
    ],
)
def test_published_unsafe_globals_are_findings(module, name):
    stored = b"\x80\x04" + text(module) + text(name) + b"\x93."
    assert names(pickles.scan_pickle(stored, where="m")) == [f"{module}.{name}"]
    assert names(pickles.scan_pickle(call4(module, name, "x"), where="m"))[0] == f"{module}.{name}"


# -- payloads wherever a loader finds them ---------------------------------------------------


@pytest.mark.parametrize("name", ["model.bin", "weights.txt", "pytorch_model", "x.data"])
def test_a_pickle_under_any_name_is_scanned(tmp_path, name):
    # CVE-2025-1889 / CVE-2025-10155: scanners that pick files by extension skip these
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / name).write_bytes(HOSTILE0)
    assert "builtins.open" in names(pickles.scan_path(folder))
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"archive/{name}", HOSTILE0)
    assert "builtins.open" in names(pickles.scan_path(archive))
    assert "builtins.open" in names(scan_file(tmp_path, name, HOSTILE0))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compressed_zip_members_are_scanned(tmp_path, compression):
    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w", compression=compression) as z:
        z.writestr("archive/data.pkl", call4("os", "system", "id"))
    assert names(pickles.scan_path(archive)) == ["os.system"]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress, zlib.compress],
    ids=["gzip", "bz2", "xz", "zlib"],
)
def test_compressed_files_in_a_directory_are_scanned_whatever_their_name(tmp_path, compress):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "blob").write_bytes(compress(HOSTILE0))
    assert names(pickles.scan_path(folder)) == ["builtins.open"]


def test_an_lz4_stream_is_read_or_fails_closed(tmp_path):
    # joblib writes LZ4 frames (compress="lz4"); without lz4 installed the scan cannot read
    # one, and it must not pass as "not a pickle"
    folder = tmp_path / "m"
    folder.mkdir()
    try:
        import lz4.frame
    except ImportError:
        (folder / "model").write_bytes(b"\x04\x22\x4d\x18" + bytes(20))
        assert names(pickles.scan_path(folder)) == ["<not scanned>"]
    else:
        (folder / "model").write_bytes(lz4.frame.compress(HOSTILE0))
        assert names(pickles.scan_path(folder)) == ["builtins.open"]


def test_concatenated_gzip_members_are_all_read(tmp_path):
    # gzip.open reads on past the first member; a scanner inflating one member stops early
    data = gzip.compress(pickle.dumps([1])) + gzip.compress(HOSTILE0)
    assert gzip.decompress(data).endswith(HOSTILE0)
    assert "builtins.open" in names(scan_file(tmp_path, "m.pkl.gz", data))


def test_text_that_reads_like_an_unimportable_global_is_not_a_finding(tmp_path):
    # a vocabulary file starting "cat\ndog\n" is GLOBAL at.dog to pickle.load, which fails
    # to import "at" before anything runs; an importable module stays a finding
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "vocab.txt").write_bytes(b"cat\ndog\nfish\n")
    assert pickles.scan_path(folder).unsafe == []
    (folder / "vocab.txt").write_bytes(b"cos\nsystem\nfish\n")
    assert names(pickles.scan_path(folder)) == ["os.system"]
    (folder / "vocab.txt").write_bytes(b"cwebbrowser\nopen\nfish\n")
    assert names(pickles.scan_path(folder)) == ["webbrowser.open"]
    # a module missing here may exist where the file is loaded: calling it is a finding
    (folder / "vocab.txt").write_bytes(b"cnot_installed_here\nrun\n(tR.")
    assert names(pickles.scan_path(folder)) == ["not_installed_here.run"]


def test_tar_archives_and_compressed_tars_are_scanned(tmp_path):
    # torch's legacy format is a tar; fickling's polyglot checks read tars too
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("storages")
        info.size = len(HOSTILE0)
        archive.addfile(info, io.BytesIO(HOSTILE0))
    assert names(scan_file(tmp_path, "model.tar", buffer.getvalue())) == ["builtins.open"]
    packed = gzip.compress(buffer.getvalue())
    assert names(scan_file(tmp_path, "model.bin", packed)) == ["builtins.open"]


def test_a_zip_with_junk_before_it_is_still_a_zip(tmp_path):
    # zipfile, Keras and numpy's .npz reader find the central directory from the end
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", call4("subprocess", "getoutput", "id"))
    data = b"\x00" * 100 + b"junk" + buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # the premise: Python still reads it
        assert z.namelist() == ["archive/data.pkl"]
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "weights").write_bytes(data)
    assert names(pickles.scan_path(folder)) == ["subprocess.getoutput"]
    assert names(scan_file(tmp_path, "model.keras", data)) == ["subprocess.getoutput"]


def test_a_pickle_zip_polyglot_is_read_both_ways(tmp_path):
    # fickling's polyglots: pickle.load reads the head, zipfile the tail
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
    data = call4("os", "system", "id") + buffer.getvalue()
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["archive/data.pkl"]
    scan = scan_file(tmp_path, "model.pt", data)
    assert names(scan) == ["os.system", "<unreadable bytes after a pickle>"]


def test_an_hdf5_file_with_a_user_block_is_still_hdf5(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.attrs["extra"] = np.void(call4("os", "system", "id"))
    with path.open("r+b") as f:
        f.write(b"not an HDF5 signature at offset 0")
    assert not path.read_bytes().startswith(b"\x89HDF")
    scan = pickles.scan_path(path)
    assert names(scan) == ["os.system"] and "(HDF5 at 512)" in scan.unsafe[0].where


def test_pytables_attributes_and_object_atoms_are_unpickled_payloads(tmp_path):
    # PyTables (pandas.read_hdf) runs pickle.loads on a byte attribute ending in "." and on
    # each row of an object VLArray: protocol 0, no header
    tables = pytest.importorskip("tables")
    path = tmp_path / "frame.h5"
    with tables.open_file(path, "w") as f:
        group = f.create_group("/", "df")
        group._v_attrs.name = "plain"
        rows = f.create_vlarray("/df", "objects", tables.ObjectAtom())
        rows.append({"fine": 1})
    clean = pickles.scan_path(path)
    assert clean.unsafe == []
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r+") as f:  # the premise, with a harmless protocol 0 list
        f["df"].attrs["name"] = np.bytes_(b"(lp0\nI1\na.")
    with tables.open_file(path) as f:
        assert f.get_node("/df")._v_attrs.name == [1]
    with h5py.File(path, "r+") as f:
        f["df"].attrs["name"] = np.bytes_(HOSTILE0)
    assert names(pickles.scan_path(path)) == ["builtins.open"]
    with h5py.File(path, "r+") as f:
        del f["df"].attrs["name"]
        objects = f["df/objects"]
        objects[0] = np.frombuffer(HOSTILE0, dtype=np.uint8)
    assert names(pickles.scan_path(path)) == ["builtins.open"]


@pytest.mark.filterwarnings("ignore:\\s*your performance may suffer")
def test_a_real_pandas_to_hdf_file_with_object_columns_passes(tmp_path):
    pytest.importorskip("tables")
    pd = pytest.importorskip("pandas")
    path = tmp_path / "frame.h5"
    frame = pd.DataFrame({"a": [1, 2], "o": [{"k": 1}, [1, 2]], "s": ["x", "y"]})
    frame.to_hdf(path, key="df", format="fixed")
    scan = pickles.scan_path(path)
    assert scan.unsafe == [], scan.unsafe
    assert any("block" in where for _, where in scan.references)  # the object rows were read


def test_an_object_npy_with_a_protocol_0_pickle_is_scanned(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    data = b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + HOSTILE0
    assert names(scan_file(tmp_path, "a.npy", data)) == ["builtins.open"]


# -- what cannot be read fails closed ------------------------------------------------------------


def corrupt_crc(data: bytes) -> bytes:
    """Flip the CRC-32 of the first member in its local header and central directory."""
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    out = bytearray(data)
    out[local + 14] ^= 0xFF
    out[central + 16] ^= 0xFF
    return bytes(out)


def test_a_zip_member_python_cannot_read_is_a_finding_unless_allowed(tmp_path):
    # CVE-2025-1944/1945 and CVE-2025-10156: a bad CRC or flag bits crash zipfile, not torch
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps([1]))
    path = tmp_path / "model.pt"
    path.write_bytes(corrupt_crc(buffer.getvalue()))
    scan = pickles.scan_path(path)
    assert names(scan) == ["<not scanned>"] and scan.unscanned[0][0] == "model.pt!archive/data.pkl"
    verdict = checks.security(artifact=path, safe_load=True)
    assert verdict.status == "fail"
    assert verdict.evidence["unscanned"][0]["where"] == "model.pt!archive/data.pkl"
    allowed = checks.security(
        artifact=path, safe_load=True, allow_unscanned=["model.pt!archive/data.pkl"]
    )
    assert allowed.status == "pass"
    # allowing the unreadable member does not hide a readable hostile one
    with zipfile.ZipFile(buffer, "a") as z:
        z.writestr("archive/more.bin", call4("os", "system", "id"))
    path.write_bytes(corrupt_crc(buffer.getvalue()))
    verdict = checks.security(artifact=path, safe_load=True, allow_unscanned=["*data.pkl"])
    assert verdict.status == "fail" and "os.system" in verdict.message


def test_a_broken_link_in_a_directory_is_not_scanned_and_fails(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "data.pkl").write_bytes(pickle.dumps([1]))
    os.symlink(tmp_path / "nowhere", folder / "weights")
    scan = pickles.scan_path(folder)
    assert names(scan) == ["<not scanned>"] and scan.unscanned[0][0] == "m/weights"
    with pytest.raises(GateError, match="allow_unscanned"):
        checks.security(artifact=folder, safe_load=True, allow_unscanned="m/weights")
    assert checks.security(artifact=folder, safe_load=True, allow_unscanned=["m/*"]).status == (
        "pass"
    )


def test_a_link_to_a_hostile_file_is_followed(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(HOSTILE0)
    folder = tmp_path / "m"
    folder.mkdir()
    os.symlink(outside, folder / "variables")
    assert names(pickles.scan_path(folder)) == ["builtins.open"]


# -- TensorFlow SavedModel graphs (modelscan) --------------------------------------------------


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    tf = pytest.importorskip("tensorflow")
    root = tmp_path_factory.mktemp("saved")

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def read(self, path):
            return tf.io.read_file(path)

        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def write(self, path):
            tf.io.write_file(path, "pwned")
            return path

    class Plain(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0], [2.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return tf.nn.sigmoid(tf.matmul(x, self.w))

    class Printer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x):
            tf.print("row", x, output_stream=f"file://{root}/printed")
            tf.print("to stderr", x)  # a console stream: no file
            return tf.reduce_sum(x, axis=1)

    class Saver(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x):
            tf.raw_ops.SaveV2(
                prefix=f"{root}/saved", tensor_names=["x"], shape_and_slices=[""], tensors=[x]
            )
            return tf.reduce_sum(x, axis=1)

    paths = {}
    modules = {"hostile": Hostile(), "plain": Plain(), "printer": Printer(), "saver": Saver()}
    for name, module in modules.items():
        paths[name] = root / name
        tf.saved_model.save(module, str(paths[name]))
    return paths


def test_savedmodel_ops_that_touch_files_are_findings(saved_models):
    scan = pickles.scan_path(saved_models["hostile"])
    found = {f.name: f.reason for f in scan.unsafe}
    assert found == {"tf.raw_ops.ReadFile": "reads files", "tf.raw_ops.WriteFile": "writes files"}
    assert all("(function " in f.where for f in scan.unsafe)  # inside the tf.function bodies


def test_savedmodel_print_to_a_file_is_a_finding(saved_models):
    # tf.print(output_stream="file://...") is a PrintV2 op with a file-valued attribute
    scan = pickles.scan_path(saved_models["printer"])
    assert [f.name for f in scan.unsafe] == ["tf.raw_ops.PrintV2"]
    assert "output_stream='file://" in scan.unsafe[0].reason


def test_savedmodel_checkpoint_op_at_a_constant_path_is_a_finding(saved_models):
    # SaveV2 is how every SavedModel saves its variables, with a path its caller gives;
    # one whose path is a constant writes a file the model chose
    scan = pickles.scan_path(saved_models["saver"])
    assert [f.name for f in scan.unsafe] == ["tf.raw_ops.SaveV2"]
    assert "fixed in the file" in scan.unsafe[0].reason
    assert "serve" in scan.unsafe[0].where


def test_a_plain_savedmodel_passes_and_its_graph_was_read(saved_models):
    verdict = checks.security(artifact=saved_models["plain"], safe_load=True)
    assert verdict.status == "pass", verdict.message
    assert "tf.raw_ops.MatMul" in verdict.evidence["references"]
    assert any("SavedModel graph" in piece for piece in verdict.evidence["scanned"])


def test_a_savedmodel_graph_that_does_not_parse_is_not_scanned(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"\x12\xff\xff\xff\x0f")
    assert names(pickles.scan_path(folder)) == ["<not scanned>"]


# -- review bypasses (scipy state, joblib FRAME, numpy ctors, SETITEM on objects, ...) -------


def test_a_scipy_distribution_whose_state_carries_code_is_a_finding():
    # rv_generic.__setstate__ exec()s the state's _parse_arg_template: a class whose state
    # becomes code may not be built while loading (as joblib.dump writes a distribution)
    import scipy.stats as st

    code = "open('x', 'w')\ndef _parse_args(*a, **k): pass\n"
    state = {**st.norm.__getstate__(), "_parse_arg_template": code}
    data = (
        b"\x80\x02ccopyreg\n_reconstructor\n(cscipy.stats._continuous_distns\nnorm_gen\n"
        b"cbuiltins\nobject\nNtR" + pickle.dumps(state, protocol=2)[2:-1] + b"b."
    )

    assert "scipy.stats._continuous_distns.norm_gen" in names(pickles.scan_pickle(data, where="m"))
    real = pickle.dumps(st.norm, protocol=4)  # how a fitted prior is stored
    assert "scipy.stats._continuous_distns.norm_gen" in names(pickles.scan_pickle(real, where="m"))


def test_a_joblib_wrapper_inside_a_frame_with_opcodes_after_it_is_a_finding():
    # joblib reads the array after the FRAME (the unpickler has consumed the frame); a
    # scanner that skips the array inside the frame reads os.system as array bytes
    wrapper = (
        b"ccopyreg\n_reconstructor\n(cjoblib.numpy_pickle\nNumpyArrayWrapper\ncbuiltins\n"
        b"object\nNtR}("
        + text("subclass")
        + b"cnumpy\nndarray\n"
        + text("shape")
        + b"K\x05\x85"
        + text("order")
        + text("C")
        + text("dtype")
        + b"cnumpy\ndtype\n"
        + text("u1")
        + b"\x85R"
        + text("allow_mmap")
        + b"\x89ub"
    )
    body = wrapper + b"0N0N0"
    payload = b"cbuiltins\nopen\n(Vx\nVw\ntR"
    data = (
        b"\x80\x04\x95"
        + struct.pack("<Q", len(body))
        + body
        + b"B"
        + struct.pack("<I", len(payload))
        + payload
        + b"."
    )
    assert "<unreadable pickle>" in names(pickles.scan_pickle(data, where="m.joblib"))


def test_joblib_files_with_frames_still_pass(tmp_path):
    import joblib

    for protocol in (4, 5):
        path = tmp_path / f"m{protocol}.joblib"
        joblib.dump({"a": np.arange(50.0), "b": np.ones((3, 4), "u1")}, path, protocol=protocol)
        assert names(pickles.scan_path(path)) == []


def test_numpy_random_ctors_that_call_their_argument_need_callable_arguments():
    # __generator_ctor(name, f) calls f(name): f built from a stored-only function is a call
    gen = (
        b"\x80\x02cnumpy.random._pickle\n__generator_ctor\n(Vm\nccopyreg\n_reconstructor\n"
        b"(csklearn.utils.parallel\n_FuncWrapper\ncbuiltins\nobject\nNtR}Vfunction\n"
        b"cnumpy\nsum\nsbtR."
    )
    assert "<argument 1>" in names(pickles.scan_pickle(gen, where="m"))
    # defaultdict stores its factory and calls it on a missing key after loading
    factory = b"\x80\x02ccollections\ndefaultdict\n(" + gen[gen.index(b"ccopyreg") :]
    assert "<argument 0>" in names(pickles.scan_pickle(factory, where="m"))
    rng = pickle.dumps(
        [np.random.default_rng(0), np.random.RandomState(0), np.random.PCG64(1)], protocol=2
    )
    assert names(pickles.scan_pickle(rng, where="m")) == []


@pytest.mark.parametrize(
    "tail",
    [b"(csklearn\nset_config\nK\x01u.", b"csklearn\nset_config\nK\x01s.", b"K\x01a."],
)
def test_setitem_or_append_on_an_object_is_a_finding(tail):
    # Series.__setitem__ calls a callable key: SETITEM(S)/APPEND(S) on an object calls it
    data = b"\x80\x02cpandas\nSeries\n)R" + tail
    assert "pandas.Series" in names(pickles.scan_pickle(data, where="m"))


def test_setitems_on_dicts_and_allowed_dict_subclasses_pass():
    import collections

    from sklearn.utils import Bunch

    values = [collections.OrderedDict(a=1), collections.defaultdict(list, b=[1]), Bunch(c=2)]
    values.append(collections.defaultdict(None, d=3))
    values += [collections.deque([1, 2], 5), {1, 2}, collections.Counter("aab")]
    for protocol in (0, 2, 4, 5):
        assert names(pickles.scan_pickle(pickle.dumps(values, protocol=protocol), where="m")) == []


def zfile(data: bytes) -> bytes:
    """joblib.numpy_pickle_compat.write_zfile's layout: 'ZF', hex(length) padded, zlib."""
    return b"ZF" + hex(len(data)).encode().ljust(len(hex(2**64))) + zlib.compress(data)


def test_a_legacy_joblib_zfile_is_inflated_and_scanned_everywhere(tmp_path):
    from joblib.numpy_pickle_compat import read_zfile

    data = zfile(HOSTILE0)
    assert read_zfile(io.BytesIO(data)) == HOSTILE0  # what joblib.load would unpickle
    assert "builtins.open" in names(scan_file(tmp_path, "m.joblib", data))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "model.bin").write_bytes(data)
    assert "builtins.open" in names(pickles.scan_path(tmp_path / "d"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("m/model.joblib", data)
    assert "builtins.open" in names(scan_file(tmp_path, "a.zip", archive.getvalue()))
    assert names(scan_file(tmp_path, "ok.joblib", zfile(pickle.dumps([1, 2])))) == []


def test_formats_the_scanner_cannot_open_in_a_directory_fail_closed(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    (root / "model.pkl.zst").write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))
    (root / "weights.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + os.urandom(64))
    (root / "model.pkl").write_bytes(pickle.dumps([1]))
    scan = pickles.scan_path(root)
    assert sorted(w for w, _ in scan.unscanned) == ["model/model.pkl.zst", "model/weights.7z"]
    assert names(scan) == ["<not scanned>", "<not scanned>"]
    assert names(pickles.scan_path(root, allow_unscanned=["model/*"])) == []
