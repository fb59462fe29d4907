"""df.timeline on frames from a real case and on frames that are not timelines."""

from __future__ import annotations

import doctest
from pathlib import Path

import pandas as pd
import pytest

import forensics.timeline
from forensics import Case


def test_module_examples_run() -> None:
    assert doctest.testmod(forensics.timeline).failed == 0


def test_accessor_on_a_case(corpus: Path, tmp_path: Path) -> None:
    case = Case.open(tmp_path / "case")
    case.ingest([corpus / "evtx/deepbluecli/sliver-sysmon.evtx"])
    df = case.timeline()
    around = df.timeline.around("2023-05-18T18:28:20.2Z", before="30ms", after="30ms")
    assert around.datetime.min() >= pd.Timestamp("2023-05-18T18:28:20.17Z")
    assert around.datetime.max() <= pd.Timestamp("2023-05-18T18:28:20.23Z")
    assert len(around) == len(
        df[(df.datetime >= "2023-05-18T18:28:20.17Z") & (df.datetime <= "2023-05-18T18:28:20.23Z")]
    )
    assert len(df.timeline.for_host("VALKYRIE.GALACTICA.CC")) == 24
    stacked = df.timeline.stack("event_code")
    assert list(stacked.columns) == ["event_code", "count"]
    assert stacked["count"].is_monotonic_increasing and stacked["count"].sum() == 24
    with pytest.raises(ValueError, match="no zone"):
        df.timeline.between("2023-05-18 18:00", "2023-05-18 19:00")


def test_accessor_refuses_frames_that_are_not_timelines() -> None:
    with pytest.raises(AttributeError, match="no 'datetime' column"):
        _ = pd.DataFrame({"a": [1]}).timeline
    with pytest.raises(AttributeError, match="not a UTC timestamp"):
        _ = pd.DataFrame({"datetime": ["2024-01-01"]}).timeline
