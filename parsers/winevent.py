"""Windows events -> timeline rows: the mapping shared by every Windows event source.

EVTX (any backend) and the JSON exports (evtx_dump, winlogbeat/NXLog/OTRF) first reduce an
event to one canonical flat shape, then ``to_row`` maps it into the core columns. One mapping
means a Sysmon 1 read from an .evtx and the same event read from its JSON export give the
same row, which the tests check on the SigmaHQ regression data.

Canonical shape: ``system`` holds the ``<System>`` values under dissect-style names
(``Provider_Name``, ``EventID``, ``TimeCreated_SystemTime``, ``Execution_ProcessID``,
``Security_UserID``, ...); ``data`` holds ``<EventData>``/``<UserData>`` leaves by name
(unnamed ``<Data>`` become ``Data[1]``, ``Data[2]``...). Values are strings or None.

References: Microsoft event schema (learn.microsoft.com/windows/win32/wes/eventschema-schema),
Sysmon event ids (learn.microsoft.com/sysinternals/downloads/sysmon), ECS field reference.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from parsers.base import row_message

__all__ = ["flatten_json_event", "flatten_xml_event", "put_field", "text", "to_row"]

#: <System> values that become core columns rather than fields.
_SYSTEM_CORE = frozenset({"Provider_Name", "EventID", "Channel", "Computer", "TimeCreated_SystemTime"})

_SYSMON = "Microsoft-Windows-Sysmon"
_SECURITY = "Microsoft-Windows-Security-Auditing"

_SYSMON_ACTIONS = {
    "1": "process-created", "2": "file-creation-time-changed", "3": "network-connection",
    "4": "sysmon-state-changed", "5": "process-terminated", "6": "driver-loaded",
    "7": "image-loaded", "8": "remote-thread-created", "9": "raw-access-read",
    "10": "process-accessed", "11": "file-created", "12": "registry-object-added-or-deleted",
    "13": "registry-value-set", "14": "registry-object-renamed", "15": "file-stream-created",
    "16": "sysmon-config-changed", "17": "pipe-created", "18": "pipe-connected",
    "19": "wmi-filter", "20": "wmi-consumer", "21": "wmi-binding", "22": "dns-query",
    "23": "file-deleted", "24": "clipboard-changed", "25": "process-tampering",
    "26": "file-delete-logged", "27": "file-block-executable", "28": "file-block-shredding",
    "29": "file-executable-detected", "255": "sysmon-error",
}  # fmt: skip
_SECURITY_ACTIONS = {
    "1102": "audit-log-cleared", "4624": "logged-in", "4625": "logon-failed",
    "4634": "logged-out", "4647": "user-initiated-logout", "4648": "logged-in-explicit",
    "4656": "object-handle-requested", "4657": "registry-value-modified",
    "4661": "object-handle-requested", "4662": "object-operation", "4663": "object-accessed",
    "4672": "special-privileges-assigned", "4688": "process-created", "4689": "process-terminated",
    "4697": "service-installed", "4698": "scheduled-task-created", "4699": "scheduled-task-deleted",
    "4700": "scheduled-task-enabled", "4701": "scheduled-task-disabled",
    "4702": "scheduled-task-updated", "4719": "audit-policy-changed", "4720": "user-account-created",
    "4722": "user-account-enabled", "4723": "password-change-attempted",
    "4724": "password-reset-attempted", "4725": "user-account-disabled",
    "4726": "user-account-deleted", "4728": "added-member-to-global-group",
    "4732": "added-member-to-local-group", "4738": "user-account-changed",
    "4740": "user-account-locked", "4756": "added-member-to-universal-group",
    "4768": "kerberos-tgt-requested", "4769": "kerberos-service-ticket-requested",
    "4771": "kerberos-preauth-failed", "4776": "credential-validated",
    "4798": "local-group-membership-enumerated", "4799": "security-group-membership-enumerated",
    "5140": "network-share-accessed", "5145": "network-share-object-checked",
    "5156": "network-connection-permitted", "5158": "network-bind-permitted",
}  # fmt: skip
_OTHER_ACTIONS = {
    ("System", "7045"): "service-installed", ("System", "7036"): "service-state-changed",
    ("System", "7040"): "service-start-type-changed", ("System", "104"): "log-cleared",
    ("Windows PowerShell", "400"): "engine-started", ("Windows PowerShell", "600"): "provider-started",
    ("Microsoft-Windows-PowerShell/Operational", "4103"): "module-logged",
    ("Microsoft-Windows-PowerShell/Operational", "4104"): "script-block-logged",
}  # fmt: skip

# Core column <- first present, non-empty EventData field, in this order.
_PICKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("process_executable", ("Image", "NewProcessName", "SourceImage", "Application", "ProcessName")),
    ("process_command_line", ("CommandLine",)),
    ("process_parent_executable", ("ParentImage", "ParentProcessName")),
    ("process_guid", ("ProcessGuid", "SourceProcessGuid", "SourceProcessGUID")),
    ("process_parent_guid", ("ParentProcessGuid",)),
    ("logon_id", ("TargetLogonId", "LogonId", "SubjectLogonId")),
    ("file_path", ("TargetFilename", "ImageLoaded", "ImagePath", "ObjectName", "Path", "TargetFileName")),
    ("source_ip", ("SourceIp", "IpAddress", "SourceAddress", "ClientAddress", "Ipaddress")),
    ("destination_ip", ("DestinationIp", "DestAddress")),
    ("dns_question_name", ("QueryName",)),
)
_INT_PICKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("process_pid", ("ProcessId", "NewProcessId", "SourceProcessId", "ProcessID")),
    ("process_parent_pid", ("ParentProcessId",)),
    ("source_port", ("SourcePort", "IpPort")),
    ("destination_port", ("DestinationPort", "DestPort")),
)
# Security 4688 names the creator "ProcessId": it is the parent, not the new process.
_OVERRIDES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    (_SECURITY, "4688"): {"process_pid": ("NewProcessId",), "process_parent_pid": ("ProcessId",)},
}
_EMPTY = frozenset({"", "-", "N/A", "NULL", "(null)"})
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}


def text(value: Any) -> str | None:
    """A field value as the string stored in ``fields``: ints as decimal, booleans as
    ``true``/``false`` (as Windows renders them), empty strings and None as None, braced
    GUIDs upper case without braces (as evtx_dump renders GUID-typed values)."""
    if type(value) is str:
        if len(value) == 38 and value[0] == "{":
            return _guid_text(value)
        return value or None
    if value is None:
        return None
    if isinstance(value, str):
        return text(str(value))
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _int(value: str | None) -> int | None:
    if not value or value in _EMPTY:
        return None
    try:
        return int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    except ValueError:
        return None


def _first(data: dict[str, str | None], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = data[name]
        if value and value not in _EMPTY:
            return value
    return None


class _Plan:
    """For one event shape (provider, channel, code, field names): which present fields feed
    each core column, in priority order. Events of one kind share a shape, so the priority
    lists are filtered once per shape instead of probed for every record."""

    __slots__ = ("action", "ints", "picks", "protocol", "sha256", "users")

    def __init__(self, provider: str | None, channel: str | None, code: str | None, keys: tuple) -> None:
        present = set(keys)
        self.action = _action(provider, channel, code)
        self.picks = tuple(
            (column, hits) for column, names in _PICKS if (hits := tuple(n for n in names if n in present))
        )
        override = _OVERRIDES.get((provider or "", code or ""), {})
        self.ints = tuple(
            (column, hits)
            for column, names in _INT_PICKS
            if (hits := tuple(n for n in override.get(column, names) if n in present))
        )
        self.users = tuple(
            (user, domain if domain in present else None, domain is None)
            for user, domain in _USERS
            if user in present
        )
        self.sha256 = (
            tuple(n for n in ("Hashes", "Hash") if n in present),
            tuple(n for n in ("sha256", "SHA256") if n in present),
        )
        self.protocol = "Protocol" in present


_PLANS: dict[tuple, _Plan] = {}
_USERS = (
    ("TargetUserName", "TargetDomainName"),
    ("User", None),
    ("SubjectUserName", "SubjectDomainName"),
    ("AccountName", "AccountDomain"),
    ("UserName", None),
)


def _plan(provider: str | None, channel: str | None, code: str | None, data: dict) -> _Plan:
    key = (provider, channel, code, *data)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 50_000:  # unbounded shapes (unusual input): start over rather than grow
            _PLANS.clear()
        plan = _PLANS[key] = _Plan(provider, channel, code, key[3:])
    return plan


def _user(plan: _Plan, data: dict[str, str | None]) -> tuple[str | None, str | None]:
    for user_key, domain_key, split in plan.users:
        user = data[user_key]
        if user and user not in _EMPTY:
            domain = data[domain_key] if domain_key else None
            if split and "\\" in user:
                domain, user = user.split("\\", 1)
            return user, (domain if domain and domain not in _EMPTY else None)
    return None, None


def _sha256(plan: _Plan, data: dict[str, str | None]) -> str | None:
    lists, singles = plan.sha256
    for name in lists:
        hashes = data[name]
        if hashes:
            for part in hashes.split(","):
                if part[:7].upper() == "SHA256=":
                    return part[7:].lower()
            break
    for name in singles:
        value = data[name]
        if value:
            return value.lower()
    return None


def _action(provider: str | None, channel: str | None, code: str | None) -> str | None:
    if provider == _SYSMON:
        return _SYSMON_ACTIONS.get(code or "")
    if provider == _SECURITY or channel == "Security":
        return _SECURITY_ACTIONS.get(code or "")
    return _OTHER_ACTIONS.get((channel or "", code or ""))


def to_row(
    system: dict[str, str | None], data: dict[str, str | None], *, rendered: str | None = None
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Map one canonical event to (core columns, fields). ``rendered`` is a message the
    source already carries (OTRF ``Message``); its first line heads the row's message."""
    provider = system.get("Provider_Name") or system.get("EventSourceName")
    code = system.get("EventID")
    channel = system.get("Channel")
    plan = _plan(provider, channel, code, data)
    row: dict[str, Any] = {
        "datetime": system.get("TimeCreated_SystemTime"),
        "timestamp_desc": "Event Recorded",
        "host_name": system.get("Computer"),
        "event_code": code,
        "event_provider": provider,
        "event_channel": channel,
        "event_action": plan.action,
    }
    for column, names in plan.picks:
        for name in names:
            value = data[name]
            if value and value not in _EMPTY:
                row[column] = value
                break
    for column, names in plan.ints:
        value = _int(_first(data, names))
        if value is not None:
            row[column] = value
    if plan.users:
        row["user_name"], row["user_domain"] = _user(plan, data)
    if plan.sha256 != ((), ()):
        row["file_hash_sha256"] = _sha256(plan, data)
    if plan.protocol:
        proto = data["Protocol"]
        if proto and ("source_ip" in row or "destination_ip" in row):
            row["network_protocol"] = _PROTOCOLS.get(proto, proto.lower())
    for port in ("source_port", "destination_port"):
        if port in row and not 0 <= row[port] <= 65535:
            del row[port]  # not a port: the raw value stays in the fields

    fields = dict(data)
    for key, value in system.items():
        if value is not None and key not in _SYSTEM_CORE:
            fields[key if key not in fields else f"System_{key}"] = value
    row["message"] = _message(provider, channel, code, plan.action, data, rendered)
    return row, fields


