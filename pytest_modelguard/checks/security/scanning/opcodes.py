"""Pickle streams read the way ``_pickle``'s unpickler reads them, without unpickling.

Unpickling runs code: ``GLOBAL``/``STACK_GLOBAL``/``INST`` import any ``module.name`` and
``REDUCE``/``NEWOBJ``/``NEWOBJ_EX``/``OBJ``/``INST`` call what is on the stack. A small
machine replays the opcodes with inert values: the same stack (with the marks kept apart
from it, as in ``_pickle.c``, so that what may be popped is what the unpickler may pop),
the same memo, the same opcode arguments. The argument readers are at least as lenient as
the unpickler's (``INT`` and ``LONG`` in base 0, any float text): the scan never stops
before the unpickler would. Every call is checked: its callable must be a named global
that may be called; a ``BUILD`` must not target a global (a class or module object).
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import io
import math
import os
import pickletools
import sys
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pytest_modelguard.checks.security.scanning import policy
from pytest_modelguard.checks.security.scanning.results import Finding, Scan

Mode = Literal["strict", "speculative"]
HEADERS = frozenset(bytes([0x80, proto]) for proto in range(6))


class _Ref:
    """A global the stream imports (never imported here), and what it may be used for."""

    def __init__(self, qualname: str, kind: policy.Kind, flagged: bool = False) -> None:
        self.qualname, self.kind = qualname, kind
        self.flagged = flagged  # a finding already names it


class _Obj:
    """What calling a reference would produce, with its arguments and BUILD state."""

    def __init__(self, callee: Any, args: Any) -> None:
        self.callee, self.args, self.state = callee, args, None
        self.dtype: tuple[Any, Any] | None = None  # (state, numpy dtype) once computed


_UNKNOWN = object()

#: callables that call (or instantiate) the class they are given as their n-th argument
_CALLS_ITS_ARGUMENT = {
    "copyreg._reconstructor": (0, 1),  # base.__new__(cls, state); base.__init__(obj, state)
    "copyreg.__newobj__": (0,),
    "copyreg.__newobj_ex__": (0,),
    # numpy's Generator/RandomState helpers call their bit_generator_ctor argument, and
    # __bit_generator_ctor instantiates a class it is given
    "numpy.random._pickle.__generator_ctor": (1,),
    "numpy.random._pickle.__randomstate_ctor": (1,),
    "numpy.random._pickle.__bit_generator_ctor": (0,),
    "collections.defaultdict": (0,),  # stores its default_factory and calls it on a miss
    "numpy.core.multiarray._reconstruct": (0,),  # an ndarray subclass, instantiated
    "numpy._core.multiarray._reconstruct": (0,),
    "sklearn.neighbors._kd_tree.newObj": (0,),
    "sklearn.neighbors._ball_tree.newObj": (0,),
    "sklearn.metrics._dist_metrics.newObj": (0,),
    "pandas.core.indexes.base._new_Index": (0,),
    "pandas.core.indexes.datetimes._new_DatetimeIndex": (0,),
    "pandas.core.indexes.period._new_PeriodIndex": (0,),
}


#: what APPEND(S)/ADDITEMS may add to (SETITEM(S): a dict); ``deque`` pickles its items
#: with APPENDS, which calls its own ``extend``
_CONTAINERS: dict[str, tuple[type, ...]] = {
    "APPEND": (list, collections.deque),
    "APPENDS": (list, collections.deque),
    "ADDITEMS": (set,),
}


# -- reading opcodes --------------------------------------------------------------------------


def _line(stream: io.BytesIO) -> bytes:
    line = stream.readline()
    if not line.endswith(b"\n"):
        raise ValueError("pickle data was truncated (no newline)")
    return line[:-1]


def _int_line(stream: io.BytesIO) -> Any:
    """``INT``: ``strtol``/``int(..., 0)`` in the unpickler; the value matters only as bool."""
    text = _line(stream)
    if text in (b"00", b"01"):
        return text == b"01"
    for base in (0, 10):
        with contextlib.suppress(ValueError):
            return int(text.rstrip(b"L"), base)
    return _UNKNOWN


def _float_line(stream: io.BytesIO) -> Any:
    text = _line(stream)
    try:
        return float(text)
    except ValueError:
        return _UNKNOWN


def _names(stream: io.BytesIO) -> str:
    """``GLOBAL``/``INST`` operands: two lines decoded as UTF-8, as ``load_global`` does."""
    module, name = _line(stream), _line(stream)
    return f"{module.decode('utf-8')} {name.decode('utf-8')}"


def _persid(stream: io.BytesIO) -> str:
    return _line(stream).decode("ascii")


#: opcodes whose argument is a length and that many bytes: (length size, signed, kind)
_LENGTH_PREFIXED = {
    "BINBYTES": (4, False, "bytes"),
    "BINBYTES8": (8, False, "bytes"),
    "BYTEARRAY8": (8, False, "bytes"),
    "BINUNICODE": (4, False, "str"),
    "BINUNICODE8": (8, False, "str"),
    "BINSTRING": (4, True, "str"),
}
_LARGE = 1 << 16  # longer values are never names or dtype specs: skipped, not copied


def _size(stream: io.BytesIO) -> int:
    """The stream's length (``getbuffer()`` would copy the bytes it was made from)."""
    here = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(here)
    return end


