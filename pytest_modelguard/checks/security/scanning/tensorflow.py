"""The ops of a TensorFlow SavedModel graph, read from ``saved_model.pb`` without TensorFlow.

A SavedModel is a program: an op such as ``ReadFile``, ``WriteFile`` or ``PyFunc`` in its
graph or its function library runs when a signature is called. The protobuf is walked by
field number (``SavedModel.meta_graphs`` -> ``MetaGraphDef.graph_def`` ->
``GraphDef.node``/``library.function[].node_def`` -> ``NodeDef.op``), so no TensorFlow
import is needed.
"""

from __future__ import annotations

from collections.abc import Iterator

from pytest_modelguard.checks.security.scanning.results import Finding, Scan

#: Ops that read or write files, reach the network or run Python (after modelscan, which
#: flags ReadFile/WriteFile, and TensorFlow's own ``saved_model_cli scan`` denylist).
UNSAFE_OPS: dict[str, str] = {
    **dict.fromkeys(("PyFunc", "PyFuncStateless", "EagerPyFunc"), "runs Python code"),
    **dict.fromkeys(
        (
            "ReadFile",
            "MatchingFiles",
            "ImmutableConst",
            "WholeFileReader",
            "WholeFileReaderV2",
            "TextLineReader",
            "TextLineReaderV2",
            "FixedLengthRecordReader",
            "FixedLengthRecordReaderV2",
            "TFRecordReader",
            "TFRecordReaderV2",
            "LMDBReader",
            "TextLineDataset",
            "TFRecordDataset",
            "TFRecordDatasetV2",
            "FixedLengthRecordDataset",
            "FixedLengthRecordDatasetV2",
            "CSVDataset",
            "CSVDatasetV2",
            "ExperimentalCSVDataset",
            "LMDBDataset",
            "ExperimentalLMDBDataset",
            "LoadDataset",
            "ExperimentalLoadDataset",
            "LoadAndRemapMatrix",
        ),
        "reads files",
    ),
    **dict.fromkeys(
        (
            "WriteFile",
            "SaveDataset",
            "SaveDatasetV2",
            "ExperimentalSaveDataset",
            "DatasetToTFRecord",
            "ExperimentalDatasetToTFRecord",
            "CreateSummaryFileWriter",
            "CreateSummaryDbWriter",
            "DebugIdentityV2",
            "DebugIdentityV3",
            "SnapshotDataset",
            "SnapshotDatasetV2",
        ),
        "writes files",
    ),
    **dict.fromkeys(
        (
            "SqlDataset",
            "ExperimentalSqlDataset",
            "RpcCall",
            "RpcClient",
            "RpcServer",
            "RpcServerStart",
            "RpcServerRegister",
            "Rpc",
            "TryRpc",
            "BigQueryReader",
            "DataServiceDataset",
            "DataServiceDatasetV2",
            "DataServiceDatasetV3",
            "DataServiceDatasetV4",
        ),
        "reaches the network or a database",
    ),
}


def scan_saved_model(data: bytes, *, where: str) -> Scan:
    """Findings for the unsafe ops of every graph and function of a ``saved_model.pb``, and
    for ops whose attributes name a file."""
    scan = Scan(pieces=[f"{where} (SavedModel graph)"])
    try:
        ops = [(op, function, list(_file_attributes(node))) for op, function, node in _ops(data)]
        fixed = list(_checkpoints_at_fixed_paths(data))
    except ValueError as exc:
        return Scan(unscanned=[(where, f"a SavedModel graph that cannot be parsed: {exc}")])
    for op, function, files in ops:
        place = f"{where} (function {function})" if function else f"{where} (graph)"
        scan.references.append((f"tf.raw_ops.{op}", place))
        if op in UNSAFE_OPS:
            scan.unsafe.append(Finding(f"tf.raw_ops.{op}", place, UNSAFE_OPS[op]))
        for key, value in files:
            reason = f"writes or reads a file: {key}={value!r}"
            scan.unsafe.append(Finding(f"tf.raw_ops.{op}", place, reason))
    for op, function in fixed:
        place = f"{where} (function {function})" if function else f"{where} (graph)"
        reason = "a checkpoint op whose path is fixed in the file, not given by the caller"
        scan.unsafe.append(Finding(f"tf.raw_ops.{op}", place, reason))
    return scan


