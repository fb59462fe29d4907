"""Where a Sigma rule's events are in the timeline, and what its field names mean there.

A Sigma rule names a *log source* (``product``/``category``/``service``) and fields of that log
(``Image``, ``CommandLine``, ``cs-method``, ``query``...). ``target(logsource)`` turns the log
source into a ``Target``: a SQL condition over ``timeline_rows`` selecting the rows of that log,
and a resolver from Sigma field names to SQL expressions over those rows. Rules whose log source
has no target are *not applicable*: the workbench never ingests such logs (Azure, Okta, macOS...).

Windows: services name event log channels (the table pySigma's Windows pipelines use, plus
the ones SigmaHQ's rules name that it lacks); categories name Sysmon event ids (the Sigma
taxonomy appendix), ``process_creation`` also Security 4688 with its fields renamed to Sysmon's
(``NewProcessName`` -> ``Image``...), ``ps_*`` the PowerShell channels. A field is the
EventData/UserData value of that name in ``fields`` (Defender's names have spaces, ``Threat Name``:
its rules' ``ThreatName`` reads either); ``EventID``, ``Channel``, ``Provider_Name`` and ``Computer``
are core columns. Classic PowerShell's unnamed ``<Data>`` values are one
list-valued field ``Data`` (a value matches when any element does).

Linux: ``auditd`` is ``linux_audit`` rows (one row per audit event: a field is every record's
value of that name, ``type`` the record types); the syslog services are ``syslog`` rows by file
or program; ``process_creation`` is audit ``EXECVE`` events (the only process creation record the
workbench reads on Linux). Web servers are ``web_access`` rows (W3C names); proxies and the
``zeek`` services are the ``network_*`` rows of captures and Zeek logs (Zeek names, which the
network rows keep, except those moved into core columns); AWS CloudTrail ``aws_cloudtrail``
(``requestParameters.x`` read from its JSON text), GCP audit logs ``gcp_logging``.
Any field a table does not name is read from ``fields`` under the Sigma name unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sigma.pipelines.common import windows_logsource_mapping
from sigma.rule import SigmaLogSource

from forensics.detect.sqltext import sql_string

__all__ = ["FieldRef", "Target", "map_value", "sql_string", "target"]


def map_value(name: str) -> str:
    """The value of ``fields[name]`` in every DuckDB version (``fields['x']`` changed type in 1.1)."""
    return f"map_extract(fields, {sql_string(name)})[1]"


@dataclass(frozen=True)
class FieldRef:
    """A Sigma field on a target's rows: a SQL expression over ``timeline_rows``, a string, or a
    list of strings (``is_list``: the field matches when any element matches)."""

    sql: str
    is_list: bool = False


@dataclass(frozen=True)
class Target:
    """The rows of one log source and the meaning of field names on them."""

    key: str  # stable name, one evaluation group per key ("windows:process_creation"...)
    where: str  # SQL condition over timeline_rows
    fields: dict[str, FieldRef] = field(default_factory=dict, compare=False)
    fallback: Callable[[str], FieldRef] | None = field(default=None, compare=False)
    #: The text keyword (field-less) detections search, case-insensitively.
    keywords: str = "concat_ws(chr(10), message, array_to_string(map_values(fields), chr(10)))"

    def field(self, name: str) -> FieldRef:
        ref = self.fields.get(name)
        if ref is None:
            ref = (self.fallback or _plain)(name)
        return ref


def _plain(name: str) -> FieldRef:
    return FieldRef(map_value(name))


def _core(column: str, cast: bool = False) -> FieldRef:
    return FieldRef(f"CAST({column} AS VARCHAR)" if cast else column)


# -- Windows ---------------------------------------------------------------------------------

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SECURITY = "Security"
_PS = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")
_PS_CLASSIC = "Windows PowerShell"

#: service -> channels: pySigma's table plus the services SigmaHQ's rules name that it lacks.
WINDOWS_SERVICES: dict[str, tuple[str, ...]] = {
    name: (channels,) if isinstance(channels, str) else tuple(channels)
    for name, channels in windows_logsource_mapping.items()
}
WINDOWS_SERVICES.update(
    {
        "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
        "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
        "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
        "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
        "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
        "kernel-shimengine": ("Microsoft-Windows-Kernel-ShimEngine/Operational",),
        "sysmon": (SYSMON,),
        "security": (SECURITY,),
    }
)

#: category -> (channel, event ids) alternatives: the Sigma taxonomy (Sysmon ids, PowerShell).
WINDOWS_CATEGORIES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "process_creation": (((SYSMON,), ("1",)), ((SECURITY,), ("4688",))),
    "file_change": (((SYSMON,), ("2",)),),
    "network_connection": (((SYSMON,), ("3",)),),
    "sysmon_status": (((SYSMON,), ("4", "16")),),
    "process_termination": (((SYSMON,), ("5",)),),
    "driver_load": (((SYSMON,), ("6",)),),
    "image_load": (((SYSMON,), ("7",)),),
    "create_remote_thread": (((SYSMON,), ("8",)),),
    "raw_access_thread": (((SYSMON,), ("9",)),),
    "process_access": (((SYSMON,), ("10",)),),
    "file_event": (((SYSMON,), ("11",)),),
    "registry_add": (((SYSMON,), ("12",)),),
    "registry_delete": (((SYSMON,), ("12",)),),
    "registry_set": (((SYSMON,), ("13",)),),
    "registry_rename": (((SYSMON,), ("14",)),),
    "registry_event": (((SYSMON,), ("12", "13", "14")),),
    "create_stream_hash": (((SYSMON,), ("15",)),),
    "pipe_created": (((SYSMON,), ("17", "18")),),
    "wmi_event": (((SYSMON,), ("19", "20", "21")),),
    "dns_query": (((SYSMON,), ("22",)),),
    "file_delete": (((SYSMON,), ("23", "26")),),
    "clipboard_capture": (((SYSMON,), ("24",)),),
    "process_tampering": (((SYSMON,), ("25",)),),
    "file_block_executable": (((SYSMON,), ("27",)),),
    "file_block_shredding": (((SYSMON,), ("28",)),),
    "file_executable_detected": (((SYSMON,), ("29",)),),
    "sysmon_error": (((SYSMON,), ("255",)),),
    "ps_module": ((_PS, ("4103",)),),
    "ps_script": ((_PS, ("4104",)),),
    "ps_classic_start": (((_PS_CLASSIC,), ("400",)),),
    "ps_classic_provider_start": (((_PS_CLASSIC,), ("600",)),),
    "ps_classic_script": (((_PS_CLASSIC,), ("800",)),),
}
#: Security 4688 field -> the Sysmon 1 name process_creation rules use.
SECURITY_4688 = {
    "Image": "NewProcessName",
    "ParentImage": "ParentProcessName",
    "ProcessId": "NewProcessId",
    "ParentProcessId": "ProcessId",
    "LogonId": "SubjectLogonId",
    "User": "SubjectUserName",
}
_WINDOWS_CORE = {
    "EventID": _core("event_code"),
    "Channel": _core("event_channel"),
    "Provider_Name": _core("event_provider"),
    "ProviderName": _core("event_provider"),
    "Computer": _core("host_name"),
}
_WINDOWS_SOURCES = "source IN ('windows_evtx', 'windows_event_json')"
#: Keywords on Windows events search the event's data values, as Hayabusa and Chainsaw do, not
#: the message Tracehound renders from them (which repeats the values and would add its own words).
_WINDOWS_KEYWORDS = "array_to_string(map_values(fields), chr(10))"
#: Unnamed <Data> elements: ``Data`` or ``Data[1]``, ``Data[2]``... in fields.
_DATA_LIST = FieldRef(
    "list_transform(list_filter(map_entries(fields), lambda e: e.key = 'Data' OR e.key LIKE 'Data[%'),"
    " lambda e: e.value)",
    is_list=True,
)


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _spaced(name: str) -> FieldRef:
    """Defender writes ``<Data Name="Threat Name">``; Sigma rules say ``ThreatName``."""
    spaced = _CAMEL.sub(" ", name)
    if spaced == name:
        return _plain(name)
    return FieldRef(f"coalesce({map_value(name)}, {map_value(spaced)})")


def _in(column: str, values: tuple[str, ...]) -> str:
    if len(values) == 1:
        return f"{column} = {sql_string(values[0])}"
    return f"{column} IN ({', '.join(map(sql_string, values))})"


def _windows(logsource: SigmaLogSource) -> Target | None:
    category, service = logsource.category, logsource.service
    fields = dict(_WINDOWS_CORE)
    fields["Data"] = _DATA_LIST
    if category:
        alternatives = WINDOWS_CATEGORIES.get(category)
        if alternatives is None:
            return None
        parts = [f"({_in('event_channel', ch)} AND {_in('event_code', codes)})" for ch, codes in alternatives]
        if service:  # a category narrowed to one service (rare): both must hold
            channels = WINDOWS_SERVICES.get(service)
            if channels is None:
                return None
            parts = [f"({' OR '.join(parts)}) AND {_in('event_channel', channels)}"]
        where = f"{_WINDOWS_SOURCES} AND ({' OR '.join(parts)})"
        if category == "process_creation":
            security = "(event_channel = 'Security' AND event_code = '4688')"
            for name, renamed in SECURITY_4688.items():
                fields[name] = FieldRef(
                    f"CASE WHEN {security} THEN {map_value(renamed)} ELSE {map_value(name)} END"
                )
        return Target(f"windows:{category}:{service or ''}", where, fields, keywords=_WINDOWS_KEYWORDS)
    if service:
        channels = WINDOWS_SERVICES.get(service)
        if channels is None:
            return None
        where = f"{_WINDOWS_SOURCES} AND {_in('event_channel', channels)}"
        return Target(
            f"windows::{service}",
            where,
            fields,
            fallback=_spaced if service == "windefend" else None,
            keywords=_WINDOWS_KEYWORDS,
        )
    return Target("windows::", _WINDOWS_SOURCES, fields, keywords=_WINDOWS_KEYWORDS)


# -- Linux -----------------------------------------------------------------------------------


#: Audit field -> every value of that name in the event's records (``execve.a0``, ``path.1.name``).
def _audit_field(name: str) -> FieldRef:
    key = sql_string(name)
    return FieldRef(
        "list_transform(list_filter(map_entries(fields), lambda e: e.key = "
        f"{key} OR e.key LIKE '%.' || {key}), lambda e: e.value)",
        is_list=True,
    )


_AUDIT_FIELDS = {"type": FieldRef("string_split(map_extract(fields, 'types')[1], ',')", is_list=True)}
_LINUX_PROCESS = {
    "Image": _core("process_executable"),
    "CommandLine": _core("process_command_line"),
    "User": _core("user_name"),
    "ProcessId": _core("process_pid", cast=True),
    "ParentProcessId": _core("process_parent_pid", cast=True),
    "CurrentDirectory": FieldRef(map_value("cwd.cwd")),
    "LogonId": FieldRef(map_value("syscall.ses")),
}
_SYSLOG_FIELDS = {
    "Image": _core("process_executable"),
    "CommandLine": _core("process_command_line"),
    "User": _core("user_name"),
    "pam_user": _core("user_name"),
    "pam_rhost": _core("source_ip"),
}
#: Linux services on syslog rows: the program names (lower case) or the file they log to.
_SYSLOG_PROGRAMS = {
    "sshd": ("sshd",),
    "sudo": ("sudo",),
    "cron": ("cron", "crond", "anacron"),
    "vsftpd": ("vsftpd",),
    "clamav": ("clamd", "freshclam", "clamav"),
    "guacamole": ("guacd", "guacamole"),
    "su": ("su",),
}


def _linux(logsource: SigmaLogSource) -> Target | None:
    category, service = logsource.category, logsource.service
    if category == "process_creation" and not service:
        where = "source = 'linux_audit' AND list_contains(string_split(map_extract(fields, 'types')[1], ','), 'EXECVE')"
        return Target("linux:process_creation:", where, dict(_LINUX_PROCESS), fallback=_audit_field)
    if category:
        return None  # file_event, network_connection...: Sysmon for Linux, not read
    if service == "auditd":
        return Target("linux::auditd", "source = 'linux_audit'", dict(_AUDIT_FIELDS), fallback=_audit_field)
    if service == "auth":
        where = "source = 'syslog' AND regexp_matches(source_file, '(auth\\.log|secure)[^/]*$')"
        return Target("linux::auth", where, dict(_SYSLOG_FIELDS))
    if service == "syslog":
        return Target("linux::syslog", "source = 'syslog'", dict(_SYSLOG_FIELDS))
    if service in _SYSLOG_PROGRAMS:
        where = f"source = 'syslog' AND {_in('lower(process_executable)', _SYSLOG_PROGRAMS[service])}"
        if service == "vsftpd":
            where = f"(source = 'vsftpd' OR ({where}))"
        return Target(f"linux::{service}", where, dict(_SYSLOG_FIELDS))
    if not service:
        where = "source IN ('syslog', 'linux_audit', 'vsftpd')"
        return Target("linux::", where, dict(_SYSLOG_FIELDS))
    return None


# -- web, network, cloud ---------------------------------------------------------------------

_URL_PATH = "regexp_extract(url_full, '^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*)?([^?#]*)', 1)"
_URL_QUERY = "nullif(regexp_extract(url_full, '\\?([^#]*)', 1), '')"
_WEB_FIELDS = {
    "c-ip": _core("source_ip"),
    "s-ip": _core("destination_ip"),
    "s-port": _core("destination_port", cast=True),
    "cs-username": _core("user_name"),
    "cs-method": FieldRef(map_value("method")),
    "sc-status": FieldRef(map_value("status")),
    "cs-uri-stem": FieldRef(_URL_PATH),
    # Sigma's webserver taxonomy: "the query, sometimes the entire URI"; rules write paths in it.
    "cs-uri-query": _core("url_full"),
    "cs-uri": _core("url_full"),
    "c-uri": _core("url_full"),
    "cs-user-agent": FieldRef(map_value("user_agent")),
    "c-useragent": FieldRef(map_value("user_agent")),
    "cs-referer": FieldRef(map_value("referrer")),
    "cs-referrer": FieldRef(map_value("referrer")),
    "cs-host": FieldRef(f"coalesce({map_value('vhost')}, {map_value('cs-host')})"),
    "cs-version": FieldRef(map_value("protocol")),
    "sc-bytes": FieldRef(map_value("bytes")),
}
_PROXY_FIELDS = {
    "c-uri": _core("url_full"),
    "cs-uri": _core("url_full"),
    "c-uri-query": FieldRef(_URL_QUERY),
    "c-uri-stem": FieldRef(_URL_PATH),
    "c-uri-extension": FieldRef(f"nullif(regexp_extract({_URL_PATH}, '\\.([^./]*)$', 1), '')"),
    "c-useragent": FieldRef(map_value("user_agent")),
    "cs-host": FieldRef(map_value("host")),
    "r-dns": FieldRef(map_value("host")),
    "cs-method": FieldRef(map_value("method")),
    "sc-status": _core("event_code"),
    "cs-referrer": FieldRef(map_value("referrer")),
    "cs-cookie": FieldRef(map_value("cookie")),
    "cs-bytes": FieldRef(map_value("request_body_len")),
    "sc-bytes": FieldRef(map_value("response_body_len")),
    "src_ip": _core("source_ip"),
    "dst_ip": _core("destination_ip"),
    "dst_port": _core("destination_port", cast=True),
}
#: Zeek fields the network rows moved into core columns.
_ZEEK_FIELDS = {
    "id.orig_h": _core("source_ip"),
    "id.orig_p": _core("source_port", cast=True),
    "id.resp_h": _core("destination_ip"),
    "id.resp_p": _core("destination_port", cast=True),
    "community_id": _core("community_id"),
    "query": _core("dns_question_name"),
    "status_code": _core("event_code"),
    "server_name": _core("tls_server_name"),
    "filename": _core("file_path"),
    "sha256": _core("file_hash_sha256"),
    "client_addr": _core("source_ip"),
    "server_addr": _core("destination_ip"),
    "username": _core("user_name"),
    "domainname": _core("user_domain"),
}
_DNS_FIELDS = {
    "query": _core("dns_question_name"),
    "answer": FieldRef(map_value("answers")),
    "record_type": FieldRef(map_value("qtype_name")),
    "src_ip": _core("source_ip"),
    "dst_ip": _core("destination_ip"),
}
_FIREWALL_FIELDS = {
    "src_ip": _core("source_ip"),
    "dst_ip": _core("destination_ip"),
    "src_port": _core("source_port", cast=True),
    "dst_port": _core("destination_port", cast=True),
    "protocol": _core("network_protocol"),
}
_ZEEK_SOURCES = {"ssl": "network_tls"}
_CLOUDTRAIL_OPAQUE = (
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
)


def _cloudtrail_field(name: str) -> FieldRef:
    head, _, rest = name.partition(".")
    if head in _CLOUDTRAIL_OPAQUE and rest:
        return FieldRef(f"json_extract_string({map_value(head)}, {sql_string('$.' + rest)})")
    return FieldRef(map_value(name))


_CLOUDTRAIL_FIELDS = {
    "eventSource": _core("event_provider"),
    "eventName": _core("event_action"),
    "sourceIPAddress": FieldRef(f"coalesce(source_ip, {map_value('sourceIPAddress')})"),
}
_GCP_FIELDS = {
    "gcp.audit.method_name": _core("event_action"),
    "gcp.audit.service_name": _core("event_provider"),
    "data.protoPayload.methodName": _core("event_action"),
    "data.protoPayload.serviceName": _core("event_provider"),
}


def _gcp_field(name: str) -> FieldRef:
    for prefix in ("data.", "gcp.audit."):
        if name.startswith(prefix):
            return FieldRef(map_value(name[len(prefix) :]))
    return FieldRef(map_value(name))


def target(logsource: SigmaLogSource) -> Target | None:
    """The rows and field meanings of a Sigma log source, or None (not applicable)."""
    product = (logsource.product or "").lower()
    category = (logsource.category or "").lower()
    service = (logsource.service or "").lower()
    if product == "windows":
        return _windows(logsource)
    if product == "linux":
        return _linux(logsource)
    if category == "webserver" or (not product and service in ("apache", "nginx", "iis")):
        return Target("web:webserver", "source = 'web_access'", dict(_WEB_FIELDS))
    if category == "proxy" and not product:
        return Target("network:proxy", "source = 'network_http'", dict(_PROXY_FIELDS))
    if category == "dns" and not product:
        return Target("network:dns", "source = 'network_dns'", dict(_DNS_FIELDS))
    if category == "firewall" and not product:
        return Target(
            "network:firewall", "source IN ('network_conn', 'windows_firewall')", dict(_FIREWALL_FIELDS)
        )
    if product == "zeek" and service and not category:
        source = _ZEEK_SOURCES.get(service, f"network_{service}")
        return Target(f"zeek:{service}", f"source = {sql_string(source)}", dict(_ZEEK_FIELDS))
    if product == "aws" and service == "cloudtrail":
        return Target(
            "aws:cloudtrail",
            "source = 'aws_cloudtrail'",
            dict(_CLOUDTRAIL_FIELDS),
            fallback=_cloudtrail_field,
        )
    if product == "gcp" and service == "gcp.audit":
        return Target("gcp:audit", "source = 'gcp_logging'", dict(_GCP_FIELDS), fallback=_gcp_field)
    return None
