"""What each artifact generator reports back: where each malicious step shows, and counts.

Generators return one ``ArtifactReport`` per file they write. ``refs`` locate every piece of
evidence of a step inside that file (an EVTX record id, a packet number, a file path and
line inside the image); ``events``/``malicious`` count the artifact's entries (records,
log lines, network transactions) so that the noise ratio can be checked per host and wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ArtifactReport", "Ref"]


@dataclass(frozen=True, slots=True)
class Ref:
    """One piece of evidence of a step. ``locator`` is artifact-specific and JSON-ready:
    EVTX ``{"record_id": 17, "event_id": 1}``; capture ``{"packet": 102, "flow": "10.20.0.21:50012 > 203.0.113.66:80/tcp"}``;
    image ``{"path": "/var/log/auth.log", "line": 812}`` (lines count from 1) or ``{"path": "/tmp/.sysupd"}``."""

    step: str
    artifact: str  # path relative to the case folder, "/" separated
    time: datetime
    locator: dict[str, Any]
    what: str = ""  # one line: what this evidence shows


@dataclass
class ArtifactReport:
    artifact: str  # path relative to the case folder
    host: str  # "WS01", "SRV01" or "network"
    kind: str  # "evtx", "disk-image", "pcapng", "intel", "file"
    events: int = 0  # entries in the artifact (records, log lines, transactions)
    malicious: int = 0  # of which belong to the attack
    refs: list[Ref] = field(default_factory=list)
