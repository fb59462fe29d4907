"""YARA over a case: loose files, files inside disk images and objects carved from captures.

Rule files are compiled once (yara-x, and yara-python for the files yara-x rejects) into rule
sets per class of file, run in worker processes over the targets' files, and the matches stored
in the case as findings and timeline rows. One module a job, reading rules apart from scanning:

- ``rules``: ``compile_rules``, rule files and folders into a ``RuleSet`` (``RuleFile``: each
  file's engine, or why none took it);
- ``externals``: the external variables rules read (``EXTERNALS``) and their values per file;
- ``prefilter``: rules' conditions read, and which rules each class of file (header, size) gets;
- ``targets``: what is scanned (files, folders, ``DiskImage``) as work units, and reading it;
- ``scanner``: ``scan``, the worker processes and the size and time limits;
- ``results``: what a scan yields (``ScanResult``, ``YaraMatch``, ``StringMatch``, ``YaraWarning``);
- ``report``: ``detect_yara`` (findings, timeline rows, dating the matches), ``level_of`` and
  ``YaraReport``.

References: YARA's documentation (yara.readthedocs.io: writing rules, external variables,
yara-python), YARA-X's (virustotal.github.io/yara-x: differences with YARA, the Python API).
"""

from __future__ import annotations

from forensics.detect.yara.externals import EXTERNALS
from forensics.detect.yara.report import YaraReport, detect_yara, level_of
from forensics.detect.yara.results import MAX_OFFSETS, ScanResult, StringMatch, YaraMatch, YaraWarning
from forensics.detect.yara.rules import RuleFile, RuleSet, compile_rules
from forensics.detect.yara.scanner import DEFAULT_MAX_SIZE, DEFAULT_TIMEOUT, scan
from forensics.detect.yara.targets import DiskImage

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_TIMEOUT",
    "EXTERNALS",
    "MAX_OFFSETS",
    "DiskImage",
    "RuleFile",
    "RuleSet",
    "ScanResult",
    "StringMatch",
    "YaraMatch",
    "YaraReport",
    "YaraWarning",
    "compile_rules",
    "detect_yara",
    "level_of",
    "scan",
]
