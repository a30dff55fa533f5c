"""Which callables a pickle would call, read from its opcodes without ever unpickling it.

Unpickling runs code: a ``GLOBAL`` opcode imports any ``module.name`` and ``REDUCE``
calls it. So a model artifact is judged by the globals it references, found by walking
``pickletools.genops`` with a small symbolic stack (for ``STACK_GLOBAL`` operands that
come from the memo, and for joblib's raw array bytes between opcodes, which ``pickle.load``
would read as opcodes instead). Nothing found in the file is ever imported or called
(only ``numpy.dtype``, to learn how many bytes an array takes).

:func:`scan_path` knows pickles (``.pkl``/``.pickle``, also compressed), joblib files,
zip archives (``.keras``, ``.npz``, ``.pt``: every member), HDF5 (``.h5``: attributes and
byte datasets), ``.npy`` and directories (a SavedModel). Each reference outside the
allow-list, each Keras ``Lambda``/``__lambda__`` in a model config and each piece that
cannot be read is a :class:`Finding`.
"""

from __future__ import annotations

import _compat_pickle
import ast
import bz2
import collections
import contextlib
import functools
import importlib.machinery
import importlib.util
import io
import json
import lzma
import math
import os
import pickletools
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelguard.verdict import GateError


def _each(template: str, names: str) -> tuple[str, ...]:
    return tuple(template.format(name) for name in names.split())


#: References a model pickle needs and that run no code of their own: numpy array and
#: random-state reconstruction, plain containers, joblib's array wrapper.
DEFAULT_ALLOW: tuple[str, ...] = (
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.dtype",
    "numpy.ndarray",
    *_each("numpy.{}", "bool_ float16 float32 float64 complex64 complex128"),  # scalar types,
    *_each("numpy.{}", "int8 int16 int32 int64 uint8 uint16 uint32 uint64"),  # e.g. dtype=
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "collections.OrderedDict",
    "collections.defaultdict",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "_codecs.encode",
    *_each("builtins.{}", "set frozenset slice complex bytearray bytes range object list dict"),
    *_each("builtins.{}", "tuple int float str bool"),
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.*",  # classes only: see allowed()
)

#: Never allowed, not even by ``allow=``: these run commands, open files or import code.
DENY: tuple[str, ...] = (
    *_each("{}.*", "os posix nt subprocess pty shutil socket pickle _pickle dill cloudpickle"),
    *_each("{}.*", "runpy importlib ctypes marshal sys code codeop webbrowser tempfile"),
    *_each("{}.*", "pathlib io _io multiprocessing asyncio threading"),
    *_each("builtins.{}", "eval exec compile open __import__ getattr setattr delattr globals"),
    *_each("builtins.{}", "locals vars breakpoint input exit quit help memoryview"),
)

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pck", ".pcl")
COMPRESSED_SUFFIXES = (".gz", ".z", ".zlib", ".bz2", ".xz", ".lzma")
MAX_DECOMPRESSED = 2**31  # a compressed member larger than this is refused, not inflated
_PATTERN = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*\.([A-Za-z_][\w]*|\*)$")
_HEADERS = {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_NPY = b"\x93NUMPY"


@dataclass(frozen=True)
class Finding:
    """One thing that makes an artifact unsafe to load: a reference and where it is."""

    name: str  # module.name, or what could not be read
    where: str  # file, archive member or dataset, with the byte offset for pickles
    reason: str

    def __str__(self) -> str:
        return f"{self.name} in {self.where} ({self.reason})"


@dataclass
class Scan:
    """Every reference found, the unsafe ones, and the pieces that were read."""

    references: list[tuple[str, str]] = field(default_factory=list)  # (module.name, where)
    unsafe: list[Finding] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def extend(self, other: Scan) -> None:
        self.references += other.references
        self.unsafe += other.unsafe
        self.pieces += other.pieces


# -- the allow-list -------------------------------------------------------------------------


def check_allow(allow: Iterable[str] | None) -> tuple[str, ...]:
    """``allow=`` entries, validated: ``module.name`` or ``module.*``, none of them denied."""
    if allow is None:
        return ()
    if isinstance(allow, str) or not isinstance(allow, Iterable):
        raise GateError(f"allow= must be a list of 'module.name' or 'module.*', got {allow!r}")
    entries = tuple(allow)
    for entry in entries:
        if not isinstance(entry, str) or not _PATTERN.match(entry):
            raise GateError(
                f"allow= entry {entry!r} is not 'module.name' or 'module.*' "
                "(e.g. 'my_project.features.Scaler' or 'my_project.*')"
            )
        if _denied(entry.removesuffix(".*") + ".x" if entry.endswith(".*") else entry):
            raise GateError(
                f"allow= entry {entry!r} would let the artifact run commands, open files or "
                "import code; it cannot be allowed. Re-save the model without it"
            )
    return entries


def allowed(module: str, name: str, allow: Iterable[str] = ()) -> bool:
    """Whether unpickling may import ``name`` from ``module``.

    Exact entries match exactly. ``module.*`` matches plain names in that module or its
    submodules, never dotted names (protocol 4 resolves ``mod`` + ``os.system`` through the
    module's attributes) nor dunders; the default ``sklearn.*`` matches only classes that
    sklearn itself defines (not ``GzipFile`` imported into one of its modules).
    """
    qualname = f"{module}.{name}"
    if _denied(qualname):
        return False
    for entry in (*DEFAULT_ALLOW, *allow):
        if not entry.endswith(".*"):
            if entry == qualname:
                return True
            continue
        package = entry[:-2]
        if not (module == package or module.startswith(package + ".")):
            continue
        if not name.isidentifier() or name.startswith("__"):
            continue
        if entry == "sklearn.*" and name not in _sklearn_classes(module):
            continue
        return True
    return False


@functools.cache
def _sklearn_classes(module: str) -> frozenset[str] | _Defined:
    """Classes an installed sklearn module defines, read from its source (nothing imported).

    Names a module merely imports (``GzipFile``, ``NamedTemporaryFile``, ``Thread``) are
    reachable through it too, so only a ``class`` statement of the module's own counts; a
    compiled module defines the names its binary spells out in full. Test helpers are out.
    """
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts) or {"tests", "_testing", "conftest"} & {
        *parts
    }:
        return frozenset()
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    base = Path(spec.submodule_search_locations[0], *parts[1:])
    for source in (base / "__init__.py", base.with_suffix(".py")):
        if source.is_file():
            return frozenset(_class_statements(ast.parse(source.read_bytes()).body))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if base.with_name(base.name + suffix).is_file():
            return _Defined(module, base.with_name(base.name + suffix).read_bytes())
    return frozenset()


