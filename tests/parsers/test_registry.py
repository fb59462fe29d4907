"""Every registered parser: one module with a referenced docstring, a test module, a unique name."""

from __future__ import annotations

import sys
from pathlib import Path

from parsers import PARSERS, by_name, sniff


def test_each_parser_is_documented_tested_and_unique() -> None:
    names = [p.name for p in PARSERS]
    assert len(names) == len(set(names)) and all(names)
    for parser in PARSERS:
        module = sys.modules[type(parser).__module__]
        doc = module.__doc__ or ""
        assert len(doc.splitlines()) >= 3, module.__name__
        assert any(word in doc.lower() for word in ("reference", "format", "http", "spec")), module.__name__
        assert type(parser).__doc__, type(parser)
        test = Path(__file__).parent / f"test_{module.__name__.rsplit('.', 1)[1]}.py"
        assert test.exists(), test
        assert by_name(parser.name) is parser


def test_sniff_picks_nothing_for_unknown_bytes() -> None:
    assert sniff(b"") is None
    assert sniff(b"\x00" * 4096) is None
    assert sniff(b"#fields\tts\tuid\n") is None
