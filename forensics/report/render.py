"""The report as one self-contained HTML file, a PDF of it, or Markdown.

Jinja2 renders both from the same ``Report``. The HTML environment autoescapes everything, and
the page forbids scripts and any fetch outside itself by its Content-Security-Policy, so an
attacker's command line, user name, URL or file name shows as text whatever it holds.
Figures are embedded as ``data:`` SVG images (an SVG in an ``<img>`` never runs script).
The PDF is WeasyPrint's rendering of that HTML, with fetching limited to the embedded
``data:`` URLs. Markdown escapes markup and table syntax in every value; its figures are SVG
files in a folder beside it.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import jinja2

from forensics.detect.findings import LEVELS
from forensics.report.actions import PHASES
from forensics.report.content import Report

__all__ = ["CSP", "html", "markdown", "pdf"]

#: Nothing but the page itself: inline styles, embedded images, no script, no fetch, no form.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_LONG = 400  # characters of an evidence value shown in a cell (a script block can be megabytes)


def _short(value: Any, limit: int = _LONG) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bytes(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


#: Markdown's inline syntax (and ``$``, which some renderers read as math); ``<``/``>``/``&`` become
#: entities first. Our own text starts each line, so line-start syntax (``#``, ``-``) needs no escape.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def _md(value: Any, limit: int = _LONG) -> str:
    """A value as inert Markdown text: HTML escaped, markup characters backslashed, one line."""
    text = _short(value, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"[\r\n\t]+", " ", text)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("forensics.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(short=_short, bytes=_bytes, md=_md)
    env.globals.update(LEVELS=list(reversed(LEVELS)), PHASES=PHASES, CSP=CSP)
    return env


def _data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def html(report: Report, figures: dict[str, bytes | None]) -> str:
    """The report as one HTML document, figures embedded."""
    images = {name: _data_uri(svg) for name, svg in figures.items() if svg}
    return _environment(True).get_template("report.html.j2").render(r=report, figures=images)


def markdown(report: Report, figures: dict[str, bytes | None], out: Path) -> str:
    """The report as Markdown; figures are written as SVG files into ``<out stem>_files/``."""
    folder = out.with_name(out.stem + "_files")
    links = {}
    for name, svg in figures.items():
        if svg:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.svg").write_bytes(svg)
            links[name] = f"{folder.name}/{name}.svg"
    return _environment(False).get_template("report.md.j2").render(r=report, figures=links)


def _data_only() -> Any:
    """WeasyPrint's fetcher, limited to ``data:`` URLs: the report loads nothing from outside."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcher"):  # WeasyPrint 68 and later
        return urls.URLFetcher(allowed_protocols=("data",))

    def fetch(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
        if not url.startswith("data:"):
            raise ValueError(f"the report fetches nothing outside itself: {url[:80]}")
        return urls.default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)

    return fetch


def pdf(document: str, out: Path) -> None:
    """``document`` (the report's HTML) printed to ``out`` by WeasyPrint."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # CSS it does not know (e.g. hover)
    HTML(string=document, url_fetcher=_data_only()).write_pdf(out)