def _payload(stream: io.BytesIO, size: int, signed: bool, kind: str) -> Any:
    header = stream.read(size)
    if len(header) < size:
        raise ValueError("pickle data was truncated (length)")
    length = int.from_bytes(header, "little", signed=signed)
    if length < 0:
        raise ValueError("negative byte count")
    if length > _LARGE:
        end = stream.tell() + length
        if end > _size(stream):
            raise ValueError("pickle data was truncated (payload)")
        stream.seek(end)
        return _UNKNOWN
    data = stream.read(length)
    if len(data) < length:
        raise ValueError("pickle data was truncated (payload)")
    if kind == "bytes":
        return data
    if signed:  # BINSTRING: decoded as ASCII, the unpickler's default encoding
        return data.decode("ascii")
    return data.decode("utf-8", "surrogatepass")  # BINUNICODE(8), as the unpickler


_READERS = {"INT": _int_line, "LONG": _int_line, "FLOAT": _float_line}
_READERS.update(GLOBAL=_names, INST=_names, PERSID=_persid)
_BY_CODE = {op.code.encode("latin-1"): op for op in pickletools.opcodes}


def opcodes(stream: io.BytesIO, cursor: list[int] | None = None) -> Iterator[tuple[str, Any, int]]:
    """``(name, argument, offset)`` of each opcode up to and including ``STOP``; ``cursor``
    holds the offset of the opcode being read (where a stream stops parsing)."""
    while True:
        pos = stream.tell()
        if cursor is not None:
            cursor[0] = pos
        code = stream.read(1)
        if not code:
            raise EOFError("pickle data was truncated (no STOP)")
        op = _BY_CODE.get(code)
        if op is None:
            raise ValueError(f"invalid load key {code!r}")
        reader = _READERS.get(op.name)
        if reader is not None:
            arg = reader(stream)
        elif op.name in _LENGTH_PREFIXED:
            arg = _payload(stream, *_LENGTH_PREFIXED[op.name])
        else:
            arg = op.arg.reader(stream) if op.arg is not None else None
        yield op.name, arg, pos
        if op.name == "STOP":
            return


# -- the machine ------------------------------------------------------------------------------

_LITERALS = {
    "INT",
    "BININT",
    "BININT1",
    "BININT2",
    "LONG",
    "LONG1",
    "LONG4",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
    "BYTEARRAY8",
    "UNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "FLOAT",
    "BINFLOAT",
}


