"""Zeek-shaped records -> timeline rows, one small mapping per Zeek log.

A record is a plain dict keyed by Zeek's own field names (``ts``, ``uid``, ``id.orig_h``,
``query``, ``server_name``...), whether it was read from a Zeek log (``parsers.zeek``) or built
from a packet capture (``parsers.pcap``): both go through ``to_row``, so the same traffic gives
the same rows.

Conventions, common to every log:
- ``source`` is ``network_<log>`` (``network_conn``, ``network_dns``...), except ``ssl`` which
  is ``network_tls``; ``event_action`` is one lowercase verb phrase per log (``connection``,
  ``dns-query``, ``http-request``, ``tls-handshake``...); ``timestamp_desc`` is
  ``Connection Start`` for conn, ``Event Recorded`` for the others.
- ``ts`` -> ``datetime``: a decimal string of seconds (read exactly), a float (its shortest
  repr, exact to Zeek's six decimals), an ISO 8601 string or an aware datetime.
- ``id.orig_h``/``id.orig_p`` -> ``source_ip``/``source_port``, ``id.resp_h``/``id.resp_p`` ->
  ``destination_ip``/``destination_port``; ``community_id`` -> ``community_id``.
- ``network_protocol`` is the application protocol (``dns``, ``http``, ``tls``...; conn: Zeek's
  ``service``); the transport (``proto``: tcp, udp, icmp) stays in ``fields``.
- A field copied unchanged into a core column leaves ``fields`` (``query`` ->
  ``dns_question_name``); a field only used to build one (``host`` and ``uri`` for ``url_full``,
  Kerberos ``client`` split into user and realm) stays. Everything else of the record is in
  ``fields`` under its Zeek name (``uid`` included, the key to join the rows of one connection).
- Values in ``fields`` are text as Zeek's TSV writes it, so a TSV and a JSON log agree: lists
  (Zeek ``set``/``vector``) joined by commas, booleans ``true``/``false``, floats with six
  decimals (``3600.000000``), strings as they are; ``None``, ``""`` and empty lists are absent.

References: Zeek documentation, "Logs" (https://docs.zeek.org/en/master/logs/index.html) and
the record types of base/protocols/*/main.zeek (conn, dns, http, ssl, ssh, kerberos, smb,
dce_rpc, dhcp, ntlm) and base/files/* (files, x509, pe); ECS field reference for the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from forensics.timeutil import epoch_to_utc, parse_iso
from parsers.base import row_message

__all__ = ["MAPPINGS", "Row", "source_for", "text", "to_row"]

#: Core columns and the record's other fields, as ``RowBuilder.add`` takes them.
Row = tuple[dict[str, Any], dict[str, str]]

#: Zeek log path -> timeline ``source`` where it is not ``network_<path>``.
SOURCES = {"ssl": "network_tls"}

#: Fields every log maps the same way (copied unchanged, so they leave ``fields``).
_COMMON = {
    "id.orig_h": "source_ip",
    "id.orig_p": "source_port",
    "id.resp_h": "destination_ip",
    "id.resp_p": "destination_port",
    "community_id": "community_id",
}
_PORTS = frozenset({"source_port", "destination_port"})


def source_for(log: str) -> str:
    """The timeline ``source`` of rows from Zeek log ``log`` (``conn`` -> ``network_conn``)."""
    return SOURCES.get(log, f"network_{log}")


def text(value: Any) -> str | None:
    """A record value as Zeek's TSV writes it (see the module notes); None when absent."""
    kind = type(value)
    if kind is str:
        return value or None
    if kind is int:
        return str(value)
    if kind is float:
        return f"{value:.6f}"
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [t for t in map(text, value) if t is not None]
        return ",".join(items) if items else None
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


class _Record:
    """One record being mapped: the row so far and the fields not yet taken into it."""

    __slots__ = ("rest", "row")

    def __init__(self, row: dict[str, Any], rest: dict[str, Any]) -> None:
        self.row = row
        self.rest = rest

    def get(self, key: str) -> Any:
        """A value that stays in ``fields`` (used for the message or a derived column)."""
        return self.rest.get(key)

    def text(self, key: str) -> str | None:
        return text(self.rest.get(key))

    def take(self, key: str, column: str) -> None:
        """Copy ``key`` unchanged into core ``column`` and leave it out of ``fields``."""
        value = self.rest.get(key)
        if value is None:
            return
        if column in _PORTS:
            port = _int(value)
            if port is None:
                return  # not a number: kept in fields as written
            self.row[column] = port
        else:
            self.row[column] = text(value)
        del self.rest[key]

    def src(self) -> str:
        return _endpoint(self.row.get("source_ip"), self.row.get("source_port"))

    def dst(self) -> str:
        return _endpoint(self.row.get("destination_ip"), self.row.get("destination_port"))

    def flow(self) -> str:
        """``orig:port -> resp:port`` (empty when the record names no connection)."""
        src, dst = self.src(), self.dst()
        return f"{src or '?'} -> {dst or '?'}" if src or dst else ""


