"""Which ``module.name`` a pickle may import, and which of them loading may call.

Two levels, because a model pickle both *calls* constructors (``copyreg._reconstructor``,
sklearn classes) and *stores* plain references to library functions that nothing calls
while loading (``FunctionTransformer(np.log1p)``, ``SelectKBest``'s ``f_classif``):

- ``call``: may be called by ``REDUCE``/``NEWOBJ``/``OBJ``/``INST`` (an exact list, the
  user's ``allow=``, and classes that sklearn, SciPy or pandas themselves define);
- ``reference``: may only be stored: functions and classes that numpy, SciPy, sklearn or
  pandas define, except their test helpers and anything that reads or writes files, runs
  code or imports by name. Calling one is a finding.

Anything else is a finding as soon as the pickle names it. Trusted modules are imported to
check that a name is what it claims (``sklearn.neighbors._kd_tree.KDTree`` is a class that
module defines; ``sklearn.datasets._openml.GzipFile`` is ``gzip.GzipFile`` imported into
it): loading the pickle would import them anyway, and nothing the file says is executed.
"""

from __future__ import annotations

import _compat_pickle
import functools
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterable
from typing import Literal

from pytest_modelguard.core.verdict import GateError

Kind = Literal["call", "reference", "denied", "unknown"]


def _each(template: str, names: str) -> tuple[str, ...]:
    return tuple(template.format(name) for name in names.split())


#: Callables a model pickle needs and that run no code of their own: numpy array, dtype and
#: random-state reconstruction, plain containers, joblib's array wrapper, datetime values.
DEFAULT_ALLOW: tuple[str, ...] = (
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.ma.core._mareconstruct",
    "numpy.ma.core.MaskedArray",
    *_each("numpy.{}", "bool_ float16 float32 float64 complex64 complex128 str_ bytes_"),
    *_each("numpy.{}", "int8 int16 int32 int64 uint8 uint16 uint32 uint64 datetime64"),
    *_each("numpy.{}", "timedelta64 longdouble clongdouble void object_"),
    *_each("numpy.dtypes.{}", "Float64DType Float32DType Int64DType Int32DType BoolDType"),
    *_each("numpy.dtypes.{}", "ObjectDType StrDType BytesDType UInt8DType VoidDType"),
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
    "collections.Counter",
    "collections.deque",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "_codecs.encode",
    *_each("builtins.{}", "set frozenset slice complex bytearray bytes range object list dict"),
    *_each("builtins.{}", "tuple int float str bool"),
    *_each("datetime.{}", "datetime date time timedelta timezone"),
    "joblib.numpy_pickle.NumpyArrayWrapper",
    # the unpickling helpers of sklearn's compiled trees (newObj(cls) is cls.__new__(cls))
    "sklearn.neighbors._kd_tree.newObj",
    "sklearn.neighbors._ball_tree.newObj",
    "sklearn.metrics._dist_metrics.newObj",
    # a pandas DataFrame / Series / Index and its arrays, as pandas 2-3 pickle them
    *_each("pandas.{}", "DataFrame Series Index RangeIndex MultiIndex DatetimeIndex"),
    *_each("pandas.{}", "TimedeltaIndex PeriodIndex CategoricalIndex IntervalIndex Categorical"),
    *_each("pandas.{}", "CategoricalDtype DatetimeTZDtype PeriodDtype IntervalDtype StringDtype"),
    *_each("pandas.{}", "BooleanDtype Int8Dtype Int16Dtype Int32Dtype Int64Dtype UInt8Dtype"),
    *_each("pandas.{}", "UInt16Dtype UInt32Dtype UInt64Dtype Float32Dtype Float64Dtype"),
    *_each("pandas.{}", "ArrowDtype SparseDtype Timestamp Timedelta Period Interval"),
    *_each("pandas.arrays.{}", "ArrowStringArray BooleanArray DatetimeArray IntegerArray"),
    *_each("pandas.arrays.{}", "IntervalArray PeriodArray TimedeltaArray FloatingArray"),
    *_each("pandas.arrays.{}", "StringArray NumpyExtensionArray SparseArray ArrowExtensionArray"),
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    "pandas._libs.internals._unpickle_block",
    "pandas._libs.interval.__pyx_unpickle_IntervalMixin",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.nattype.__nat_unpickle",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.indexes.period._new_PeriodIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.managers.SingleBlockManager",
    "pandas.core.frame.DataFrame",
    "pandas.core.series.Series",
    # pyarrow-backed string columns (pandas 3's default string storage)
    "pyarrow.lib._restore_array",
    "pyarrow.lib.py_buffer",
    "pyarrow.lib.type_for_alias",
    "pyarrow.lib.chunked_array",
)