class Machine:
    """Replays the unpickler's stack, marks and memo with inert values.

    A ``fork`` reads on from the same state without changing the containers it shares.
    """

    def __init__(self, where: str, allow: tuple[str, ...], scan: Scan) -> None:
        self.where, self.allow, self.scan = where, allow, scan
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: Any = {}
        self.proto, self.shared = 0, False
        self.speculative = False

    def fork(self, where: str) -> Machine:
        other = Machine(where, self.allow, Scan())
        other.stack, other.marks = list(self.stack), list(self.marks)
        other.memo = collections.ChainMap({}, self.memo)
        other.proto, other.shared = self.proto, True
        other.speculative = self.speculative
        return other

    def find(self, name: str, where: str, reason: str) -> None:
        self.scan.unsafe.append(Finding(name, where, reason))

    # the stack, as _pickle.c's Pdata: nothing below the last mark can be popped
    def _fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def pop(self) -> Any:
        if len(self.stack) <= self._fence():
            raise ValueError("unpickling stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if len(self.stack) <= self._fence():
            raise ValueError("unpickling stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise ValueError("could not find MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def below(self) -> Any:
        """The container an APPEND(S)/SETITEM(S)/ADDITEMS adds to (may sit below a fence)."""
        if not self.stack:
            raise ValueError("unpickling stack underflow")
        return self.stack[-1]

    def filled(self, how: str, pos: int) -> Any:
        """The container ``how`` adds to; a finding unless it is a dict/list/set the pickle
        built, or an object of a callable-allowed dict/list/set subclass: on any other object
        the unpickler calls its ``__setitem__``/``append``/``extend``/``add`` (pandas'
        ``Series.__setitem__`` calls a callable key)."""
        target = self.below()
        if isinstance(target, (_Obj, _Ref)) or target is _UNKNOWN:
            bases = _CONTAINERS.get(how, (dict,))
            cls = target.qualname if isinstance(target, _Ref) else _class_of(target)
            if cls is None or not any(policy.subclass_of(cls, b, self.allow) for b in bases):
                kinds = "/".join(base.__name__ for base in bases)
                self.find(
                    cls or _describe(target),
                    f"{self.where} @{pos}",
                    f"{how} on an object that is not a {kinds} (nor an allowed subclass):"
                    " loading calls its methods with the pickle's values",
                )
        return target

    def reference(self, module: Any, name: Any, pos: int) -> _Ref:
        at = f"{self.where} @{pos}"
        if not isinstance(module, str) or not isinstance(name, str):
            self.find("<computed global>", at, "STACK_GLOBAL operands are not plain strings")
            return _Ref("<computed>", "unknown")
        if self.proto < 3:  # the unpickler maps Python 2 names only for protocols 0-2
            module, name = policy.normalise(module, name)
        qualname = f"{module}.{name}"
        kind = policy.classify(module, name, self.allow)
        self.scan.references.append((qualname, at))
        flagged = True
        if kind == "denied":
            self.find(qualname, at, "denied: runs code or touches files")
        elif kind == "unknown" and not (self.speculative and not _importable(module)):
            self.find(qualname, at, "not allowed")
        else:
            # bytes that only might be a pickle (text, raw data) often start with "c": a
            # module no interpreter here can import is not a finding while it is only named
            # (calling it still is: elsewhere it may be importable)
            flagged = False
        return _Ref(qualname, kind, flagged)

    def call(self, callee: Any, args: Any, pos: int, how: str) -> _Obj:
        """What ``how`` (REDUCE, NEWOBJ, ...) produces; a finding unless it calls a named,
        callable global, with any class it passes on callable too."""
        at = f"{self.where} @{pos}"
        if not isinstance(callee, _Ref):
            self.find(
                f"<{how} of a computed callable>",
                at,
                "the callable is not a named global but " + _describe(callee),
            )
        elif callee.kind == "reference":
            self.find(
                callee.qualname,
                at,
                f"called by {how} while loading (only a stored reference to it is allowed)",
            )
        elif callee.kind != "call" and not callee.flagged:
            self.find(callee.qualname, at, f"called by {how} while loading; not allowed")
        elif isinstance(args, (_Obj, _Ref)) or args is _UNKNOWN:
            # pickle writes arguments as a tuple literal; a tuple some call builds at load
            # time could carry anything to the callable
            self.find(callee.qualname, at, f"{how} with arguments the scan cannot see")
        elif callee.kind == "call" and isinstance(args, tuple):
            keywords = [v for a in args if isinstance(a, dict) for v in a.values()]
            for index, item in [*enumerate(args), *((-1, v) for v in keywords)]:
                passed = isinstance(item, _Ref) and item.kind == "reference"
                called = index in _CALLS_ITS_ARGUMENT.get(callee.qualname, ()) or (
                    index == 0 and "__pyx_unpickle_" in callee.qualname
                )
                # a literal argument cannot run code when called; what a call built can
                if passed or (called and (isinstance(item, _Obj) or item is _UNKNOWN)):
                    self.find(
                        item.qualname if isinstance(item, _Ref) else f"<argument {index}>",
                        at,
                        f"passed to {callee.qualname}, which may call it",
                    )
        return _Obj(callee, args)

    def step(self, name: str, arg: Any, pos: int) -> Any:
        """Apply one opcode; returns the object a BUILD just completed (else None).

        One handler per group of opcodes (``_STEPS``), each doing what ``_pickle.c`` does
        to the stack, the marks and the memo; FRAME, and opcodes with no stack effect, have
        none."""
        if name in _LITERALS:
            self.stack.append(arg)
            return None
        handler = _STEPS.get(name)
        return handler(self, name, arg, pos) if handler is not None else None

    # -- the opcode handlers: (self, name, arg, pos) -> the object BUILD completed, or None

    def _mark(self, name: str, arg: Any, pos: int) -> None:
        self.marks.append(len(self.stack))

    def _proto(self, name: str, arg: Any, pos: int) -> None:
        self.proto = arg

    def _constant(self, name: str, arg: Any, pos: int) -> None:
        self.stack.append({"NEWTRUE": True, "NEWFALSE": False}.get(name))

    def _global(self, name: str, arg: Any, pos: int) -> None:
        module, _, attr = str(arg).partition(" ")
        ref = self.reference(module, attr, pos)
        if name == "INST":
            self.stack.append(self.call(ref, tuple(self.pop_mark()), pos, "INST"))
        else:
            self.stack.append(ref)

    def _stack_global(self, name: str, arg: Any, pos: int) -> None:
        attr = self.pop()
        module = self.pop()
        self.stack.append(self.reference(module, attr, pos))

    def _obj(self, name: str, arg: Any, pos: int) -> None:
        items = self.pop_mark()
        if not items:
            raise ValueError("unpickling stack underflow")
        self.stack.append(self.call(items[0], tuple(items[1:]), pos, "OBJ"))

    def _reduce(self, name: str, arg: Any, pos: int) -> None:
        if name == "NEWOBJ_EX":
            self.pop()  # the keyword arguments
        args = self.pop()
        self.stack.append(self.call(self.pop(), args, pos, name))

    def _build(self, name: str, arg: Any, pos: int) -> Any:
        state = self.pop()
        target = self.top()
        if isinstance(target, _Ref):
            self.find(
                target.qualname,
                f"{self.where} @{pos}",
                "BUILD applied to a global: it would set attributes of a class or module",
            )
        if isinstance(target, _Obj) and not self.shared:
            target.state = state
        return target

    def _extension(self, name: str, arg: Any, pos: int) -> None:
        self.find(
            f"<extension code {arg}>",
            f"{self.where} @{pos}",
            "copyreg extension registry: the callable is not named",
        )
        self.stack.append(_UNKNOWN)

    def _put(self, name: str, arg: Any, pos: int) -> None:
        if name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
            return
        if isinstance(arg, int) and arg < 0:
            raise ValueError("negative PUT argument")
        self.memo[arg] = self.top()

    def _get(self, name: str, arg: Any, pos: int) -> None:
        self.stack.append(self.memo[arg])

    def _empty(self, name: str, arg: Any, pos: int) -> None:
        self.stack.append({"EMPTY_LIST": list, "EMPTY_DICT": dict}.get(name, tuple)())

    def _small_tuple(self, name: str, arg: Any, pos: int) -> None:
        items = [self.pop() for _ in range(int(name[-1]))]
        self.stack.append(tuple(reversed(items)))

    def _sequence(self, name: str, arg: Any, pos: int) -> None:
        items = self.pop_mark()
        self.stack.append(list(items) if name == "LIST" else tuple(items))

    def _dict(self, name: str, arg: Any, pos: int) -> None:
        self.stack.append(_pairs_into({}, self.pop_mark()))

    def _append(self, name: str, arg: Any, pos: int) -> None:
        items = self.pop_mark() if name in ("APPENDS", "ADDITEMS") else [self.pop()]
        target = self.filled(name, pos)
        if isinstance(target, list) and not self.shared:
            target.extend(items)

    def _setitems(self, name: str, arg: Any, pos: int) -> None:
        if name == "SETITEMS":
            items = self.pop_mark()
        else:
            value = self.pop()
            items = [self.pop(), value]
        target = self.filled(name, pos)
        if isinstance(target, dict) and not self.shared:
            _pairs_into(target, items)

    def _pop(self, name: str, arg: Any, pos: int) -> None:
        if name == "POP_MARK":
            self.pop_mark()
        elif self.marks and self.marks[-1] == len(self.stack):
            self.marks.pop()  # _pickle.c: a POP right after MARK drops the mark
        else:
            self.pop()

    def _dup(self, name: str, arg: Any, pos: int) -> None:
        self.stack.append(self.top())

    def _opaque(self, name: str, arg: Any, pos: int) -> None:
        # persistent_load's object (a torch storage) / an out-of-band buffer
        if name in ("BINPERSID", "READONLY_BUFFER"):
            self.pop()
        self.stack.append(_UNKNOWN)

    def _stop(self, name: str, arg: Any, pos: int) -> None:
        self.pop()


_STEPS: dict[str, Callable[[Machine, str, Any, int], Any]] = {
    "MARK": Machine._mark,
    "PROTO": Machine._proto,
    "NEWTRUE": Machine._constant,
    "NEWFALSE": Machine._constant,
    "NONE": Machine._constant,
    "GLOBAL": Machine._global,
    "INST": Machine._global,
    "STACK_GLOBAL": Machine._stack_global,
    "OBJ": Machine._obj,
    "REDUCE": Machine._reduce,
    "NEWOBJ": Machine._reduce,
    "NEWOBJ_EX": Machine._reduce,
    "BUILD": Machine._build,
    **dict.fromkeys(("EXT1", "EXT2", "EXT4"), Machine._extension),
    **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"), Machine._put),
    **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), Machine._get),
    **dict.fromkeys(("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET"), Machine._empty),
    **dict.fromkeys(("TUPLE1", "TUPLE2", "TUPLE3"), Machine._small_tuple),
    **dict.fromkeys(("TUPLE", "LIST", "FROZENSET"), Machine._sequence),
    "DICT": Machine._dict,
    **dict.fromkeys(("APPEND", "APPENDS", "ADDITEMS"), Machine._append),
    **dict.fromkeys(("SETITEM", "SETITEMS"), Machine._setitems),
    **dict.fromkeys(("POP", "POP_MARK"), Machine._pop),
    "DUP": Machine._dup,
    **dict.fromkeys(("PERSID", "NEXT_BUFFER", "BINPERSID", "READONLY_BUFFER"), Machine._opaque),
    "STOP": Machine._stop,
}


