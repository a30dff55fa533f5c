"""Every payload in a file, directory or archive that a common loader could unpickle.

Formats are recognised by content, never by name, and every reading a loader could take
is scanned: a file is read as a pickle from its first byte (``pickle.load``, ``joblib``,
``np.load(allow_pickle=True)`` of an unknown format), as a zip wherever its central
directory is (``zipfile``, ``torch.load``, ``np.load`` of ``.npz``, Keras), as HDF5 wherever
its superblock is (offset 0, 512, 1024, ...: a user block), as ``.npy``, as a
gzip/bz2/xz/lzma/zlib stream and as a tar archive, recursively. In HDF5, attributes
(PyTables unpickles any byte attribute ending in ``.``), byte and variable-length datasets
(PyTables' object atoms, pandas ``to_hdf`` object columns) are payloads too. What cannot be
read (an encrypted or corrupt member, a special file, too large, nested too deep) is listed
as not scanned and is a finding unless ``allow_unscanned=`` names it.
"""

from __future__ import annotations

import bz2
import fnmatch
import io
import json
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pytest_modelguard.checks.security.scanning import policy
from pytest_modelguard.checks.security.scanning.opcodes import HEADERS, scan_pickle
from pytest_modelguard.checks.security.scanning.results import Finding, Scan
from pytest_modelguard.core.verdict import GateError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pck", ".pcl")
MAX_DECOMPRESSED = 2**31  # a compressed member larger than this is not inflated
MAX_DEPTH = 8  # archives nested deeper than this are not opened
_HDF5 = b"\x89HDF\r\n\x1a\n"
_NPY = b"\x93NUMPY"
_ZIP_END = b"PK\x05\x06"
_LZ4 = b"\x04\x22\x4d\x18"  # an LZ4 frame: joblib's compress="lz4"


def scan_path(
    path: str | os.PathLike[str],
    *,
    allow: Iterable[str] = (),
    allow_unscanned: Iterable[str] = (),
) -> Scan:
    """Scan a file or directory artifact; an unknown format is an error, not a pass."""
    path = Path(path)
    allow = tuple(allow)
    if path.is_dir():
        scan = _scan_dir(path, allow)
    else:
        data = path.read_bytes()
        scan = scan_bytes(data, where=path.name, allow=allow, suffix=_suffix(path.name), top=True)
    patterns = tuple(allow_unscanned)
    for where, why in scan.unscanned:
        if not any(fnmatch.fnmatchcase(where, pattern) for pattern in patterns):
            scan.unsafe.append(
                Finding(
                    "<not scanned>",
                    where,
                    f"{why}; if that is acceptable, name it in allow_unscanned=",
                )
            )
    return scan


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _scan_dir(root: Path, allow: tuple[str, ...]) -> Scan:
    scan = Scan()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if Path(folder, d).is_symlink()]):
            file = Path(folder, name)
            where = str(file.relative_to(root.parent))
            mode = file.lstat().st_mode
            if stat.S_ISLNK(mode):
                if not file.is_file():  # a loader follows it; to a directory or nowhere
                    scan.unscanned.append((where, f"a symbolic link to {os.readlink(file)}"))
                    continue
                where += f" (link to {os.readlink(file)})"
            elif not stat.S_ISREG(mode):
                scan.unscanned.append((where, "not a regular file"))
                continue
            data = file.read_bytes()
            scan.extend(scan_bytes(data, where=where, allow=allow, suffix=_suffix(name)))
    if not scan.pieces and not scan.unscanned:
        scan.pieces.append(f"{root.name}/ (empty)")
    return scan


