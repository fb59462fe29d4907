"""Browser history databases received loose: the Chromium family's ``History`` (Chrome, Chromium,
Edge, Brave, Opera, Vivaldi share it) and Firefox's ``places.sqlite`` -> one row per visit, and one
per download the database remembers.

Both are SQLite databases. Chromium keeps one row per page in ``urls`` (title, visit and typed
counts) and one per visit in ``visits``: ``visit_time`` in microseconds since 1601-01-01 UTC (WebKit
time), ``transition`` a page-transition code (core type in the low byte: link, typed,
auto_bookmark...; qualifiers in the high bits: chain_start, server_redirect...), ``from_visit``
the visit it came from; ``visit_source`` says which visits were synced or imported, and
``keyword_search_terms`` what was searched for (``search_term`` on the visits of that page). Its
``downloads`` table has the target path, byte counts, state and danger type; the start time is
WebKit time, except in the early schema (``full_path`` column, Chrome < 26) where it is POSIX
seconds, and the URL is in ``downloads_url_chains`` (redirect chain, last = the file's URL) since
then. Firefox keeps pages in ``moz_places`` and visits in ``moz_historyvisits`` (``visit_date``
in PRTime, microseconds since 1970 UTC; ``visit_type`` a transition: link, typed, bookmark...);
since Firefox 20 a download is a page with ``downloads/destinationFileURI`` and
``downloads/metaData`` annotations in ``moz_annos``.

The file is read into memory (up to MAX_SIZE) and opened from there with
``sqlite3.Connection.deserialize``, queries only: the evidence file is never opened by SQLite, so
no journal, WAL or lock file is created beside it. A database in WAL mode is read as its main file
alone (a ``-wal`` sidecar is not applied). A time of 0 or NULL gives a row without a time, never a
dropped row; a table that breaks off (a truncated file) is a counted warning naming the table.

Inside a disk image a History is read once: on a Windows image by dissect.target's
``browser.history`` plugin (the image's ``files`` units offer only event logs, so this parser never
sees it); on an image of unknown OS every file is offered and this parser reads it (no plugins
run there); in a triage collection (tar, zip) every member comes here.

References: Chromium ``components/history/core/browser`` (visit_database.cc, url_database.cc,
download_database.cc, download_constants.h, history_types.h ``VisitSource``) and
``ui/base/page_transition_types.h``; Mozilla ``toolkit/components/places`` (nsINavHistoryService
``TRANSITION_*``) and ``toolkit/components/downloads/DownloadHistory.sys.mjs``; SQLite "Database
File Format" (sqlite.org/fileformat2.html: header, page 1, b-tree page types); plaso's
chrome_history and firefox_history SQLite plugins.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from forensics.timeutil import filetime_to_utc, iso_z
from parsers.base import Options, Parser, ParseWarning, one_line, row_message
from parsers.textlog import Row, batched

__all__ = [
    "BrowserHistoryParser",
    "chromium_transition",
    "prtime_to_utc",
    "webkit_to_utc",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Largest database read into memory.
MAX_SIZE = 512 << 20
#: File names a browser gives its history database (lower case), for the path tie-break.
FILE_NAMES = {"history": "chromium", "archived history": "chromium", "places.sqlite": "firefox"}
#: Tables that make a database one browser's history.
TABLES = {"chromium": ("urls", "visits"), "firefox": ("moz_places", "moz_historyvisits")}
_CREATE_TABLE = re.compile(rb'CREATE TABLE\s+(?:IF NOT EXISTS\s+)?["`\[]?(\w+)', re.IGNORECASE)
#: Microseconds from 1601-01-01 to 1970-01-01.
_EPOCH_DELTA_US = 11_644_473_600_000_000

#: Chromium core page transitions (``transition & 0xFF``).
CHROMIUM_CORE = (
    "link", "typed", "auto_bookmark", "auto_subframe", "manual_subframe", "generated",
    "auto_toplevel", "form_submit", "reload", "keyword", "keyword_generated",
)  # fmt: skip
CHROMIUM_QUALIFIERS = (
    (0x00800000, "blocked"),
    (0x01000000, "forward_back"),
    (0x02000000, "from_address_bar"),
    (0x04000000, "home_page"),
    (0x08000000, "from_api"),
    (0x10000000, "chain_start"),
    (0x20000000, "chain_end"),
    (0x40000000, "client_redirect"),
    (0x80000000, "server_redirect"),
)
CHROMIUM_VISIT_SOURCE = {
    0: "synced", 1: "browsed", 2: "extension", 3: "firefox_imported", 4: "ie_imported", 5: "safari_imported",
}  # fmt: skip
#: Chromium download states (3 is an old value for interrupted, crbug 140687).
CHROMIUM_DOWNLOAD_STATE = {0: "in_progress", 1: "complete", 2: "cancelled", 3: "interrupted", 4: "interrupted"}  # fmt: skip
CHROMIUM_DANGER = (
    "not_dangerous", "dangerous_file", "dangerous_url", "dangerous_content", "maybe_dangerous_content",
    "uncommon_content", "user_validated", "dangerous_host", "potentially_unwanted", "allowlisted_by_policy",
    "async_scanning", "blocked_password_protected", "blocked_too_large", "sensitive_content_warning",
    "sensitive_content_block", "deep_scanned_safe", "deep_scanned_opened_dangerous", "prompt_for_scanning",
    "blocked_unsupported_filetype", "dangerous_account_compromise",
)  # fmt: skip
#: Firefox ``visit_type`` (nsINavHistoryService TRANSITION_*).
FIREFOX_TRANSITION = {
    1: "link", 2: "typed", 3: "bookmark", 4: "embed", 5: "redirect_permanent", 6: "redirect_temporary",
    7: "download", 8: "framed_link", 9: "reload",
}  # fmt: skip
#: Firefox download ``metaData`` states (DownloadHistory.sys.mjs METADATA_STATE_*).
FIREFOX_DOWNLOAD_STATE = {
    1: "finished", 2: "failed", 3: "canceled", 4: "paused", 6: "blocked_parental", 8: "dirty",
}  # fmt: skip


def webkit_to_utc(value: Any) -> datetime | None:
    """WebKit/Chromium time (microseconds since 1601-01-01 UTC) -> aware UTC; 0, NULL, non-integer
    or out of range -> None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not value:
        return None
    return filetime_to_utc(value * 10)


