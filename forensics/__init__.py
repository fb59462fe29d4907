"""Tracehound: evidence in, a typed, queryable timeline out, and the attack chain behind it.

>>> from forensics import Case
>>> case = Case.open("cases/demo")        # doctest: +SKIP
>>> case.ingest(["evidence/"])            # doctest: +SKIP
>>> case.timeline(host="WS01").timeline.stack("process_executable")  # doctest: +SKIP

Frames a case returns carry the ``.timeline`` accessor; for a frame of your own, ``import
forensics.timeline`` first (pandas is loaded only when a frame is made: ingesting and
detecting do not need it).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracehound")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from forensics.case import Case, CaseError

__all__ = ["Case", "CaseError", "__version__"]