def _importable(module: str) -> bool:
    """Whether ``import module`` could find its top-level package here (nothing is run)."""
    top = module.partition(".")[0]
    if not top.isidentifier():
        return False
    try:
        return top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _describe(value: Any) -> str:
    if isinstance(value, _Obj):
        callee = value.callee.qualname if isinstance(value.callee, _Ref) else "something"
        return f"what calling {callee} returns"
    if value is _UNKNOWN:
        return "an object the scan cannot name (persistent id, buffer or extension)"
    return f"a {type(value).__name__} literal"


def _pairs_into(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        with contextlib.suppress(TypeError):  # unhashable inert value: nothing is called
            target[key] = value
    return target


# -- streams ----------------------------------------------------------------------------------

PARSE_ERRORS = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    EOFError,
    RecursionError,
    UnicodeDecodeError,
    OverflowError,
    MemoryError,
)
WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"


def scan_pickle(
    data: bytes, *, where: str, allow: tuple[str, ...] = (), mode: Mode = "strict"
) -> Scan:
    """The references of every pickle stream in ``data``, read from its first byte.

    ``strict``: ``data`` is a pickle (a loader unpickles it): any byte that does not parse,
    after the first stream too, is a finding. ``speculative``: bytes a loader *might*
    unpickle; where they stop parsing the loader would stop as well, having run only what
    came before (scanned: ``GLOBAL``/``INST`` import only once both lines are read), so a
    parse error is a finding only if the bytes start like a pickle (a protocol header).
    """
    scan = Scan(pieces=[where])
    stream = io.BytesIO(data)
    cursor = [0]
    while stream.tell() < len(data):
        start = stream.tell()
        try:
            machine = Machine(where, tuple(allow), scan)
            machine.speculative = mode == "speculative" and data[:2] not in HEADERS
            scan_stream(stream, machine, cursor=cursor)
        except PARSE_ERRORS as exc:
            failed = cursor[0]
            if mode == "strict" or data[start : start + 2] in HEADERS:
                kind = "<unreadable pickle>" if start == 0 else "<unreadable bytes after a pickle>"
                scan.unsafe.append(
                    Finding(kind, f"{where} @{start}", f"cannot be parsed at byte {failed}: {exc}")
                )
            elif start == 0:
                scan.pieces[-1] = f"{where} (not a pickle: stops parsing at byte {failed})"
            return scan
    return scan