def to_row(log: str, record: Mapping[str, Any]) -> Row:
    """A Zeek-shaped record of log ``log`` (Zeek's path: conn, dns, http...) -> (core columns,
    fields). Logs without a mapping of their own get the generic one (``ts``, ``id.*`` and
    ``community_id`` to core columns, the rest to fields). ``ValueError`` when ``ts`` is there
    but is not a time."""
    rest = {k: v for k, v in record.items() if v is not None and v != "" and v != []}
    ts = rest.pop("ts", None)
    when = _when(ts)
    if ts is not None and when is None:
        raise ValueError(f"invalid time {ts!r}")
    row: dict[str, Any] = {"datetime": when, "timestamp_desc": "Event Recorded", "source": source_for(log)}
    r = _Record(row, rest)
    for key, column in _COMMON.items():
        r.take(key, column)
    message = MAPPINGS.get(log, _generic)(r, log)
    row["message"] = row_message(message or log)
    return row, {k: t for k, v in rest.items() if (t := text(v)) is not None}


# -- one mapping per log: set the log's columns, return the message -----------------------------


def _conn(r: _Record, log: str) -> str:
    """conn.log: ``tcp 10.0.0.5:49152 -> 203.0.113.9:443 ssl SF 1.2 s 3.4 kB/12 kB``."""
    r.row.update(timestamp_desc="Connection Start", event_action="connection")
    r.row["network_protocol"] = r.text("service")
    sent, received = r.get("orig_bytes"), r.get("resp_bytes")
    volume = f"{_size(sent)}/{_size(received)}" if sent is not None or received is not None else ""
    duration = _float(r.get("duration"))
    parts = [r.text("proto"), r.flow(), r.text("service"), r.text("conn_state"), _duration(duration), volume]
    return _join(parts)


def _dns(r: _Record, log: str) -> str:
    """dns.log: ``dns A micros0ft-cdn.example.net -> 203.0.113.9 (NOERROR)``."""
    r.row.update(event_action="dns-query", network_protocol="dns")
    query = r.text("query")
    r.take("query", "dns_question_name")
    answers = r.get("answers")
    answers = ", ".join(answers) if isinstance(answers, (list, tuple)) else text(answers)
    rcode = r.text("rcode_name") or r.text("rcode")
    return _join(
        ["dns", r.text("qtype_name") or r.text("qtype"), query or "(no query)", answers and f"-> {answers}",
         f"({rcode})" if rcode else "(no response)"]
    )  # fmt: skip


def _http(r: _Record, log: str) -> str:
    """http.log: ``GET http://host/uri -> 200 application/x-dosexec 12,345 B``."""
    r.row.update(event_action="http-request", network_protocol="http")
    url = _url(r)
    r.row["url_full"] = url
    status = r.text("status_code")
    r.take("status_code", "event_code")
    mime = r.text("resp_mime_types")
    length = _int(r.get("response_body_len"))
    return _join(
        [r.text("method") or "-", url or r.text("uri") or "-", status and f"-> {status}", mime,
         f"{length:,} B" if length else None]
    )  # fmt: skip


def _url(r: _Record) -> str | None:
    uri, host = r.text("uri"), r.text("host")
    if uri and "://" in uri[:12]:
        return uri  # a proxy request names the whole URL
    if uri is not None and not uri.startswith("/"):
        return None  # CONNECT host:port, OPTIONS *
    if not host:
        ip, port = r.row.get("destination_ip"), r.row.get("destination_port")
        if not ip:
            return None
        host = _endpoint(ip, None if port == 80 else port)
    return f"http://{host}{uri or ''}"


