"""Stacking across hosts: the long-tail analysis responders do by hand. Per category (autoruns,
services, scheduled tasks, executables run, parent-child pairs, listening ports, accounts) every
value is counted over all hosts of a batch, the rarest first, each with the hosts it is on: what
one compromised host has and the others do not rises to the top.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forensics.case import Case
from forensics.triage.item import DONE

__all__ = ["CATEGORIES", "stack"]

_SYSMON = "Microsoft-Windows-Sysmon/Operational"
#: Category -> SQL giving (value, occurrences) over one item's case.
CATEGORIES: dict[str, str] = {
    "autoruns": f"""
        SELECT lower(map_extract(fields, 'TargetObject')[1]) || ' = ' || coalesce(map_extract(fields, 'Details')[1], ''), count(*)
        FROM timeline WHERE event_channel = '{_SYSMON}' AND event_code IN ('12', '13', '14')
          AND regexp_matches(lower(map_extract(fields, 'TargetObject')[1]), '\\\\(run|runonce|winlogon)\\\\')
        GROUP BY 1
        UNION ALL
        SELECT 'crontab of ' || regexp_extract(message, '\\((\\S+)\\) REPLACE', 1), count(*)
        FROM timeline WHERE source = 'syslog' AND regexp_matches(message, '^crontab\\[\\d+\\]: \\(\\S+\\) REPLACE') GROUP BY 1""",
    "services": """
        SELECT coalesce(map_extract(fields, 'ServiceName')[1], '?') || ': ' ||
               coalesce(map_extract(fields, 'ImagePath')[1], map_extract(fields, 'ServiceFileName')[1], ''), count(*)
        FROM timeline WHERE (event_channel = 'System' AND event_code = '7045')
                         OR (event_channel = 'Security' AND event_code = '4697') GROUP BY 1""",
    "scheduled_tasks": f"""
        SELECT map_extract(fields, 'TaskName')[1], count(*) FROM timeline
        WHERE event_channel = 'Security' AND event_code = '4698' GROUP BY 1
        UNION ALL
        SELECT lower(file_path), count(*) FROM timeline
        WHERE event_channel = '{_SYSMON}' AND event_code = '11' AND regexp_matches(lower(file_path), '\\\\windows\\\\system32\\\\tasks\\\\')
        GROUP BY 1""",
    "executables": f"""
        SELECT lower(process_executable), count(*) FROM timeline
        WHERE process_executable IS NOT NULL AND ((event_channel = '{_SYSMON}' AND event_code = '1')
                                                 OR (event_channel = 'Security' AND event_code = '4688'))
        GROUP BY 1""",
    "parent_child": f"""
        SELECT lower(regexp_extract(process_parent_executable, '[^\\\\/]+$')) || ' -> ' ||
               lower(regexp_extract(process_executable, '[^\\\\/]+$')), count(*) FROM timeline
        WHERE process_executable IS NOT NULL AND process_parent_executable IS NOT NULL
          AND ((event_channel = '{_SYSMON}' AND event_code = '1') OR (event_channel = 'Security' AND event_code = '4688'))
        GROUP BY 1""",
    "listening_ports": f"""
        SELECT lower(regexp_extract(process_executable, '[^\\\\/]+$')) || ' :' || CAST(destination_port AS VARCHAR), count(*)
        FROM timeline WHERE event_channel = '{_SYSMON}' AND event_code = '3'
          AND map_extract(fields, 'Initiated')[1] = 'false' GROUP BY 1""",
    "accounts": """
        SELECT lower(coalesce(user_domain || '\\', '') || user_name), count(*) FROM timeline
        WHERE user_name IS NOT NULL AND (event_action IN ('ssh-login', 'logon') OR (event_channel = 'Security' AND event_code = '4624'))
        GROUP BY 1""",
}


def stack(root: str | Path, categories: tuple[str, ...] = tuple(CATEGORIES)) -> list[dict[str, Any]]:
    """Every value of every category over the batch's finished items: category, value, hosts
    (sorted), host count, occurrences; rarest first (fewest hosts, then fewest occurrences)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for done in sorted(Path(root).glob(f"items/*/{DONE}")):
        case = Case(done.parent)
        host = _host(done)
        with case.connect() as con:
            for category in categories:
                for value, count in con.execute(CATEGORIES[category]).fetchall():
                    if value is None:
                        continue
                    entry = seen.setdefault(
                        (category, value), {"category": category, "value": value, "hosts": set(), "count": 0}
                    )
                    entry["hosts"].add(host)
                    entry["count"] += count
    rows = [{**e, "hosts": sorted(e["hosts"]), "host_count": len(e["hosts"])} for e in seen.values()]
    return sorted(rows, key=lambda r: (r["host_count"], r["count"], r["category"], r["value"]))


def _host(done: Path) -> str:
    return json.loads(done.read_text()).get("host") or done.parent.name