def scan_bytes(
    data: bytes,
    *,
    where: str,
    allow: tuple[str, ...] = (),
    suffix: str = "",
    top: bool = False,
    depth: int = 0,
) -> Scan:
    """Scan one payload under every reading a loader could take of it."""
    scan = Scan()
    if depth > MAX_DEPTH:
        scan.unscanned.append((where, f"nested more than {MAX_DEPTH} archives deep"))
        return scan
    formats = 0  # readings that recognised the bytes

    def add(found: Scan) -> None:
        nonlocal formats
        formats += bool(found.pieces or found.unscanned or found.unsafe)
        scan.extend(found)

    if data.startswith(_NPY):
        add(_scan_npy(data, where, allow))
    if _ZIP_END in data[-65_600:]:
        add(_scan_zip(data, where, allow, depth))
    hdf5 = _hdf5_offset(data)
    if hdf5 is not None:
        add(_scan_hdf5(data, where if hdf5 == 0 else f"{where} (HDF5 at {hdf5})", allow))
    compressor = _compressor(data)
    if compressor is not None:
        add(_scan_compressed(data, compressor, where, allow, suffix, top, depth))
    if data[257:262] == b"ustar":
        add(_scan_tar(data, where, allow, depth))
    if data.lstrip()[:1] == b"{":
        add(scan_config(data, where=where, allow=allow))
    if where.endswith("saved_model.pb"):
        from pytest_modelguard.checks.security.scanning import tensorflow

        add(tensorflow.scan_saved_model(data, where=where))
    unopened = _unopened_format(data, suffix)
    if unopened is not None and not formats:
        why = f"{unopened}, a format the scanner cannot open (a loader may: pandas reads .zst)"
        add(Scan(unscanned=[(where, why)]))
    strict = data[:2] in HEADERS or (suffix in PICKLE_SUFFIXES and not formats)
    read = scan_pickle(data, where=where, allow=allow, mode="strict" if strict else "speculative")
    is_pickle = read.pieces == [where]
    if is_pickle or not formats:
        scan.extend(read)
    else:  # the other reading found: keep any finding of this one, not its piece
        scan.references += read.references
        scan.unsafe += read.unsafe
    if top and not formats and not is_pickle and not read.unsafe:
        raise GateError(
            f"safe_load does not know the format of {where}: it scans pickles (any protocol, "
            "also compressed), joblib files, zip archives (.keras, .npz, torch), HDF5 (.h5, "
            "pandas/PyTables), .npy, tar archives and directories (a SavedModel); gate the "
            "integrity of other files with sha256="
        )
    return scan


# -- formats ----------------------------------------------------------------------------------


def _hdf5_offset(data: bytes) -> int | None:
    """Where the HDF5 library finds a superblock: offset 0, 512, 1024, 2048, ..."""
    offset = 0
    while offset + len(_HDF5) <= len(data):
        if data[offset : offset + len(_HDF5)] == _HDF5:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


#: compressed or archive formats the scanner cannot open, by magic number (4 bytes or more:
#: raw tensor data must not look like one by chance)
_UNOPENED_MAGIC = {
    b"\x28\xb5\x2f\xfd": "a zstd stream",
    b"7z\xbc\xaf\x27\x1c": "a 7z archive",
    b"Rar!\x1a\x07": "a RAR archive",
    b"\x02\x21\x4c\x18": "a legacy LZ4 stream",
    b"\xff\x06\x00\x00sNaPpY": "a framed Snappy stream",
    b"\x89LZO\x00\r\n\x1a\n": "an lzop stream",
    b"LZIP": "an lzip stream",
    b"MSCF": "a cabinet archive",
    b"xar!": "a xar archive",
}
#: formats without a magic number, known by their suffix only
_UNOPENED_SUFFIX = {".br": "a brotli stream", ".zst": "a zstd stream", ".sz": "a Snappy stream"}


def _unopened_format(data: bytes, suffix: str) -> str | None:
    """A compressed or archive format the scanner cannot open: never a pass."""
    if len(data) >= 4 and data[1:4] == b"\x2a\x4d\x18" and data[0] & 0xF0 == 0x50:
        return "a zstd skippable frame"
    for magic, kind in _UNOPENED_MAGIC.items():
        if data.startswith(magic):
            return kind
    return _UNOPENED_SUFFIX.get(suffix)


def _compressor(data: bytes) -> str | None:
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh":
        return "bz2"
    if data[:6] == b"\xfd7zXZ\x00" or data[:3] == b"\x5d\x00\x00":
        return "lzma"
    if len(data) > 1 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
        return "zlib"
    if data[:4] == _LZ4:
        return "lz4"
    if data[:2] == _ZF and _zf_length(data) is not None:
        return "joblib ZF"
    return None


_ZF = b"ZF"  # joblib < 0.10's compressed pickle: b"ZF", hex(length) padded to 19, zlib
_ZF_HEADER = 2 + len(hex(2**64))


def _zf_length(data: bytes) -> int | None:
    """The inflated length a joblib ZF header states (read as ``read_zfile`` reads it)."""
    try:
        return int(data[2:_ZF_HEADER], 16)
    except ValueError:
        return None


