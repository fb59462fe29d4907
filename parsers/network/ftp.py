"""FTP: the control connection's commands and replies (Zeek's ftp.log), and the files its data
connections carry (files.log, hashed, carved on request).

FTP moves each file over a separate TCP connection negotiated on the control connection: the
server's ``227``/``229`` reply to PASV/EPSV names the address and port the client will
connect to; the client's PORT/EPRT names where the server will connect. ``Channels`` keeps
those expectations for the whole capture, so when a new connection reaches an expected
endpoint the flow builder gives it an ``FtpDataSession`` and the file it carries gets the name
of the RETR/STOR/... command the control connection sent. Listings (LIST, NLST) are data too
and are hashed like files (Zeek does the same).

References: RFC 959 (commands, replies, PASV/PORT), RFC 2428 (EPSV/EPRT); Zeek
base/protocols/ftp/main.zeek (ftp.log fields) and files.log ``source`` ``FTP_DATA``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from parsers.network.http import Body, BodyInfo, files_record

__all__ = ["Channels", "FtpDataSession", "FtpSession", "looks_like_ftp"]

Record = tuple[str, dict[str, Any]]
#: Commands that move a file (or a listing) over a data connection.
TRANSFERS = frozenset({"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"})
_LINE = 4096  # longest command or reply line kept; longer means this is not FTP
_PASV = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"\((.)\1\1(\d{1,5})\1\)")
_EPRT = re.compile(r"^(.)([12])\1([^|]+)\1(\d{1,5})\1$")
#: Data connections expected and not yet seen, at most (a flood of PASV replies must not grow memory).
_MAX_EXPECTED = 4096


def looks_like_ftp(data: bytes, from_orig: bool) -> bool:
    """A server greeting (``220``) or a client's USER/AUTH first: the start of an FTP control
    connection (callers add the port, since SMTP also greets with 220)."""
    if from_orig:
        return data[:5].upper() in (b"USER ", b"AUTH ")
    return len(data) >= 4 and data[:3] == b"220" and data[3:4] in (b" ", b"-")


@dataclass(slots=True)
class _Command:
    """One command and its final reply: one ftp.log row."""

    ts_ns: int
    packet: int
    command: str
    arg: str | None
    reply_code: int | None = None
    reply_msg: str | None = None
    data_channel: tuple[str, str, int] | None = None  # (orig_h, resp_h, resp_p) negotiated


@dataclass(slots=True)
class _Channel:
    """A data connection announced by ``control``; ``transfer`` is the command it serves, bound
    when the client sends it (usually after the PASV reply, before or after the connection)."""

    control: FtpSession
    transfer: _Command | None = None


class Channels:
    """Data connections announced on control connections, waiting to be seen."""

    def __init__(self) -> None:
        self._expected: dict[tuple[str, int], _Channel] = {}

    def expect(self, resp: tuple[str, int], channel: _Channel) -> None:
        if len(self._expected) >= _MAX_EXPECTED:
            self._expected.pop(next(iter(self._expected)))
        self._expected[resp] = channel

    def claim(self, resp: tuple[str, int]) -> _Channel | None:
        """The expectation a new connection to ``resp`` fulfils (removed), or None."""
        return self._expected.pop(resp, None)


class FtpSession:
    """The control connection: commands paired with their replies, data channels announced."""

    service = "ftp"

    def __init__(
        self, open_body: Callable[[Any], BinaryIO | None] | None = None, channels: Channels | None = None
    ):
        self.open_body = open_body
        self.channels = channels if channels is not None else Channels()
        self.done = False
        self.buffers = {True: b"", False: b""}
        self.pending: list[_Command] = []
        self.user: str | None = None
        self.password: str | None = None
        #: Data channels announced and not yet bound to a transfer command, oldest first.
        self.unbound: list[_Channel] = []
        self.flow: Any = None
        self._weirds: dict[str, int] = {}

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        self.flow = flow
        buffer = self.buffers[from_orig] + data
        out: list[Record] = []
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            text = line.rstrip(b"\r").decode("utf-8", "backslashreplace")
            out += self._command(text, ts_ns, packet) if from_orig else self._reply(text, flow)
        if len(rest) > _LINE:
            self._weird("FTP_line_too_long")
            self.done = True
            rest = b""
        self.buffers[from_orig] = rest
        return out

    def gap(self, from_orig: bool, size: int) -> None:
        self.buffers[from_orig] = b""

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        out = [self._record(flow, command) for command in self.pending]
        self.pending = []
        return out

    def weirds(self) -> dict[str, int]:
        return self._weirds

    def _weird(self, name: str) -> None:
        self._weirds[name] = self._weirds.get(name, 0) + 1

    def _command(self, text: str, ts_ns: int, packet: int) -> list[Record]:
        if not text:
            return []
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        if verb == "USER":
            self.user = arg
        elif verb == "PASS":
            # Zeek logs the password of anonymous logins only (it is an e-mail address then).
            arg = arg if (self.user or "").lower() in ("anonymous", "ftp") else "<hidden>"
            self.password = arg
        command = _Command(ts_ns, packet, verb, arg or None)
        if verb in TRANSFERS and self.unbound:
            self.unbound.pop(0).transfer = command
        if verb in ("PORT", "EPRT") and self.flow is not None:
            target = _port_target(verb, arg)
            if target is not None:
                command.data_channel = (self.flow.resp[0], target[0], target[1])
                self._announce(target)
        self.pending.append(command)
        return []

    def _reply(self, text: str, flow: Any) -> list[Record]:
        code = text[:3]
        if len(text) < 3 or not code.isdigit() or text[3:4] == "-":
            return []  # a continuation line of a multi-line reply
        value, message = int(code), text[4:] or None
        if value // 100 == 1:
            return []  # preliminary: the final reply follows
        if value in (227, 229):
            target = _pasv_target(value, text.encode(), flow.resp[0])
            if target is not None and self.pending:
                self.pending[0].data_channel = (flow.orig[0], target[0], target[1])
                self._announce(target)
        if not self.pending:
            return []  # the greeting, or a reply to a command before the capture
        command = self.pending.pop(0)
        command.reply_code, command.reply_msg = value, message
        return [self._record(flow, command)]

    def _announce(self, target: tuple[str, int]) -> None:
        channel = _Channel(self)
        self.unbound = [*self.unbound[-15:], channel]
        self.channels.expect(target, channel)

    def _record(self, flow: Any, command: _Command) -> Record:
        record: dict[str, Any] = {
            "ts": command.ts_ns, "packet": command.packet, "uid": flow.uid,
            "id.orig_h": flow.orig[0], "id.orig_p": flow.orig[1],
            "id.resp_h": flow.resp[0], "id.resp_p": flow.resp[1],
            "user": self.user, "password": self.password, "command": command.command, "arg": command.arg,
            "reply_code": command.reply_code, "reply_msg": command.reply_msg,
        }  # fmt: skip
        if command.data_channel is not None:
            orig_h, resp_h, resp_p = command.data_channel
            record |= {"data_channel.passive": command.command in ("PASV", "EPSV"),
                       "data_channel.orig_h": orig_h, "data_channel.resp_h": resp_h,
                       "data_channel.resp_p": resp_p}  # fmt: skip
        return ("ftp", record)


def _pasv_target(code: int, line: bytes, server: str) -> tuple[str, int] | None:
    """Where a PASV (227) or EPSV (229) reply tells the client to connect."""
    if code == 227:
        found = _PASV.search(line)
        if not found:
            return None
        numbers = [int(n) for n in found.groups()]
        if any(n > 255 for n in numbers):
            return None
        return ".".join(map(str, numbers[:4])), numbers[4] * 256 + numbers[5]
    found = _EPSV.search(line)
    return (server, int(found.group(2))) if found else None


def _port_target(verb: str, arg: str) -> tuple[str, int] | None:
    """Where a PORT or EPRT command tells the server to connect."""
    if verb == "PORT":
        found = _PASV.fullmatch(arg.strip().encode())
        if not found:
            return None
        numbers = [int(n) for n in found.groups()]
        return ".".join(map(str, numbers[:4])), numbers[4] * 256 + numbers[5]
    extended = _EPRT.match(arg.strip())
    return (extended.group(3), int(extended.group(4))) if extended else None


@dataclass(slots=True)
class FtpDataSession:
    """A data connection: the bytes it carries, as one file named by its control connection."""

    channel: _Channel
    open_body: Callable[[Any], BinaryIO | None] | None = None
    body: Body | None = None
    sender_is_orig: bool | None = None
    packet: int = 0
    done: bool = False
    service: str = "ftp-data"

    def data(self, flow: Any, from_orig: bool, data: bytes, ts_ns: int, packet: int) -> list[Record]:
        if self.body is None:
            info = BodyInfo(from_orig, 1, None, None, None, None, None, None, None)
            writer = self.open_body(info) if self.open_body is not None else None
            self.body = Body(info, ts_ns, writer)
            self.sender_is_orig, self.packet = from_orig, packet
        if from_orig == self.sender_is_orig:
            self.body.feed(data, ts_ns)
        return []

    def gap(self, from_orig: bool, size: int) -> None:
        if self.body is not None and from_orig == self.sender_is_orig:
            self.body.gap(size)

    def end(self, flow: Any, ts_ns: int) -> list[Record]:
        if self.body is None:
            return []
        self.body.finish()
        transfer = self.channel.transfer
        if transfer is not None:
            self.body.info = replace(self.body.info, method=transfer.command, filename=_file_name(transfer))
        record = files_record(self.body, flow.uid, flow.orig, flow.resp, source="FTP_DATA")
        control = self.channel.control.flow
        return [("files", record | {"packet": self.packet, "ftp_uid": control.uid if control else None})]

    def weirds(self) -> dict[str, int]:
        return {}


def _file_name(command: _Command) -> str | None:
    """RETR/STOR's argument, as Zeek names FTP files; listings have no name."""
    if command.command in ("LIST", "NLST", "MLSD") or not command.arg:
        return None
    return command.arg.rsplit("/", 1)[-1] or None