#: Packages whose own classes may be constructed while loading (the default ``sklearn.*``)
#: and whose own functions and classes may be stored by reference.
CLASS_PACKAGES = (
    "sklearn",
    "scipy.sparse",
    "scipy.interpolate",
    "scipy.stats",
    "scipy.spatial",
    "pandas._libs.tslibs.offsets",  # date offsets (a DatetimeIndex's freq)
)
REFERENCE_PACKAGES = ("numpy", "scipy", "sklearn", "pandas")
#: Modules of those packages that are never trusted (nor imported to check a name): test
#: helpers, build tools, examples that compile or load code when imported, and I/O.
_UNTRUSTED_PARTS = frozenset(
    _each("{}", "tests testing _testing conftest _pytesttester f2py distutils __main__")
    + _each("{}", "_build_utils ctypeslib _utils_impl externals _testutils datasets io")
    + _each("{}", "_npyio_impl npyio format _examples examples benchmarks _pyinstaller")
)
#: A stored function whose name says it reads or writes files, runs code or resolves names
#: (checked word by word: ``mutual_info_classif`` is fine, ``loadtxt`` is not).
_UNSAFE_PREFIXES = _each(
    "{}", "load save dump read write open fetch download exec eval spawn popen compile import"
) + _each("{}", "memmap pickle run resolve locate lookfor")
_UNSAFE_WORDS = frozenset(
    _each("{}", "file fromfile tofile system url socket shell getattr setattr apply source")
    + _each("{}", "genfromtxt fromregex who info")
)


def _unsafe_name(name: str) -> bool:
    words = [w.lower() for w in re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name) if w]
    return any(w.startswith(_UNSAFE_PREFIXES) or w in _UNSAFE_WORDS for w in words)


#: Never allowed, not even by ``allow=``: these run commands, open files or import code.
DENY: tuple[str, ...] = (
    *_each("{}.*", "os posix nt subprocess pty shutil socket pickle _pickle dill cloudpickle"),
    *_each("{}.*", "runpy importlib ctypes marshal sys code codeop webbrowser tempfile"),
    *_each("{}.*", "pathlib io _io multiprocessing asyncio threading _thread signal"),
    *_each("{}.*", "operator _operator functools pkgutil pydoc timeit cProfile profile"),
    *_each("{}.*", "pdb bdb trace doctest ensurepip venv pip idlelib lib2to3 ssl http"),
    *_each("{}.*", "urllib ftplib smtplib telnetlib glob fileinput zipimport types inspect"),
    *_each("builtins.{}", "eval exec compile open __import__ getattr setattr delattr globals"),
    *_each("builtins.{}", "locals vars breakpoint input exit quit help memoryview type"),
    *_each("builtins.{}", "super classmethod staticmethod property print map filter"),
)

_PATTERN = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*\.([A-Za-z_][\w]*|\*)$")


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
        if denied(entry.removesuffix(".*") + ".x" if entry.endswith(".*") else entry):
            raise GateError(
                f"allow= entry {entry!r} would let the artifact run commands, open files or "
                "import code; it cannot be allowed. Re-save the model without it"
            )
    return entries


def allowed(module: str, name: str, allow: Iterable[str] = ()) -> bool:
    """Whether loading may import ``name`` from ``module`` and call it."""
    return classify(module, name, tuple(allow)) == "call"


