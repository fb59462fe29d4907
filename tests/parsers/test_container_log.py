"""Container logs: plaso's Docker json-file and CRI samples, partial lines joined per stream,
the container named by the path, odd lines, strict sniffing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from parsers import sniff
from parsers.base import Options, ParseWarning
from parsers.container_log import ContainerLogParser, path_context
from tests.parsers.artifact_helpers import ingest, parse_bytes, rows, summary
from tests.parsers.evtx_helpers import parse_file

PARSER = ContainerLogParser()
CONTAINERS = "linux/containers/plaso"
# plaso took its sample from docker/containers/<this id>/container-json.log.
ID = "e7d0b7ea5ccf08366e2b0c8afa2318674e8aefe802315378125d2bb83fe3110c"


def _rows(path: Path, options: Options | None = None) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_file(PARSER, path, options)
    for row in out:
        row["fields"] = dict(row["fields"])
    return sorted(out, key=lambda r: r["source_record"]), found


def _text(text: str) -> tuple[list[dict], list[ParseWarning]]:
    out, found = parse_bytes(PARSER, text.encode(), Options())
    return sorted(out, key=lambda r: r["source_record"]), found


def test_plaso_cri_log(corpus: Path) -> None:
    got, found = _rows(corpus / CONTAINERS / "cri.log")
    assert found == [] and len(got) == 17
    assert {r["event_action"] for r in got} == {"container-log"}
    first, second = got[0], got[1]
    # Line 1 is a stdout partial (P); the next stdout line is 8 years later, so nothing completes
    # it: it stays a row tagged P. Line 2 is stderr: a stream of its own, never joined with stdout.
    assert first["datetime"] == datetime(2016, 10, 6, 0, 17, 9, 669794, tzinfo=UTC)  # ...669794202Z
    assert (first["message"], first["fields"]) == (
        "stdout: log content 1", {"format": "cri", "stream": "stdout", "tag": "P"},
    )  # fmt: skip
    assert (second["message"], second["fields"]["tag"]) == ("stderr: log content 2", "F")
    assert got[3]["datetime"] == datetime(2024, 4, 16, 6, 21, 30, 494952, tzinfo=UTC)  # .49495227Z
    assert got[5]["datetime"] == datetime(2024, 4, 16, 6, 21, 39, tzinfo=UTC)  # .0Z
    assert got[-1]["datetime"] == datetime(2024, 4, 16, 6, 25, 44, 94383, tzinfo=UTC)  # .094383157Z
    assert got[-1]["message"] == (
        'stdout: 10.0.2.1:38936 - - [Tue, 16 Apr 2024 06:25:44 UTC] "GET /healthz HTTP/1.1" kube-probe/1.27'
    )
    assert sum(r["fields"]["stream"] == "stderr" for r in got) == 4


def test_plaso_docker_json_log(corpus: Path) -> None:
    got, found = _rows(corpus / CONTAINERS / "docker-container-json.log")
    assert found == [] and len(got) == 10
    # The same line ten times, with 0 to 9 fraction digits (and no zone on the first: UTC).
    assert [r["datetime"] for r in got] == [
        datetime(2016, 1, 7, 16, 49, 10, micro, tzinfo=UTC)
        for micro in (0, 200000, 230000, 237000, 237200, 237220, 237222, 237222, 237222, 237222)
    ]
    row = got[0]
    assert (
        row["message"] == "stdout: root@e7d0b7ea5ccf:/home/plaso# ls"
    )  # the terminal title sequence removed
    assert row["fields"] == {
        "format": "docker-json", "stream": "stdout", "tag": "F",
        "log": "\x1b]0;root@e7d0b7ea5ccf: /home/plaso\x07root@e7d0b7ea5ccf:/home/plaso# ls",
    }  # fmt: skip


def test_partial_lines_are_joined_per_stream() -> None:
    cri = (
        "2024-01-01T00:00:00.000000001Z stdout P first half \n"
        "2024-01-01T00:00:00.000000002Z stderr F an error\n"
        "2024-01-01T00:00:00.000000003Z stdout P and second\n"
        "2024-01-01T01:00:00.500000000+01:00 stdout F  half\n"
        "2024-01-01T00:00:01Z stdout F\n"
    )
    got, found = _text(cri)
    assert found == []
    assert [(r["source_record"], r["message"]) for r in got] == [
        (1, "stdout: first half and second half"),
        (2, "stderr: an error"),
        (5, "stdout: "),
    ]
    joined = got[0]
    assert joined["datetime"] == datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)  # the first part's time
    assert joined["fields"] == {
        "format": "cri", "stream": "stdout", "tag": "F", "parts": "3", "time_last": "2024-01-01T00:00:00.500000Z",
    }  # fmt: skip
    docker = (
        '{"log":"part one ","stream":"stdout","time":"2024-01-01T00:00:00.1Z"}\n'
        '{"log":"boom\\n","stream":"stderr","time":"2024-01-01T00:00:00.2Z"}\n'
        '{"log":"part two\\n","stream":"stdout","attrs":{"tag":"web"},"time":"2024-01-01T00:00:00.3Z"}\n'
        '{"log":"no newline at the end","stream":"stdout","time":"2024-01-01T00:00:01Z"}\n'
    )
    got, found = _text(docker)
    assert found == []
    assert [(r["source_record"], r["message"], r["fields"]["tag"]) for r in got] == [
        (1, "stdout: part one part two", "F"),
        (2, "stderr: boom", "F"),
        (4, "stdout: no newline at the end", "P"),
    ]
    assert got[0]["fields"]["parts"] == "2" and got[0]["fields"]["time_last"] == "2024-01-01T00:00:00.300000Z"


def test_odd_lines_are_located_warnings(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    shutil.copy(corpus / CONTAINERS / "cri.log", path)
    lines = path.read_text().splitlines()
    lines[2:2] = ["2024-04-16T06:21:30Z stdout X not a tag", "kubelet: garbage"]
    path.write_text("\n".join(lines) + "\n")
    got, found = _rows(path)
    assert len(got) == 17
    assert [(w.location, w.reason) for w in found] == [
        ("line 3", "not a CRI log line: '2024-04-16T06:21:30Z stdout X not a tag'"),
        ("line 4", "text that is not a CRI log line: 'kubelet: garbage'"),
    ]
    docker = tmp_path / "docker.log"
    shutil.copy(corpus / CONTAINERS / "docker-container-json.log", docker)
    with docker.open("a") as fh:
        fh.write('{"log":"x\\n","stream":"stdout"}\n{"message":"other"}\n{"log":"cut\n')
    got, found = _rows(docker)
    assert len(got) == 10
    assert [(w.location, w.reason) for w in found] == [
        ("line 11", "invalid time None"),
        ("line 12", "not a json-file log entry (log, stream, time)"),
        ("line 13", "invalid JSON: Unterminated string starting at: line 1 column 8 (char 7)"),
    ]


def test_corpus_files_through_the_ingest_and_the_container_id(corpus: Path, tmp_path: Path) -> None:
    cri, docker = corpus / CONTAINERS / "cri.log", corpus / CONTAINERS / "docker-container-json.log"
    case, results = ingest(tmp_path / "a", cri, docker)
    assert summary(results["cri.log"]) == ("ok", "container_log", 17, 0, [])
    assert summary(results["docker-container-json.log"]) == ("ok", "container_log", 10, 0, [])
    assert "container_id" not in rows(case, docker)[0]["fields"]  # the corpus path does not name it
    # Where Docker keeps it, the path names the container.
    where = tmp_path / "var/lib/docker/containers" / ID / f"{ID}-json.log"
    where.parent.mkdir(parents=True)
    shutil.copy(docker, where)
    case, results = ingest(tmp_path / "b", where)
    assert summary(results[where.name])[:3] == ("ok", "container_log", 10)
    assert {r["fields"]["container_id"] for r in rows(case, where)} == {ID}


def test_path_context() -> None:
    pod = "/var/log/pods/shop_web-7d4b9_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/nginx/0.log"
    assert path_context(pod) == {
        "container_name": "nginx", "k8s_pod": "web-7d4b9", "k8s_namespace": "shop",
        "k8s_pod_uid": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    }  # fmt: skip
    link = f"/var/log/containers/web-7d4b9_shop_nginx-{ID}.log"
    assert path_context(link) == {
        "container_id": ID, "container_name": "nginx", "k8s_pod": "web-7d4b9", "k8s_namespace": "shop",
    }  # fmt: skip
    assert path_context(f"C:\\ProgramData\\docker\\containers\\{ID}\\{ID}-json.log.1") == {"container_id": ID}
    assert path_context("/var/log/app/0.log") == {} and path_context(None) == {}


def test_sniff_is_strict() -> None:
    assert sniff(b'{"log":"x\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n').name == "container_log"
    assert sniff(b"2024-01-01T00:00:00.1Z stdout F hello\n").name == "container_log"
    long_first_line = b'{"log":"' + b"a" * 5000
    assert PARSER.sniff(long_first_line[:4096])
    # JSON logs with other keys, and ISO-time text lines, are not container logs.
    assert not PARSER.sniff(b'{"log":"x","level":"info","time":"2024-01-01T00:00:00Z"}\n')
    assert not PARSER.sniff(b"2024-01-01T00:00:00.1Z host sshd[1]: Accepted password\n")
    assert not PARSER.sniff(b"2024-01-01T00:00:00.1Z stdout F hello\nsomething else\n")