def _decompress(data: bytes, compressor: str) -> bytes:
    """Inflate zlib, gzip, bz2, xz or lzma data (joblib's compressors), bounded in size;
    concatenated gzip/bz2/xz members are read on, as their file readers do."""
    if compressor == "lz4":
        import lz4.frame  # only when an LZ4 file is met; joblib needs it to load one too

        out_lz4 = lz4.frame.decompress(data)
        if len(out_lz4) >= MAX_DECOMPRESSED:
            raise ValueError(f"inflates to more than {MAX_DECOMPRESSED} bytes")
        return out_lz4
    if compressor == "joblib ZF":
        start = _ZF_HEADER + (data[_ZF_HEADER : _ZF_HEADER + 1] == b" ")  # joblib <= 0.8.4
        zf = zlib.decompressobj()
        inflated = zf.decompress(data[start:], MAX_DECOMPRESSED)
        if len(inflated) >= MAX_DECOMPRESSED:
            raise ValueError(f"inflates to more than {MAX_DECOMPRESSED} bytes")
        if not zf.eof:
            raise ValueError("the zlib stream after the ZF header is truncated")
        return inflated
    out = bytearray()
    rest = data
    while rest:
        if compressor == "bz2":
            decompressor: Any = bz2.BZ2Decompressor()
        elif compressor == "lzma":
            decompressor = lzma.LZMADecompressor()
        else:
            decompressor = zlib.decompressobj(31 if compressor == "gzip" else 15)
        out += decompressor.decompress(rest, MAX_DECOMPRESSED - len(out))
        if len(out) >= MAX_DECOMPRESSED:
            raise ValueError(f"inflates to more than {MAX_DECOMPRESSED} bytes")
        if compressor == "zlib" or not getattr(decompressor, "eof", True):
            break
        rest = decompressor.unused_data
        if compressor == "gzip":
            rest = rest.lstrip(b"\x00")  # gzip readers skip zero padding between members
    return bytes(out)


def _scan_compressed(
    data: bytes,
    compressor: str,
    where: str,
    allow: tuple[str, ...],
    suffix: str,
    top: bool,
    depth: int,
) -> Scan:
    try:
        inner = _decompress(data, compressor)
    except ImportError:
        return Scan(unscanned=[(where, "an LZ4 stream, and the lz4 package is not installed")])
    except (OSError, ValueError, EOFError, RuntimeError, zlib.error, lzma.LZMAError) as exc:
        if compressor in ("zlib", "lzma") and data[:6] != b"\xfd7zXZ\x00":
            return Scan()  # a weak signature: bytes that merely start like a stream
        return Scan(unscanned=[(where, f"a {compressor} stream that does not inflate: {exc}")])
    inner_suffix = suffix if suffix in PICKLE_SUFFIXES else _suffix(where.removesuffix(suffix))
    return scan_bytes(
        inner,
        where=f"{where} ({compressor})",
        allow=allow,
        suffix=inner_suffix,
        top=top,
        depth=depth + 1,
    )


def _scan_zip(data: bytes, where: str, allow: tuple[str, ...], depth: int) -> Scan:
    scan = Scan(pieces=[where])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, OSError) as exc:
        if data.startswith(b"PK\x03\x04"):
            return Scan(unscanned=[(where, f"a zip archive that cannot be read: {exc}")])
        return Scan()  # the end-of-archive signature inside other bytes
    for member in members:
        inner = f"{where}!{member.filename}"
        if member.is_dir():
            continue
        if member.file_size > MAX_DECOMPRESSED:
            scan.unscanned.append((inner, "too large to inflate"))
            continue
        try:
            content = archive.read(member)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError) as exc:
            # torch.load reads members whose CRC or flags Python's zipfile refuses
            scan.unscanned.append((inner, f"a zip member that cannot be read: {exc}"))
            continue
        scan.extend(
            scan_bytes(
                content,
                where=inner,
                allow=allow,
                suffix=_suffix(member.filename),
                depth=depth + 1,
            )
        )
    return scan