@functools.lru_cache(maxsize=4096)
def classify(module: str, name: str, allow: tuple[str, ...] = ()) -> Kind:
    """``call``, ``reference`` (may be stored, not called), ``denied`` or ``unknown``.

    Exact entries match exactly. ``module.*`` matches plain names in that module or its
    submodules, never dotted names (protocol 4 resolves ``mod`` + ``os.system`` through the
    module's attributes) nor dunders.
    """
    qualname = f"{module}.{name}"
    if denied(qualname):
        return "denied"
    if qualname in _DEFAULT or qualname in allow:
        return "call"
    plain = name.isidentifier() and not name.startswith("__")
    for entry in allow:
        if entry.endswith(".*") and plain and _within(module, entry[:-2]):
            return "call"
    if (
        plain
        and any(_within(module, package) for package in CLASS_PACKAGES)
        and _defined(module, name, classes=True)
        and not _state_runs_code(module, name)
    ):
        return "call"
    if name.startswith("__pyx_unpickle_") and _within(module, "sklearn"):
        # Cython's helper for a cdef class X of the module: X.__new__(type) + X's state
        cls = name.removeprefix("__pyx_unpickle_")
        if cls.isidentifier() and _defined(module, cls, classes=True):
            return "call"
    if (
        plain
        and any(_within(module, package) for package in REFERENCE_PACKAGES)
        and not _unsafe_name(name)
        and _defined(module, name, classes=False)
    ):
        return "reference"
    return "unknown"


_DEFAULT = frozenset(DEFAULT_ALLOW)

#: Classes of the trusted packages whose ``__setstate__``/``__reduce__`` turns state into code
#: (audited: ``exec``/``eval``/imports by name reached from unpickling): neither they nor
#: their subclasses may be built while loading, only stored by reference. SciPy's
#: distributions ``exec`` their ``_parse_arg_template`` in ``__setstate__``.
STATE_RUNS_CODE = ("scipy.stats._distn_infrastructure.rv_generic",)


@functools.cache
def subclass_of(qualname: str, base: type, allow: tuple[str, ...] = ()) -> bool:
    """Whether the callable-allowed class ``qualname`` is ``base`` or a subclass of it (the
    class is imported: loading the pickle would import it anyway)."""
    module, _, name = qualname.rpartition(".")
    if classify(module, name, allow) != "call":
        return False
    try:
        cls = importlib.import_module(module).__dict__.get(name)
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, base)


@functools.cache
def _state_runs_code(module: str, name: str) -> bool:
    cls = importlib.import_module(module).__dict__.get(name)
    bases = getattr(cls, "__mro__", ())
    return any(f"{base.__module__}.{base.__qualname__}" in STATE_RUNS_CODE for base in bases)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@functools.cache
def _defined(module: str, name: str, *, classes: bool) -> bool:
    """Whether ``module.name`` is a class (or, with ``classes=False``, a function, ufunc or
    class) that the trusted package defines itself, under that very name."""
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts) or _UNTRUSTED_PARTS & set(parts):
        return False
    if parts[0] not in sys.modules and importlib.util.find_spec(parts[0]) is None:
        return False
    try:
        owner = importlib.import_module(module)
    except Exception:  # a module that cannot be imported cannot be loaded from either
        return False
    value = owner.__dict__.get(name)
    if value is None:
        return False
    home = getattr(value, "__module__", None)
    if not isinstance(home, str) or home.split(".")[0] not in REFERENCE_PACKAGES:
        return False
    if _UNTRUSTED_PARTS & set(home.split(".")):
        return False
    if isinstance(value, type):
        return home == module and value.__qualname__ == name if classes else True
    if classes:
        return False
    import numpy as np

    return isinstance(value, np.ufunc) or (
        callable(value) and getattr(value, "__name__", None) == name and not isinstance(value, type)
    )


def denied(qualname: str) -> bool:
    module = qualname.rpartition(".")[0]
    for entry in DENY:
        if entry.endswith(".*"):
            if _within(module, entry[:-2]):
                return True
        elif entry == qualname:
            return True
    return False


def normalise(module: str, name: str) -> tuple[str, str]:
    """What the unpickler imports for a Python 2 name (``__builtin__`` is ``builtins``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name