def _ssl(r: _Record, log: str) -> str:
    """ssl.log: ``tls TLSv12 example.com -> 203.0.113.9:443 TLS_AES_128_GCM_SHA256 established``."""
    r.row.update(event_action="tls-handshake", network_protocol="tls")
    name = r.text("server_name")
    r.take("server_name", "tls_server_name")
    established = _flag(r.get("established"))
    state = {True: "established", False: "not established", None: None}[established]
    validation = r.text("validation_status")
    return _join(
        ["tls", r.text("version"), name or "(no SNI)", f"-> {r.dst()}" if r.dst() else None, r.text("cipher"),
         state, validation and f"({validation})"]
    )  # fmt: skip


def _x509(r: _Record, log: str) -> str:
    """x509.log: ``x509 CN=example.com issued by CN=Some CA valid 2020-01-01 to 2021-01-01``
    (``self-signed`` when subject and issuer are the same)."""
    r.row["event_action"] = "x509-certificate"
    subject, issuer = r.text("certificate.subject"), r.text("certificate.issuer")
    start, end = _date(r.get("certificate.not_valid_before")), _date(r.get("certificate.not_valid_after"))
    signer = "self-signed" if issuer and issuer == subject else issuer and f"issued by {issuer}"
    return _join(["x509", subject, signer, start and end and f"valid {start} to {end}"])


def _files(r: _Record, log: str) -> str:
    """files.log: ``file invoice.exe application/x-dosexec 12,345 B over HTTP 203.0.113.9 ->
    10.0.0.5 sha256 ...``. Without ``id.*`` (before Zeek 7) the single sending and receiving
    host (``tx_hosts``/``rx_hosts``) become source and destination."""
    r.row["event_action"] = "file-transferred"
    name = r.text("filename")
    r.take("filename", "file_path")
    r.take("sha256", "file_hash_sha256")
    tx, rx = _single(r.get("tx_hosts")), _single(r.get("rx_hosts"))
    if "source_ip" not in r.row and "destination_ip" not in r.row:
        r.row["source_ip"], r.row["destination_ip"] = tx, rx
    size = _int(r.get("total_bytes"))
    size = size if size is not None else _int(r.get("seen_bytes"))
    hashes = (("sha256", r.row.get("file_hash_sha256")), ("sha1", r.text("sha1")), ("md5", r.text("md5")))
    hashed = next((f"{kind} {value}" for kind, value in hashes if value), None)
    return _join(
        ["file", name or r.text("fuid"), r.text("mime_type"), f"{size:,} B" if size is not None else None,
         r.get("source") and f"over {r.text('source')}", r.flow() or None, hashed]
    )  # fmt: skip


def _ftp(r: _Record, log: str) -> str:
    """ftp.log: ``ftp RETR robots.txt -> 226 Transfer complete. (anonymous)``; the user becomes
    ``user_name``, the file named by a transfer ``file_path``."""
    r.row.update(event_action="ftp-command", network_protocol="ftp")
    command, arg = r.text("command"), r.text("arg")
    r.row["user_name"] = r.text("user")
    if command in ("RETR", "STOR", "STOU", "APPE", "DELE") and arg:
        r.row["file_path"] = arg
    code, reply = r.text("reply_code"), r.text("reply_msg")
    return _join(
        ["ftp", command, arg if command != "PASS" else None, code and f"-> {code}", reply,
         r.get("user") and f"({r.text('user')})"]
    )  # fmt: skip


def _ssh(r: _Record, log: str) -> str:
    """ssh.log: ``ssh SSH-2.0-OpenSSH_8.2 -> SSH-2.0-OpenSSH_7.4 10.0.0.5:50000 -> 203.0.113.9:22
    auth failed (3 attempts)``."""
    r.row.update(event_action="ssh-session", network_protocol="ssh")
    success = _flag(r.get("auth_success"))
    auth = {True: "auth success", False: "auth failed", None: None}[success]
    attempts = _int(r.get("auth_attempts"))
    return _join(
        ["ssh", r.text("client"), r.get("server") and f"-> {r.text('server')}", r.flow(), auth,
         f"({attempts} attempts)" if attempts else None]
    )  # fmt: skip


