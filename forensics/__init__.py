"""Tracehound: evidence in, a typed, queryable timeline out, and the attack chain behind it.

>>> from forensics import Case
>>> case = Case.open("cases/demo")        # doctest: +SKIP
>>> case.ingest(["evidence/"])            # doctest: +SKIP
>>> case.timeline(host="WS01").timeline.stack("process_executable")  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tracehound")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from forensics import timeline as _timeline  # noqa: F401  (registers df.timeline)
from forensics.case import Case, CaseError

__all__ = ["Case", "CaseError", "__version__"]