def _message(
    provider: str | None,
    channel: str | None,
    code: str | None,
    action: str | None,
    data: dict[str, str | None],
    rendered: str | None,
) -> str:
    head = f"{channel or provider or 'event'} {code or '?'}"
    if action:
        head += f" {action}"
    if rendered:
        first = rendered.strip().split("\n", 1)[0].strip()
        if first:
            head += f" - {first}"
    details = "; ".join([f"{k}={v}" for k, v in data.items() if v and v not in _EMPTY])
    return row_message(f"{head}: {details}" if details else head)


_CONTAINERS = (dict, list)
_ATTR_NAMES: dict[str, dict[str, str]] = {}  # System element -> attribute -> "Element_Attribute"


def flatten_json_event(event: dict[str, Any]) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """evtx_dump / Rust-bindings JSON (``{"Event": {"System": ..., "EventData": ...}}``)
    to the canonical (system, data) pair."""
    ev = event.get("Event", event)
    system: dict[str, str | None] = {}
    for key, value in (ev.get("System") or {}).items():
        if type(value) is dict:
            attrs = value.get("#attributes")
            if attrs:
                names = _ATTR_NAMES.get(key) or _ATTR_NAMES.setdefault(key, {})
                for attr, attr_value in attrs.items():
                    name = names.get(attr) or names.setdefault(attr, f"{key}_{attr}")
                    system[name] = text(attr_value)
            if "#text" in value:
                system[key] = text(value["#text"])
        else:
            system[key] = text(value)
    data: dict[str, str | None] = {}
    node = ev.get("EventData")
    if type(node) is dict and "#attributes" not in node and "#text" not in node and "" not in node:
        values = node.values()
        if not any(type(v) in _CONTAINERS for v in values):  # the usual flat <Data Name=...> list
            data = dict(zip(node, map(text, values), strict=True))
            node = None
    if node is not None:
        _flatten(node, "", data)
    if len(ev) > ("#attributes" in ev) + ("System" in ev) + ("EventData" in ev):
        for section in ("UserData", "ProcessingErrorData", "DebugData", "BinaryEventData"):
            node = ev.get(section)
            if node is not None:
                _flatten(node, "" if section == "UserData" else section, data)
    return system, data