def _kerberos(r: _Record, log: str) -> str:
    """kerberos.log: ``kerberos AS alice/EXAMPLE.COM -> krbtgt/EXAMPLE.COM failed
    KDC_ERR_PREAUTH_REQUIRED``; the client principal ``name/REALM`` gives user and domain."""
    r.row.update(event_action="kerberos-request", network_protocol="kerberos")
    client = r.text("client")
    if client:
        name, _, realm = client.rpartition("/")
        r.row["user_name"], r.row["user_domain"] = (name, realm) if name else (client, None)
    success = {True: "ok", False: "failed", None: None}[_flag(r.get("success"))]
    if not client and not r.get("service"):
        return _join(["kerberos", r.text("request_type"), r.flow(), success, r.text("error_msg")])
    return _join(
        ["kerberos", r.text("request_type"), client, r.get("service") and f"-> {r.text('service')}", success,
         r.text("error_msg")]
    )  # fmt: skip


def _smb_files(r: _Record, log: str) -> str:
    """smb_files.log: ``smb FILE_OPEN \\\\server\\share\\dir\\file.txt (22 B)``; the share path and
    the name in it make ``file_path``."""
    action = (r.text("action") or "SMB::FILE_UNKNOWN").removeprefix("SMB::")
    r.row.update(event_action="smb-" + action.lower().replace("_", "-"), network_protocol="smb")
    share, name = r.text("path"), r.text("name")
    path = f"{share.rstrip(chr(92))}\\{name.lstrip(chr(92))}" if share and name else share or name
    r.row["file_path"] = path
    size = _int(r.get("size"))
    return _join(["smb", action, path, f"({size:,} B)" if size is not None else None])


def _smb_mapping(r: _Record, log: str) -> str:
    """smb_mapping.log: ``smb map \\\\server\\IPC$ (PIPE)``."""
    r.row.update(event_action="smb-tree-connect", network_protocol="smb")
    kind = r.text("share_type")
    return _join(["smb map", r.text("path"), kind and f"({kind})", r.text("native_file_system")])


def _dce_rpc(r: _Record, log: str) -> str:
    """dce_rpc.log: ``dce_rpc drsuapi::DRSCrackNames 10.0.0.5:60621 -> 10.0.0.4:49667``."""
    r.row.update(event_action="dce-rpc-call", network_protocol="dce_rpc")
    call = "::".join(p for p in (r.text("endpoint"), r.text("operation")) if p)
    pipe = r.text("named_pipe")
    return _join(["dce_rpc", call, r.flow(), pipe and f"(pipe {pipe})"])


def _dhcp(r: _Record, log: str) -> str:
    """dhcp.log: ``dhcp DISCOVER,OFFER,REQUEST,ACK aa:bb:.. laptop1 -> 10.0.0.5 lease 86400 s``;
    the client and server addresses are source and destination."""
    assigned = r.text("assigned_addr") or r.text("assigned_ip")
    r.row.update(event_action="dhcp-lease" if assigned else "dhcp-request", network_protocol="dhcp")
    r.take("client_addr", "source_ip")
    r.take("server_addr", "destination_ip")
    lease = _float(r.get("lease_time"))
    return _join(
        ["dhcp", r.text("msg_types"), r.text("mac"), r.text("host_name"), assigned and f"-> {assigned}",
         lease is not None and f"lease {lease:g} s"]
    )  # fmt: skip


def _ntlm(r: _Record, log: str) -> str:
    """ntlm.log: ``ntlm EXAMPLE\\alice from WS1 -> FILESRV success``."""
    r.row.update(event_action="ntlm-auth", network_protocol="ntlm")
    user, domain = r.text("username"), r.text("domainname")
    r.take("username", "user_name")
    r.take("domainname", "user_domain")
    account = f"{domain}\\{user}" if domain and user else user or domain
    success = {True: "success", False: "failed", None: None}[_flag(r.get("success"))]
    server = r.text("server_nb_computer_name") or r.text("server_dns_computer_name") or r.dst()
    return _join(
        [
            "ntlm",
            account,
            r.get("hostname") and f"from {r.text('hostname')}",
            server and f"-> {server}",
            success,
        ]
    )


def _notice(r: _Record, log: str) -> str:
    """notice.log: ``notice SSL::Invalid_Server_Cert: SSL certificate validation failed ...``;
    without ``id.*``, ``src``/``dst``/``p`` are the endpoints."""
    r.row["event_action"] = "notice"
    if "source_ip" not in r.row:
        r.take("src", "source_ip")
    if "destination_ip" not in r.row:
        r.take("dst", "destination_ip")
        r.take("p", "destination_port")
    note, msg, sub = r.text("note"), r.text("msg"), r.text("sub")
    return _join(["notice", f"{note}:" if note and msg else note, msg, sub and f"({sub})"])


