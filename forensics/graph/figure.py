"""The chain as a figure: time flows left to right, one lane per host (the network's own lane
for what only the capture saw), one marker per step labelled with its actor, action and object;
arrows join steps that follow one another on the chain's path (a step's object acting in a
later step), so a move from one host to another shows as an arrow across lanes.

Times are placed by rank, not by clock: an intrusion's first minute and its next three hours
would otherwise crush the first minute to a point. Tick labels give the real UTC times.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")  # files, not windows: works on servers and in CI
import matplotlib.pyplot as plt

from forensics.graph.chain import Chain

__all__ = ["COLOURS", "chain_figure", "lanes", "links", "plain"]

#: Marker colour per action (grey for the others), the figure's and the notebook SVG's.
COLOURS = {"spawned": "#1f77b4", "created": "#2ca02c", "connected": "#d62728", "logged on": "#9467bd",
            "ran": "#8c564b", "set": "#e377c2", "accessed": "#ff7f0e"}  # fmt: skip


def chain_figure(
    chain: Chain, path: str | Path | BinaryIO, title: str | None = None, format: str | None = None
) -> Path | BinaryIO:
    """Draw ``chain`` into ``path`` (PNG, SVG or PDF by its suffix, or ``format`` for a binary
    file object); the path written. Labels are plain text: a ``$`` in a command line is no math."""
    return _draw(chain, path if hasattr(path, "write") else Path(path), title, format)


def _draw(chain: Chain, path: Path | BinaryIO, title: str | None, format: str | None) -> Path | BinaryIO:
    steps = chain.steps
    lane = lanes(steps)
    hosts = list(lane)
    width = max(8.0, 0.7 * len(steps) + 3)
    fig, ax = plt.subplots(figsize=(width, 1.6 + 1.8 * len(hosts)))
    xs = list(range(len(steps)))
    for x, step in zip(xs, steps, strict=True):
        y = lane[step.host]
        colour = COLOURS.get(step.action, "#7f7f7f")
        ax.scatter([x], [y], s=60 + 8 * min(step.count, 20), color=colour, zorder=3)
        count = f" x{step.count}" if step.count > 1 else ""
        label = plain(f"{step.actor[:24]}\n{step.action} {step.object[:28]}{count}")
        ax.annotate(label, (x, y), xytext=(0, _STAGGER[x % len(_STAGGER)]), textcoords="offset points",
                    ha="center", va="center", fontsize=6.5, rotation=0)  # fmt: skip
    for (x1, a), (x2, b) in links(steps):
        ax.annotate("", (x2, lane[b.host]), (x1, lane[a.host]),
                    arrowprops={"arrowstyle": "->", "color": "#999999", "lw": 0.8}, zorder=1)  # fmt: skip
    ax.set_yticks(range(len(hosts)), [plain(h) for h in hosts])
    ax.set_ylim(-0.8, len(hosts) - 0.2)
    ticks = xs[:: max(1, len(xs) // 8)]
    ax.set_xticks(ticks, [steps[i].time[11:19] for i in ticks], fontsize=7)
    ax.set_xlabel(
        f"UTC, {steps[0].time[:10]} (steps in order; spacing is by step, not by time)" if steps else ""
    )
    root = chain.root_cause
    ax.set_title(
        plain(title or (f"root cause: {root.actor} {root.action} {root.object}" if root else chain.answer)),
        fontsize=9,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=150, format=format, **({"metadata": {"Date": None}} if format == "svg" else {}))
    plt.close(fig)
    return path


#: Label offsets (points) of consecutive steps, above and below their lane in turn, two rows
#: deep: neighbouring steps' labels do not overlap.
_STAGGER = (16, -16, 36, -36)


def plain(text: str) -> str:
    """Evidence text as matplotlib draws it literally: ``$`` would start math."""
    return text.replace("$", r"\$")


def lanes(steps: list) -> dict[str, int]:
    """Each host's lane, in the order the chain reaches them; the network's own lane last."""
    hosts = sorted(
        {s.host for s in steps}, key=lambda h: (h == "net", min(s.time for s in steps if s.host == h))
    )
    return {h: i for i, h in enumerate(hosts)}


def links(steps: list) -> list[tuple[tuple[int, object], tuple[int, object]]]:
    """Pairs of steps where the later one's actor is the earlier one's object (the path)."""
    out = []
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.actor_id in first:
            j = first[step.actor_id]
            out.append(((j, steps[j]), (i, step)))
        first.setdefault(step.object_id, i)
    return out
