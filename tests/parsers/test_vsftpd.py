"""vsftpd: plaso's vsftpd.log line by line (logins, uploads by the anonymous user, failed downloads),
local time, the xferlog format, odd lines, strict sniffing."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from parsers import sniff
from parsers.base import Options, ParseWarning
from parsers.vsftpd import VsftpdParser
from tests.parsers.artifact_helpers import ingest, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = VsftpdParser()
LOG = "linux/services/plaso/vsftpd.log"
PARIS = Options(timezone="Europe/Paris")


def _rows(path: Path, options: Options = PARIS) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_file(PARSER, path, options)
    for row in out:
        row["fields"] = dict(row["fields"])
    return sorted(out, key=lambda r: r["source_record"]), found


def test_plaso_vsftpd_log(corpus: Path) -> None:
    got, found = _rows(corpus / LOG)
    assert found == [] and len(got) == 25
    assert Counter(r["event_action"] for r in got) == {
        "ftp-upload": 11, "ftp-connect": 4, "ftp-login": 4, "ftp-download": 3, "ftp-download-failed": 2,
        "ftp-mkdir": 1,
    }  # fmt: skip
    connect, login = got[0], got[1]
    # Mon Jun  6 18:43:28 2016, local time in Paris (CEST, UTC+2).
    assert connect["datetime"] == datetime(2016, 6, 6, 16, 43, 28, tzinfo=UTC)
    assert (connect["event_action"], connect["source_ip"], connect["user_name"], connect["process_pid"]) == (
        "ftp-connect", "192.168.1.9", None, 2,
    )  # fmt: skip
    assert connect["message"] == "CONNECT from 192.168.1.9"
    assert connect["fields"] == {"what": "CONNECT", "time_zone": "Europe/Paris"}
    assert (login["event_action"], login["user_name"], login["process_pid"]) == ("ftp-login", "jean", 1)
    upload = got[3]
    assert (upload["file_path"], upload["network_protocol"]) == ("/home/jean/trains/Caitlinpromo2.png", "ftp")
    assert upload["fields"] == {
        "result": "OK", "what": "UPLOAD", "bytes": "1884648", "rate_kbyte_s": "41264.44", "time_zone": "Europe/Paris",
    }  # fmt: skip
    assert (
        upload["message"]
        == "OK UPLOAD: jean from 192.168.1.9 /home/jean/trains/Caitlinpromo2.png (1884648 bytes)"
    )
    glob = got[7]  # FAIL DOWNLOAD of "/home/jean/trains/Thomas*", no byte count
    assert (glob["event_action"], glob["file_path"]) == ("ftp-download-failed", "/home/jean/trains/Thomas*")
    assert "bytes" not in glob["fields"] and glob["fields"]["rate_kbyte_s"] == "0.00"
    # The anonymous session from 192.168.1.5 (user "ftp", password "n") uploads seven images.
    anonymous = got[14]
    assert (anonymous["event_action"], anonymous["user_name"], anonymous["fields"]["anon_password"]) == (
        "ftp-login", "ftp", "n",
    )  # fmt: skip
    uploads = [r for r in got if r["user_name"] == "ftp" and r["event_action"] == "ftp-upload"]
    assert {r["source_ip"] for r in uploads} == {"192.168.1.5"} and len(uploads) == 7
    assert sum(int(r["fields"]["bytes"]) for r in uploads) == 750069
    assert uploads[-1]["file_path"] == "/photos/we_will-we_will-hack_you!.jpg"
    last = got[-1]
    assert last["datetime"] == datetime(2016, 6, 10, 12, 31, 12, tzinfo=UTC)
    assert (last["event_action"], last["user_name"], last["source_ip"], last["file_path"]) == (
        "ftp-download-failed", "jean", "192.168.1.7", "/home/jean/photos/we_will-we_will-hack_you!.jpg",
    )  # fmt: skip


def test_default_zone_is_utc(corpus: Path) -> None:
    got, _ = _rows(corpus / LOG, Options())
    assert got[0]["datetime"] == datetime(2016, 6, 6, 18, 43, 28, tzinfo=UTC)
    assert got[0]["fields"]["time_zone"] == "UTC"


def test_other_vsftpd_entries_and_xferlog() -> None:
    text = (
        'Tue Mar  5 09:00:01 2024 [pid 7] [bob] FAIL LOGIN: Client "203.0.113.9"\n'
        'Tue Mar  5 09:00:02 2024 [pid 7] [bob] FTP command: Client "203.0.113.9", "RNFR a b"\n'
        'Tue Mar  5 09:00:03 2024 [pid 7] [bob] OK RENAME: Client "203.0.113.9", "/home/bob/a /home/bob/b"\n'
        'Tue Mar  5 09:00:04 2024 [pid 7] [bob] OK DELETE: Client "::ffff:203.0.113.9", "/home/bob/b"\n'
        "Tue Mar  5 09:00:05 2024 2 203.0.113.9 1048576 /srv/ftp/pub/big_file.iso b _ o a guest@x ftp 0 * c\n"
        "Tue Mar  5 09:00:06 2024 0 host.example 10 /srv/ftp/in/x.txt a _ i r bob ftp 0 * i\n"
    )
    got, found = [], []
    for item in PARSER.parse(io.BytesIO(text.encode()), None, Options()):
        if isinstance(item, ParseWarning):
            found.append(item)
        else:
            got.extend(item.to_pylist())
    assert found == []
    got.sort(key=lambda r: r["source_record"])
    assert [r["event_action"] for r in got] == [
        "ftp-login-failed", "ftp-command", "ftp-rename", "ftp-delete", "ftp-download", "ftp-upload-failed",
    ]  # fmt: skip
    assert dict(got[1]["fields"])["text"] == "RNFR a b" and got[1]["file_path"] is None
    assert (got[2]["file_path"], dict(got[2]["fields"])["new_path"]) == ("/home/bob/a", "/home/bob/b")
    assert got[3]["source_ip"] == "::ffff:cb00:7109"
    xfer = got[4]
    assert (xfer["user_name"], xfer["source_ip"], xfer["file_path"]) == (
        "anonymous", "203.0.113.9", "/srv/ftp/pub/big_file.iso",
    )  # fmt: skip
    assert dict(xfer["fields"]) == {
        "format": "xferlog", "transfer_seconds": "2", "bytes": "1048576", "transfer_type": "binary",
        "special_action": "_", "direction": "o", "access_mode": "anonymous", "service": "ftp",
        "authentication_method": "0", "authenticated_user_id": "*", "completion": "complete",
        "anon_password": "guest@x", "time_zone": "UTC",
    }  # fmt: skip
    assert got[5]["source_ip"] is None and dict(got[5]["fields"])["client"] == "host.example"


def test_odd_lines_are_located_warnings(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "vsftpd.log"
    shutil.copy(corpus / LOG, path)
    lines = path.read_text().splitlines()
    lines.insert(2, "Mon Jun  6 18:43:33 2016 [pid 1] truncated")
    lines.insert(5, "500 OOPS: vsftpd: refusing to run with writable root inside chroot()")
    lines.append('Fri Jun 31 14:31:13 2016 [pid 3] [jean] OK LOGIN: Client "192.168.1.7"')
    path.write_text("\n".join(lines) + "\n")
    got, found = _rows(path)
    assert len(got) == 25
    assert [(w.location, w.reason) for w in found] == [
        ("line 3", "not a vsftpd log line: 'Mon Jun  6 18:43:33 2016 [pid 1] truncated'"),
        (
            "line 6",
            "text that is not a vsftpd log line: '500 OOPS: vsftpd: refusing to run with writable root inside '",
        ),
        ("line 28", "invalid date 'Fri Jun 31 14:31:13 2016'"),
    ]
    _, results = ingest(tmp_path, path)
    assert summary(results["vsftpd.log"])[:4] == ("partial", "vsftpd", 25, 3)


def test_corpus_file_through_the_ingest(corpus: Path, tmp_path: Path) -> None:
    _, results = ingest(tmp_path, corpus / LOG)
    assert summary(results["vsftpd.log"]) == ("ok", "vsftpd", 25, 0, [])


def test_sniff_is_strict() -> None:
    line = b'Mon Jun  6 18:43:28 2016 [pid 2] CONNECT: Client "192.168.1.9"\n'
    assert sniff(line).name == "vsftpd"
    assert not PARSER.sniff(b"Mon Jun  6 18:43:28 2016 something happened\n")
    assert not PARSER.sniff(b'Jun  6 18:43:28 host vsftpd[2]: CONNECT: Client "192.168.1.9"\n')