def scan_stream(
    stream: io.BytesIO, machine: Machine, joblib: bool = True, cursor: list[int] | None = None
) -> None:
    """Read one stream to its STOP; ``joblib`` for joblib's unpickler, which reads array
    bytes after each wrapper (``pickle.load`` of the same file reads them as opcodes)."""
    frame_end = 0
    for name, arg, pos in opcodes(stream, cursor):
        if name == "FRAME" and isinstance(arg, int):
            frame_end = stream.tell() + arg
        built = machine.step(name, arg, pos)
        if joblib and _class_of(built) == WRAPPER:
            assert isinstance(built, _Obj)
            if stream.tell() < frame_end:
                # the unpickler has read the whole FRAME: joblib reads the array from the
                # file after it, while the opcodes left in the frame run first; joblib ends
                # the frame at each wrapper, so any other layout reads two ways
                raise ValueError(
                    f"a joblib array wrapper ends {frame_end - stream.tell()} bytes before "
                    "its FRAME does: joblib would read the array from after the frame"
                )
            _joblib_array(stream, machine, built)


def _class_of(built: Any) -> str | None:
    """The class an object was built from (through ``copyreg`` too)."""
    if not isinstance(built, _Obj) or not isinstance(built.callee, _Ref):
        return None
    if built.callee.qualname in ("copyreg._reconstructor", "copyreg.__newobj__"):
        first = built.args[0] if isinstance(built.args, tuple) and built.args else None
        return first.qualname if isinstance(first, _Ref) else None
    return built.callee.qualname


