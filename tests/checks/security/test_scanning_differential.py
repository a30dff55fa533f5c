"""Differential test of the scanner against the real unpickler.

Hypothesis writes opcode streams from a vocabulary that includes every opcode that moves
the stack, marks or memo, odd argument spellings (``INT`` in base 0) and globals of every
kind (callable, storable, unknown, denied, Python 2 names). Whenever the scanner calls a
stream safe, ``pickle.Unpickler`` (the C one) loads it with a ``find_class`` that records
what it is asked for and returns inert stand-ins that record being called: it must have
imported only allowed names and called only callable ones.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_modelguard.checks.security import scanning as pickles
from pytest_modelguard.checks.security.scanning import policy

GLOBALS = [
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "list"),
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("sklearn.base", "BaseEstimator"),
    ("numpy", "mean"),  # storable, not callable
    ("sklearn.feature_selection._univariate_selection", "f_classif"),
    ("os", "system"),
    ("builtins", "eval"),
    ("__builtin__", "eval"),  # Python 2 name: builtins.eval for protocols 0-2
    ("copy_reg", "_reconstructor"),
    ("my_project.model", "Thing"),
]
#: drawn three times as often, so that many streams pass the scan and reach the unpickler
SAFE = GLOBALS[:8]
NAMES = st.one_of(st.sampled_from(SAFE), st.sampled_from(SAFE), st.sampled_from(GLOBALS))
#: what copyreg's helpers call: the class they are given
CALLS_ARGUMENT = {"copyreg._reconstructor": (0, 1), "copyreg.__newobj__": (0,)}


def text(value: str) -> bytes:
    raw = value.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _global(pair: tuple[str, str]) -> bytes:
    return b"c" + f"{pair[0]}\n{pair[1]}\n".encode()


def _inst(pair: tuple[str, str]) -> bytes:
    return b"i" + f"{pair[0]}\n{pair[1]}\n".encode()


FIXED = [
    b"(",
    b"N",
    b")",
    b"}",
    b"]",
    b"\x8f",
    b"\x88",
    b"K\x01",
    b"I0x1f\n",
    b"I 7\n",
    b"I01\n",
    b"L0x10L\n",
    b"F1e3\n",
    b"S'x'\n",
    b"R",
    b"\x81",
    b"\x92",
    b"b",
    b"o",
    b"0",
    b"1",
    b"2",
    b"\x94",
    b"t",
    b"\x85",
    b"\x86",
    b"\x87",
    b"l",
    b"d",
    b"s",
    b"u",
    b"a",
    b"e",
    b"\x90",
    b"\x91",
    b"\x93",
]

OPS = st.one_of(
    st.sampled_from(FIXED),
    st.sampled_from(GLOBALS).map(_global),
    st.sampled_from(GLOBALS).map(_inst),
    st.sampled_from([name for pair in GLOBALS for name in pair]).map(text),
    st.integers(0, 3).map(lambda k: b"q" + bytes([k])),  # BINPUT
    st.integers(0, 3).map(lambda k: b"h" + bytes([k])),  # BINGET
    st.integers(0, 3).map(lambda k: b"r" + struct.pack("<I", k)),  # LONG_BINPUT
    st.integers(0, 3).map(lambda k: f"p{k}\n".encode()),  # PUT
    st.integers(0, 3).map(lambda k: f"g{k}\n".encode()),  # GET
)


def _memo(pair: tuple[bytes, int]) -> bytes:
    return pair[0] + b"q" + bytes([pair[1]])


#: expressions that push one value: literals, globals, memo reads
LEAVES = st.one_of(
    st.sampled_from(
        [b"N", b")", b"}", b"]", b"K\x01", b"I0x1f\n", b"I 7\n", b"L0x10L\n", text("a")]
    ),
    NAMES.map(_global),
    NAMES.map(lambda pair: text(pair[0]) + text(pair[1]) + b"\x93"),
    st.integers(0, 3).map(lambda k: b"h" + bytes([k])),
)
#: odd but legal detours the unpickler takes: a mark dropped by POP, DUP + POP, ...
DETOURS = st.sampled_from([b"(0", b"20", b"(1", b"\x940", b"(N1", b"N0"])


def _extend(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    many = st.lists(children, max_size=3).map(b"".join)
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1] + b"\x85R"),  # REDUCE
        st.tuples(children, many).map(lambda t: t[0] + b"(" + t[1] + b"tR"),
        st.tuples(children, many).map(lambda t: t[0] + b"(" + t[1] + b"t\x81"),  # NEWOBJ
        st.tuples(children, many).map(lambda t: t[0] + b"(" + t[1] + b"t}\x92"),  # NEWOBJ_EX
        st.tuples(children, children).map(lambda t: t[0] + t[1] + b"b"),  # BUILD
        many.map(lambda xs: b"(" + xs + b"t"),
        many.map(lambda xs: b"](" + xs + b"e"),
        st.tuples(children, children).map(lambda t: b"}" + t[0] + t[1] + b"s"),
        st.tuples(children, st.integers(0, 3)).map(_memo),
        st.tuples(children, many).map(lambda t: b"(" + t[0] + t[1] + b"o"),  # OBJ
        st.tuples(NAMES, many).map(lambda t: b"(" + t[1] + _inst(t[0])),
        st.tuples(children, DETOURS).map(b"".join),
        st.tuples(DETOURS, children).map(b"".join),
    )


PROGRAMS = st.lists(st.recursive(LEAVES, _extend, max_leaves=10), min_size=1, max_size=3).map(
    lambda exprs: b"0".join(exprs)
)


class _Recorder(pickle.Unpickler):
    """Records every import and every call; returns stand-ins that do nothing else."""

    def __init__(self, data: bytes, proto: int) -> None:
        super().__init__(io.BytesIO(data))
        self.imports: list[str] = []
        self.calls: list[str] = []
        self.legacy = proto < 3

    def find_class(self, module: str, name: str) -> type:
        if self.legacy:  # what the real find_class maps before importing
            module, name = policy.normalise(module, name)
        qualname = f"{module}.{name}"
        self.imports.append(qualname)
        recorder = self

        class Instance:
            def __call__(self, *args, **kwargs):
                recorder.calls.append("<computed>")
                return Instance()

            def __setstate__(self, state):
                pass

        class StandIn:
            def __new__(cls, *args, **kwargs):
                recorder.calls.append(qualname)
                for index in CALLS_ARGUMENT.get(qualname, ()):
                    if index < len(args):
                        given = args[index]
                        called = getattr(given, "qualname", "<computed>")
                        recorder.calls.append(called if isinstance(given, type) else "<computed>")
                return Instance()

            def __init__(self, *args, **kwargs):
                pass

        StandIn.qualname = qualname
        return StandIn

    def persistent_load(self, pid):
        return None


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    proto=st.sampled_from([0, 2, 4]),
    body=st.one_of(PROGRAMS, st.lists(OPS, max_size=24).map(b"".join)),
)
def test_whenever_the_scanner_says_safe_the_unpickler_imports_and_calls_only_allowed_names(
    proto, body
):
    data = (bytes([0x80, proto]) if proto else b"") + body + b"."
    scan = pickles.scan_pickle(data, where="generated")
    if scan.unsafe:
        return
    recorder = _Recorder(data, proto)
    with contextlib.suppress(Exception):
        recorder.load()
    for qualname in recorder.imports:
        module, name = qualname.rsplit(".", 1)
        assert policy.classify(module, name) in ("call", "reference"), (data, qualname)
    for qualname in recorder.calls:
        assert qualname != "<computed>", (data, recorder.calls)
        module, name = qualname.rsplit(".", 1)
        assert policy.classify(module, name) == "call", (data, qualname)


def test_the_recording_unpickler_sees_what_a_hostile_stream_does():
    # the harness itself: a stream the scanner rejects does call the denied name here
    data = b"\x80\x04" + text("os") + text("system") + b"\x93" + text("id") + b"\x85R."
    assert [f.name for f in pickles.scan_pickle(data, where="m").unsafe] == ["os.system"]
    recorder = _Recorder(data, 4)
    recorder.load()
    assert recorder.imports == ["os.system"] and recorder.calls == ["os.system"]
