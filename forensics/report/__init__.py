"""The post-incident report: what happened, when, how it began, what it touched, what to do.

``build_report(case, out)`` writes one self-contained HTML file (figures embedded, no script,
nothing fetched), a PDF of it, or Markdown, from what the case holds: its evidence manifest
(chain of custody), findings, indicators, the attack chain (``chains/latest.json``, else the
chain of the strongest findings) and parse warnings. Every statement of fact links to the
evidence rows that show it (file, record or packet, evidence sha256).

- ``content``: the report's statements, gathered from the case (``gather``)
- ``evidence``: the numbered references to evidence rows
- ``actions``: containment, eradication, recovery, lessons learned from what was found
- ``figures``: activity per host, ATT&CK tactics, the chain, as SVG
- ``render``: HTML (autoescaped Jinja2, strict CSP), PDF (WeasyPrint) and Markdown
"""

from __future__ import annotations

from pathlib import Path

from forensics.case import Case
from forensics.report.content import Report, Statement, gather

__all__ = ["FORMATS", "Report", "Statement", "build_report", "gather", "summary_lines", "write_report"]

FORMATS = ("html", "pdf", "md")


def build_report(
    case: Case,
    out: str | Path,
    format: str | None = None,
    *,
    chain_name: str = "latest",
    title: str | None = None,
) -> Path:
    """Write the report of ``case`` to ``out`` as ``format`` (html, pdf or md; default: by the
    suffix of ``out``, else html); the path written."""
    return write_report(case, gather(case, chain_name=chain_name, title=title), out, format)


def write_report(case: Case, report: Report, out: str | Path, format: str | None = None) -> Path:
    """Write ``report`` (``gather(case)``) to ``out`` as ``format``; the path written."""
    from forensics.report import figures, render

    out = Path(out)
    suffix = out.suffix.lstrip(".").lower()
    format = format or (suffix if suffix in FORMATS else "html")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    drawn = {
        "activity": figures.activity_figure(case, report.chain),
        "chain": figures.chain_svg_figure(report.chain),
        "tactics": figures.tactics_figure(report.tactics),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "md":
        out.write_text(render.markdown(report, drawn, out), encoding="utf-8")
    elif format == "pdf":
        render.pdf(render.html(report, drawn), out)
    else:
        out.write_text(render.html(report, drawn), encoding="utf-8")
    return out


def summary_lines(report: Report) -> list[str]:
    """Three lines for a terminal: root cause, hosts affected, findings by level."""
    chain = report.chain
    root = chain.root_cause if chain else None
    return [
        f"root cause:     {root.time[:19]}Z {root.host} {root.actor} {root.action} {root.object}"
        if root
        else f"root cause:     not found ({chain.answer if chain else 'no finding to start from'})",
        "hosts affected: "
        + (", ".join(f"{h.name} ({h.role})" for h in report.hosts if h.steps) or "none in a chain"),
        f"findings:       {report.levels_text()}",
    ]
