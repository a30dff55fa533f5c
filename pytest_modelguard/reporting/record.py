"""What one session measured, as data: the input of the sign-off report and of baselines.

Versioned (``SCHEMA_VERSION``); the JSON form is ``modelguard.json`` and is described by
``pytest_modelguard/schemas/modelguard-report.schema.json``.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_modelguard.core.verdict import Verdict

SCHEMA_VERSION = 1
PACKAGES = (
    "pytest-modelguard", "pytest", "numpy", "pandas", "scikit-learn", "tensorflow",
    "tensorflow-cpu", "keras", "fairlearn", "foolbox", "hypothesis", "pytest-xdist",
)  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SessionRecord:
    """Every verdict of a run with what is needed to reproduce and compare it."""

    seed: int
    profile: str
    started: str = field(default_factory=now)
    finished: str | None = None
    gates: list[tuple[str, Verdict]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "seed": self.seed,
            "profile": self.profile,
            "started": self.started,
            "finished": self.finished,
            "environment": self.environment,
            "verdicts": [
                {"nodeid": nodeid, **verdict.to_json()}
                for nodeid, verdict in sorted(self.gates, key=lambda gate: gate[0])
            ],
        }


def environment(rootdir: Path) -> dict[str, Any]:
    """Python, platform, versions of the packages that shape the numbers, and git state."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "git": _git(rootdir),
    }


def _git(rootdir: Path) -> dict[str, Any] | None:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=rootdir, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None  # not a repository, or no git: the report says so by omission
    return {"commit": commit, "dirty": dirty}