#: checkpoint ops and which of their inputs are paths: every SavedModel saves and restores
#: through them with a path its caller passes; a path built from constants only is a file
#: the model itself writes or reads
CHECKPOINT_PATHS = {
    "SaveV2": (0,),
    "Save": (0,),
    "SaveSlices": (0,),
    "RestoreV2": (0,),
    "Restore": (0,),
    "RestoreSlice": (0,),
    "MergeV2Checkpoints": (0, 1),
}


def _checkpoints_at_fixed_paths(saved_model: bytes) -> Iterator[tuple[str, str]]:
    """(op, function or '') of checkpoint ops whose path no argument or placeholder feeds."""
    for meta_graph in _field(saved_model, 2):
        for graph in _field(meta_graph, 2):
            yield from _fixed_in(list(_field(graph, 1)), set(), "")
            for library in _field(graph, 2):
                for function in _field(library, 1):
                    signature = next(iter(_field(function, 1)), b"")
                    args = {_text(arg, 1) for arg in _field(signature, 2)}
                    yield from _fixed_in(list(_field(function, 3)), args, _text(signature, 1))


def _fixed_in(nodes: list[bytes], args: set[str], function: str) -> Iterator[tuple[str, str]]:
    graph = {_text(node, 1): (_text(node, 2), _inputs(node)) for node in nodes}

    def fed(start: str) -> bool:  # whether an argument or placeholder reaches start
        todo, seen = [start], {start}
        while todo:
            name = todo.pop()
            op, inputs = graph.get(name, ("", []))
            if name in args or op in ("Placeholder", "PlaceholderWithDefault", "_Arg"):
                return True
            todo += [source for source in inputs if source not in seen]
            seen.update(inputs)
        return False

    for op, inputs in graph.values():
        for index in CHECKPOINT_PATHS.get(op, ()):
            if index < len(inputs) and not fed(inputs[index]):
                yield op, function
                break


def _inputs(node: bytes) -> list[str]:
    """The source node of each data input (``name:output:0``/``name:0`` -> ``name``)."""
    names = (raw.decode("utf-8", "replace") for raw in _field(node, 3))
    return [name.partition(":")[0] for name in names if not name.startswith("^")]


def _ops(saved_model: bytes) -> Iterator[tuple[str, str, bytes]]:
    """(op, function name or '', NodeDef) of every node."""
    for meta_graph in _field(saved_model, 2):
        for graph in _field(meta_graph, 2):
            for node in _field(graph, 1):
                yield _text(node, 2), "", node
            for library in _field(graph, 2):
                for function in _field(library, 1):
                    names = [_text(signature, 1) for signature in _field(function, 1)]
                    for node in _field(function, 3):
                        yield _text(node, 2), names[0] if names else "?", node


#: attributes that name where an op writes or reads (PrintV2's output_stream)
FILE_ATTRIBUTES = frozenset(("output_stream", "filename", "file_path", "filepath", "logdir"))
#: the values of output_stream that are no file
_CONSOLE = frozenset(("stderr", "stdout", "log(info)", "log(warning)", "log(error)", ""))


def _file_attributes(node: bytes) -> Iterator[tuple[str, str]]:
    """String attributes of a node that name a file: a file-valued attribute (other than
    a console stream) or any ``file://`` URL (``tf.print(output_stream="file://...")``)."""
    for entry in _field(node, 5):  # NodeDef.attr: map<string, AttrValue>
        key = _text(entry, 1)
        for attr in _field(entry, 2):
            for raw in _field(attr, 2):  # AttrValue.s
                value = raw.decode("utf-8", "replace")
                if value.lower().startswith("file:") or (
                    key in FILE_ATTRIBUTES and value not in _CONSOLE
                ):
                    yield key, value


def _text(message: bytes, number: int) -> str:
    values = list(_field(message, number))
    return values[-1].decode("utf-8", "replace") if values else ""


def _field(message: bytes, number: int) -> Iterator[bytes]:
    """The length-delimited values of field ``number`` of a protobuf message."""
    pos = 0
    while pos < len(message):
        key, pos = _varint(message, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(message, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(message, pos)
            if pos + size > len(message):
                raise ValueError("a field runs past the end of its message")
            if key >> 3 == number:
                yield message[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(message):
            raise ValueError("truncated message")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
