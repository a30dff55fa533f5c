"""What a scan found: unsafe findings, every reference, what was read, what was not."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """Every reference found, the unsafe ones, the pieces read and the pieces not read."""

    references: list[tuple[str, str]] = field(default_factory=list)  # (module.name, where)
    unsafe: list[Finding] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    unscanned: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    def extend(self, other: Scan) -> None:
        self.references += other.references
        self.unsafe += other.unsafe
        self.pieces += other.pieces
        self.unscanned += other.unscanned
