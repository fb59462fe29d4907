"""``tracehound``: the command line. The only module that parses arguments or prints colour.

Subcommands: ``ingest``, ``hash``, ``timeline``, ``query``, ``export``, ``beacons``, ``detect``,
``findings`` (later: chain, triage, report). Exit status: 0 on success; 1 when nothing could be ingested or
a query failed; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forensics import __version__
from forensics.case import Case, CaseError, timeline_query
from forensics.detect.findings import LEVELS
from forensics.export import FORMATS, export
from forensics.ingest import FileResult, IngestReport
from forensics.timeutil import zone
from parsers import Options
from parsers.evtx import BACKENDS

__all__ = ["main"]

OUTPUT_FORMATS = ("table", "csv", "jsonl")
_TABLE_COLUMNS = ("datetime", "host_name", "source", "event_code", "user_name", "message")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = Console(stderr=True)
    try:
        return args.func(args, err)
    except CaseError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracehound", description="Forensic timeline and root-cause workbench."
    )
    parser.add_argument("--version", action="version", version=f"tracehound {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="parse evidence files or folders into a case")
    p.add_argument("evidence", nargs="+", help="files or folders (recursive); format found by content")
    p.add_argument("--case", required=True, help="case folder (created when absent)")
    p.add_argument("--evtx-backend", choices=BACKENDS, default="rust", help="EVTX parser (default: rust)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument(
        "--timezone", type=_zone_name, default="UTC",
        help="IANA zone of the evidence's host, for logs written in local time (default: UTC)",
    )  # fmt: skip
    p.add_argument(
        "--fs-timeline", action="store_true",
        help="disk images: add the file-system timeline (MACB rows for every file; large)",
    )  # fmt: skip
    p.add_argument(
        "--carve", action="store_true",
        help="packet captures: write the files they carry (HTTP, FTP) into CASE/carved, named by sha256",
    )  # fmt: skip
    p.add_argument(
        "--defer-hash", action="store_true",
        help="skip the sha256 before parsing (large images); record it later with 'tracehound hash'",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_ingest)

    p = sub.add_parser("hash", help="record deferred evidence hashes; --verify re-checks all evidence")
    p.add_argument("--case", required=True)
    p.add_argument("--verify", action="store_true", help="re-hash every evidence file and compare")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_hash)

    p = sub.add_parser("timeline", help="show timeline rows, filtered")
    p.add_argument("--case", required=True)
    p.add_argument("--start", help="ISO 8601 time, UTC ('Z') or with an offset")
    p.add_argument("--end", help="ISO 8601 time, UTC ('Z') or with an offset")
    p.add_argument("--host", help="host name (case-insensitive)")
    p.add_argument("--code", help="event code, e.g. 4624")
    p.add_argument("--grep", help="text the message contains (case-insensitive)")
    p.add_argument("--limit", type=int, default=None, help="at most this many rows (table: 200 unless given)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    p.set_defaults(func=_timeline)

    p = sub.add_parser("query", help="DuckDB SQL over the case (timeline, warnings, manifest)")
    p.add_argument("--case", required=True)
    p.add_argument("--sql", required=True)
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    p.set_defaults(func=_query)

    p = sub.add_parser("export", help="write the timeline for other tools")
    p.add_argument("--case", required=True)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_export)

    p = sub.add_parser("beacons", help="hosts calling one destination at regular intervals (C2 beacons)")
    p.add_argument("--case", required=True)
    p.add_argument(
        "--min-connections", type=int, default=6,
        help="fewest check-ins (connections within 5 s of each other count once) a pair needs (default: 6)",
    )  # fmt: skip
    p.add_argument(
        "--include-internal", action="store_true",
        help="also internal -> internal pairs (beacons inside the network; default: internal -> external)",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=None, help="at most this many pairs (table: 50 unless given)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    p.set_defaults(func=_beacons)

    p = sub.add_parser("detect", help="run Sigma rules, threat-intel IOCs and YARA rules over a case")
    p.add_argument("--case", required=True)
    p.add_argument(
        "--sigma", nargs="+", default=[], metavar="PATH", help="Sigma rule files or folders (or a .tar.gz)"
    )
    p.add_argument(
        "--intel", nargs="+", default=[], metavar="PATH", help="STIX 2.1, MISP JSON, CSV or plain IOC lists"
    )
    p.add_argument("--yara", nargs="+", default=[], metavar="PATH", help="YARA rule files or folders")
    p.add_argument("--scan", nargs="+", default=None, metavar="PATH",
                   help="YARA targets (default: the case's evidence and carved files)")  # fmt: skip
    p.add_argument(
        "--run", default="default", help="name of this run: a rerun with the same name replaces it"
    )
    p.set_defaults(func=_detect)

    p = sub.add_parser("findings", help="the case's findings, most severe first")
    p.add_argument("--case", required=True)
    p.add_argument("--engine", choices=("sigma", "ioc", "yara"), default=None)
    p.add_argument("--min-level", choices=LEVELS, default="informational")
    p.add_argument("--limit", type=int, default=None, help="at most this many (table: 50 unless given)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    p.add_argument(
        "--attack-layer", metavar="FILE", help="also write an ATT&CK Navigator layer (JSON) of them"
    )
    p.add_argument(
        "--blocklist", metavar="FILE", help="also write the IOCs seen in the case (.txt plain, .json STIX)"
    )
    p.set_defaults(func=_findings)

    p = sub.add_parser("chain", help="the attack chain through a finding: root cause, ordered steps, impact")
    p.add_argument("--case", required=True)
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument(
        "--from", dest="finding", metavar="FINDING_ID", help="a finding's id (a prefix will do)"
    )
    start.add_argument(
        "--from-row",
        metavar="SOURCE:RECORD",
        help="a timeline row: source (or evidence id prefix) and record",
    )
    start.add_argument("--auto", action="store_true", help="from the strongest findings")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--name", default="latest", help="stored as chains/NAME.json in the case (default: latest)"
    )
    p.add_argument(
        "--figure", metavar="FILE", help="also draw it (PNG, SVG or PDF): hosts in lanes, time left to right"
    )
    p.set_defaults(func=_chain)

    p = sub.add_parser("report", help="the post-incident report: one HTML file, a PDF of it, or Markdown")
    p.add_argument("--case", required=True)
    p.add_argument("--out", required=True, help="the file to write (its suffix gives the format by default)")
    p.add_argument(
        "--format", choices=("html", "pdf", "md"), help="default: by the suffix of --out, else html"
    )
    p.add_argument("--chain", default="latest", help="the stored chain to report (chains/NAME.json); "
                   "without one, the chain of the strongest findings")  # fmt: skip
    p.add_argument("--title", help="default: Incident report: case NAME")
    p.set_defaults(func=_report)

    p = sub.add_parser("triage", help="many evidence items in parallel, each its own case; hosts by score")
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="images, collections, folders of logs, captures"
    )
    p.add_argument("--case", required=True, help="the batch folder (items/<key>/ per item, triage.csv)")
    p.add_argument("--workers", type=int, default=None, help="items at once (default: the cores)")
    p.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run the items on this Dask cluster instead"
    )
    p.add_argument("--sigma", nargs="+", default=[], metavar="PATH")
    p.add_argument("--intel", nargs="+", default=[], metavar="PATH")
    p.add_argument("--yara", nargs="+", default=[], metavar="PATH")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="per item, seconds")
    p.add_argument("--memory-limit", type=int, default=None, metavar="MB", help="per item process")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    p.add_argument(
        "--stack",
        type=int,
        default=5,
        metavar="N",
        help="the N rarest values per category across hosts (0: none)",
    )
    p.set_defaults(func=_triage)
    return parser


def _ingest(args: argparse.Namespace, err: Console) -> int:
    if not args.defer_hash:
        from forensics.integrity import hash_ahead

        hash_ahead(args.evidence)  # while the case opens and the parsers import
    case = Case.open(args.case)
    options = Options(
        evtx_backend=args.evtx_backend, timezone=args.timezone, fs_timeline=args.fs_timeline,
        carve_dir=str(case.carved) if args.carve else None,
    )  # fmt: skip
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=err, disable=args.quiet, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("ingesting", total=0, rate="")
        state = {"records": 0, "units": 0}

        def progress(event: str, result: FileResult, **info: Any) -> None:
            if event == "file":
                state["units"] += info["units"]
                bar.update(task, total=state["units"], description=_short(result.path))
            elif event == "hash":  # large evidence: say why nothing else moves yet
                bar.update(
                    task, description=f"hashing {_short(result.path, 30)} {info['done'] / info['total']:.0%}"
                )
            elif event == "unit":
                state["records"] += info["records"]
                rate = state["records"] / max(time.perf_counter() - started, 1e-6)
                bar.update(task, advance=1, rate=f"{state['records']:,} records, {rate:,.0f}/s")

        report = case.ingest(
            args.evidence, options=options, jobs=args.jobs, progress=progress, defer_hash=args.defer_hash
        )
    _summary(report, err)
    for folder, host in report.contexts.items():
        err.print(
            f"{folder}: a {host.os} collection (dissect {host.loader} loader), host {host.hostname or 'unknown'}, "
            f"time zone {host.timezone or 'unknown'}: its files were read as that host's"
        )
    err.print(f"case: {case.root}")
    return 0 if report.ingested_anything else 1


def _hash(args: argparse.Namespace, err: Console) -> int:
    """Record deferred hashes (and verify recorded ones); non-zero when evidence changed."""
    case = Case.open(args.case)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=err, disable=args.quiet, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("hashing", total=None)

        def progress(path: str, done: int, total: int) -> None:
            bar.update(task, description=f"hashing {_short(path, 30)}", completed=done, total=total)

        results = case.hash_evidence(verify=args.verify, progress=progress)
    table = Table(title="evidence hashes")
    for column in ("status", "file", "sha256", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(r.status, r.path, r.sha256 or "", r.reason)
    err.print(
        table if results else "nothing to hash: every evidence hash is recorded (use --verify to re-check)"
    )
    return 1 if any(r.status in ("mismatch", "changed", "missing") for r in results) else 0


def _zone_name(name: str) -> str:
    """argparse type: an IANA time zone name that the tz database knows."""
    try:
        zone(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (use an IANA name such as Europe/Berlin)") from None
    return name


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _summary(report: IngestReport, err: Console) -> None:
    problems = [f for f in report.files if f.status != "ok"]
    if problems:
        table = Table(title="files not fully ingested", show_lines=False)
        for col in ("status", "file", "reason"):
            table.add_column(col, overflow="fold")
        for f in problems:
            table.add_row(f.status, f.path, f.reason)
        err.print(table)
    counts: dict[str, int] = {}
    for f in report.files:
        counts[f.status] = counts.get(f.status, 0) + 1
    summary = Table(title="ingest summary")
    for col in ("files", "records", "warnings", "unreadable records", "seconds", "records/s"):
        summary.add_column(col, justify="right")
    rate = report.records / report.seconds if report.seconds else 0
    summary.add_row(
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), f"{report.records:,}", f"{report.warnings:,}",
        f"{sum(f.lost for f in report.files):,}", f"{report.seconds:.2f}", f"{rate:,.0f}",
    )  # fmt: skip
    err.print(summary)


def _timeline(args: argparse.Namespace, err: Console) -> int:
    case = Case.open(args.case)
    limit = args.limit if args.limit is not None else (200 if args.format == "table" else None)
    sql, params = timeline_query(
        args.start, args.end, host=args.host, code=args.code, grep=args.grep, limit=limit
    )
    return _emit(
        case, sql, params, args.format, err, columns=_TABLE_COLUMNS if args.format == "table" else None
    )


def _query(args: argparse.Namespace, err: Console) -> int:
    case = Case.open(args.case)
    try:
        return _emit(case, args.sql, [], args.format, err)
    except Exception as exc:
        err.print(f"[red]query failed:[/red] {str(exc).splitlines()[0]}")
        return 1


def _emit(
    case: Case, sql: str, params: list, fmt: str, err: Console, columns: Sequence[str] | None = None
) -> int:
    """Stream a query's rows to standard output in batches."""
    with case.connect() as con:
        reader = con.sql(sql, params=params or None).to_arrow_reader(50_000)
        if fmt == "table":
            table = pa.Table.from_batches(list(reader), schema=reader.schema)
            _print_table(table, columns)
            return 0
        _write_batches(reader, reader.schema.names, fmt)
    return 0


