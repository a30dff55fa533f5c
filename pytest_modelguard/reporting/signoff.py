"""The sign-off report (``--modelguard-report=DIR``): ``modelguard.json``, ``index.html``
and ``MODEL_CARD.md``, written from one :class:`SessionRecord`.

Imported only when a report is asked for. A directory that cannot be written is a
:class:`ReportError` (the run must not look signed off without its report).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from pytest_modelguard.reporting import html, modelcard_out
from pytest_modelguard.reporting.record import SessionRecord

JSON_NAME, HTML_NAME, CARD_NAME = "modelguard.json", "index.html", modelcard_out.CARD_NAME
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "modelguard-report.schema.json"


class ReportError(Exception):
    """The report cannot be written; the message names the directory and the cause."""


def write_report(directory: Path, record: SessionRecord) -> list[Path]:
    """Write the files into ``directory`` (created if needed); return their paths."""
    data = plain(record.to_json())
    contents = {
        JSON_NAME: json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False) + "\n",
        HTML_NAME: html.render(data),
        **modelcard_out.cards(data),  # MODEL_CARD.md, or one MODEL_CARD.<model>.md per model
    }
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return [_write(directory / name, text) for name, text in contents.items()]
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ReportError(
            f"cannot write the modelguard report to {directory}: {reason}; pass "
            "--modelguard-report a directory that can be created and written"
        ) from exc


def plain(value: Any) -> Any:
    """``value`` as strict JSON data: NaN and infinities become null, numpy values plain
    Python, tuples lists, keys strings, anything else its ``str``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, without importing numpy
        return plain(value.tolist())
    return str(value)


def _write(path: Path, text: str) -> Path:
    """Write through a temporary file, so a reader never sees half a report."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from CI artifacts
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