def prtime_to_utc(value: Any) -> datetime | None:
    """Mozilla PRTime (microseconds since 1970-01-01 UTC) -> aware UTC; 0, NULL or absurd -> None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not value:
        return None
    return filetime_to_utc((value + _EPOCH_DELTA_US) * 10)


def _posix_to_utc(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool) or not value:
        return None
    return prtime_to_utc(value * 1_000_000)


def _iso(when: datetime | None) -> str | None:
    return iso_z(when) if when is not None else None


def chromium_transition(code: int) -> tuple[str, str | None]:
    """A Chromium transition code -> (core type name, qualifiers joined by ``|`` or None)."""
    core = code & 0xFF
    name = CHROMIUM_CORE[core] if core < len(CHROMIUM_CORE) else f"core_{core}"
    qualifiers = [label for bit, label in CHROMIUM_QUALIFIERS if code & bit]
    return name, "|".join(qualifiers) or None


def _head_tables(head: bytes) -> set[str]:
    return {m.group(1).decode("ascii", "replace").lower() for m in _CREATE_TABLE.finditer(head)}


def _browser_in_head(head: bytes) -> str | None:
    """The browser whose tables ``head`` declares (when the schema sits in the first bytes)."""
    if not head.startswith(SQLITE_MAGIC):
        return None
    names = _head_tables(head)
    return next((browser for browser, tables in TABLES.items() if names.issuperset(tables)), None)


def _page_size(head: bytes) -> int:
    size = int.from_bytes(head[16:18], "big")
    return 65536 if size == 1 else size


def _whole_schema_in_head(head: bytes) -> bool:
    """Page 1 (which holds the schema) is in ``head`` whole and is a leaf: every table of the
    database is declared in these bytes. Otherwise (an interior page 1, or a page larger than
    ``head``) the schema goes on elsewhere in the file and the head cannot tell."""
    size = _page_size(head)
    return 512 <= size <= len(head) and head[100:101] == b"\x0d"


def _browser_by_name(path: str) -> str | None:
    return FILE_NAMES.get(path.replace("\\", "/").rsplit("/", 1)[-1].lower())


def _truncation(data: bytes) -> str | None:
    """The header's database size against the bytes present (the size field is valid only when
    the change counter matches the version-valid-for number, SQLite 3.7.0+)."""
    if len(data) < 100 or data[24:28] != data[92:96]:
        return None
    pages = int.from_bytes(data[28:32], "big")
    expected = pages * _page_size(data)
    if pages and expected > len(data):
        return (
            f"truncated: the header says {pages} pages of {_page_size(data)} bytes ({expected:,} bytes), "
            f"the file has {len(data):,}"
        )
    return None


def _load(con: sqlite3.Connection, data: bytes) -> None:
    """``con`` (an in-memory connection) becomes a read-only copy of the database. A WAL-mode
    header (read/write versions 2) is set to legacy in the copy: an in-memory database cannot
    open a WAL, and the main file alone is what the evidence holds. ``writable_schema`` only
    makes SQLite tolerate a damaged schema (query_only still forbids any write)."""
    if data[18:20] == b"\x02\x02":
        data = data[:18] + b"\x01\x01" + data[20:]
    con.text_factory = lambda raw: raw.decode("utf-8", "replace")
    con.deserialize(data)
    con.execute("PRAGMA query_only = ON")
    # Lenient with damage, as recovery tools are: a header page count past the end of a
    # truncated file and indexes whose root page is gone no longer refuse the whole database.
    con.execute("PRAGMA writable_schema = ON")
    con.row_factory = _dict_row


def _dict_row(cursor: sqlite3.Cursor, values: tuple) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, values, strict=True)}


def _tables(con: sqlite3.Connection) -> dict[str, set[str]]:
    """Table name (lower case) -> its column names (lower case)."""
    names = [r["name"] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {}
    for name in names:
        quoted = name.replace('"', '""')
        out[name.lower()] = {r["name"].lower() for r in con.execute(f'PRAGMA table_info("{quoted}")')}
    return out


def _scan(con: sqlite3.Connection, table: str, where: str = "", args: tuple = ()) -> Iterator[Any]:
    """(rowid, row) for every row of ``table`` in rowid order; if the table breaks off (a
    damaged or truncated file), one counted warning naming it and the last rowid read."""
    n, last = 0, None
    try:
        query = f'SELECT rowid AS "_rowid_", * FROM "{table}" {where} ORDER BY rowid'
        for row in con.execute(query, args):
            n, last = n + 1, row["_rowid_"]
            yield last, row
    except sqlite3.DatabaseError as exc:
        after = f"after rowid {last}" if last is not None else "at its first row"
        yield ParseWarning(
            f"table {table}", None, f"{table} unreadable {after} ({n} rows read): {one_line(str(exc))}"
        )


def _by_id(con: sqlite3.Connection, table: str, found: list[ParseWarning]) -> dict[Any, Any]:
    rows = {}
    for item in _scan(con, table):
        if isinstance(item, ParseWarning):
            found.append(item)
        else:
            rowid, row = item
            key = _get(row, "id")
            rows[rowid if key is None else key] = row
    return rows


def _get(row: Any, column: str) -> Any:
    return row.get(column) if row is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _name(names: tuple[str, ...], code: Any) -> Any:
    return names[code] if isinstance(code, int) and 0 <= code < len(names) else code


def _visited(url: str | None, title: str | None, url_id: Any) -> str:
    where = url if url is not None else f"url id {url_id} (not in the database)"
    return row_message(f"visited {where}" + (f" ({title})" if title else ""))


def _clean(fields: dict[str, Any]) -> dict[str, str | None]:
    return {k: _text(v) for k, v in fields.items() if v is not None and v != ""}


class BrowserHistoryParser(Parser):
    """Chromium ``History`` and Firefox ``places.sqlite`` -> visits (``Accessed``) and downloads
    (``Created``)."""

    name = "browser_history"

    def sniff(self, head: bytes) -> bool:
        return _browser_in_head(head) is not None

    def sniff_path(self, path: str, head: bytes) -> bool:
        """A browser's file name, when its schema is not in the head (page 1 is usually an
        interior page once a history has a few tables): an SQLite file named ``History`` or
        ``places.sqlite``. A database whose whole schema is in the head and is not a browser's
        is never claimed."""
        return (
            head.startswith(SQLITE_MAGIC)
            and _browser_by_name(path) is not None
            and not _whole_schema_in_head(head)
        )

    def parse(self, fh: BinaryIO, unit: Any, options: Options) -> Iterator[pa.RecordBatch | ParseWarning]:
        fh.seek(0)
        data = fh.read(MAX_SIZE + 1)
        if len(data) > MAX_SIZE:
            yield ParseWarning("file", 0, f"over {MAX_SIZE >> 20} MiB: not read")
            return
        truncated = _truncation(data)
        con = sqlite3.connect(":memory:")
        with contextlib.closing(con):
            try:
                _load(con, data)
                del data
                tables = _tables(con)
            except sqlite3.DatabaseError as exc:
                reason = f"not a readable SQLite database: {one_line(str(exc))}"
                yield ParseWarning("database", 0, reason + (f"; {truncated}" if truncated else ""))
                return
            if truncated:
                yield ParseWarning("file", None, truncated, 0)
            browser = next((b for b, need in TABLES.items() if all(t in tables for t in need)), None)
            if browser is None:
                yield ParseWarning(
                    "schema", None,
                    "SQLite database without a browser history's tables (urls and visits, or "
                    f"moz_places and moz_historyvisits); tables: {', '.join(sorted(tables)) or 'none'}",
                    0,
                )  # fmt: skip
                return
            rows = _chromium(con, tables) if browser == "chromium" else _firefox(con, tables)
            yield from batched(rows, options.batch_rows)


# -- Chromium ---------------------------------------------------------------------------------------


def _mapped(table: str, rowid: Any, make: Any, *args: Any) -> Row | ParseWarning:
    """One row, or a counted warning located at the table and rowid when it cannot be mapped."""
    try:
        return make(*args)
    except Exception as exc:
        return ParseWarning(f"{table} rowid {rowid}", None, f"{type(exc).__name__}: {one_line(str(exc))}")


def _chromium(con: sqlite3.Connection, tables: dict[str, set[str]]) -> Iterator[Row | ParseWarning]:
    found: list[ParseWarning] = []
    urls = _by_id(con, "urls", found)
    sources: dict[Any, Any] = {}
    if {"id", "source"} <= tables.get("visit_source", set()):
        sources = {k: v["source"] for k, v in _by_id(con, "visit_source", found).items()}
    terms: dict[Any, str] = {}
    if {"url_id", "term"} <= tables.get("keyword_search_terms", set()):
        for item in _scan(con, "keyword_search_terms"):
            if isinstance(item, ParseWarning):
                found.append(item)
            else:
                terms[item[1]["url_id"]] = item[1]["term"]
    yield from found
    for item in _scan(con, "visits"):
        if isinstance(item, ParseWarning):
            yield item
            continue
        rowid, row = item
        yield _mapped("visits", rowid, _chromium_visit, rowid, row, urls, sources, terms)
    if "downloads" in tables:
        yield from _chromium_downloads(con, tables)


def _chromium_visit(rowid: int, row: Any, urls: dict, sources: dict, terms: dict) -> Row:
    page = urls.get(row["url"])
    url, title = _get(page, "url"), _get(page, "title")
    code = _get(row, "transition")
    core, qualifiers = chromium_transition(code) if isinstance(code, int) else (None, None)
    source = sources.get(rowid)
    fields = _clean(
        {
            "browser": "chromium",
            "table": "visits",
            "title": title,
            "search_term": terms.get(row["url"]),
            "url_id": row["url"],
            "visit_count": _get(page, "visit_count"),
            "typed_count": _get(page, "typed_count"),
            "hidden": _get(page, "hidden"),
            "transition": core,
            "transition_qualifiers": qualifiers,
            "transition_code": code,
            "from_visit": _get(row, "from_visit") or None,
            "visit_source": CHROMIUM_VISIT_SOURCE.get(source, source),
            "visit_duration_us": _get(row, "visit_duration") or None,
            "visit_time": row["visit_time"],
        }
    )
    return {
        "datetime": webkit_to_utc(row["visit_time"]),
        "timestamp_desc": "Accessed",
        "source": BrowserHistoryParser.name,
        "source_record": rowid,
        "event_provider": "chromium-history",
        "event_action": "page-visited",
        "url_full": url,
        "message": _visited(url, title, row["url"]),
    }, fields


def _chromium_downloads(con: sqlite3.Connection, tables: dict[str, set[str]]) -> Iterator[Row | ParseWarning]:
    chains: dict[Any, list[str]] = {}
    if {"id", "chain_index", "url"} <= tables.get("downloads_url_chains", set()):
        for item in _scan(con, "downloads_url_chains"):
            if isinstance(item, ParseWarning):
                yield item
                continue
            chains.setdefault(item[1]["id"], []).append((item[1]["chain_index"], item[1]["url"]))
    ordered = {k: [u for _, u in sorted(v, key=lambda p: (p[0] is None, p[0]))] for k, v in chains.items()}
    for item in _scan(con, "downloads"):
        if isinstance(item, ParseWarning):
            yield item
            continue
        rowid, row = item
        yield _mapped("downloads", rowid, _chromium_download, rowid, row, ordered.get(_get(row, "id"), []))


def _chromium_download(rowid: int, row: Any, chain: list[str]) -> Row:
    early = "full_path" in row  # Chrome < 26: POSIX seconds, one URL column
    start = row["start_time"]
    when = _posix_to_utc(start) if early else webkit_to_utc(start)
    path = _get(row, "full_path") if early else (_get(row, "target_path") or _get(row, "current_path"))
    url = chain[-1] if chain else (_get(row, "url") or _get(row, "tab_url"))
    state, danger = _get(row, "state"), _get(row, "danger_type")
    state_name = CHROMIUM_DOWNLOAD_STATE.get(state, state)
    received, total = _get(row, "received_bytes"), _get(row, "total_bytes")
    current = _get(row, "current_path")
    fields = _clean(
        {
            "browser": "chromium",
            "table": "downloads",
            "received_bytes": received,
            "total_bytes": total,
            "state": state_name,
            "danger_type": _name(CHROMIUM_DANGER, danger),
            "interrupt_reason": _get(row, "interrupt_reason") or None,
            "end_time": _iso(webkit_to_utc(_get(row, "end_time"))),
            "opened": _get(row, "opened"),
            "referrer": _get(row, "referrer"),
            "tab_url": _get(row, "tab_url"),
            "site_url": _get(row, "site_url"),
            "mime_type": _get(row, "mime_type"),
            "current_path": current if current and current != path else None,
            "url_chain": " -> ".join(chain) if len(chain) > 1 else None,
            "start_time": start,
            "start_time_unit": "posix seconds" if early else None,
        }
    )
    message = f"downloaded {url or '(no url)'} to {path or '(no path)'} ({received} of {total} bytes"
    message += f", {state_name})" if state_name is not None else ")"
    return {
        "datetime": when,
        "timestamp_desc": "Created",
        "source": BrowserHistoryParser.name,
        "source_record": rowid,
        "event_provider": "chromium-history",
        "event_action": "file-downloaded",
        "url_full": url,
        "file_path": path,
        "message": row_message(message),
    }, fields


# -- Firefox ---------------------------------------------------------------------------------------


def _firefox(con: sqlite3.Connection, tables: dict[str, set[str]]) -> Iterator[Row | ParseWarning]:
    found: list[ParseWarning] = []
    places = _by_id(con, "moz_places", found)
    yield from found
    for item in _scan(con, "moz_historyvisits"):
        if isinstance(item, ParseWarning):
            yield item
            continue
        rowid, row = item
        yield _mapped("moz_historyvisits", rowid, _firefox_visit, rowid, row, places)
    if "moz_annos" in tables and "moz_anno_attributes" in tables:
        yield from _firefox_downloads(con, places)


def _firefox_visit(rowid: int, row: Any, places: dict) -> Row:
    page = places.get(row["place_id"])
    url, title = _get(page, "url"), _get(page, "title")
    kind = _get(row, "visit_type")
    fields = _clean(
        {
            "browser": "firefox",
            "table": "moz_historyvisits",
            "title": title,
            "place_id": row["place_id"],
            "visit_count": _get(page, "visit_count"),
            "typed": _get(page, "typed"),
            "hidden": _get(page, "hidden"),
            "transition": FIREFOX_TRANSITION.get(kind, kind),
            "transition_code": kind,
            "from_visit": _get(row, "from_visit") or None,
            "session": _get(row, "session") or None,
            "visit_date": row["visit_date"],
        }
    )
    return {
        "datetime": prtime_to_utc(row["visit_date"]),
        "timestamp_desc": "Accessed",
        "source": BrowserHistoryParser.name,
        "source_record": rowid,
        "event_provider": "firefox-places",
        "event_action": "page-visited",
        "url_full": url,
        "message": _visited(url, title, row["place_id"]),
    }, fields


def _file_uri_path(uri: str | None) -> str | None:
    """``file:///C:/Users/a%20b/x.exe`` -> ``C:/Users/a b/x.exe``; ``file:///home/x`` -> ``/home/x``."""
    if not uri or not uri.lower().startswith("file:"):
        return uri
    path = unquote(urlsplit(uri).path)
    return path[1:] if re.match(r"^/[A-Za-z]:", path) else path