def _write_batches(batches: Iterable[pa.RecordBatch], names: list[str], fmt: str) -> None:
    """Rows as CSV (a header, nested values as JSON) or JSON lines on standard output."""
    out = sys.stdout
    writer = None
    for batch in batches:
        rows = batch.to_pylist()
        if fmt == "csv":
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
                writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        else:
            for row in rows:
                out.write(orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
    if writer is None and fmt == "csv":
        csv.writer(out, lineterminator="\n").writerow(names)


def _export(args: argparse.Namespace, err: Console) -> int:
    case = Case.open(args.case)
    written, left_out = export(case, args.format, args.out)
    note = f" ({left_out:,} rows without a time left out)" if left_out else ""
    err.print(f"wrote {written:,} rows to {args.out}{note}")
    return 0


def _beacons(args: argparse.Namespace, err: Console) -> int:
    """Beacon candidates, best score first: a table, or every column as CSV / JSON lines."""
    import pandas as pd

    from forensics.detect.beacons import describe_period

    case = Case.open(args.case)
    found = case.beacons(min_connections=args.min_connections, include_internal=args.include_internal)
    limit = args.limit if args.limit is not None else (50 if args.format == "table" else None)
    shown = found if limit is None else found.head(limit)
    if args.format != "table":
        _write_batches(
            pa.Table.from_pandas(shown, preserve_index=False).to_batches(), list(shown.columns), args.format
        )
        return 0
    if found.empty:
        scope = "internal sources" if args.include_internal else "internal -> external pairs"
        err.print(f"no beacon candidates: no {scope} with {max(args.min_connections, 3)} check-ins or more")
        return 0
    console = Console(width=None if sys.stdout.isatty() else 200)
    view = Table(title="beacon candidates, best first (score = timing x coverage x count x size)")
    for name in ("score", "source", "destination", "names", "times", "period", "jitter", "first", "last",
                 "timing", "coverage", "count", "size"):  # fmt: skip
        numeric = name in ("score", "times", "period", "jitter", "timing", "coverage", "count", "size")
        view.add_column(name, justify="right" if numeric else "left", no_wrap=True, max_width=40)
    for row in shown.itertuples(index=False):
        view.add_row(
            f"{row.score:.2f}", row.source_ip, row.destination,
            "" if pd.isna(row.server_names) else row.server_names, str(row.checkins), describe_period(row.period),
            f"{row.jitter:.0%}", f"{row.first:%Y-%m-%d %H:%M:%S}", f"{row.last:%Y-%m-%d %H:%M:%S}",
            f"{row.timing_score:.2f}", f"{row.coverage_score:.2f}", f"{row.count_score:.2f}",
            "" if pd.isna(row.size_score) else f"{row.size_score:.2f}",
        )  # fmt: skip
    console.print(view)
    more = f" ({len(found) - len(shown)} more: --limit)" if len(shown) < len(found) else ""
    console.print(f"{len(found)} pairs{more}")
    return 0


def _detect(args: argparse.Namespace, err: Console) -> int:
    """Each engine asked for, in turn; a summary line each. Findings go to the case."""
    if not (args.sigma or args.intel or args.yara):
        err.print("[red]error:[/red] nothing to run: give --sigma, --intel and/or --yara")
        return 2
    case = Case.open(args.case)
    if args.sigma:
        from forensics.detect.sigma import detect_sigma

        sigma = detect_sigma(case, args.sigma, run=args.run)
        _engine_summary(err, "sigma", sigma.summary(), [str(p) for p in sigma.skipped], args.case)
    if args.intel:
        from forensics.detect.intel import detect_intel

        intel = detect_intel(case, args.intel, run=args.run)
        _engine_summary(err, "intel", intel.summary(), [str(w) for w in intel.warnings], args.case)
    if args.yara:
        from forensics.detect.yara import detect_yara

        yara = detect_yara(case, args.yara, args.scan, run=args.run)
        _engine_summary(
            err, "yara", yara.summary(), [f"{w.path}: {w.kind}: {w.reason}" for w in yara.warnings], args.case
        )
    return 0


#: Problems listed under an engine's summary line; the rest are in the case's detect_warnings.
SHOWN_PROBLEMS = 10


def _engine_summary(err: Console, engine: str, summary: Any, problems: list[str], case: str) -> None:
    if isinstance(summary, dict):
        summary = "; ".join(f"{k} {v}" for k, v in summary.items())
    err.print(f"[bold]{engine}[/bold]: {summary}")
    for line in problems[:SHOWN_PROBLEMS]:
        err.print(f"  [yellow]{escape(line)}[/yellow]", soft_wrap=True)
    if len(problems) > SHOWN_PROBLEMS:
        err.print(
            f'  ... {len(problems) - SHOWN_PROBLEMS} more: tracehound query "SELECT * FROM detect_warnings"'
        )


def _findings(args: argparse.Namespace, err: Console) -> int:
    """The findings, most severe first; optionally an ATT&CK layer and the IOC blocklist."""
    from forensics.detect.findings import findings_query

    case = Case.open(args.case)
    found = case.arrow(*findings_query(min_level=args.min_level, engine=args.engine))
    if args.attack_layer:
        from forensics.detect.attack import navigator_layer

        layer = navigator_layer(found.select(["rule_title", "techniques"]).to_pylist())
        Path(args.attack_layer).write_bytes(orjson.dumps(layer, option=orjson.OPT_INDENT_2))
        err.print(f"ATT&CK layer: {args.attack_layer} ({len(layer['techniques'])} techniques)")
    if args.blocklist:
        from forensics.detect.intel import export_seen

        kind = "stix" if args.blocklist.endswith(".json") else "blocklist"
        export_seen(case, args.blocklist, kind)
        err.print(f"IOCs seen: {args.blocklist}")
    limit = args.limit if args.limit is not None else (50 if args.format == "table" else None)
    shown = found if limit is None else found.slice(0, limit)
    if args.format != "table":
        _write_batches(shown.to_batches(), shown.column_names, args.format)
    else:
        _print_table(shown, ("datetime", "level", "engine", "rule_title", "host_name"))
        if shown.num_rows < found.num_rows:
            err.print(f"{found.num_rows} findings ({found.num_rows - shown.num_rows} more: --limit)")
    return 0


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=str).decode()
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


