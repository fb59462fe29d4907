"""Beaconing: an internal host calling the same external destination at regular intervals.

Command-and-control implants "check in": they sleep a set period, usually with jitter (a
random share of the period added or taken off), connect, fetch tasking and sleep again. In
connection logs that is one (source, destination) pair whose connections are evenly spaced
over hours, with requests of about one size. People browsing are not: their connections come
in bursts between irregular pauses. ``beacons`` scores each (internal source, destination
ip:port) pair for that regularity.

Check-ins. Connections of a pair that start within ``merge_within`` seconds (5) of the previous
one are one check-in, timed by its first connection: one beacon can open several connections,
and a burst of 50 connections in 10 s is one event, not 50 evenly spaced ones. Pairs with fewer
than ``min_connections`` check-ins (6; never fewer than 3) are left out. d = the n - 1 intervals
between the n check-ins of a pair; b = the ``orig_bytes`` of its connections.

Statistics, robust so that a missed check-in, a retry or one long tasking exchange moves them
little: ``jitter`` j = MAD(d) / median(d) (MAD, the median absolute deviation from the
median); ``skew`` = Bowley's quartile skewness (Q1 + Q3 - 2 Q2) / (Q3 - Q1), 0 when the
interquartile range is under 2 % of the median (a near-perfect beacon's quartiles are clock
noise); ``period`` = the mean of the intervals within 50 % of their median (a trimmed mean:
missed check-ins and retries fall outside, and for uniform jitter it is about twice as precise
as the median: +-6 s rather than +-11 s over four hours of a +-25 % jittered 5-minute beacon).

Score, in [0, 1]: ``score = timing_score * coverage_score * count_score * size_factor``.

- ``timing_score`` = r(max(j, j_low)) * (1 - max(0, |skew| - 2 / sqrt(n - 1)) / 2), with
  r(x) = 1 / (1 + (x / 0.35)^4) and j_low = (median(d) - P10(d)) / (1.6 median(d)).
  r is ~1 for the jitter implants use (uniform +-25 % around the period: j = 0.125, r = 0.98;
  +-50 %: j = 0.25, r = 0.79), 1/2 at j = 0.35 and ~0 for random arrivals (a Poisson process
  has exponential intervals, j = 0.48 / 0.69 = 0.69, r = 0.06; browsing is burstier still).
  MAD ignores the outer half of the intervals, so random times whose middle half happens to be
  even could pass; j_low, the same scale for the lower tail (a / 2 for uniform +-a jitter, as
  j), holds the shortest 10 % of intervals to the period too. Only the lower tail: a missed
  check-in makes one long interval, never a short one, so beacons that miss some check-ins
  keep their score (10 % missed: median score 0.87) while random times do not (P10 of
  exponential intervals is 0.15 of their median: j_low = 0.53, r = 0.16). Implants draw
  jitter symmetrically (uniform around, or below, the sleep), so a lopsided interval
  distribution is less beacon-like; but Bowley's skewness of a few dozen intervals is noisy
  (its standard error is about 1.35 / sqrt(n - 1) for uniform jitter), so only the part beyond
  2 / sqrt(n - 1) counts, and it at most halves the score.
- ``coverage_score`` = min(1, span / min(window, full_span)) * min(1, period * (n - 1) / span).
  span: first to last check-in; window: first to last connection of the whole input;
  ``full_span`` (3 h) caps what a long window asks, so a beacon active 4 hours of a 30-day log
  still counts. The first factor rejects a single burst. The second ("fill", the share of the
  check-ins the period predicts over the span that were seen) rejects bursts spread out with
  long silences between them, whose short, regular in-burst intervals say nothing of the gaps.
- ``count_score`` = 1 - exp(-(n - 1) / 8): a handful of check-ins is weak evidence. Random
  times fall into a regular-looking pattern by chance far more often over 5 intervals than
  over 50; this reaches 0.9 at 19 check-ins and 0.997 at 47.
- ``size_score`` = the timing formula applied to b without the lower-tail term (r(MAD(b) /
  median(b)) and Bowley's skew; all sizes 0 count as regular), NaN when fewer than 3
  connections have a byte count. Check-ins without tasking send the same request each time,
  so consistent sizes confirm a beacon; but implants may pad at random, so ``size_factor`` =
  1 - 0.25 (1 - size_score): inconsistent sizes cost at most a quarter of the score, and
  missing counts nothing.

Being a product, every part must hold: a regular burst has no coverage, evenly spread random
connections no timing regularity, six lucky connections little count. Measured on synthetic
four-hour traces (the generators of tests/forensics/test_beacons.py, 200 seeds each): +-20 %,
+-25 % and +-30 % jittered 5-minute beacons score 0.81-0.99, 0.85-0.99, 0.80-0.99 (medians
0.99, 0.98, 0.96); 48 Poisson arrivals 0.05 (median; at most 0.18, and 0.25 over 2,000
seeds); browsing-like sessions 0.01 (at most 0.03).

Reference: scoring interval and data-size regularity by the MAD over the median and Bowley's
skewness, next to a duration/coverage score, is RITA's beacon analysis (Active
Countermeasures, "Real Intelligence Threat Analytics", github.com/activecm/rita: the
timestamp score "tsScore", data-size score "dsScore", duration score; each of the first two
the mean of (median - MAD) / median and 1 - |Bowley skew|). RITA averages weighted subscores;
here they are multiplied, the dispersion goes through the steeper r(x) and is checked on the
lower tail too, skewness is discounted by its sampling noise and the check-in count is a factor
of its own, so that random traffic to a well-covered destination cannot score high on size
consistency and coverage alone.

Internal and external addresses come from ``INTERNAL_NETWORKS`` (RFC 1918, CGNAT, loopback,
link-local, IPv6 unique-local), not from ``ipaddress``'s ``is_private``: that is also True for
the documentation networks (192.0.2/24, 198.51.100/24, 203.0.113/24) that test data and sample
cases use as the internet. Multicast, broadcast, unspecified and malformed addresses are never
a beacon's end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "INTERNAL_NETWORKS", "beacons", "describe_period", "is_external", "is_internal"]

#: Networks whose hosts are "ours" (override with ``internal=``).
INTERNAL_NETWORKS: tuple[str, ...] = (
    "10.0.0.0/8",  # RFC 1918
    "172.16.0.0/12",  # RFC 1918
    "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space (carrier-grade NAT)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local
    "::1/128",  # loopback
    "fc00::/7",  # RFC 4193 unique local addresses
    "fe80::/10",  # link-local
)

#: The result's columns, in order.
COLUMNS: tuple[str, ...] = (
    "source_ip",
    "destination_ip",
    "destination_port",
    "destination",
    "server_names",
    "connections",
    "checkins",
    "first",
    "last",
    "period",
    "jitter",
    "skew",
    "bytes",
    "bytes_jitter",
    "timing_score",
    "size_score",
    "coverage_score",
    "count_score",
    "score",
    "summary",
)
_DTYPES = {
    "source_ip": "string",
    "destination_ip": "string",
    "destination_port": "Int64",
    "destination": "string",
    "server_names": "string",
    "connections": "int64",
    "checkins": "int64",
    "first": "datetime64[us, UTC]",
    "last": "datetime64[us, UTC]",
    "summary": "string",
}

_HALF = 0.35  # relative dispersion at which r(x) is 1/2
_STEEP = 4  # r(x) = 1 / (1 + (x / _HALF) ** _STEEP)
_FLAT_IQR = 0.02  # an interquartile range under this share of the median has no skewness
_SKEW_NOISE = 2.0  # |Bowley skew| up to _SKEW_NOISE / sqrt(n) is sampling noise, not shape
_CENTRAL = 0.5  # period: the mean of the intervals within this share of their median
_LOW_TAIL = 1.6  # (median - P10) / _LOW_TAIL is a / 2 for uniform +-a jitter, as MAD is
_SIZE_WEIGHT = 0.25  # at most this share of the score is lost to irregular sizes
_MIN_CHECKINS = 3  # two intervals at the very least
_COUNT_SCALE = 8.0  # count_score = 1 - exp(-intervals / _COUNT_SCALE)


def beacons(
    conns: pd.DataFrame,
    *,
    min_connections: int = 6,
    internal: Sequence[str] | None = None,
    include_internal: bool = False,
    names: pd.DataFrame | None = None,
    merge_within: float = 5.0,
    full_span: float = 3 * 3600.0,
) -> pd.DataFrame:
    """Score (internal source, destination ip:port) pairs of ``conns`` for beaconing.

    ``conns``: connection rows with ``datetime`` (UTC; naive times are read as UTC),
    ``source_ip``, ``destination_ip`` and optionally ``destination_port`` and the client's byte
    count as an ``orig_bytes`` column or ``fields['orig_bytes']`` (timeline ``network_conn``
    rows, or any plain frame). ``min_connections``: fewest check-ins (connections merged when
    they start within ``merge_within`` seconds of each other) a pair needs. ``internal``:
    the networks (CIDR) that are internal, default ``INTERNAL_NETWORKS``. Only internal ->
    external pairs are scored, unless ``include_internal`` (internal -> internal too, for
    beacons inside the network). ``names``: TLS rows (``tls_server_name``) and/or DNS rows
    (``dns_question_name`` with ``answers`` or ``fields['answers']``, comma-joined) that label
    destinations in ``server_names``: TLS server names of the same source and destination
    ip:port, and names the same source resolved to the destination ip. ``full_span``: seconds of
    activity that count as full coverage when the input covers more.

    One row per pair (columns ``COLUMNS``), best score first; see the module notes for the
    score and its components. ``connections`` counts rows, ``checkins`` the merged events;
    ``first``/``last`` are the first and last connection; ``period`` (s), ``jitter`` (MAD /
    median) and ``skew`` describe the intervals between check-ins, ``bytes`` and
    ``bytes_jitter`` the median ``orig_bytes`` of a connection and its MAD / median;
    ``summary`` says it in one line: ``10.20.0.21 -> 198.51.100.23:443 (name) every 5 min 00 s
    ± 12%, 47 times 09:13-13:00``.
    """
    if merge_within < 0:
        raise ValueError("merge_within must be >= 0 seconds")
    for column in ("datetime", "source_ip", "destination_ip"):
        if column not in conns.columns:
            raise ValueError(f"connection rows need a {column!r} column")
    need = max(int(min_connections), _MIN_CHECKINS)
    if conns.empty:
        return _empty()

    stamps = pd.to_datetime(conns["datetime"], utc=True).dt.tz_localize(None).to_numpy("datetime64[us]")
    micros, timed = stamps.astype("int64"), ~np.isnat(stamps)
    if not timed.any():
        return _empty()
    window = (micros[timed].max() - micros[timed].min()) / 1e6

    src_code, src_ips = pd.factorize(conns["source_ip"].astype("string"))
    dst_code, dst_ips = pd.factorize(conns["destination_ip"].astype("string"))
    ports = (
        pd.to_numeric(conns["destination_port"], errors="coerce").astype("float64")
        if "destination_port" in conns.columns
        else pd.Series(np.nan, index=conns.index)
    )
    port_code, port_values = pd.factorize(ports, use_na_sentinel=False)
    nets = _networks(INTERNAL_NETWORKS if internal is None else internal)
    src_kind = _lookup(_kinds(src_ips, nets), src_code)
    dst_kind = _lookup(_kinds(dst_ips, nets), dst_code)
    wanted = timed & (src_kind == 1) & ((dst_kind == 0) | (include_internal & (dst_kind == 1)))
    rows = np.flatnonzero(wanted)
    if include_internal:  # a host calling itself is no beacon
        src_text, dst_text = np.asarray(src_ips, dtype=object), np.asarray(dst_ips, dtype=object)
        rows = rows[src_text[src_code[rows]] != dst_text[dst_code[rows]]]
    if rows.size == 0:
        return _empty()

    # one pair id per (source, destination, port); rows sorted by pair, then time
    keys = pd.DataFrame({"s": src_code[rows], "d": dst_code[rows], "p": port_code[rows]})
    pair = keys.groupby(["s", "d", "p"], sort=False).ngroup().to_numpy()
    order = np.lexsort((micros[rows], pair))
    rows, pair, t = rows[order], pair[order], micros[rows][order]
    starts = np.ones(len(t), dtype=bool)
    starts[1:] = pair[1:] != pair[:-1]
    checkin = starts.copy()
    checkin[1:] |= (t[1:] - t[:-1]) > merge_within * 1e6
    npairs = int(pair[-1]) + 1  # pair ids are 0..npairs-1, now in ascending order
    connections = np.bincount(pair, minlength=npairs)
    checkins = np.bincount(pair[checkin], minlength=npairs)
    keep = checkins >= need
    if not keep.any():
        return _empty()
    kept = np.flatnonzero(keep)
    head = np.flatnonzero(starts)  # each pair's first row
    tail = np.append(head[1:], len(t)) - 1  # and last

    # timing: intervals between the check-ins of the pairs kept
    ct, cp = t[checkin], pair[checkin]
    follows = (cp[1:] == cp[:-1]) & keep[cp[1:]]
    timing = _spread((ct[1:] - ct[:-1])[follows] / 1e6, cp[1:][follows])
    period = timing["central"].to_numpy()
    jitter, skew, timing_score = _regularity(timing, low_tail=True)
    last_checkin = ct[np.append(np.flatnonzero(cp[1:] != cp[:-1]), len(ct) - 1)]
    span = (last_checkin[kept] - t[head][kept]) / 1e6
    full = min(window, full_span)
    spread_out = np.clip(span / full, 0.0, 1.0) if full > 0 else np.zeros(len(kept))
    fill = np.clip(period * (checkins[kept] - 1) / span, 0.0, 1.0)
    coverage_score = spread_out * fill
    count_score = 1.0 - np.exp(-(checkins[kept] - 1) / _COUNT_SCALE)

    # sizes: orig_bytes of the connections of the pairs kept
    sizes, sizes_jitter, size_score = (np.full(len(kept), np.nan) for _ in range(3))
    mine = keep[pair]
    sent = _bytes(conns, rows[mine])
    known = np.zeros(0, dtype=bool) if sent is None else ~np.isnan(sent)
    if known.any():
        stats = _spread(sent[known], pair[mine][known])
        stats = stats[stats["n"] >= 3]
        at = np.searchsorted(kept, stats.index.to_numpy())
        sizes[at] = stats["median"].to_numpy()
        sizes_jitter[at], _, size_score[at] = _regularity(stats, low_tail=False)
    size_factor = 1.0 - _SIZE_WEIGHT * (1.0 - np.nan_to_num(size_score, nan=1.0))
    score = timing_score * coverage_score * count_score * size_factor

    origin = rows[head[kept]]
    out = pd.DataFrame(
        {
            "source_ip": pd.array(np.asarray(src_ips, dtype=object)[src_code[origin]], dtype="string"),
            "destination_ip": pd.array(np.asarray(dst_ips, dtype=object)[dst_code[origin]], dtype="string"),
            "destination_port": pd.array(
                np.asarray(port_values, dtype="float64")[port_code[origin]], dtype="Float64"
            ).astype("Int64"),
            "connections": connections[kept].astype("int64"),
            "checkins": checkins[kept].astype("int64"),
            "first": _utc(t[head][kept]),
            "last": _utc(t[tail][kept]),
            "period": period,
            "jitter": jitter,
            "skew": skew,
            "bytes": sizes,
            "bytes_jitter": sizes_jitter,
            "timing_score": timing_score,
            "size_score": size_score,
            "coverage_score": coverage_score,
            "count_score": count_score,
            "score": score,
        }
    )
    out["destination"] = _endpoints(out["destination_ip"], out["destination_port"])
    out["server_names"] = _server_names(out, names)
    out["summary"] = _sentences(out)
    out = out.sort_values(
        ["score", "checkins", "source_ip", "destination_ip", "destination_port"],
        ascending=[False, False, True, True, True],
        kind="stable",
    )
    return out.loc[:, list(COLUMNS)].reset_index(drop=True)


def is_internal(ip: str, internal: Sequence[str] | None = None) -> bool:
    """Whether ``ip`` is in the internal networks (default ``INTERNAL_NETWORKS``)."""
    kinds = _kinds(
        np.array([ip], dtype=object), _networks(INTERNAL_NETWORKS if internal is None else internal)
    )
    return bool(kinds[0] == 1)


def is_external(ip: str, internal: Sequence[str] | None = None) -> bool:
    """Whether ``ip`` is one unicast host outside the internal networks (malformed, multicast
    and unspecified addresses are neither internal nor external)."""
    kinds = _kinds(
        np.array([ip], dtype=object), _networks(INTERNAL_NETWORKS if internal is None else internal)
    )
    return bool(kinds[0] == 0)


def describe_period(seconds: float) -> str:
    """``4.2 s``, ``42 s``, ``5 min 00 s``, ``1 h 05 min``."""
    if not np.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min"


# -- statistics ------------------------------------------------------------------------------------


def _spread(values: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Per group (sorted): quartiles ``q1``, ``median``, ``q3``, median absolute deviation ``mad``,
    ``central`` (the mean of the values within 50 % of the median) and count ``n``."""
    index = pd.Index(groups, name="group")
    series = pd.Series(values, index=index, dtype="float64")
    grouped = series.groupby(level=0, sort=True)
    quartiles = grouped.quantile([0.1, 0.25, 0.5, 0.75]).unstack()
    median = quartiles[0.5]
    around = median.reindex(groups).to_numpy()
    deviation = np.abs(values - around)
    mad = pd.Series(deviation, index=index).groupby(level=0, sort=True).median()
    near = deviation <= _CENTRAL * around
    central = series[near].groupby(level=0, sort=True).mean().reindex(median.index)
    return pd.DataFrame(
        {
            "p10": quartiles[0.1],
            "q1": quartiles[0.25],
            "median": median,
            "q3": quartiles[0.75],
            "mad": mad,
            "central": central.fillna(median),
            "n": grouped.size(),
        }
    )


