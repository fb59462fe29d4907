"""Run a parser over one file the way the ingest does, for tests."""

from __future__ import annotations

import os
from pathlib import Path

from parsers.base import Options, Parser, ParseWarning


def parse_file(
    parser: Parser, path: Path, options: Options | None = None
) -> tuple[list[dict], list[ParseWarning]]:
    """All rows (as dicts) and warnings a parser yields for one file."""
    options = options or Options()
    rows: list[dict] = []
    found: list[ParseWarning] = []
    with open(path, "rb") as fh:
        for unit in parser.plan(fh, os.path.getsize(path), options):
            for item in parser.parse(fh, unit, options):
                if isinstance(item, ParseWarning):
                    found.append(item)
                else:
                    rows.extend(item.to_pylist())
    return rows, found
