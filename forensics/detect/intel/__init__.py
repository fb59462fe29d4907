"""Threat-intelligence indicators (IOCs): load feeds, match them against a case, export what was seen.

An indicator of compromise is a value an attacker's activity leaves behind: the address or name of
a command-and-control server, the URL a payload came from, the hash or file name of a tool. This
package reads them from the formats they are shared in, into one table, and finds every timeline
row that carries one. One module a job, reading apart from matching:

- ``indicators``: the indicator table (``SCHEMA``, ``KINDS``), value normalisation (``normalise``,
  ``normalise_url``) and ``IntelWarning``;
- ``load``: ``load_indicators``, which recognises each file's format by content and hands it to
  a reader: ``stix`` (STIX 2.1), ``misp`` (MISP events), ``lists`` (CSV, plain and
  signature-base/LOKI lists);
- ``match``: ``match``, in DuckDB over the case's timeline rows, to findings of engine ``ioc``;
- ``report``: ``detect_intel`` (load, match, store the findings) and its ``IntelReport``;
- ``export``: ``export_seen``, the indicators seen in a case as a blocklist or a STIX 2.1 bundle.
"""

from __future__ import annotations

# write_findings, _MACROS and _URLS: re-exported for tests that use them through this package
from forensics.detect.findings import write_findings as write_findings
from forensics.detect.intel.export import blocklist, export_seen, seen_indicators
from forensics.detect.intel.indicators import COLUMNS, KINDS, SCHEMA, IntelWarning, normalise, normalise_url
from forensics.detect.intel.load import load_indicators
from forensics.detect.intel.match import _MACROS as _MACROS
from forensics.detect.intel.match import _URLS as _URLS
from forensics.detect.intel.match import ENGINE, match
from forensics.detect.intel.misp import NOT_FOR_IDS_CONFIDENCE
from forensics.detect.intel.report import IntelReport, detect_intel
from forensics.detect.intel.stix import OBSERVED_CONFIDENCE

__all__ = [
    "COLUMNS",
    "ENGINE",
    "KINDS",
    "NOT_FOR_IDS_CONFIDENCE",
    "OBSERVED_CONFIDENCE",
    "SCHEMA",
    "IntelReport",
    "IntelWarning",
    "blocklist",
    "detect_intel",
    "export_seen",
    "load_indicators",
    "match",
    "normalise",
    "normalise_url",
    "seen_indicators",
]