def _scan_tar(data: bytes, where: str, allow: tuple[str, ...], depth: int) -> Scan:
    scan = Scan(pieces=[where])
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                inner = f"{where}!{member.name}"
                if member.isdir():
                    continue
                if not member.isreg():
                    scan.unscanned.append((inner, "a link or special file in a tar archive"))
                    continue
                content = archive.extractfile(member)
                assert content is not None
                scan.extend(
                    scan_bytes(
                        content.read(),
                        where=inner,
                        allow=allow,
                        suffix=_suffix(member.name),
                        depth=depth + 1,
                    )
                )
    except (tarfile.TarError, OSError, EOFError) as exc:
        scan.unscanned.append((where, f"a tar archive that cannot be read: {exc}"))
    return scan


def scan_config(content: bytes | str, *, where: str, allow: tuple[str, ...] = ()) -> Scan:
    """Keras model config JSON: Python lambdas, ``Lambda`` layers and objects from modules
    outside Keras (which loading would import) are findings."""
    try:
        config = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Scan()  # not JSON: nothing a Keras loader would deserialise
    scan = Scan(pieces=[f"{where} (JSON)"])
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
            if not policy.allowed(module, class_name, allow):
                scan.unsafe.append(Finding(qualname, where, "custom object from outside Keras"))
    return scan


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _scan_npy(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    """A ``.npy`` of an object dtype holds a pickle after its (literal-only) header."""
    import numpy as np

    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):  # both parse the header with ast.literal_eval only
            header = np.lib.format.read_array_header_1_0(stream)
        else:  # 2.0, and 3.0 (a UTF-8 header; same layout)
            header = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, TypeError, SyntaxError) as exc:
        return Scan(unscanned=[(where, f"a .npy header that cannot be read: {exc}")])
    if not np.dtype(header[2]).hasobject:
        return Scan(pieces=[f"{where} (.npy of {np.dtype(header[2])})"])
    return scan_pickle(data[stream.tell() :], where=f"{where} (.npy objects)", allow=allow)


def _scan_hdf5(data: bytes, where: str, allow: tuple[str, ...]) -> Scan:
    """Attributes and byte-like datasets of an HDF5 file: pickles and Keras configs."""
    try:
        import h5py
    except ImportError:
        return Scan(unscanned=[(where, "an HDF5 file, and h5py is not installed to read it")])
    import numpy as np

    scan = Scan(pieces=[where])

    def visit(name: str, obj: Any) -> None:
        path = f"{where}!/{name}".replace("!//", "!/")
        for key in list(obj.attrs):
            try:
                value = obj.attrs[key]
            except (OSError, ValueError, TypeError) as exc:
                scan.unscanned.append((f"{path}@{key}", f"an attribute h5py cannot read: {exc}"))
                continue
            _scan_value(value, f"{path}@{key}", allow, scan, strict=False)
        if isinstance(obj, h5py.Dataset) and (
            obj.dtype.kind in "SOV" or (obj.dtype.kind in "ui" and obj.dtype.itemsize == 1)
        ):
            pseudo = obj.attrs.get("PSEUDOATOM")
            objects = isinstance(pseudo, bytes | np.bytes_) and bytes(pseudo) == b"object"
            try:
                value = np.asarray(obj[()])
            except (OSError, ValueError, TypeError) as exc:
                scan.unscanned.append((path, f"a dataset h5py cannot read: {exc}"))
                return
            _scan_value(value, path, allow, scan, strict=objects)

    try:
        with h5py.File(io.BytesIO(data), "r") as file:
            visit("", file)
            file.visititems(visit)
    except (OSError, ValueError, TypeError) as exc:
        scan.unscanned.append((where, f"an HDF5 file h5py cannot read: {exc}"))
    return scan


def _scan_value(
    value: Any, where: str, allow: tuple[str, ...], scan: Scan, *, strict: bool
) -> None:
    """One attribute or dataset value: each byte string in it is read as a pickle (PyTables
    unpickles object atoms and byte attributes ending in ``.``)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind == "V" or (value.dtype.kind in "ui" and value.dtype.itemsize == 1):
            value = value.tobytes()
        else:
            for item in value.ravel():
                _scan_value(item, where, allow, scan, strict=strict)
            return
    if isinstance(value, np.void):
        value = value.tobytes()
    if isinstance(value, str):
        if "class_name" in value:
            scan.extend(scan_config(value, where=where, allow=allow))
        return
    if isinstance(value, bytes) and value:
        if b"class_name" in value:
            scan.extend(scan_config(value, where=where, allow=allow))
        read = scan_pickle(
            value, where=where, allow=allow, mode="strict" if strict else "speculative"
        )
        scan.references += read.references
        scan.unsafe += read.unsafe