def _flatten(node: Any, name: str, out: dict[str, str | None]) -> None:
    """Leaves of an EventData/UserData subtree into ``out`` by element name."""
    if isinstance(node, dict):
        attrs = node.get("#attributes") or {}
        if "#text" in node or (attrs.get("Name") and len(node) <= 2):
            # <Data Name="X">v</Data> rendered as a node, or unnamed text content.
            leaf = attrs.get("Name") or name or "Data"
            _flatten(node.get("#text"), leaf, out)
            return
        for key, value in node.items():
            if key == "#attributes":
                for attr, attr_value in value.items():
                    if not attr.startswith("xmlns") and not (attr == "Name" and name):
                        put_field(out, f"{name}_{attr}" if name else attr, text(attr_value))
            else:
                _flatten(value, key, out)
    elif isinstance(node, list):
        if all(not isinstance(v, (dict, list)) for v in node):
            for i, value in enumerate(node, 1):
                put_field(out, f"{name or 'Data'}[{i}]", text(value))
        else:
            for value in node:
                _flatten(value, name, out)
    else:
        put_field(out, name or "Data", text(node))


def put_field(out: dict[str, str | None], key: str, value: str | None) -> None:
    """Store ``value`` under ``key``; a repeated name gets ``[2]``, ``[3]``... (nothing overwritten)."""
    if key in out:
        i = 2
        while f"{key}[{i}]" in out:
            i += 1
        key = f"{key}[{i}]"
    out[key] = value


