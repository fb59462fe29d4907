"""What a scan yields: matches (``YaraMatch``, ``StringMatch``), warnings and the ``ScanResult``.

A match names the file (loose: its path; inside an image: the image's path and the path inside),
its sha256, the rule, namespace, tags, meta and the matched strings with the offsets of their
first ``MAX_OFFSETS`` matches. A warning names something not scanned as asked (a rule file not
compiled, a file too large, a timeout...) with a one-line reason. Apart from the modules that
make them (``rules``, ``targets``, ``scanner``) and the one that stores them (``report``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Offsets kept per matched string.
MAX_OFFSETS = 10
#: Bytes of a matched string's first match kept for display.
MAX_DATA = 64

#: ``dated_by`` of a loose file's match: its time on the analysis machine, not the evidence's.
ON_DISK = "modification time on disk"


@dataclass(frozen=True, slots=True)
class YaraWarning:
    """Something not scanned as asked: ``kind`` compile | size | timeout | read | image | scan."""

    kind: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class StringMatch:
    """One string of a matching rule: where it matched (first ``MAX_OFFSETS``) and how often."""

    identifier: str
    offsets: tuple[int, ...]
    count: int
    #: The bytes of its first match (at most ``MAX_DATA``).
    data: bytes


@dataclass(frozen=True, slots=True)
class YaraMatch:
    """A rule that matched a file."""

    path: str  # the file's path (inside an image: its path there)
    sha256: str
    size: int
    rule: str
    namespace: str
    tags: tuple[str, ...]
    meta: dict[str, Any]
    strings: tuple[StringMatch, ...]
    engine: str  # yara-x | yara-python
    image: str | None = None  # the image's path, for a file inside one
    evidence_id: str | None = None
    mtime: datetime | None = None  # loose files: modification time on disk

    @property
    def rule_id(self) -> str:
        return f"{self.namespace}:{self.rule}"

    @property
    def location(self) -> str:
        """The file for people: its path, and the image's when inside one."""
        return f"{self.path} (in {self.image})" if self.image else self.path


@dataclass(slots=True)
class ScanResult:
    """What ``scan`` found and what it could not do."""

    matches: list[YaraMatch] = field(default_factory=list)
    warnings: list[YaraWarning] = field(default_factory=list)
    files: int = 0  # files scanned
    bytes: int = 0  # bytes scanned
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        """Warnings by kind (``size`` = files skipped as too large, ``timeout``...)."""
        return Counter(w.kind for w in self.warnings)

    @property
    def skipped(self) -> int:
        return self.counts["size"]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
