"""Objects carried over the network, written into the case for the file scanners.

An HTTP body (or any object a session reassembles) is streamed to a temporary file in the
case's carve folder and, once whole, renamed to its sha256: the same object downloaded twice
is stored once, and workers of a parallel ingest never clash (unique temporary names, atomic
rename). Only decoded object bytes are written; the evidence itself is never touched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CarvedFile", "Carver"]


class CarvedFile:
    """A writable object file that names itself by its sha256 when closed."""

    def __init__(self, folder: Path) -> None:
        fd, temp = tempfile.mkstemp(prefix=".carving-", dir=folder)
        self._fh = os.fdopen(fd, "wb")
        self._temp = Path(temp)
        self._hash = hashlib.sha256()
        self.size = 0
        #: The final file name (the sha256), once closed.
        self.name: str | None = None

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def close(self) -> None:
        if self.name is not None:
            return
        self._fh.close()
        self.name = self._hash.hexdigest()
        final = self._temp.with_name(self.name)
        if final.exists():
            self._temp.unlink()
        else:
            os.replace(self._temp, final)

    @property
    def closed(self) -> bool:
        return self.name is not None


class Carver:
    """Opens ``CarvedFile``s in ``folder`` (created on first use); pass ``open`` as a session's
    ``open_body``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def open(self, info: Any = None) -> CarvedFile:
        self.folder.mkdir(parents=True, exist_ok=True)
        return CarvedFile(self.folder)