class _Defined:
    """The classes of a compiled module: their ``module.Name`` is spelt out in its binary."""

    def __init__(self, module: str, binary: bytes) -> None:
        self.module, self.binary = module, binary

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and f"{self.module}.{name}\0".encode() in self.binary


def _class_statements(body: list[ast.stmt]) -> Iterator[str]:
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node.name
        elif isinstance(node, (ast.If, ast.Try)):
            yield from _class_statements(node.body + node.orelse)


def _denied(qualname: str) -> bool:
    module = qualname.rpartition(".")[0]
    for entry in DENY:
        if entry.endswith(".*"):
            package = entry[:-2]
            if module == package or module.startswith(package + "."):
                return True
        elif entry == qualname:
            return True
    return False


def _normalise(module: str, name: str) -> tuple[str, str]:
    """What the unpickler imports for a Python 2 name (``__builtin__`` is ``builtins``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


# -- pickle streams -------------------------------------------------------------------------


class _Ref:
    """A global the stream references (never imported)."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname


class _Obj:
    """What calling a reference would produce, with its arguments and BUILD state."""

    def __init__(self, callee: Any, args: Any) -> None:
        self.callee, self.args, self.state = callee, args, None


class _Mark:
    pass


_UNKNOWN = object()
_MARK = _Mark()
_LITERAL_STACK = {
    "int_or_bool",
    "int",
    "bytes_or_str",
    "bytes",
    "bytearray",
    "None",
    "bool",
    "str",
    "float",
}


