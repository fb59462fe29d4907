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


def test_epoch_to_utc_keeps_the_written_microseconds() -> None:
    from forensics.timeutil import epoch_to_utc

    expected = datetime(2020, 4, 30, 0, 6, 38, 899710, tzinfo=UTC)
    assert epoch_to_utc("1588205198.899710") == epoch_to_utc(1588205198.89971) == expected
    assert epoch_to_utc("1588205198.8997109") == expected  # finer digits truncated, not rounded
    assert epoch_to_utc(1588205198) == expected.replace(microsecond=0)
    for bad in ("", "soon", "nan", "inf", "1e400", "-5", 0, True, None):
        assert epoch_to_utc(bad) is None, bad  # type: ignore[arg-type]
