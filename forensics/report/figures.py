"""The report's figures, drawn with matplotlib as SVG: activity per host with the findings on
it, the ATT&CK tactics the findings cover, and the attack chain.

SVG keeps them sharp in print and small in the HTML file. Text from evidence (host names, a
chain's labels) is drawn as glyph outlines, and its ``$`` are escaped, so a command line is never
read as math and nothing in a label can become markup. The activity panels cover the middle 98 %
of the timeline's rows (and every chain step): file-system times years before the incident
would otherwise squeeze it into one bar.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from forensics.case import Case
from forensics.detect.findings import LEVELS
from forensics.detect.yara.results import ON_DISK
from forensics.graph.chain import Chain
from forensics.graph.figure import plain
from forensics.graph.nodes import host_key
from forensics.timeutil import parse_iso

__all__ = ["LEVEL_COLOURS", "activity_figure", "chain_svg_figure", "svg", "tactics_figure"]

LEVEL_COLOURS = {"informational": "#9e9e9e", "low": "#4e79a7", "medium": "#f2a541", "high": "#e15759",
                 "critical": "#7b1fa2"}  # fmt: skip
_STYLE = {"svg.fonttype": "path", "font.size": 8}
#: Timestamps outside these years are damaged or placeholders, not activity.
_SANE = ("1990-01-01", "2100-01-01")


def svg(fig: plt.Figure) -> bytes:
    """The figure as SVG bytes, closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


_ACTIVITY = """
SELECT coalesce(host_name, CASE WHEN source LIKE 'network%' THEN 'network' END, '?') AS host,
       time_bucket(INTERVAL (?) SECOND, datetime) AS t, count(*)::BIGINT AS n
FROM timeline_rows
WHERE datetime BETWEEN ? AND ?
GROUP BY ALL ORDER BY t
"""
_SPAN = f"""
SELECT quantile_disc(datetime, 0.01), quantile_disc(datetime, 0.99) FROM timeline_rows
WHERE datetime BETWEEN TIMESTAMPTZ '{_SANE[0]}' AND TIMESTAMPTZ '{_SANE[1]}'
"""
_MARKS = f"""
SELECT host_name, datetime, level FROM findings
WHERE datetime BETWEEN ? AND ?
  AND coalesce(matched['dated_by'], '') <> '{ON_DISK}'
"""


def activity_figure(case: Case, chain: Chain | None = None) -> bytes | None:
    """Rows per time bucket for each host (one panel each), the findings marked on it by level."""
    with case.connect() as con:
        start, end = con.execute(_SPAN).fetchone()
        if start is None:
            return None
        if chain is not None and chain.steps:
            start = min(start, parse_iso(chain.steps[0].time))
            end = max(end, parse_iso(chain.steps[-1].time))
        bucket = max(60, int((end - start).total_seconds() / 240) // 60 * 60)
        rows = con.execute(_ACTIVITY, [bucket, start, end]).fetchall()
        marks = con.execute(_MARKS, [start, end]).fetchall()
    series: dict[str, dict[datetime, int]] = {}
    for host, when, n in rows:
        counts = series.setdefault(host_key(host) if host not in ("network", "?") else host, {})
        counts[when] = counts.get(when, 0) + n
    hosts = sorted(series, key=lambda h: (h == "network", h))
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(
            len(hosts), 1, figsize=(9, 0.4 + 1.3 * len(hosts)), sharex=True, squeeze=False
        )
        for ax, host in zip(axes[:, 0], hosts, strict=True):
            times = sorted(series[host])
            ax.bar(
                times, [series[host][t] for t in times], width=bucket / 86400, color="#bcc6d0", align="edge"
            )
            ax.set_ylabel(plain(host if host != "?" else "(no host)"), rotation=0, ha="right", va="center")
            ax.set_yscale("log")
            top = max(series[host].values())
            for level in LEVELS:
                at = [w for h, w, lv in marks if lv == level and h and host_key(h) == host]
                if at:
                    ax.scatter(
                        at, [top * 1.6] * len(at), s=14, color=LEVEL_COLOURS[level], label=level, zorder=3
                    )
            ax.set_ylim(0.8, top * 3)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        handles = {lv: h for ax in axes[:, 0] for h, lv in zip(*ax.get_legend_handles_labels(), strict=True)}
        if handles:
            fig.legend(handles.values(), [f"finding: {lv}" for lv in handles], loc="upper right", ncols=5,
                       frameon=False)  # fmt: skip
        axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=UTC))
        axes[-1, 0].set_xlabel(f"UTC (rows per {bucket // 60} min, log scale)")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return svg(fig)


def tactics_figure(tactics: list[tuple[str, str, int, list[str]]]) -> bytes | None:
    """Rules that fired per ATT&CK tactic, in the matrix's order, each bar labelled with its techniques."""
    if not any(n for _, _, n, _ in tactics):
        return None
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.6))
        names = [name for _, name, _, _ in tactics]
        counts = [n for _, _, n, _ in tactics]
        ax.barh(names, counts, color=["#e15759" if n else "#eeeeee" for n in counts])
        for y, (_, _, n, techniques) in enumerate(tactics):
            if n:
                shown = ", ".join(techniques[:5]) + (" ..." if len(techniques) > 5 else "")
                ax.text(n, y, f"  {n}: {shown}", va="center", fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("rules with findings")
        ax.xaxis.get_major_locator().set_params(integer=True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        return svg(fig)


def chain_svg_figure(chain: Chain | None) -> bytes | None:
    """The attack chain (``forensics.graph.figure.chain_figure``) as SVG."""
    if chain is None or not chain.steps:
        return None
    from forensics.graph.figure import chain_figure

    buffer = io.BytesIO()
    with plt.rc_context(_STYLE):
        chain_figure(chain, buffer, format="svg")
    return buffer.getvalue()
