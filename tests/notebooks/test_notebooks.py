"""The investigation notebooks, executed top to bottom as a person would run them: 01 ingests the
sample case into a fresh case folder (``TRACEHOUND_CASE``), the later ones reuse it, in name
order; 04 triages into its own batch folder (``TRACEHOUND_BATCH``). Each notebook runs without an
error and shows the values the sample case's story says it should. The stored notebooks carry no
outputs.

The notebooks run once per test session: under pytest-xdist the first worker to need them runs
them (the others wait on a lock) and stores the executed notebooks in the session's temporary
folder, where each test reads its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.conftest import CORPUS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
#: Name order: 01 (which ingests) runs before the others that reuse its case.
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SIGMA = CORPUS / "sigma" / "rules"
Run = tuple[nbformat.NotebookNode, str | None, float]  # executed notebook, error or None, seconds


def _run(path: Path, env: dict[str, str]) -> Run:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    started = time.perf_counter()
    try:
        client.execute(env=env)
        error = None
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:  # a kernel that died, a cell over the timeout
        error = f"{type(exc).__name__}: {exc}"
    return nb, error, time.perf_counter() - started


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Each notebook's run, by file name, from the session's one run of them all in order."""
    base = tmp_path_factory.getbasetemp()  # under xdist each worker's own, in the session's folder
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "notebooks"
    root.mkdir(exist_ok=True)
    results = root / "results.json"
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not results.exists():
            env = {
                **os.environ,
                "TRACEHOUND_CASE": str(root / "case"),
                "TRACEHOUND_BATCH": str(root / "batch"),
            }
            runs = {}
            for path in PATHS:
                nb, error, seconds = _run(path, env)
                nbformat.write(nb, root / path.name)
                runs[path.name] = {"error": error, "seconds": seconds}
            results.write_text(json.dumps(runs))
    runs = json.loads(results.read_text())
    return {
        name: (nbformat.read(root / name, as_version=4), run["error"], run["seconds"])
        for name, run in runs.items()
    }


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text or HTML."""
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                out.append(output.text)
            elif "data" in output:
                out.extend(output.data.get(kind, "") for kind in ("text/plain", "text/html"))
    return "\n".join(out)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def _check_01(text: str, nb: nbformat.NotebookNode) -> None:
    assert "19,717 timeline rows" in text
    assert "8 files in" in text
    assert '<div class="tracehound-case">' in text  # the case's rich display
    assert "encoded PowerShell at 2026-03-10 09:12:31.052000+00:00 by alice" in text
    assert "Europe/Berlin" in text
    assert _images(nb) == 1  # events per hour per host


def _check_02(text: str, nb: nbformat.NotebookNode) -> None:
    assert "786 hits on 2 domain, 3 ipv4, 2 sha256" in text
    assert "'matches': 3" in text
    assert "Tracehound_Sample_Sysupd_Backdoor" in text
    if SIGMA.is_dir():
        assert "(critical 0, high 2," in text
        assert "Lsass Memory Dump via Comsvcs DLL" in text
    else:
        assert "no Sigma rules at" in text
    assert "10.20.0.21 -> 198.51.100.23:443 (telemetry.micros0ft-cdn.example.net) every 5 min 02 s" in text
    assert "crontab of bob" in text
    assert "winword.exe -> powershell.exe" in text


def _check_03(text: str, nb: nbformat.NotebookNode) -> None:
    assert "root cause: 2026-03-10T09:12:04.318000Z ws01 OUTLOOK.EXE created invoice.docm" in text
    assert "evidence: Microsoft-Windows-Sysmon%4Operational.evtx record 4286" in text
    assert "17 of 17 true steps on the chain; missed: none" in text
    assert "ours matches:    True" in text
    assert "<svg" in text and "<title>" in text  # the chain's rich display, details on hover
    assert "192.0.2.77: 11,576 B over 1 connection" in text
    assert _images(nb) == 1  # the chain figure


def _check_04(text: str, nb: nbformat.NotebookNode) -> None:
    assert "4 hosts in" in text and ", 0 failed" in text
    assert "look first at WS-03.corp.example.com" in text
    only_one = next(c for c in nb.cells if "only_one =" in c.source).outputs[0].data["text/plain"]
    assert "WS-03.corp.example.com" in only_one
    assert not any(f"WS-0{i}" in only_one for i in (1, 2, 4))  # what one host alone has is the intrusion


def _check_05(text: str, nb: nbformat.NotebookNode) -> None:
    assert "root cause:     2026-03-10T09:12:04Z ws01 OUTLOOK.EXE created invoice.docm" in text
    assert "[E1: Microsoft-Windows-Sysmon%4Operational.evtx record 4286]" in text
    assert "Delete the scheduled task MicrosoftEdgeUpdateTaskCore on ws01." in text
    assert all(name in text for name in ("report.html", "report.md", "report.pdf"))
    preview = nb.cells[-1].outputs[0].data["text/markdown"]  # the Markdown's first section
    assert preview.startswith("# Incident report: case") and "## 1. Executive summary" in preview


CHECKS = {"01": _check_01, "02": _check_02, "03": _check_03, "04": _check_04, "05": _check_05}


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
def test_notebook_runs_and_shows_the_case(path: Path, executed: dict[str, Run]) -> None:
    nb, error, seconds = executed[path.name]
    assert error is None, f"{path.name} failed after {seconds:.1f} s:\n{error}"
    check = CHECKS.get(path.name[:2])
    if check:
        check(_text(nb), nb)


def test_notebooks_are_stored_without_outputs() -> None:
    assert [p.name[:2] for p in PATHS][:4] == ["01", "02", "03", "04"]
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert (cell.execution_count, cell.outputs) == (None, []), f"{path.name}: outputs stored"