_PADDED_HEX = re.compile(r"0x0[0-9a-f]*\Z")


def flatten_xml_event(xml: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Windows event XML (python-evtx, WEF, wevtutil) to the canonical (system, data) pair."""
    from xml.etree import ElementTree

    if "\r" in xml:  # keep CR: an XML parser folds CRLF to LF, the Rust reader keeps it
        xml = xml.replace("\r", "&#13;")
    root = ElementTree.fromstring(xml)
    system: dict[str, str | None] = {}
    data: dict[str, str | None] = {}
    for section in root:
        tag = _local(section.tag)
        if tag == "System":
            for element in section:
                name = _local(element.tag)
                for attr, value in element.attrib.items():
                    system[f"{name}_{_local(attr)}"] = text(_xml_text(value))
                if element.text and element.text.strip():
                    system[name] = text(_xml_text(element.text))
        elif tag in ("EventData", "UserData"):
            _flatten_xml(section, "", data, top=True)
        elif tag != "RenderingInfo":
            _flatten_xml(section, tag, data, top=False)
    return system, data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _guid_text(value: str) -> str:
    """GUIDs and hex integers as evtx_dump renders them: GUIDs upper case without braces,
    HexInt32/64 without leading zeros (python-evtx pads them to 8/16 digits)."""
    if len(value) == 38 and value[0] == "{" and value[-1] == "}" and value.count("-") == 4:
        return value[1:-1].upper()
    if len(value) in (10, 18) and value[:2] == "0x" and _PADDED_HEX.match(value):
        return hex(int(value, 16))
    return value


def _flatten_xml(element: Any, name: str, out: dict[str, str | None], *, top: bool) -> None:
    children = list(element)
    if top:
        unnamed = [c for c in children if _local(c.tag) == "Data" and "Name" not in c.attrib]
        for child in children:
            child_tag = _local(child.tag)
            if child_tag == "Data" and "Name" in child.attrib:
                put_field(out, child.attrib["Name"], _xml_value(child))
            elif child_tag == "Data":
                key = "Data" if len(unnamed) == 1 else f"Data[{unnamed.index(child) + 1}]"
                put_field(out, key, _xml_value(child))
            else:
                _flatten_xml(child, child_tag, out, top=False)
        return
    if not children and "Name" in element.attrib and len(element.attrib) == 1:
        put_field(out, element.attrib["Name"], _xml_value(element))
        return
    for attr, value in element.attrib.items():
        if not _local(attr).startswith("xmlns"):
            put_field(out, f"{name}_{_local(attr)}", text(_xml_text(value)))
    if not children:
        if not element.attrib or (element.text and element.text.strip()):
            put_field(out, name, _xml_value(element))
        return
    for child in children:
        _flatten_xml(child, _local(child.tag), out, top=False)


def _xml_value(element: Any) -> str | None:
    value = element.text
    if value and _local(element.tag) == "Binary":
        try:
            return base64.b64decode(value, validate=True).hex().upper()
        except ValueError:
            return value
    return text(_xml_text(value)) if value else None


_XML_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?\+00:00\Z")


def _xml_text(value: str) -> str:
    """python-evtx's renderings in evtx_dump's form: booleans lower case, padded hex
    integers unpadded, FILETIME/SYSTEMTIME values as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if value in ("True", "False"):
        return value.lower()
    match = _XML_TIME.match(value)
    if match:
        return f"{match[1]}T{match[2]}{(match[3] or '.')[:7].ljust(7, '0')}Z"
    return _guid_text(value)