def _print_table(table: pa.Table, columns: Sequence[str] | None) -> None:
    console = Console(width=None if sys.stdout.isatty() else 200)
    names = [c for c in (columns or table.column_names) if c in table.column_names]
    view = Table(show_lines=False)
    for name in names:
        view.add_column(name, no_wrap=True, overflow="ellipsis", max_width=120 if name == "message" else 40)
    for row in table.select(names).to_pylist():
        view.add_row(*("" if v is None else str(_cell(v)) for v in row.values()))
    console.print(view)
    console.print(f"{table.num_rows} rows")


def _chain(args: argparse.Namespace, err: Console) -> int:
    """The chain as text (a line per step) or as JSON on standard output."""
    from forensics.graph import ChainError, case_chain

    case = Case.open(args.case)
    try:
        chain = case_chain(case, finding_id=args.finding, row=args.from_row, auto=args.auto, name=args.name)
    except ChainError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        return 2
    if args.figure and chain.steps:
        from forensics.graph.figure import chain_figure

        err.print(f"figure: {chain_figure(chain, args.figure)}")
    if args.format == "json":
        sys.stdout.write(orjson.dumps(chain.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if chain.root_cause is None:
        print(chain.answer)
        return 0
    root = chain.root_cause
    print(f"root cause: {root.time} {root.host} {root.actor} {root.action} {root.object}")
    for step in chain.steps:
        times = f" (x{step.count})" if step.count > 1 else ""
        techniques = f" [{', '.join(step.techniques)}]" if step.techniques else ""
        print(f"{step.time}  {step.host:<8} {step.actor} {step.action} {step.object}{times}{techniques}")
    for what, items in chain.impact.items():
        if items:
            print(f"{what.replace('_', ' ')}: {', '.join(items)}")
    for line in chain.clock:
        print(f"clock: {line}")
    err.print(f"stored in {case.root / 'chains' / (args.name + '.json')}")
    return 0


def _report(args: argparse.Namespace, err: Console) -> int:
    """Write the report; print its path and three lines: root cause, hosts affected, findings."""
    from forensics.report import gather, summary_lines, write_report

    case = Case.open(args.case)
    report = gather(case, chain_name=args.chain, title=args.title)
    out = write_report(case, report, args.out, args.format)
    print(f"report:         {out.resolve()}")
    for line in summary_lines(report):
        print(line)
    return 0


#: Summary columns, as the table, the CSV (``triage.csv`` in the batch folder) and JSON lines give them.
_TRIAGE_COLUMNS = ("score", "host", "os", "rows", "high", "medium", "ioc_hits", "yara_hits", "first_malicious",
                   "last_malicious", "first", "last", "item")  # fmt: skip


def _triage(args: argparse.Namespace, err: Console) -> int:
    """Triage the inputs in parallel; the hosts, highest score first."""
    from forensics.triage import Detections, summaries, triage

    detections = Detections(tuple(args.sigma), tuple(args.intel), tuple(args.yara))
    report = triage(
        args.inputs, args.case, workers=args.workers, detections=detections,
        time_limit=args.time_limit, memory_mb=args.memory_limit, scheduler=args.scheduler,
    )  # fmt: skip
    rows = [
        {**s, "high": s["findings"].get("high", 0) + s["findings"].get("critical", 0),
         "medium": s["findings"].get("medium", 0)}
        for s in summaries(args.case)
    ]  # fmt: skip
    table = pa.Table.from_pylist([{c: r.get(c) for c in _TRIAGE_COLUMNS} for r in rows])
    if rows:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, Path(args.case) / "triage.csv")
    for item in report.failed:
        err.print(f"[red]failed[/red] {escape(item.path)}: {escape(item.reason)}")
    done = sum(i.status == "done" for i in report.items)
    err.print(
        f"{done} of {len(report.items)} items triaged in {report.seconds:.1f} s; summary in {Path(args.case) / 'triage.csv'}"
    )
    if args.format != "table":
        _write_batches(table.to_batches(), list(_TRIAGE_COLUMNS), args.format)
        return 1 if report.failed else 0
    view = Table(title="hosts, highest score first")
    for name in _TRIAGE_COLUMNS[:-1]:
        view.add_column(
            name,
            justify="right"
            if name in ("score", "rows", "high", "medium", "ioc_hits", "yara_hits")
            else "left",
        )
    for r in rows:
        view.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in _TRIAGE_COLUMNS[:-1]))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(view)
    if args.stack:
        _print_stacking(console, args.case, args.stack)
    return 1 if report.failed else 0


def _print_stacking(console: Console, batch: str, per_category: int) -> None:
    """The rarest values of each category across the batch's hosts (all of them in stacking.csv)."""
    from forensics.triage.stacking import CATEGORIES, stack

    rows = stack(batch)
    if not rows:
        return
    import pyarrow.csv as pacsv

    pacsv.write_csv(
        pa.Table.from_pylist([{**r, "hosts": ", ".join(r["hosts"])} for r in rows]),
        Path(batch) / "stacking.csv",
    )
    view = Table(title=f"stacking across hosts: the {per_category} rarest per category (all in stacking.csv)")
    for name in ("category", "value", "hosts", "count"):
        view.add_column(name, justify="right" if name == "count" else "left", max_width=90)
    for category in CATEGORIES:
        for r in [r for r in rows if r["category"] == category][:per_category]:
            view.add_row(category, escape(r["value"]), escape(", ".join(r["hosts"])), str(r["count"]))
    console.print(view)


if __name__ == "__main__":
    sys.exit(main())
