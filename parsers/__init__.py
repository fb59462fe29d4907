"""Artifact parsers, one module per artifact family, registered in one tuple.

Adding a parser: one module here (a ``Parser`` subclass), one test module, one line in
``PARSERS``. The ingest picks a parser by content (``sniff`` on the first bytes), in this order.
"""

from parsers.base import HEAD_BYTES, Options, Parser, ParseWarning
from parsers.evtx import EvtxParser
from parsers.winevent_json import WinEventJsonParser

__all__ = ["HEAD_BYTES", "PARSERS", "Options", "ParseWarning", "Parser", "by_name", "sniff"]

PARSERS: tuple[Parser, ...] = (EvtxParser(), WinEventJsonParser())


def sniff(head: bytes) -> Parser | None:
    """The first registered parser that recognises ``head``, or None."""
    return next((p for p in PARSERS if p.sniff(head)), None)


def by_name(name: str) -> Parser:
    """The registered parser whose timeline ``source`` is ``name``."""
    for parser in PARSERS:
        if parser.name == name:
            return parser
    raise KeyError(name)
