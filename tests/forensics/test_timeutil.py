"""Times normalised once: ISO variants, FILETIME, zero and garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from forensics.timeutil import filetime_to_utc, iso_array, parse_iso


def test_parse_iso_variants() -> None:
    expected = datetime(2017, 12, 26, 13, 10, 29, 136879, tzinfo=UTC)
    assert parse_iso("2017-12-26T13:10:29.136879Z") == expected
    assert parse_iso("2017-12-26T13:10:29.1368792Z") == expected  # 100 ns digit truncated
    assert parse_iso("2017-12-26 13:10:29.136879 UTC") == expected
    assert parse_iso("2017-12-26T15:10:29.136879+02:00") == expected
    assert parse_iso("2017-12-26T13:10:29.136879", naive_is_utc=False) is None
    assert parse_iso("1601-01-01T00:00:00Z") is None
    assert parse_iso("0001-01-01 00:00:00") is None  # python-evtx's zero
    assert parse_iso("not a time") is None


def test_filetime() -> None:
    assert filetime_to_utc(0) is None
    assert filetime_to_utc(131587674291368792) == datetime(2017, 12, 26, 13, 10, 29, 136879, tzinfo=UTC)


def test_iso_array_fast_path_and_fallback() -> None:
    fast = iso_array(["2020-10-22T02:57:56.178Z", None, "1601-01-01T00:00:00.000000Z"])
    assert fast.type == pa.timestamp("us", tz="UTC")
    assert fast.to_pylist() == [datetime(2020, 10, 22, 2, 57, 56, 178000, tzinfo=UTC), None, None]
    slow = iso_array(["2017-12-26T13:10:29.1368792Z", "garbage"])
    assert slow.to_pylist() == [datetime(2017, 12, 26, 13, 10, 29, 136879, tzinfo=UTC), None]