class _Machine:
    """Simulates the unpickler's stack and memo with inert values, to see what is called.

    A ``fork`` reads on from the same state without changing the containers it shares.
    """

    def __init__(self, where: str, allow: tuple[str, ...], scan: Scan) -> None:
        self.where, self.allow, self.scan = where, allow, scan
        self.stack: list[Any] = []
        self.memo: Any = {}
        self.proto, self.shared = 0, False

    def fork(self, where: str) -> _Machine:
        other = _Machine(where, self.allow, Scan())
        other.stack, other.memo = list(self.stack), collections.ChainMap({}, self.memo)
        other.proto, other.shared = self.proto, True
        return other

    def reference(self, module: Any, name: Any, pos: int) -> Any:
        at = f"{self.where} @{pos}"
        if not isinstance(module, str) or not isinstance(name, str):
            self.scan.unsafe.append(
                Finding("<computed global>", at, "STACK_GLOBAL operands are not plain strings")
            )
            return _Ref("<computed>")
        if self.proto < 3:  # the unpickler maps Python 2 names only for protocols 0-2
            module, name = _normalise(module, name)
        qualname = f"{module}.{name}"
        self.scan.references.append((qualname, at))
        if not allowed(module, name, self.allow):
            reason = "denied: runs code or touches files" if _denied(qualname) else "not allowed"
            self.scan.unsafe.append(Finding(qualname, at, reason))
        return _Ref(qualname)

    def pop_mark(self) -> list[Any]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise ValueError("MARK expected on the stack")

    def pop(self) -> Any:
        if not self.stack:
            raise ValueError("stack underflow")
        return self.stack.pop()

    def step(self, op: pickletools.OpcodeInfo, arg: Any, pos: int) -> Any:
        """Apply one opcode; returns the object a BUILD just completed (else None)."""
        name, push = op.name, self.stack.append
        if name == "MARK":
            push(_MARK)
        elif name == "PROTO":
            self.proto = arg
        elif name in ("NEWTRUE", "NEWFALSE"):  # opcodes without an argument
            push(name == "NEWTRUE")
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            ref = self.reference(module, attr, pos)
            push(ref if name == "GLOBAL" else _Obj(ref, self.pop_mark()))
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            push(self.reference(module, attr, pos))
        elif name == "OBJ":
            items = self.pop_mark()
            push(_Obj(items[0] if items else _UNKNOWN, items[1:]))
        elif name in ("REDUCE", "NEWOBJ"):
            args = self.pop()
            push(_Obj(self.pop(), args))
        elif name == "NEWOBJ_EX":
            self.pop()
            args = self.pop()
            push(_Obj(self.pop(), args))
        elif name == "BUILD":
            state = self.pop()
            target = self.stack[-1] if self.stack else _UNKNOWN
            if isinstance(target, _Obj) and not self.shared:
                target.state = state
            return target
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.scan.unsafe.append(
                Finding(
                    f"<extension code {arg}>",
                    f"{self.where} @{pos}",
                    "copyreg extension registry: the callable is not named",
                )
            )
            push(_UNKNOWN)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[arg] = self.stack[-1]
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in self.memo:
                raise ValueError(f"memo key {arg} read before it was written")
            push(self.memo[arg])
        elif name in ("TUPLE", "LIST", "FROZENSET"):
            push(tuple(self.pop_mark()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            items = [self.pop() for _ in range(count)][::-1]
            push(tuple(items))
        elif name == "EMPTY_TUPLE":
            push(())
        elif name in ("EMPTY_LIST", "EMPTY_SET"):
            push([])
        elif name == "EMPTY_DICT":
            push({})
        elif name == "DICT":
            items = self.pop_mark()
            push(_pairs_into({}, items))
        elif name in ("APPENDS", "ADDITEMS"):
            items = self.pop_mark()
            if isinstance(self.stack[-1], list) and not self.shared:
                self.stack[-1].extend(items)
        elif name == "APPEND":
            item = self.pop()
            if isinstance(self.stack[-1], list) and not self.shared:
                self.stack[-1].append(item)
        elif name == "SETITEMS":
            items = self.pop_mark()
            if isinstance(self.stack[-1], dict) and not self.shared:
                _pairs_into(self.stack[-1], items)
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            if isinstance(self.stack[-1], dict) and not self.shared:
                _pairs_into(self.stack[-1], [key, value])
        elif name == "POP":
            self.pop()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            push(self.stack[-1])
        elif op.stack_after and op.stack_after[0].name in _LITERAL_STACK and not op.stack_before:
            push(arg)
        else:  # PERSID, BINPERSID, buffers, PROTO, FRAME, STOP: generic stack effect
            for _ in op.stack_before:
                self.pop()
            for _ in op.stack_after:
                push(_UNKNOWN)
        return None


def _pairs_into(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        with contextlib.suppress(TypeError):  # unhashable inert value: nothing is called
            target[key] = value
    return target


_PARSE_ERRORS = (ValueError, KeyError, IndexError, TypeError, EOFError, RecursionError)
_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"


def scan_pickle(data: bytes, *, where: str, allow: Iterable[str] = ()) -> Scan:
    """The references of every pickle stream in ``data`` (joblib files hold several).

    Bytes after a stream are what a second ``pickle.load`` of the file reads: they are
    scanned too, and where they stop parsing, a loader stops as well (but has already
    called what came before).
    """
    scan, allow = Scan(pieces=[where]), tuple(allow)
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        start = stream.tell()
        try:
            _scan_stream(stream, _Machine(where, allow, scan))
        except _PARSE_ERRORS as exc:
            if start == 0 or data[start : start + 2] in _HEADERS:
                scan.unsafe.append(
                    Finding("<unreadable pickle>", f"{where} @{start}", f"cannot be parsed: {exc}")
                )
            return scan
    return scan


def _scan_stream(stream: io.BytesIO, machine: _Machine, joblib: bool = True) -> None:
    """Read one stream to its STOP; ``joblib`` for joblib's unpickler, which reads array
    bytes after each wrapper (``pickle.load`` of the same file reads them as opcodes)."""
    for op, arg, pos in pickletools.genops(stream):
        built = machine.step(op, arg, pos if pos is not None else -1)
        if joblib and _class_of(built) == _WRAPPER:
            assert isinstance(built, _Obj)
            _joblib_array(stream, machine, built)
    # genops stops after STOP and raises ValueError on truncation or unknown opcodes


def _class_of(built: Any) -> str | None:
    """The class an object was built from (through ``copyreg`` too)."""
    if not isinstance(built, _Obj) or not isinstance(built.callee, _Ref):
        return None
    if built.callee.qualname in ("copyreg._reconstructor", "copyreg.__newobj__"):
        first = built.args[0] if isinstance(built.args, tuple) and built.args else None
        return first.qualname if isinstance(first, _Ref) else None
    return built.callee.qualname


def _joblib_array(stream: io.BytesIO, machine: _Machine, wrapper: _Obj) -> None:
    """Step over the array bytes joblib reads after a wrapper: the nested pickle of an object
    array, or raw data, which ``pickle.load`` of the same file reads as opcodes instead."""
    state = wrapper.state
    if isinstance(wrapper.callee, _Ref) and wrapper.callee.qualname == _WRAPPER and wrapper.args:
        raise ValueError("joblib array wrapper built by its constructor")  # state not in BUILD
    if not isinstance(state, dict):
        raise ValueError("joblib array wrapper without its state")
    kind, shape = _dtype(state.get("dtype")), state.get("shape")
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise ValueError("joblib array wrapper with an unreadable shape")
    machine.stack[-1] = _UNKNOWN  # joblib puts the array in the wrapper's place
    if kind.hasobject:
        if state.get("allow_mmap"):  # joblib.load(mmap_mode=...) maps these bytes instead
            raise ValueError("joblib object array marked for memory mapping")
        nested = _Machine(f"{machine.where} (object array)", machine.allow, machine.scan)
        _scan_stream(stream, nested, joblib=False)
        return
    start = stream.tell()
    if state.get("numpy_array_alignment_bytes") is not None:
        padding = stream.read(1)
        stream.seek(int.from_bytes(padding, "little"), os.SEEK_CUR)
    end = stream.seek(math.prod(shape) * kind.itemsize, os.SEEK_CUR)
    if end > len(stream.getbuffer()):
        raise ValueError("joblib array data is truncated")
    stream.seek(start)
    fork = machine.fork(f"{machine.where} (read by pickle.load, not joblib)")
    with contextlib.suppress(*_PARSE_ERRORS):  # where pickle.load stops, it stops
        _scan_stream(stream, fork, joblib=False)
    seen = {(f.name, f.where.rpartition(" @")[2]) for f in machine.scan.unsafe}
    machine.scan.unsafe += [
        f for f in fork.scan.unsafe if (f.name, f.where.rpartition(" @")[2]) not in seen
    ]
    stream.seek(end)


def _dtype(value: Any) -> Any:
    """The dtype that ``numpy.dtype(*args)`` and its BUILD state make: a state can turn
    ``V8`` into a record with an object field, or change the item size."""
    import numpy as np

    if not (
        isinstance(value, _Obj)
        and isinstance(value.callee, _Ref)
        and value.callee.qualname == "numpy.dtype"
        and isinstance(value.args, tuple)
    ):
        raise ValueError("joblib array wrapper with an unreadable dtype")
    try:
        kind = np.dtype(*_literal(value.args))
        if value.state is not None:
            kind.__setstate__(_literal(value.state))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"joblib array of an unreadable dtype: {exc}") from exc
    return kind


def _literal(value: Any) -> Any:
    if isinstance(value, _Obj):
        return _dtype(value)  # the field dtypes of a record
    if isinstance(value, (tuple, list)):
        return type(value)(_literal(item) for item in value)
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if value is _UNKNOWN or isinstance(value, (_Ref, _Mark)):
        raise ValueError("joblib array dtype built from something other than literals")
    return value


# -- files ----------------------------------------------------------------------------------


def scan_path(path: str | os.PathLike[str], *, allow: Iterable[str] = ()) -> Scan:
    """Scan a file or directory artifact; an unknown format is an error, not a pass."""
    path = Path(path)
    allow = tuple(allow)
    if path.is_dir():
        scan = Scan()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            data = file.read_bytes()
            if file.suffix.lower() in PICKLE_SUFFIXES or _kind(data) not in (None, "compressed"):
                scan.extend(
                    scan_bytes(
                        data,
                        where=str(file.relative_to(path.parent)),
                        allow=allow,
                        suffix=file.suffix.lower(),
                    )
                )
        if not scan.pieces:
            scan.pieces.append(f"{path.name}/ (no pickle, archive or HDF5 file inside)")
        return scan
    data = path.read_bytes()
    if path.suffix.lower() not in PICKLE_SUFFIXES and _kind(data) is None:
        raise GateError(
            f"safe_load does not know the format of {path}: it scans pickles (.pkl, .pickle, "
            ".joblib, also compressed), zip archives (.keras, .npz, .pt), HDF5 (.h5), .npy "
            "and directories (a SavedModel); gate the integrity of other files with sha256="
        )
    return scan_bytes(data, where=path.name, allow=allow, suffix=path.suffix.lower())


def scan_bytes(data: bytes, *, where: str, allow: tuple[str, ...] = (), suffix: str = "") -> Scan:
    """Scan one file's content by what its bytes say it is (its suffix for old pickles)."""
    kind = _kind(data)
    if kind == "zip":
        return _scan_zip(data, where, allow)
    if kind == "hdf5":
        return _scan_hdf5(data, where, allow)
    if kind == "npy":
        return _scan_npy(data, where, allow)
    if kind == "compressed":
        try:
            inner = _decompress(data)
        except (OSError, ValueError, EOFError, zlib.error, lzma.LZMAError) as exc:
            if suffix not in PICKLE_SUFFIXES + COMPRESSED_SUFFIXES:
                return Scan(pieces=[])  # bytes that merely start like a compressed stream
            return Scan([], [Finding("<unreadable compressed file>", where, str(exc))], [where])
        return scan_bytes(inner, where=f"{where} (decompressed)", allow=allow, suffix=suffix)
    if kind == "pickle" or suffix in PICKLE_SUFFIXES:
        return scan_pickle(data, where=where, allow=allow)
    return Scan(pieces=[])


def _kind(data: bytes) -> str | None:
    if data[:2] in _HEADERS:
        return "pickle"
    if data.startswith(_ZIP) or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data.startswith(_HDF5):
        return "hdf5"
    if data.startswith(_NPY):
        return "npy"
    if (
        data[:2] == b"\x1f\x8b"
        or data[:3] == b"BZh"
        or data[:6] == b"\xfd7zXZ\x00"
        or data[:3] == b"\x5d\x00\x00"
        or (len(data) > 1 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0)
    ):
        return "compressed"
    return None


def _decompress(data: bytes) -> bytes:
    """Inflate zlib, gzip, bz2, xz or lzma data (joblib's compressors), bounded in size."""
    if data[:3] == b"BZh":
        decompressor: Any = bz2.BZ2Decompressor()
    elif data[:6] == b"\xfd7zXZ\x00" or data[:3] == b"\x5d\x00\x00":
        decompressor = lzma.LZMADecompressor()
    else:  # zlib, or gzip (wbits 31)
        decompressor = zlib.decompressobj(31 if data[:2] == b"\x1f\x8b" else 15)
    out = decompressor.decompress(data, MAX_DECOMPRESSED)
    if len(out) >= MAX_DECOMPRESSED:
        raise ValueError(f"inflates to more than {MAX_DECOMPRESSED} bytes")
    return out


def _scan_zip(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    scan = Scan(pieces=[where])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            if member.file_size > MAX_DECOMPRESSED:
                raise zipfile.BadZipFile(f"member {member.filename} is too large to scan")
            content = archive.read(member)
            inner = f"{where}!{member.filename}"
            if member.filename.endswith(".json"):
                scan.extend(scan_config(content, where=inner, allow=allow))
            else:
                scan.extend(
                    scan_bytes(
                        content,
                        where=inner,
                        allow=allow,
                        suffix=Path(member.filename).suffix.lower(),
                    )
                )
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        scan.unsafe.append(Finding("<unreadable archive>", where, str(exc)))
    return scan


def scan_config(content: bytes | str, *, where: str, allow: tuple[str, ...] = ()) -> Scan:
    """Keras model config JSON: Python lambdas, ``Lambda`` layers and objects from modules
    outside Keras (which loading would import) are findings."""
    scan = Scan(pieces=[where])
    try:
        config = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return scan  # not JSON: nothing a Keras loader would deserialise
    for node in _dicts(config):
        class_name, module = node.get("class_name"), node.get("module")
        if not isinstance(class_name, str):
            continue
        if class_name == "__lambda__":
            scan.unsafe.append(Finding("__lambda__", where, "a Python lambda (marshalled code)"))
        elif class_name == "Lambda":
            scan.unsafe.append(
                Finding("keras.layers.Lambda", where, "a Lambda layer runs arbitrary Python")
            )
        elif isinstance(module, str) and module.split(".")[0] != "keras":
            qualname = f"{module}.{class_name}"
            scan.references.append((qualname, where))
            if not allowed(module, class_name, allow):
                scan.unsafe.append(Finding(qualname, where, "custom object from outside Keras"))
    return scan


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


def _scan_npy(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    """A ``.npy`` of an object dtype holds a pickle after its (literal-only) header."""
    import numpy as np

    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0  # parses with ast.literal_eval only
        header = (read if version == (1, 0) else np.lib.format.read_array_header_2_0)(stream)
    except ValueError as exc:
        return Scan([], [Finding("<unreadable .npy>", where, str(exc))], [where])
    if not np.dtype(header[2]).hasobject:
        return Scan(pieces=[where])
    return scan_pickle(data[stream.tell() :], where=where, allow=allow)


def _scan_hdf5(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    """Attributes and byte-like datasets of an HDF5 file: pickles and Keras configs."""
    try:
        import h5py
    except ImportError:
        return _scan_raw(data, where, allow)
    import numpy as np

    scan = Scan(pieces=[where])

    def values(name: str, obj: Any) -> None:
        for key, value in obj.attrs.items():
            _scan_value(value, f"{where}!/{name}@{key}".replace("//", "/"), allow, scan)
        if isinstance(obj, h5py.Dataset) and (
            obj.dtype.kind in "SOV" or (obj.dtype.kind in "ui" and obj.dtype.itemsize == 1)
        ):
            _scan_value(np.asarray(obj[()]), f"{where}!/{name}", allow, scan)

    try:
        with h5py.File(io.BytesIO(data), "r") as file:
            values("", file)
            file.visititems(values)
    except (OSError, ValueError, TypeError) as exc:
        scan.unsafe.append(Finding("<unreadable HDF5>", where, str(exc)))
    return scan


def _scan_value(value: Any, where: str, allow: tuple[str, ...], scan: Scan) -> None:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind == "V" or (value.dtype.kind in "ui" and value.dtype.itemsize == 1):
            value = value.tobytes()
        else:
            for item in value.ravel():
                _scan_value(item, where, allow, scan)
            return
    if isinstance(value, np.void):
        value = value.tobytes()
    if isinstance(value, str):
        if "class_name" in value:
            scan.extend(scan_config(value, where=where, allow=allow))
        return
    if isinstance(value, bytes):
        if value[:2] in _HEADERS:
            scan.extend(scan_pickle(value, where=where, allow=allow))
        elif b"class_name" in value:
            scan.extend(scan_config(value, where=where, allow=allow))


def _scan_raw(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    """Without h5py: every embedded pickle header that parses to its end is scanned."""
    scan = Scan(pieces=[f"{where} (raw bytes)"])
    for match in re.finditer(rb"\x80[\x02-\x05]", data):
        found = scan_pickle(data[match.start() :], where=f"{where} @{match.start()}", allow=allow)
        if not any(f.name == "<unreadable pickle>" for f in found.unsafe):
            scan.references += found.references
            scan.unsafe += found.unsafe
    return scan