def _weird(r: _Record, log: str) -> str:
    """weird.log: ``weird truncated_IP`` (plus ``addl`` and the flow when known)."""
    r.row["event_action"] = "weird"
    return _join(["weird", r.text("name"), r.text("addl"), r.flow()])


def _pe(r: _Record, log: str) -> str:
    """pe.log: ``pe AMD64 exe WINDOWS_CUI compiled 2018-09-04 sections UPX0,UPX1,.rsrc``."""
    r.row["event_action"] = "pe-analyzed"
    kind = {True: "exe", False: "not exe", None: None}[_flag(r.get("is_exe"))]
    compiled = _date(r.get("compile_ts"))
    sections = r.text("section_names")
    return _join(
        ["pe", r.text("machine"), kind, r.text("subsystem"), compiled and f"compiled {compiled}",
         sections and f"sections {sections}"]
    )  # fmt: skip


def _dpd(r: _Record, log: str) -> str:
    """dpd.log: ``dpd SMB 10.0.0.5:60803 -> 10.0.0.6:445: Binpac exception ...``."""
    r.row["event_action"] = "protocol-violation"
    analyzer = r.text("analyzer")
    r.row["network_protocol"] = analyzer.lower() if analyzer else None
    flow = r.flow()
    return _join(["dpd", analyzer, f"{flow}:" if flow else None, r.text("failure_reason")])


def _generic(r: _Record, log: str) -> str:
    """Any other log: ``<log> orig -> resp key=value ...`` (the first few fields)."""
    r.row["event_action"] = log.replace("_", "-")
    shown = [f"{k}={text(v)}" for k, v in r.rest.items() if k not in ("uid", "fuid")][:8]
    return _join([log, r.flow(), *shown])


#: Zeek log path -> its mapping; any other path gets ``_generic``.
MAPPINGS: dict[str, Callable[[_Record, str], str]] = {
    "conn": _conn,
    "dns": _dns,
    "http": _http,
    "ssl": _ssl,
    "x509": _x509,
    "files": _files,
    "ssh": _ssh,
    "ftp": _ftp,
    "kerberos": _kerberos,
    "smb_files": _smb_files,
    "smb_mapping": _smb_mapping,
    "dce_rpc": _dce_rpc,
    "dhcp": _dhcp,
    "ntlm": _ntlm,
    "notice": _notice,
    "weird": _weird,
    "pe": _pe,
    "dpd": _dpd,
}


# -- small helpers ---------------------------------------------------------------------------------


def _when(ts: Any) -> datetime | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return ts.astimezone(UTC) if ts.tzinfo else None
    if isinstance(ts, str) and ("T" in ts or "-" in ts.lstrip("-")):
        return parse_iso(ts)  # JSON written with Zeek's ISO 8601 timestamps
    return epoch_to_utc(ts)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool | None:
    """Zeek bool as given: a bool, or TSV's ``T``/``F``, or JSON-ish text."""
    if isinstance(value, bool) or value is None:
        return value
    return {"t": True, "true": True, "f": False, "false": False}.get(str(value).lower())


def _single(value: Any) -> str | None:
    """The one element of a Zeek set (else None: several hosts name no single endpoint)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return text(next(iter(value))) if len(value) == 1 else None
    return text(value)


def _endpoint(ip: Any, port: Any) -> str:
    if not ip:
        return ""
    host = f"[{ip}]" if ":" in str(ip) else str(ip)
    return f"{host}:{port}" if port is not None else host


def _size(value: Any) -> str:
    """Bytes for a reader: ``39 B``, ``4.1 kB``, ``12 kB``, ``1.5 MB`` (powers of 1000)."""
    n = _int(value)
    if n is None:
        return "-"
    if n < 1000:
        return f"{n} B"
    scaled = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        scaled /= 1000
        if scaled < 1000 or unit == "TB":
            return f"{scaled:.1f} {unit}" if scaled < 10 else f"{scaled:.0f} {unit}"
    return ""  # unreachable


def _duration(seconds: float | None) -> str | None:
    """``1.6 ms``, ``250 ms``, ``1.2 s``, ``10.7 s``, ``3725 s``."""
    if seconds is None:
        return None
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def _date(value: Any) -> str | None:
    when = epoch_to_utc(text(value) or "")
    return when.strftime("%Y-%m-%d") if when else None


def _join(parts: list[Any]) -> str:
    return " ".join(str(p) for p in parts if p)
