"""Artifact parsers, one module per artifact family, registered in one tuple.

Adding a parser: one module here (a ``Parser`` subclass), one test module, one line in
``PARSERS``. The ingest picks a parser by content (``sniff`` on the first bytes), in this order,
so a parser with a loose sniffer comes after the ones with magic; only when no content matches,
the file's path may break the tie (``Parser.sniff_path``, for formats with no magic at all).
"""

import dataclasses
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from forensics.rows import with_host_name, with_source_file
from parsers.audit import AuditParser
from parsers.base import HEAD_BYTES, Options, Parser, ParseWarning
from parsers.bodyfile import BodyfileParser, FlsParser
from parsers.browser_history import BrowserHistoryParser
from parsers.cloudtrail import CloudTrailParser
from parsers.collection import CollectionParser
from parsers.container_log import ContainerLogParser
from parsers.disk_image import DiskImageParser
from parsers.evtx import EvtxParser
from parsers.gcp_logging import GcpLoggingParser
from parsers.ids_alert import IdsAlertParser
from parsers.lnk import JumpListParser, LnkParser
from parsers.ntfs_logfile import LogFileParser
from parsers.ntfs_mft import MftParser
from parsers.ntfs_usnjrnl import UsnJournalParser
from parsers.packages import PackagesParser
from parsers.pcap import PcapParser
from parsers.postgresql import PostgresqlParser
from parsers.powershell_transcript import PowerShellTranscriptParser
from parsers.prefetch import PrefetchParser
from parsers.recyclebin import RecycleBinParser
from parsers.registry_hive import RegistryHiveParser
from parsers.scheduled_task import ScheduledTaskParser
from parsers.setupapi import SetupApiParser
from parsers.shell_history import ShellHistoryParser
from parsers.syslog import SyslogParser
from parsers.utmp import UtmpParser
from parsers.vsftpd import VsftpdParser
from parsers.web_access import WebAccessParser
from parsers.windows_firewall import WindowsFirewallParser
from parsers.winevent_json import WinEventJsonParser
from parsers.zeek import ZeekParser

__all__ = [
    "HEAD_BYTES",
    "PARSERS",
    "Options",
    "ParseWarning",
    "Parser",
    "by_name",
    "parse_contained",
    "sniff",
]

#: Magic and strict shapes first (binary, JSON with telling keys, ``type=... msg=audit(``,
#: dpkg/apt lines, TSK bodyfile/fls -l lines, SetupAPI/transcript headers, the firewall's W3C
#: header), then the looser text grammars: web access lines, syslog, shell history.
#: Disk images (containers, raw disks and file systems) and triage collections (tar, zip) come
#: right after the EVTX magic: their members go through this same registry. Loose Windows
#: artifacts follow, each by its magic or fixed layout (regf, SCCA/MAM, shell link, OLE with a
#: DestList, FILE records, USN records, RSTR pages, $I/INFO2, the .job fixed section).
PARSERS: tuple[Parser, ...] = (
    EvtxParser(),
    DiskImageParser(),
    CollectionParser(),
    RegistryHiveParser(),
    PrefetchParser(),
    LnkParser(),
    JumpListParser(),
    MftParser(),
    UsnJournalParser(),
    LogFileParser(),
    RecycleBinParser(),
    ScheduledTaskParser(),
    BrowserHistoryParser(),
    WinEventJsonParser(),
    UtmpParser(),
    CloudTrailParser(),
    GcpLoggingParser(),
    PcapParser(),
    ZeekParser(),
    AuditParser(),
    PackagesParser(),
    BodyfileParser(),
    FlsParser(),
    SetupApiParser(),
    PowerShellTranscriptParser(),
    WindowsFirewallParser(),
    IdsAlertParser(),  # full-line shapes: IDS alerts, container logs, vsftpd, PostgreSQL
    ContainerLogParser(),
    VsftpdParser(),
    PostgresqlParser(),
    WebAccessParser(),
    SyslogParser(),
    ShellHistoryParser(),
)


def sniff(head: bytes, path: str | None = None) -> Parser | None:
    """The first registered parser that recognises ``head``; else, when ``path`` is given, the
    first that claims the path (formats without magic); else None."""
    found = next((p for p in PARSERS if p.sniff(head)), None)
    if found is None and path:
        found = next((p for p in PARSERS if p.sniff_path(path, head)), None)
    return found


def by_name(name: str) -> Parser:
    """The registered parser whose timeline ``source`` is ``name``."""
    for parser in PARSERS:
        if parser.name == name:
            return parser
    raise KeyError(name)


def parse_contained(
    path: str, fh: BinaryIO, size: int, options: Options, container: str
) -> Iterator[pa.RecordBatch | ParseWarning]:
    """A file inside a container (a disk image, an archive) through the parser that recognises
    it, as if it were loose: its rows name ``path`` as ``source_file`` and its warnings are
    located under it, and rows that name no host take the container's (``options.host_name``).
    Unrecognised files are skipped, as in a folder; a container of the same
    kind (``container``, the caller's parser name) is not opened again."""
    fh.seek(0)
    parser = sniff(fh.read(HEAD_BYTES), path)
    if parser is None or parser.name == container:
        return
    options = dataclasses.replace(options, source_path=None)  # the container's path is not this file's
    try:
        fh.seek(0)
        for unit in parser.plan(fh, size, options):
            for item in parser.parse(fh, unit, options):
                if isinstance(item, ParseWarning):
                    yield dataclasses.replace(item, location=f"{path}: {item.location}")
                else:
                    yield with_host_name(with_source_file(item, path), options.host_name)
    except Exception as exc:
        yield ParseWarning(path, None, f"parser {parser.name} stopped: {type(exc).__name__}: {exc}"[:300], 0)
