"""What dissect.target learns of a target (a disk image, a triage collection, a folder): its OS
family, version, host name and time zone, read once and shared by every parser that opens one.

A target's own zone converts its local-time logs to UTC and its host name names rows whose
records do not (a shell history, a web log), so both travel with the files parsed inside it
(``Options.timezone`` and ``Options.host_name``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HostContext", "describe", "family", "host_context", "safe", "timezone"]


@dataclass(frozen=True, slots=True)
class HostContext:
    """The host a collection or folder came from, as dissect.target's loaders read it."""

    os: str
    os_version: str | None
    hostname: str | None
    timezone: str | None
    loader: str


def family(target: Any) -> str:
    """``windows``, ``linux`` (Unix-likes included) or ``unknown``."""
    os_name = str(target.os or "")
    if os_name in ("windows", "linux"):
        return os_name
    return "linux" if os_name in ("unix", "android") else "unknown"


def timezone(target: Any) -> str | None:
    """The target's own IANA zone (from /etc/timezone, the registry...), None when unknown."""
    try:
        return str(target.timezone) if target.timezone else None
    except Exception:
        return None


def safe(get: Any) -> str | None:
    """``get()`` as a string; None when it is empty or the plugin behind it fails."""
    try:
        value = get()
    except Exception:
        return None
    return str(value) if value else None


def describe(target: Any) -> dict[str, str | None]:
    """OS, version, host name and zone of an opened target, for an info row's fields."""
    return {
        "os": str(target.os),
        "os_version": safe(lambda: target.version),
        "hostname": safe(lambda: target.hostname),
        "timezone": timezone(target) or "unknown",
    }


def host_context(path: str | Path) -> HostContext | None:
    """The host of a collection at ``path`` (tar, zip or folder: acquire, KAPE, Velociraptor,
    UAC layouts or a plain root tree), when a dissect.target loader recognises an OS in it."""
    from dissect.target import Target

    logging.getLogger("dissect").setLevel(logging.ERROR)
    try:
        target = Target.open(path)
    except Exception:  # no loader for it, or not readable as a target: no context
        return None
    if family(target) == "unknown":
        return None
    info = describe(target)
    loader = type(getattr(target, "_loader", None)).__name__.removesuffix("Loader").lower()
    return HostContext(str(info["os"]), info["os_version"], info["hostname"], timezone(target), loader)
