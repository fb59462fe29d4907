"""The headless-Chromium harness can fail: it sees scripts, title changes and external requests when a page
has them, and nothing but the file and its text when the same payload is inert (escaped, under a CSP)."""

from __future__ import annotations

import html
from pathlib import Path

from tests.browser import Page, open_page, require_chromium

PAYLOAD = """<script>document.title = "pwned"; setTimeout(() => { new Image().src = "http://192.0.2.1/t.png" }, 100)</script>
<img src=x onerror="console.log('onerror ran'); alert('planted')">
<img src="http://192.0.2.1/x.png">"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def load(tmp_path: Path, head: str, body: str) -> Page:
    require_chromium()
    path = tmp_path / "page.html"
    path.write_text(
        f"<!doctype html><html><head>{head}<title>original</title></head><body>{body}</body></html>"
    )
    return open_page(path)


def test_a_live_payload_is_caught(tmp_path: Path) -> None:
    hostile = load(tmp_path, "", PAYLOAD)
    assert len(hostile.scripts) >= 2, hostile  # the inline <script> and the onerror handler
    assert hostile.title == "pwned"
    assert "http://192.0.2.1/x.png" in hostile.requests
    assert "http://192.0.2.1/t.png" in hostile.requests  # a timer after load, seen thanks to the settle
    assert "log: onerror ran" in hostile.console
    assert hostile.dialogs == ["alert: planted"]


def test_the_escaped_payload_under_a_csp_is_inert(tmp_path: Path) -> None:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    page = load(tmp_path, meta, f"<pre>{html.escape(PAYLOAD)}</pre>")
    assert page.scripts == [], page
    assert page.requests == [(tmp_path / "page.html").as_uri()]
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    assert (page.title, page.console, page.exceptions, page.dialogs) == ("original", [], [], [])
    assert PAYLOAD in page.text
    assert "&lt;script&gt;" in page.html and "<script>" not in page.html


def test_a_csp_alone_stops_scripts_but_requests_are_still_recorded(tmp_path: Path) -> None:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    page = load(tmp_path, meta, PAYLOAD)
    assert page.scripts == [] and page.title == "original" and page.dialogs == []
    # Chromium reports a load that the CSP refuses as requested, then blocked: markup must not even try.
    assert "http://192.0.2.1/x.png" in page.requests
    assert "csp: http://192.0.2.1/x.png" in page.blocked
    assert any("Content Security Policy" in entry for entry in page.blocked)
