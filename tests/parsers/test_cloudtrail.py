"""AWS CloudTrail: OTRF's Logstash-shipped records, plaso's LookupEvents output, an S3 Records
file (gzip, through the ingest), errors and odd lines."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from forensics import Case
from parsers.base import HEAD_BYTES, Options
from parsers.cloudtrail import CloudTrailParser
from tests.parsers.evtx_helpers import parse_file

PARSER = CloudTrailParser()
OTRF = "linux/cloud/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"
PLASO = "linux/cloud/plaso/aws_cloudtrail.jsonl"


def test_otrf_s3_exfiltration(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / OTRF)
    assert len(rows) == 103
    # Logstash shipped the records without eventTime; its @timestamp is that time.
    assert [(w.location, w.reason, w.count) for w in found] == [
        ("file", "103 records have no eventTime: @timestamp used", 0)
    ]
    first = rows[0]
    assert (first["datetime"], first["event_provider"], first["event_action"]) == (
        datetime(2020, 9, 14, 0, 44, 23, tzinfo=UTC), "ec2.amazonaws.com", "DescribeInstanceTypes",
    )  # fmt: skip
    assert (first["user_name"], first["user_domain"], first["source_ip"]) == (
        "arn:aws:iam::123456789123:user/pedro", "123456789123", "1.2.3.4",
    )  # fmt: skip
    fields = dict(first["fields"])
    assert (fields["userAgent"], fields["awsRegion"], fields["userIdentity.type"]) == (
        "console.ec2.amazonaws.com", "us-east-1", "IAMUser",
    )  # fmt: skip
    assert json.loads(fields["requestParameters"])["DescribeInstanceTypesRequest"]["MaxResults"] == 100
    sources = Counter(r["event_provider"] for r in rows)
    assert sources.most_common(3) == [
        ("ec2.amazonaws.com", 80),
        ("s3.amazonaws.com", 11),
        ("sts.amazonaws.com", 5),
    ]
    s3 = Counter(r["event_action"] for r in rows if r["event_provider"] == "s3.amazonaws.com")
    assert s3 == {"ListObjects": 7, "GetObject": 2, "ListBuckets": 2}


def test_plaso_lookup_events_output(corpus: Path) -> None:
    rows, found = parse_file(PARSER, corpus / PLASO)
    assert found == []
    assert [(r["source_record"], r["datetime"], r["event_action"]) for r in rows] == [
        (1, datetime(2022, 2, 7, 22, 23, 37, tzinfo=UTC), "DescribeInstances"),
        (2, datetime(2022, 2, 7, 22, 23, 18, tzinfo=UTC), "TerminateInstances"),
        (3, datetime(2022, 2, 7, 22, 23, 3, tzinfo=UTC), "StopInstances"),
        (4, datetime(2022, 2, 7, 22, 19, 7, tzinfo=UTC), "SharedSnapshotVolumeCreated"),
        (5, datetime(2022, 2, 7, 22, 19, 5, tzinfo=UTC), "RunInstances"),
        (6, datetime(2022, 2, 7, 22, 19, 4, tzinfo=UTC), "CreateSecurityGroup"),
    ]
    service = rows[3]  # an AWS service acting: no address, the service as the user
    assert (service["user_name"], service["source_ip"]) == ("ec2.amazonaws.com", None)
    assert dict(service["fields"])["sourceIPAddress"] == "ec2.amazonaws.com"


def _records_file() -> bytes:
    records = [
        {"eventVersion": "1.08", "eventTime": "2024-05-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
         "eventName": "CreateAccessKey", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7",
         "userAgent": "aws-cli/2.15", "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "1"},
         "errorCode": "AccessDenied", "errorMessage": "not authorized"},
        {"eventVersion": "1.08", "eventTime": "2024-05-01T10:00:05Z", "eventSource": "s3.amazonaws.com",
         "eventName": "GetObject", "sourceIPAddress": "2001:db8::7", "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}},
        "not a record",
    ]  # fmt: skip
    return json.dumps({"Records": records}).encode()


def test_records_file_gzip_through_the_ingest(tmp_path: Path) -> None:
    evidence = tmp_path / "111_CloudTrail_us-east-1_20240501T1000Z_x.json.gz"
    evidence.write_bytes(gzip.compress(_records_file()))
    case = Case.open(tmp_path / "case")
    (result,) = case.ingest([evidence], jobs=1).files
    assert (result.parser, result.status, result.records) == ("aws_cloudtrail", "partial", 2)
    assert result.reason == "gzip-compressed; 1 records unreadable, see warnings"
    assert [(w.location, w.reason) for w in result.warnings] == [("record 3", "not a JSON object")]
    rows = case.sql("SELECT * FROM timeline ORDER BY datetime")
    assert rows.user_name.tolist() == ["mallory", "arn:aws:iam::1:root"]
    assert (
        rows.message[0]
        == "iam.amazonaws.com CreateAccessKey by mallory from 203.0.113.7 failed: AccessDenied"
    )
    assert dict(rows.fields[0])["errorCode"] == "AccessDenied"
    assert rows.source_ip.tolist() == ["203.0.113.7", "2001:db8::7"]


def test_bad_lines_and_sniff(corpus: Path) -> None:
    text = b'{"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com", "eventTime": "2024-05-01T10:00:00Z"}\n{oops\n{"foo": 1}\n'
    rows, found = [], []
    for item in PARSER.parse(io.BytesIO(text), None, Options()):
        if hasattr(item, "to_pylist"):
            rows.extend(item.to_pylist())
        else:
            found.append(item)
    assert [r["event_action"] for r in rows] == ["ListBuckets"]
    assert [(w.location, w.offset, w.reason[:12]) for w in found] == [
        ("line 2", 101, "invalid JSON"),
        ("line 3", 107, "not a CloudT"),
    ]
    assert PARSER.sniff(_records_file()[:HEAD_BYTES])
    for name in (OTRF, PLASO):
        assert PARSER.sniff((corpus / name).read_bytes()[:HEAD_BYTES])
    assert not PARSER.sniff((corpus / "linux/cloud/plaso/gcp_logging.jsonl").read_bytes()[:HEAD_BYTES])