def _firefox_downloads(con: sqlite3.Connection, places: dict) -> Iterator[Row | ParseWarning]:
    attributes = {}
    for item in _scan(con, "moz_anno_attributes"):
        if isinstance(item, ParseWarning):
            yield item
        else:
            attributes[item[1]["name"]] = item[1]["id"]
    destination = attributes.get("downloads/destinationFileURI")
    if destination is None:
        return
    meta: dict[Any, Any] = {}
    metadata = attributes.get("downloads/metaData")
    if metadata is not None:
        for item in _scan(con, "moz_annos", "WHERE anno_attribute_id = ?", (metadata,)):
            if isinstance(item, ParseWarning):
                yield item
            else:
                meta[item[1]["place_id"]] = item[1]["content"]
    for item in _scan(con, "moz_annos", "WHERE anno_attribute_id = ?", (destination,)):
        if isinstance(item, ParseWarning):
            yield item
            continue
        rowid, row = item
        yield _mapped("moz_annos", rowid, _firefox_download, rowid, row, places, meta.get(row["place_id"]))


def _firefox_download(rowid: int, row: Any, places: dict, meta_text: str | None) -> Row:
    page = places.get(row["place_id"])
    url = _get(page, "url")
    path = _file_uri_path(row["content"])
    try:
        meta = json.loads(meta_text) if meta_text else {}
    except ValueError:
        meta = {"unparsed": meta_text}
    meta = meta if isinstance(meta, dict) else {"unparsed": meta_text}
    state = meta.get("state")
    end = meta.get("endTime")
    fields = _clean(
        {
            "browser": "firefox",
            "table": "moz_annos",
            "place_id": row["place_id"],
            "title": _get(page, "title"),
            "destination_uri": row["content"],
            "state": FIREFOX_DOWNLOAD_STATE.get(state, state),
            "file_size": meta.get("fileSize"),
            "end_time": _iso(prtime_to_utc(end * 1000)) if isinstance(end, int) else None,
            "deleted": meta.get("deleted"),
            "metadata": meta.get("unparsed"),
            "date_added": row["dateAdded"],
        }
    )
    size = f", {meta['fileSize']} bytes" if meta.get("fileSize") is not None else ""
    return {
        "datetime": prtime_to_utc(row["dateAdded"]),
        "timestamp_desc": "Created",
        "source": BrowserHistoryParser.name,
        "source_record": rowid,
        "event_provider": "firefox-places",
        "event_action": "file-downloaded",
        "url_full": url,
        "file_path": path,
        "message": row_message(f"downloaded {url or '(no url)'} to {path or '(no path)'}{size}"),
    }, fields
