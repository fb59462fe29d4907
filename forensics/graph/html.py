"""The chain as inline SVG for notebooks: the figure's layout (hosts in lanes, steps left to
right, arrows along the path), drawn by hand so that every step carries its details. Hovering a
step shows its UTC time, the full action and object, its ATT&CK techniques and each evidence
row (file, record, evidence sha256). It is plain SVG, no script: it works in untrusted
notebooks and in exported HTML alike. ``Chain`` shows this as its rich output (``_repr_html_``).
"""

from __future__ import annotations

from html import escape

from forensics.graph.chain import Chain
from forensics.graph.figure import COLOURS, lanes, links

__all__ = ["chain_svg"]

_X0, _DX, _Y0, _DY = 110, 64, 40, 90


def _tooltip(step) -> str:
    lines = [f"{step.time} {step.host}", f"{step.actor} {step.action} {step.object}"]
    if step.count > 1:
        lines[-1] += f" (x{step.count})"
    if step.techniques:
        lines.append("ATT&CK: " + ", ".join(step.techniques))
    if step.text and step.text not in lines[-1]:
        lines.append(step.text[:300])
    for e in step.evidence[:8]:
        lines.append(
            f"{e['source']} {e['source_file'] or ''} #{e['source_record']} ({(e['evidence_id'] or '')[:12]})"
        )
    if len(step.evidence) > 8:
        lines.append(f"... and {len(step.evidence) - 8} more rows")
    return escape("\n".join(lines))


def chain_svg(chain: Chain) -> str:
    """The chain as an ``<svg>`` element (empty chains: their answer, as text)."""
    steps = chain.steps
    if not steps:
        return f"<p>{escape(chain.answer or 'no steps')}</p>"
    lane = lanes(steps)
    width = _X0 + _DX * len(steps) + 40
    height = _Y0 + _DY * len(lane) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="10">'
    ]
    for host, i in lane.items():
        y = _Y0 + _DY * i
        out.append(f'<text x="8" y="{y + 4}" font-weight="bold">{escape(host)}</text>')
        out.append(f'<line x1="{_X0 - 20}" y1="{y}" x2="{width - 20}" y2="{y}" stroke="#eeeeee"/>')
    for (i, a), (j, b) in links(steps):
        out.append(
            f'<line x1="{_X0 + _DX * i}" y1="{_Y0 + _DY * lane[a.host]}" x2="{_X0 + _DX * j}" '
            f'y2="{_Y0 + _DY * lane[b.host]}" stroke="#bbbbbb" stroke-width="1"/>'
        )
    for i, step in enumerate(steps):
        x, y = _X0 + _DX * i, _Y0 + _DY * lane[step.host]
        colour = COLOURS.get(step.action, "#7f7f7f")
        radius = 5 + min(step.count, 20) // 4
        out.append(
            f'<g><title>{_tooltip(step)}</title><circle cx="{x}" cy="{y}" r="{radius}" fill="{colour}"/>'
        )
        dy = -12 if i % 2 else 22
        out.append(f'<text x="{x}" y="{y + dy}" text-anchor="middle">{escape(step.actor[:16])}</text>')
        out.append(
            f'<text x="{x}" y="{y + dy + 11}" text-anchor="middle" fill="#555555">{escape(step.action)} {escape(step.object[:14])}</text></g>'
        )
    root = chain.root_cause
    if root:
        out.append(
            f'<text x="8" y="16">root cause: {escape(f"{root.time} {root.actor} {root.action} {root.object}")}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
