"""Shared fixtures: the public corpus (../shared/corpus) and small generated evidence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPUS = (Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus").resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus folder; absent -> skip, except under CI=true where its absence fails."""
    if not CORPUS.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the corpus is missing at {CORPUS}")
        pytest.skip(f"corpus not found at {CORPUS} (clone ../shared/corpus beside the project)")
    return CORPUS
