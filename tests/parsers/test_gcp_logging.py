"""Google Cloud Logging: plaso's audit, text and JSON payload entries; a JSON array export."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from parsers.base import HEAD_BYTES, Options
from parsers.gcp_logging import GcpLoggingParser
from tests.parsers.evtx_helpers import parse_file

PARSER = GcpLoggingParser()
PLASO = "linux/cloud/plaso/gcp_logging.jsonl"


def test_plaso_gcp_logging(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / PLASO)
    assert (len(rows), found) == (11, [])
    first = rows[0]
    assert (first["datetime"], first["event_provider"], first["event_action"], first["user_name"], first["source_ip"]) == (
        datetime(2021, 10, 19, 2, 57, 47, 339377, tzinfo=UTC), "compute.googleapis.com", "beta.compute.networks.insert",
        "fakeemailxyz@gmail.com", "1.1.1.1",
    )  # fmt: skip
    fields = dict(first["fields"])
    assert fields["logName"] == "projects/fake-project/logs/cloudaudit.googleapis.com%2Factivity"
    assert (fields["resource.type"], fields["severity"]) == ("gce_network", "NOTICE")
    assert fields["protoPayload.requestMetadata.callerSuppliedUserAgent"] == "UserAgent"
    assert (
        json.loads(fields["protoPayload.request"])["@type"] == "type.googleapis.com/compute.networks.insert"
    )
    assert rows[8]["message"] == "This is a text payload" and rows[8]["event_action"] is None
    assert json.loads(rows[7]["message"])["content"] == "This is a json payload"
    assert rows[10]["user_name"] == "dvwa-service-account@ketchup.iam.gserviceaccount.com"
    assert rows[10]["source_ip"] == "34.72.217.225"
    assert sum(r["event_action"] == "google.iam.admin.v1.CreateServiceAccount" for r in rows) == 2


def test_json_array_export_and_sniff(corpus: Path) -> None:
    entries = [
        {"logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "timestamp": "2024-01-02T03:04:05Z",
         "protoPayload": {"serviceName": "storage.googleapis.com", "methodName": "storage.objects.get",
                          "authenticationInfo": {"principalEmail": "eve@example.com"},
                          "requestMetadata": {"callerIp": "gce-internal-ip"}, "resourceName": "projects/_/buckets/b/objects/o"}},
        {"timestamp": "2024-01-02T03:04:06Z"},
    ]  # fmt: skip
    data = json.dumps(entries, indent=2).encode()
    assert PARSER.sniff(data[:HEAD_BYTES])
    items = list(PARSER.parse(io.BytesIO(data), None, Options()))
    rows = [r for i in items if hasattr(i, "to_pylist") for r in i.to_pylist()]
    assert [(r["user_name"], r["source_ip"], r["message"]) for r in rows] == [
        (
            "eve@example.com",
            None,
            "storage.googleapis.com storage.objects.get by eve@example.com on projects/_/buckets/b/objects/o",
        ),
    ]
    assert [(w.location, w.reason) for w in items if not hasattr(w, "to_pylist")] == [
        ("entry 2", "not a LogEntry (no logName)")
    ]
    assert PARSER.sniff((corpus / PLASO).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff(b'{"logName": "mylog", "textPayload": "x"}\n')