def _joblib_array(stream: io.BytesIO, machine: Machine, wrapper: _Obj) -> None:
    """Step over the array bytes joblib reads after a wrapper: the nested pickle of an object
    array, or raw data, which ``pickle.load`` of the same file reads as opcodes instead."""
    state = wrapper.state
    if isinstance(wrapper.callee, _Ref) and wrapper.callee.qualname == WRAPPER and wrapper.args:
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
        nested = Machine(f"{machine.where} (object array)", machine.allow, machine.scan)
        scan_stream(stream, nested, joblib=False)
        return
    start = stream.tell()
    if state.get("numpy_array_alignment_bytes") is not None:
        padding = stream.read(1)
        stream.seek(int.from_bytes(padding, "little"), os.SEEK_CUR)
    end = stream.seek(math.prod(shape) * kind.itemsize, os.SEEK_CUR)
    if end > _size(stream):
        raise ValueError("joblib array data is truncated")
    stream.seek(start)
    # pickle.load of the same file reads these bytes as opcodes, and stops where they stop
    # parsing: the readers are never stricter than the unpickler's, so nothing it would run
    # after that point exists; what it runs before is scanned here
    fork = machine.fork(f"{machine.where} (read by pickle.load, not joblib)")
    with contextlib.suppress(*PARSE_ERRORS):
        scan_stream(stream, fork, joblib=False)
    seen = {(f.name, f.where.rpartition(" @")[2]) for f in machine.scan.unsafe}
    machine.scan.unsafe += [
        f for f in fork.scan.unsafe if (f.name, f.where.rpartition(" @")[2]) not in seen
    ]
    machine.scan.references += fork.scan.references
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
    cached = getattr(value, "dtype", None)
    if cached is not None and cached[0] is value.state:  # one dtype, memoised, many arrays
        return cached[1]
    try:
        kind = np.dtype(*_literal(value.args))
        if value.state is not None:
            kind.__setstate__(_literal(value.state))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"joblib array of an unreadable dtype: {exc}") from exc
    value.dtype = (value.state, kind)
    return kind


def _literal(value: Any) -> Any:
    if isinstance(value, _Obj):
        return _dtype(value)  # the field dtypes of a record
    if isinstance(value, (tuple, list)):
        return type(value)(_literal(item) for item in value)
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    if value is _UNKNOWN or isinstance(value, _Ref):
        raise ValueError("joblib array dtype built from something other than literals")
    return value