def _regularity(stats: pd.DataFrame, *, low_tail: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MAD / median, Bowley skewness, regularity score) per row of ``_spread``'s frame; with
    ``low_tail`` the dispersion scored is the wider of MAD / median and the lower tail's."""
    median, mad = stats["median"].to_numpy(), stats["mad"].to_numpy()
    q1, q3 = stats["q1"].to_numpy(), stats["q3"].to_numpy()
    iqr = q3 - q1
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = _relative(mad, median)
        low = _relative((median - stats["p10"].to_numpy()) / _LOW_TAIL, median)
        shaped = (iqr > 0) & (iqr >= _FLAT_IQR * median)
        skew = np.where(shaped, (q1 + q3 - 2 * median) / iqr, 0.0)
    noise = _SKEW_NOISE / np.sqrt(stats["n"].to_numpy())
    scored = np.maximum(rel, low) if low_tail else rel
    dispersion = 1.0 / (1.0 + (scored / _HALF) ** _STEEP)
    return rel, skew, dispersion * (1.0 - np.maximum(np.abs(skew) - noise, 0.0) / 2)


def _relative(spread: np.ndarray, median: np.ndarray) -> np.ndarray:
    """spread / median; 0 for no spread around 0, infinite for some."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(median > 0, spread / median, np.where(spread > 0, np.inf, 0.0))


# -- addresses -------------------------------------------------------------------------------------

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(cidrs: Iterable[str]) -> list[_Net]:
    try:
        return [ipaddress.ip_network(c, strict=False) for c in cidrs]
    except ValueError as exc:
        raise ValueError(f"internal networks: {exc}") from None


def _kinds(ips: Any, nets: list[_Net]) -> np.ndarray:
    """Per address: 1 internal, 0 external, -1 not one unicast host (malformed, multicast...)."""
    out = np.full(len(ips), -1, dtype=np.int8)
    for i, text in enumerate(ips):
        try:
            ip = ipaddress.ip_address(str(text).strip())
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_multicast or ip.is_unspecified or ip == ipaddress.IPv4Address("255.255.255.255"):
            continue
        out[i] = 1 if any(ip in net for net in nets if net.version == ip.version) else 0
    return out


def _lookup(kinds: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row, the kind of its address code (-1 for a missing address)."""
    return np.where(codes >= 0, kinds[np.maximum(codes, 0)] if len(kinds) else -1, -1)


