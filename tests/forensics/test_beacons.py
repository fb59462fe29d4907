"""Beacon analysis on synthetic connection times (numpy ``default_rng`` seeds, so every number is
reproducible): a jittered 5-minute beacon among browsing, Poisson and burst noise; address
filtering (the TEST-NET trap); check-in merging; byte sizes; names; edge cases; and the
end-to-end path Zeek logs -> case -> ``Case.beacons`` -> ``tracehound beacons``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forensics import Case
from forensics.cli import main as cli
from forensics.detect.beacons import COLUMNS, INTERNAL_NETWORKS, beacons, describe_period, is_internal

T0 = pd.Timestamp("2026-03-10T09:00:00Z")
HOURS4 = 4 * 3600.0


def conns(
    seconds: np.ndarray | list[float],
    src: str = "10.20.0.21",
    dst: str = "198.51.100.23",
    port: int | None = 443,
    sizes: np.ndarray | list[float] | None = None,
) -> pd.DataFrame:
    """Connection rows at ``seconds`` after 09:00 UTC on 2026-03-10."""
    seconds = np.asarray(seconds, dtype="float64")
    frame = pd.DataFrame(
        {
            "datetime": (T0 + pd.to_timedelta(np.round(seconds * 1e6), unit="us")).as_unit("us"),
            "source_ip": src,
            "destination_ip": dst,
            "destination_port": pd.array([port] * len(seconds), dtype="Int32"),
        }
    )
    if sizes is not None:
        frame["orig_bytes"] = pd.array(np.asarray(sizes), dtype="Int64")
    return frame


def jittered(
    rng: np.random.Generator, period: float = 300.0, jitter: float = 0.25, hours: float = HOURS4
) -> np.ndarray:
    """A beacon sleeping ``period`` * (1 +- ``jitter``) (uniform) between check-ins."""
    times = np.cumsum(period * (1 + rng.uniform(-jitter, jitter, int(hours / period * 2))))
    return times[times < hours]


def browsing(rng: np.random.Generator, hours: float = HOURS4) -> np.ndarray:
    """Sessions starting at random (Poisson, 15 min apart on average), each a few page loads
    seconds to minutes apart (log-normal)."""
    times: list[float] = []
    start = 0.0
    while True:
        start += rng.exponential(900)
        if start >= hours:
            return np.array([t for t in times if t < hours])
        times.extend(start + np.cumsum(rng.lognormal(3.0, 1.2, rng.integers(2, 12))))


def poisson(rng: np.random.Generator, n: int = 48, hours: float = HOURS4) -> np.ndarray:
    return np.sort(rng.uniform(0, hours, n))


def one(result: pd.DataFrame, dst: str) -> pd.Series:
    rows = result[result["destination_ip"] == dst]
    assert len(rows) == 1, result
    return rows.iloc[0]


# -- the scenario the brief describes --------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    beacon = jittered(rng)
    return pd.concat(
        [
            conns(beacon, sizes=rng.normal(512, 4, len(beacon)).round()),
            conns(browsing(rng), src="10.20.0.30", dst="203.0.113.80"),
            conns(poisson(rng), src="10.20.0.31", dst="203.0.113.5", sizes=rng.integers(200, 9000, 48)),
            conns(3600 + np.linspace(0, 10, 50), src="10.20.0.32", dst="203.0.113.99"),
        ],
        ignore_index=True,
    )


def test_jittered_beacon_ranks_first_with_its_period_and_count(mixed: pd.DataFrame) -> None:
    result = beacons(mixed)
    assert list(result.columns) == list(COLUMNS)
    top = result.iloc[0]
    assert (top.source_ip, top.destination, top.connections, top.checkins) == (
        "10.20.0.21",
        "198.51.100.23:443",
        48,
        48,
    )
    assert top.period == pytest.approx(297.54, abs=0.01)  # seed 7; see the spread test below
    assert top.jitter == pytest.approx(0.1353, abs=1e-4)  # +-25 % uniform: MAD / median ~ 0.125
    assert top.score >= 0.9
    assert (top.timing_score, top.coverage_score, top.count_score, top.size_score) == pytest.approx(
        (0.9782, 1.0, 0.9972, 1.0), abs=1e-4
    )
    assert top.summary == "10.20.0.21 -> 198.51.100.23:443 every 4 min 58 s ± 14%, 48 times 09:05-12:58"
    # the noise: browsing and Poisson arrivals far below, the burst merged into one check-in
    browse, rand = one(result, "203.0.113.80"), one(result, "203.0.113.5")
    assert browse.score < 0.1 and rand.score < 0.1
    assert "203.0.113.99" not in set(result["destination_ip"])
    assert result["score"].is_monotonic_decreasing


def test_scores_measured_over_many_seeds() -> None:
    """The thresholds, not one lucky seed: 50 seeds per kind of traffic."""
    periods, scores = [], {"beacon": [], "beacon30": [], "poisson": [], "browsing": []}
    for seed in range(50):
        rng = np.random.default_rng(seed)
        found = beacons(conns(jittered(rng, jitter=0.25))).iloc[0]
        periods.append(found.period)
        scores["beacon"].append(found.score)
        scores["beacon30"].append(beacons(conns(jittered(rng, jitter=0.30))).score.iloc[0])
        scores["poisson"].append(beacons(conns(poisson(rng))).score.max())
        scores["browsing"].append(beacons(conns(browsing(rng))).score.max())
    # the period is a trimmed mean of ~47 intervals uniform in [225, 375] s: standard error ~6 s
    assert np.abs(np.array(periods) - 300).max() < 20
    assert abs(np.mean(periods) - 300) < 2
    assert min(scores["beacon"]) >= 0.7 and min(scores["beacon30"]) >= 0.7
    assert np.median(scores["beacon"]) > 0.9
    assert max(scores["poisson"]) < 0.5 and np.median(scores["poisson"]) < 0.1
    assert max(scores["browsing"]) < 0.5 and np.median(scores["browsing"]) < 0.1


def test_exact_period_without_jitter() -> None:
    rng = np.random.default_rng(1)
    times = np.arange(48) * 300.0 + rng.normal(0, 0.05, 48)  # network noise only
    found = beacons(conns(times)).iloc[0]
    assert found.period == pytest.approx(300.0, abs=0.05)
    assert found.jitter < 0.001 and found["skew"] == 0.0  # quartiles within clock noise: no shape
    assert found.score > 0.99
    assert describe_period(found.period) == "5 min 00 s"


def test_missed_checkins() -> None:
    """Every 10th check-in missed (host busy, network down): one 10-minute interval in ten."""
    times = jittered(np.random.default_rng(9))
    missing = np.delete(times, np.arange(5, len(times), 10))
    full, gaps = beacons(conns(times)).iloc[0], beacons(conns(missing)).iloc[0]
    assert gaps.checkins == full.checkins - 5
    mean = (gaps["last"] - gaps["first"]).total_seconds() / (gaps.checkins - 1)
    assert mean > 330 and abs(gaps.period - full.period) < 5  # the trimmed mean: (most) long ones out
    assert gaps.coverage_score == pytest.approx(0.9, abs=0.03)  # the share of check-ins seen
    assert gaps.score > 0.8 and full.score > 0.9


def test_a_burst_is_not_a_beacon() -> None:
    burst = conns(3600 + np.linspace(0, 10, 50))
    window = conns([0.0, HOURS4], src="10.20.0.40", dst="203.0.113.7")  # the observed window: 4 hours
    frame = pd.concat([burst, window], ignore_index=True)
    assert beacons(frame).empty  # 50 connections 0.2 s apart: one check-in
    unmerged = beacons(frame, merge_within=0).iloc[0]  # even counted one by one
    assert unmerged.checkins == 50 and unmerged.timing_score > 0.99
    assert unmerged.coverage_score < 0.001 and unmerged.score < 0.01


def test_bursts_spread_out_are_not_a_beacon() -> None:
    """Three tight bursts at 09:00, 11:00, 13:00: short regular gaps, long silences."""
    times = np.concatenate([start + np.arange(4) * 30.0 for start in (0.0, 7200.0, HOURS4)])
    found = beacons(conns(times)).iloc[0]
    assert found.period == pytest.approx(30.0)
    assert found.coverage_score < 0.05 and found.score < 0.05


def test_few_checkins_are_weak_evidence() -> None:
    hourly = beacons(conns(np.arange(6) * 3600.0), min_connections=3).iloc[0]
    daylong = beacons(conns(np.arange(48) * 300.0)).iloc[0]
    assert hourly.timing_score == daylong.timing_score == 1.0
    assert hourly.count_score == pytest.approx(1 - np.exp(-5 / 8))
    assert hourly.score < 0.5 < 0.99 < daylong.score


# -- internal and external -------------------------------------------------------------------------


def test_documentation_networks_are_external() -> None:
    for ip in ("198.51.100.23", "203.0.113.5", "192.0.2.1", "8.8.8.8", "2001:db8::1"):
        assert not is_internal(ip), ip
    for ip in ("10.1.2.3", "172.31.255.255", "192.168.0.1", "100.64.0.1", "127.0.0.1", "169.254.1.1",
               "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"):  # fmt: skip
        assert is_internal(ip), ip
    assert not is_internal("172.32.0.1") and not is_internal("100.128.0.1") and not is_internal("garbage")
    assert len(INTERNAL_NETWORKS) == 9


def test_only_internal_to_external_pairs_by_default() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(40) * 300.0
    frame = pd.concat(
        [
            conns(times, src="10.20.0.21", dst="198.51.100.23"),  # internal -> TEST-NET: the beacon
            conns(times, src="10.20.0.21", dst="10.20.0.5", port=53),  # internal -> internal
            conns(times, src="198.51.100.23", dst="10.20.0.21"),  # external -> internal
            conns(times, src="203.0.113.1", dst="198.51.100.2"),  # external -> external
            conns(times, src="10.20.0.21", dst="239.255.255.250", port=1900),  # multicast
            conns(times, src="10.20.0.21", dst="10.20.0.21"),  # itself
            conns(times + rng.uniform(0, 1, 40), src="fd00::21", dst="2001:db8::5"),  # IPv6 ULA -> global
        ],
        ignore_index=True,
    )
    default = beacons(frame)
    assert sorted(zip(default.source_ip, default.destination, strict=True)) == [
        ("10.20.0.21", "198.51.100.23:443"),
        ("fd00::21", "[2001:db8::5]:443"),
    ]
    lateral = beacons(frame, include_internal=True)
    assert set(lateral.destination) == {"198.51.100.23:443", "[2001:db8::5]:443", "10.20.0.5:53"}
    # the networks are the caller's to say: with 198.51.100.0/24 ours, the beacon is internal
    own = beacons(frame, internal=[*INTERNAL_NETWORKS, "198.51.100.0/24"])
    assert list(zip(own.source_ip, own.destination_ip, strict=True)) == [("fd00::21", "2001:db8::5")]


def test_the_caller_s_networks() -> None:
    times = np.arange(40) * 300.0
    frame = pd.concat(
        [
            conns(times, src="10.20.0.21", dst="198.51.100.23"),
            conns(times, src="198.51.100.7", dst="203.0.113.9"),
        ],
        ignore_index=True,
    )
    ours = beacons(frame, internal=["198.51.100.0/24"])  # only the TEST-NET-2 hosts are ours
    assert list(zip(ours.source_ip, ours.destination_ip, strict=True)) == [("198.51.100.7", "203.0.113.9")]
    with pytest.raises(ValueError, match="internal networks"):
        beacons(frame, internal=["10.0.0.0/33"])


# -- check-ins and sizes ---------------------------------------------------------------------------


def test_connections_starting_together_are_one_checkin() -> None:
    rng = np.random.default_rng(11)
    starts = jittered(rng)
    extra = starts + rng.uniform(0.05, 2.0, len(starts))  # each check-in opens a second connection
    third = starts[::3] + rng.uniform(2.0, 4.0, len(starts[::3]))  # and every third one a third
    frame = conns(np.concatenate([starts, extra, third]))
    found = beacons(frame).iloc[0]
    assert (found.connections, found.checkins) == (len(starts) * 2 + len(third), len(starts))
    alone = beacons(conns(starts)).iloc[0]
    assert found.period == alone.period and found.timing_score == alone.timing_score
    assert found.first == alone.first and found.last > alone.last  # last: the last connection
    unmerged = beacons(frame, merge_within=0).iloc[0]
    assert unmerged.checkins == found.connections and unmerged.timing_score < 0.1


def test_byte_sizes() -> None:
    rng = np.random.default_rng(5)
    times = jittered(rng)
    n = len(times)
    steady = beacons(conns(times, sizes=rng.normal(700, 3, n).round())).iloc[0]
    tasked = rng.normal(700, 3, n).round()
    tasked[::10] = 25_000  # a few check-ins carry output back: the median does not move
    with_tasking = beacons(conns(times, sizes=tasked)).iloc[0]
    random = beacons(conns(times, sizes=rng.integers(100, 20_000, n))).iloc[0]
    unknown = beacons(conns(times)).iloc[0]
    assert steady.bytes == pytest.approx(700, abs=3) and steady.size_score > 0.99
    assert with_tasking.bytes == steady.bytes or abs(with_tasking.bytes - 700) < 3
    assert with_tasking.size_score > 0.9
    assert random.bytes_jitter > 0.3 and random.size_score < 0.3
    assert np.isnan(unknown.size_score) and np.isnan(unknown.bytes)
    no_counts = beacons(conns(times, sizes=[None] * n)).iloc[0]  # the column, but empty
    assert np.isnan(no_counts.size_score) and no_counts.score == unknown.score
    two_counts = beacons(conns(times, sizes=[500, 500] + [None] * (n - 2))).iloc[0]  # too few to say
    assert np.isnan(two_counts.size_score) and two_counts.score == unknown.score
    # irregular sizes cost at most a quarter; unknown sizes cost nothing
    assert random.score == pytest.approx(unknown.score * (1 - 0.25 * (1 - random.size_score)))
    assert steady.score > with_tasking.score > random.score
    assert unknown.score == pytest.approx(steady.score, rel=0.01)


def test_bytes_from_the_fields_map() -> None:
    times = np.arange(30) * 600.0
    plain = conns(times, sizes=[400] * 30)
    mapped = plain.drop(columns="orig_bytes")
    mapped["fields"] = [{"uid": f"C{i}", "orig_bytes": "400", "proto": "tcp"} for i in range(30)]
    as_pairs = mapped.assign(fields=[list(f.items()) for f in mapped["fields"]])  # Arrow's map -> pandas
    expected = beacons(plain)
    for frame in (mapped, as_pairs):
        pd.testing.assert_frame_equal(beacons(frame), expected)
    assert expected.bytes.iloc[0] == 400 and expected.size_score.iloc[0] == 1.0


# -- names -----------------------------------------------------------------------------------------


def test_server_names_from_tls_and_dns_rows() -> None:
    times = np.arange(30) * 300.0
    frame = pd.concat([conns(times), conns(times, src="10.20.0.22", dst="203.0.113.80")], ignore_index=True)
    names = pd.DataFrame(
        {
            "source_ip": ["10.20.0.21", "10.20.0.21", "10.20.0.21", "10.20.0.22", "10.20.0.99"],
            "destination_ip": ["198.51.100.23", "198.51.100.23", None, None, "198.51.100.23"],
            "destination_port": pd.array([443, 8443, None, None, 443], dtype="Int32"),
            "tls_server_name": [
                "telemetry.micros0ft-cdn.example.net",
                "other.example",
                None,
                None,
                "x.example",
            ],
            "dns_question_name": [None, None, "TELEMETRY.micros0ft-cdn.example.net", "news.example", None],
            "answers": [None, None, "198.51.100.23", "cdn.news.example,203.0.113.80,203.0.113.81", None],
        }
    )
    found = beacons(frame, names=names).set_index("source_ip")
    # same source and ip:port for TLS (not port 8443, not another host), same source for DNS
    assert found.loc["10.20.0.21", "server_names"] == "telemetry.micros0ft-cdn.example.net"
    assert found.loc["10.20.0.22", "server_names"] == "news.example"
    assert found.loc["10.20.0.21", "summary"].startswith(
        "10.20.0.21 -> 198.51.100.23:443 (telemetry.micros0ft-cdn.example.net) every 5 min 00 s ± 0%, 30 times"
    )
    assert beacons(frame)["server_names"].isna().all()


# -- edge cases ------------------------------------------------------------------------------------


def test_empty_single_and_odd_inputs() -> None:
    empty = conns([])
    result = beacons(empty)
    assert result.empty and list(result.columns) == list(COLUMNS)
    assert (
        str(result["first"].dtype) == "datetime64[us, UTC]"
        and str(result["destination_port"].dtype) == "Int64"
    )
    assert beacons(conns([10.0])).empty
    assert beacons(conns([10.0]), min_connections=1).empty  # fewer than 3 check-ins say nothing
    assert beacons(pd.DataFrame(columns=["datetime", "source_ip", "destination_ip"])).empty
    with pytest.raises(ValueError, match="destination_ip"):
        beacons(pd.DataFrame({"datetime": [], "source_ip": []}))
    # a plain frame: text times without a zone (read as UTC), no port, missing values
    plain = pd.DataFrame(
        {
            "datetime": [f"2026-03-10 09:{m:02d}:00" for m in range(0, 60, 5)] + [None],
            "source_ip": ["10.0.0.1"] * 12 + ["10.0.0.1"],
            "destination_ip": ["203.0.113.9"] * 11 + [None, "203.0.113.9"],
        }
    )
    found = beacons(plain).iloc[0]
    assert (found.destination, pd.isna(found.destination_port), found.checkins) == ("203.0.113.9", True, 11)
    assert found.first == pd.Timestamp("2026-03-10T09:00:00Z") and found.period == 300.0


def test_a_filtered_frame_keeps_its_rows_apart(mixed: pd.DataFrame) -> None:
    """Positions, not index labels: a filtered, shuffled frame gives the same result."""
    shuffled = mixed.sample(frac=1.0, random_state=3)
    shuffled = shuffled[shuffled["source_ip"] != "10.20.0.30"]
    expected = beacons(mixed)
    pd.testing.assert_frame_equal(
        beacons(shuffled), expected[expected["source_ip"] != "10.20.0.30"].reset_index(drop=True)
    )


def test_describe_period() -> None:
    assert [describe_period(s) for s in (4.24, 42.4, 299.6, 300.4, 3725, 86400)] == [
        "4.2 s",
        "42 s",
        "5 min 00 s",
        "5 min 00 s",
        "1 h 02 min",
        "24 h 00 min",
    ]


def test_many_pairs_vectorised() -> None:
    """200k connections over 2,000 pairs score in one pass; the one beacon among them leads."""
    rng = np.random.default_rng(2)
    n = 200_000
    noise = pd.DataFrame(
        {
            "datetime": (T0 + pd.to_timedelta(rng.uniform(0, HOURS4, n), unit="s")).as_unit("us"),
            "source_ip": [f"10.1.0.{i}" for i in rng.integers(1, 201, n)],
            "destination_ip": [f"203.0.113.{i}" for i in rng.integers(1, 11, n)],
            "destination_port": pd.array(np.full(n, 443), dtype="Int32"),
        }
    )
    frame = pd.concat([noise, conns(jittered(rng))], ignore_index=True)
    result = beacons(frame)
    assert len(result) == 2001
    assert result.iloc[0].source_ip == "10.20.0.21" and result.iloc[0].score > 0.9
    assert result.iloc[1:]["score"].max() < 0.3


# -- end to end: Zeek logs -> case -> beacons ------------------------------------------------------

_HEADER = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"


def _zeek(path: Path, log: str, fields: str, types: str, records: list[list[object]]) -> Path:
    lines = [_HEADER + f"#path\t{log}", "#open\t2026-03-10-09-00-00"]
    lines += ["#fields\t" + fields.replace(" ", "\t"), "#types\t" + types.replace(" ", "\t")]
    lines += ["\t".join(str(v) for v in record) for record in records]
    lines.append("#close\t2026-03-10-13-00-00")
    path.write_text("\n".join(lines) + "\n")
    return path


def _evidence(folder: Path) -> Path:
    """conn, ssl and dns logs: the beacon 10.20.0.21 -> 198.51.100.23:443 (with its SNI and DNS
    answer), a browsing host and a DNS resolver (internal: not scored)."""
    rng = np.random.default_rng(42)
    t0 = T0.timestamp()
    beacon = jittered(rng)
    browse = browsing(rng)
    conn, ssl, dns = [], [], []
    for i, t in enumerate(beacon):
        uid = f"CB{i}"
        conn.append([f"{t0 + t:.6f}", uid, "10.20.0.21", 50000 + i, "198.51.100.23", 443, "tcp", "ssl",
                     "0.840000", int(rng.normal(1200, 5)), 4300, "SF", "ShADadFf"])  # fmt: skip
        ssl.append([f"{t0 + t + 0.05:.6f}", uid, "10.20.0.21", 50000 + i, "198.51.100.23", 443, "TLSv12",
                    "telemetry.micros0ft-cdn.example.net", "T"])  # fmt: skip
        conn.append([f"{t0 + t - 0.2:.6f}", f"CD{i}", "10.20.0.21", 60000 + i, "10.20.0.5", 53, "udp", "dns",
                     "0.010000", 40, 56, "SF", "Dd"])  # fmt: skip
    dns.append([f"{t0 + beacon[0] - 0.2:.6f}", "CD0", "10.20.0.21", 60000, "10.20.0.5", 53, "udp",
                "telemetry.micros0ft-cdn.example.net", "A", "NOERROR", "198.51.100.23"])  # fmt: skip
    for i, t in enumerate(browse):
        conn.append([f"{t0 + t:.6f}", f"CW{i}", "10.20.0.30", 40000 + i, "203.0.113.80", 443, "tcp", "ssl",
                     "2.500000", int(rng.integers(300, 9000)), 40000, "SF", "ShADadFf"])  # fmt: skip
    conn.sort(key=lambda r: float(str(r[0])))
    _zeek(folder / "conn.log",
          "conn", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
          "conn_state history",
          "time string addr port addr port enum string interval count count string string", conn)  # fmt: skip
    _zeek(folder / "ssl.log", "ssl", "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version server_name established",
          "time string addr port addr port string string bool", ssl)  # fmt: skip
    _zeek(folder / "dns.log", "dns",
          "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto query qtype_name rcode_name answers",
          "time string addr port addr port enum string string string vector[string]", dns)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def zeek_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zeek")
    (root / "evidence").mkdir()
    evidence = _evidence(root / "evidence")
    assert cli(["ingest", str(evidence), "--case", str(root / "case"), "--quiet"]) == 0
    return root / "case"


def test_case_beacons_from_zeek_logs(zeek_case: Path) -> None:
    case = Case.open(zeek_case)
    assert case.sql("SELECT count(*) AS n FROM timeline WHERE source = 'network_conn'").n[0] > 100
    found = case.beacons()
    top = found.iloc[0]
    assert (top.source_ip, top.destination, top.server_names) == (
        "10.20.0.21",
        "198.51.100.23:443",
        "telemetry.micros0ft-cdn.example.net",
    )
    assert top.score > 0.9 and abs(top.period - 300) < 20 and top.bytes == pytest.approx(1200, abs=10)
    assert top.summary.startswith(
        "10.20.0.21 -> 198.51.100.23:443 (telemetry.micros0ft-cdn.example.net) every 5 min 07 s ± 11%, 46 times"
    )
    assert set(found.destination_ip) == {"198.51.100.23", "203.0.113.80"}  # the resolver is internal
    assert one(found, "203.0.113.80").score < 0.1
    assert set(case.beacons(include_internal=True).destination_ip) == {
        "198.51.100.23",
        "203.0.113.80",
        "10.20.0.5",
    }


def test_cli_beacons(zeek_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["beacons", "--case", str(zeek_case)]) == 0
    out = capsys.readouterr().out
    assert "198.51.100.23:443" in out and "telemetry.micros0ft-cdn.example.net" in out and "2 pairs" in out
    assert out.index("198.51.100.23:443") < out.index("203.0.113.80:443")
    assert cli(["beacons", "--case", str(zeek_case), "--include-internal", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # inside the network, the beacon's DNS lookups before each check-in are as regular as it is
    assert {r["destination"] for r in rows[:2]} == {"198.51.100.23:443", "10.20.0.5:53"} and len(rows) == 3
    assert rows[2]["destination"] == "203.0.113.80:443" and rows[1]["score"] > 0.9
    assert set(rows[0]) == set(COLUMNS) and rows[0]["first"].startswith("2026-03-10")
    assert cli(["beacons", "--case", str(zeek_case), "--min-connections", "1000"]) == 0
    assert "no beacon candidates" in capsys.readouterr().err


# -- the sample case: step S09 ---------------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "case01"


def test_sample_case_beacon_s09(tmp_path: Path) -> None:
    """The capture of sample case 01 through the packet parser: the beacon of step S09 (ground
    truth) is the first candidate, by far."""
    capture = SAMPLE / "network" / "lan-tap.pcapng"
    if not capture.is_file():
        pytest.skip("sample case 01 not found")
    case = Case.open(tmp_path / "case")
    case.ingest([capture], jobs=1)
    if not case.sql("SELECT count(*) AS n FROM timeline WHERE source = 'network_conn'").n[0]:
        pytest.skip("the packet-capture parser gives no connection rows yet")
    step = next(
        s for s in json.loads((SAMPLE / "ground_truth.json").read_text())["steps"] if s["id"] == "S09"
    )
    found = case.beacons()
    top = found.iloc[0]
    assert (top.source_ip, top.destination, top.server_names) == (
        "10.20.0.21",
        "198.51.100.23:443",
        step["object"],
    )
    assert abs((top["first"] - pd.Timestamp(step["time"])).total_seconds()) < 1
    assert top["last"] <= pd.Timestamp("2026-03-10T13:00:00Z") and top.checkins >= 40
    assert abs(top.period - 300) < 10 and top.score > 0.9
    assert found.iloc[1:]["score"].max() < 0.3