# -- columns ---------------------------------------------------------------------------------------


def _bytes(conns: pd.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    """``orig_bytes`` of ``rows`` (positions) as floats, NaN where unknown; None when the frame has
    no byte counts at all."""
    if "orig_bytes" in conns.columns:
        values = conns["orig_bytes"].iloc[rows]
    elif "fields" in conns.columns:
        values = _field(conns["fields"].iloc[rows], "orig_bytes")
    else:
        return None
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _field(values: pd.Series, key: str) -> pd.Series:
    """One key of a ``fields`` column (dicts, or the (key, value) pairs Arrow maps become)."""

    def get(fields: Any) -> Any:
        if isinstance(fields, dict):
            return fields.get(key)
        if isinstance(fields, (list, tuple, np.ndarray)):
            return next((v for k, v in fields if k == key), None)
        return None

    return values.map(get)


def _server_names(found: pd.DataFrame, names: pd.DataFrame | None) -> pd.arrays.StringArray:
    """Per found pair, the TLS server names and DNS names that label its destination."""
    empty = pd.array([pd.NA] * len(found), dtype="string")
    if names is None or names.empty or found.empty:
        return empty
    keys = found[["source_ip", "destination_ip", "destination_port"]].astype(
        {"source_ip": "string", "destination_ip": "string", "destination_port": "Int64"}
    )
    labels = []
    if {"tls_server_name", "source_ip", "destination_ip"} <= set(names.columns):
        tls = pd.DataFrame(
            {
                "source_ip": names["source_ip"].astype("string"),
                "destination_ip": names["destination_ip"].astype("string"),
                "destination_port": pd.to_numeric(names.get("destination_port"), errors="coerce").astype(
                    "Int64"
                )
                if "destination_port" in names.columns
                else pd.array([pd.NA] * len(names), dtype="Int64"),
                "name": names["tls_server_name"].astype("string"),
            }
        ).dropna(subset=["source_ip", "destination_ip", "name"])
        labels.append(keys.merge(tls, on=["source_ip", "destination_ip", "destination_port"]))
    if {"dns_question_name", "source_ip"} <= set(names.columns):
        if "answers" in names.columns:
            answers = names["answers"]
        elif "fields" in names.columns:
            answers = _field(names["fields"], "answers")
        else:
            answers = None
        if answers is not None:
            dns = pd.DataFrame(
                {
                    "source_ip": names["source_ip"].astype("string"),
                    "destination_ip": answers.astype("string").str.split(","),
                    "name": names["dns_question_name"].astype("string"),
                }
            ).dropna()
            dns = dns.explode("destination_ip")
            dns["destination_ip"] = dns["destination_ip"].astype("string").str.strip()
            labels.append(keys.merge(dns, on=["source_ip", "destination_ip"]))
    labels = [frame for frame in labels if not frame.empty]
    if not labels:
        return empty
    joined = (
        pd.concat(labels, ignore_index=True)
        .groupby(["source_ip", "destination_ip", "destination_port"], dropna=False)["name"]
        .agg(lambda n: ", ".join(sorted(set(n.str.lower()))))
    )
    per_pair = keys.merge(
        joined.rename("server_names").reset_index(),
        on=["source_ip", "destination_ip", "destination_port"],
        how="left",
    )
    return pd.array(per_pair["server_names"], dtype="string")


def _endpoints(ips: pd.Series, ports: pd.Series) -> pd.arrays.StringArray:
    """``ip:port`` (``[ip]:port`` for IPv6; the ip alone without a port)."""
    out = []
    for ip, port in zip(ips.tolist(), ports.tolist(), strict=True):
        host = f"[{ip}]" if ":" in ip else ip
        out.append(host if port is None or port is pd.NA else f"{host}:{port}")
    return pd.array(out, dtype="string")


def _sentences(found: pd.DataFrame) -> pd.arrays.StringArray:
    """``10.20.0.21 -> 198.51.100.23:443 (name) every 5 min 00 s ± 12%, 47 times 09:13-13:00``
    (the first name and how many more; dates too when the check-ins span days)."""
    first, last = found["first"], found["last"]
    one_day = (first.dt.date == last.dt.date).tolist()
    short = (first.dt.strftime("%H:%M") + "-" + last.dt.strftime("%H:%M")).tolist()
    long = (first.dt.strftime("%Y-%m-%d %H:%M") + " - " + last.dt.strftime("%Y-%m-%d %H:%M")).tolist()
    out = []
    columns = ("source_ip", "destination", "server_names", "period", "jitter", "checkins")
    values = zip(*(found[c].tolist() for c in columns), strict=True)
    for i, (src, dst, names, period, jitter, times) in enumerate(values):
        label = ""
        if isinstance(names, str):
            shown = names.split(", ")
            label = f" ({shown[0]}{f' +{len(shown) - 1}' if len(shown) > 1 else ''})"
        when = short[i] if one_day[i] else long[i]
        out.append(
            f"{src} -> {dst}{label} every {describe_period(period)} ± {jitter * 100:.0f}%, {times} times {when}"
        )
    return pd.array(out, dtype="string")


def _utc(micros: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(micros.astype("int64"), unit="us", utc=True).as_unit("us")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "float64")) for c in COLUMNS})
