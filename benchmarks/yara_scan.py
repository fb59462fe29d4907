"""YARA over files: Tracehound's scan (yara-x, 2 processes) against ``yara -p 2``, same run.

Rules: the signature-base rule files of the corpus that both engines compile (yara-x through
``compile_rules``; the Debian ``yarac`` into one compiled file for the ``yara`` command), the
externals defined as empty strings for ``yarac``. Both compiled once, outside the timings.

Files: one folder (benchmarks/.cache/yara-files, built once and deterministically, ~400 MB):
the corpus's disk images and the sample case's evidence, copied as they are (scanned as
files, as ``yara`` sees them), and generated files of log-uniform sizes, 1 KB to 24 MB: PE
and ELF binaries (headers, x86-like code, string tables in ASCII and UTF-16), text (syslog and
web access lines, JSON lines, prose), scripts (PowerShell, JavaScript, VBScript, PHP) and
compressed-looking data; words are made up, with API names and the words rules look for
(powershell, cmd.exe, URLs...) now and then, as in real files (denser, both engines slow down
a lot: a first version at 20-30x the density scanned at 21 MB/s against yara's 6.7).

Timed: ``scan(rules, [folder], jobs=2, max_size=None)`` in this process (walking, reading,
hashing and scanning every file, the process pool included) and ``yara -p 2 -C -e -r RULES
FOLDER`` as a whole process, taking turns, best of ``repeats`` each; MB/s = bytes scanned / s;
and the CPU seconds each used (this process and its children), steadier than wall time here.
The matches are compared too, leaving out the rules that read external variables (``yara``
gets them empty for every file, Tracehound per file). The goal is at least twice ``yara -p 2``.
Machines here are shared and noisy: read the ratio, not the seconds.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forensics.detect.yara import EXTERNALS, compile_rules, scan

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
CORPUS = ROOT.parent / "shared" / "corpus"
SIGNATURE_BASE = CORPUS / "yara" / "signature-base" / "yara"
#: Bump when the generated files change, so the cache is rebuilt.
VERSION = 2
_DEFINES = [arg for name in EXTERNALS for arg in ("-d", f"{name}=")]

_APIS_TEXT = (
    "VirtualAlloc VirtualProtect CreateRemoteThread WriteProcessMemory LoadLibraryA GetProcAddress "
    "CreateFileW ReadFile WriteFile CloseHandle RegOpenKeyExW RegSetValueExW InternetOpenA "
    "InternetConnectA HttpSendRequestA WinHttpOpen CryptEncrypt CreateProcessW ShellExecuteW "
    "GetModuleHandleA Sleep GetTickCount WSAStartup connect send recv socket malloc free memcpy "
    "printf fopen fclose strlen pthread_create dlopen dlsym execve fork"
)
_APIS = _APIS_TEXT.split()
_WORDS_TEXT = (
    "user admin service session token request response error warning info debug started stopped "
    "connection accepted failed password login logout GET POST HTTP 200 404 500 index.html api "
    "v1 data config update install system32 windows program files temp appdata roaming local "
    "powershell cmd.exe rundll32 svchost explorer chrome firefox mozilla curl wget bash sh "
    "python java node npm docker kubernetes nginx apache sshd cron systemd kernel audit "
    "http://example.com https://cdn.example.net/assets /var/log /etc/passwd C:\\Windows\\Temp"
)
_WORDS = _WORDS_TEXT.split()


_SYLLABLES = [
    "ka",
    "to",
    "ri",
    "en",
    "la",
    "mo",
    "su",
    "ne",
    "vi",
    "da",
    "po",
    "ler",
    "ing",
    "con",
    "ser",
    "ta",
    "ble",
    "ment",
    "pro",
    "com",
    "ex",
    "in",
    "de",
    "re",
]
#: Common x86 opcodes and the operand bytes that follow them.
_OPCODES = (
    (b"\x8b", 2), (b"\x89", 2), (b"\x8d", 2), (b"\x83", 2), (b"\x85", 1), (b"\x33", 1), (b"\x3b", 1),
    (b"\xc7", 6), (b"\x0f\xb6", 2), (b"\x74", 1), (b"\x75", 1), (b"\xeb", 1), (b"\x6a", 1), (b"\x68", 4),
    (b"\xe8", 4), (b"\xff", 5), (b"\x50", 0), (b"\x56", 0), (b"\x57", 0), (b"\x5e", 0), (b"\x5f", 0),
    (b"\x48\x8b", 2), (b"\x48\x89", 3), (b"\x41", 1), (b"\xa1", 4), (b"\xb8", 4),
)  # fmt: skip


def _pools(rng: random.Random) -> dict[str, bytes]:
    """Building blocks, made once: x86-like code (a prologue every ~40 instructions), string
    tables, text lines and script lines over a vocabulary of made-up words in which API names
    and the words detection rules look for are occasional, as in real files."""
    vocabulary = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]

    def words(k: int) -> list[str]:
        out = []
        for _ in range(k):
            pick = rng.random()
            out.append(rng.choice(_WORDS if pick < 0.03 else _APIS if pick < 0.05 else vocabulary))
        return out

    code = bytearray()
    while len(code) < 1 << 20:
        if rng.random() < 0.025:
            code += b"\x55\x8b\xec" + (b"\x83\xec" + rng.randbytes(1) if rng.random() < 0.5 else b"")
        elif rng.random() < 0.02:
            code += b"\x5d\xc3" + b"\xcc" * rng.randint(0, 12)
        else:
            opcode, operands = rng.choice(_OPCODES)
            code += opcode + rng.randbytes(operands)
    strings = bytearray()
    while len(strings) < 1 << 18:
        name = "".join(w.capitalize() for w in words(rng.randint(1, 3)))
        strings += name.encode() + b"\0" if rng.random() < 0.7 else name.encode("utf-16-le") + b"\0\0"
    lines = []
    for n in range(60_000):
        kind = n % 4
        said = words(rng.randint(4, 14))
        text = " ".join(said)
        if kind == 0:
            lines.append(
                f"Mar {n % 28 + 1:2d} 10:{n % 60:02d}:{n * 7 % 60:02d} host{n % 9} {said[0]}[{n}]: {text}"
            )
        elif kind == 1:
            lines.append(
                f'10.0.{n % 255}.{n * 3 % 255} - - [10/Mar/2026:10:00:{n % 60:02d}] "GET /{said[0]}/{said[1]} HTTP/1.1" 200 {n}'
            )
        elif kind == 2:
            lines.append(f'{{"ts": {1700000000 + n}, "event": "{said[-1]}", "msg": "{text}"}}')
        else:
            lines.append(text.capitalize() + ".")
    text_pool = ("\n".join(lines) + "\n").encode()
    script_lines = []
    for n in range(20_000):
        said = words(rng.randint(2, 8))
        script_lines.append(
            rng.choice(
                (
                    f"$v{n} = Get-Item '{said[0]}' | Where-Object {{ $_.Name -like '*{said[-1]}*' }}",
                    f"var x{n} = document.getElementById('{said[0]}'); x{n}.innerHTML = '{' '.join(said)}';",
                    f"Dim {said[0]}{n} ' {' '.join(said)}",
                    f"<?php echo htmlspecialchars(${said[0]}); // {' '.join(said)} ?>",
                )
            )
        )
    return {
        "code": bytes(code),
        "strings": bytes(strings),
        "text": text_pool,
        "script": "\n".join(script_lines).encode(),
    }


def _window(rng: random.Random, pool: bytes, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        start = rng.randrange(len(pool))
        out += pool[start : start + min(size - len(out), 1 << 16)]
    return bytes(out)


def _binary(rng: random.Random, pools: dict[str, bytes], size: int, elf: bool) -> bytes:
    if elf:
        head = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + rng.randbytes(44)
    else:
        head = (
            b"MZ\x90\x00" + bytes(56) + b"\x80\x00\x00\x00" + b"This program cannot be run in DOS mode.\r\n$"
        )
        head = head.ljust(0x80, b"\0") + b"PE\0\0\x4c\x01\x04\x00" + rng.randbytes(16) + b".text\0\0\0"
    body = max(0, size - len(head))
    code, strings = int(body * 0.55), int(body * 0.25)
    data = body - code - strings
    return (
        head
        + _window(rng, pools["code"], code)
        + _window(rng, pools["strings"], strings)
        + rng.randbytes(data // 2)
        + bytes(data - data // 2)
    )[:size]


_KINDS = (
    (0.35, "pe", (".exe", ".dll")),
    (0.10, "elf", ("", ".so")),
    (0.35, "text", (".log", ".txt", ".json", ".html")),
    (0.12, "script", (".ps1", ".js", ".vbs", ".php")),
    (0.08, "packed", (".zip", ".bin", ".dat")),
)


def build_files(folder: Path | None = None) -> Path:
    """The benchmark's folder of files, built once (deterministic: seeded generator)."""
    folder = folder or CACHE / "yara-files"
    done = folder / f".complete-v{VERSION}"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(20260310)
    pools = _pools(rng)
    copies = folder / "copied"
    for source in (CORPUS / "images" / "disk", ROOT / "sample_data" / "case01"):
        if source.is_dir():
            shutil.copytree(source, copies / source.name)
    sizes = [_log_uniform(rng, 1 << 10, 64 << 10) for _ in range(1200)]
    sizes += [_log_uniform(rng, 64 << 10, 4 << 20) for _ in range(250)]
    sizes += [_log_uniform(rng, 8 << 20, 24 << 20) for _ in range(8)]
    for n, size in enumerate(sizes):
        _, kind, suffixes = rng.choices(_KINDS, weights=[k[0] for k in _KINDS])[0]
        if kind in ("pe", "elf"):
            data = _binary(rng, pools, size, kind == "elf")
        elif kind == "packed":
            data = (b"PK\x03\x04" if rng.random() < 0.5 else b"") + rng.randbytes(size)
        else:
            data = _window(rng, pools[kind], size)
        path = folder / f"d{n % 16:02d}" / f"f{n:05d}{rng.choice(suffixes)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[:size])
    done.write_text("built\n")
    return folder


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _yara_compile(paths: list[str], namespaces: list[str], out: Path) -> tuple[float, list[str]]:
    """``yarac`` over the rule files (the ones it rejects left out) -> (seconds, files used)."""

    def run(chosen: list[int]) -> subprocess.CompletedProcess:
        args = [f"{namespaces[i]}:{paths[i]}" for i in chosen]
        return subprocess.run(
            ["yarac", *_DEFINES, *args, str(out)], capture_output=True, text=True, check=False
        )

    chosen = list(range(len(paths)))
    started = time.perf_counter()
    done = run(chosen)
    seconds = time.perf_counter() - started
    if done.returncode != 0:  # find the files yarac rejects, one by one
        chosen = [i for i in chosen if run([i]).returncode == 0]
        started = time.perf_counter()
        run(chosen).check_returncode()
        seconds = time.perf_counter() - started
    return seconds, [paths[i] for i in chosen]


def _yara_scan(compiled: Path, folder: Path) -> tuple[float, set[tuple[str, str]]]:
    started = time.perf_counter()
    done = subprocess.run(
        ["yara", "-p", "2", "-C", "-e", "-r", *_DEFINES, str(compiled), str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    found = set()
    for line in done.stdout.splitlines():
        rule, _, path = line.partition(" ")
        found.add((rule, os.path.relpath(path, folder)))
    return seconds, found


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers, ``yara``):
    less sensitive than wall time to other work on a shared machine."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(repeats: int = 3) -> dict[str, object]:
    if not SIGNATURE_BASE.is_dir():
        return {"skipped": f"signature-base not found at {SIGNATURE_BASE}"}
    folder = build_files()
    started = time.perf_counter()
    rules, _ = compile_rules(SIGNATURE_BASE)
    ours_compile = time.perf_counter() - started
    accepted = [f for f in rules.files if f.engine == "yara-x"]
    result: dict[str, object] = {"rule_files_yara_x": len(accepted), "rules": rules.rules}
    if shutil.which("yara") is None or shutil.which("yarac") is None:
        result["yara"] = "not installed (apt-get install yara)"
        yara_files = None
    else:
        version = subprocess.run(["yara", "--version"], capture_output=True, text=True, check=False)
        result["yara_version"] = version.stdout.strip()
        tmp = Path(tempfile.mkdtemp(prefix="yara-bench-"))
        compiled = tmp / "rules.yarc"
        yarac_s, used = _yara_compile([f.path for f in accepted], [f.namespace for f in accepted], compiled)
        yara_files = set(used)
        if len(used) < len(accepted):  # the same rules for both: recompile ours with those files only
            rules, _ = compile_rules(used)
        result["rule_files_both"] = len(used)
        result["compile_ours_s"] = ours_compile
        result["compile_yarac_s"] = yarac_s
    ours_runs, yara_runs = [], []
    ours_found: set[tuple[str, str]] = set()
    yara_found: set[tuple[str, str]] = set()
    scanned = None
    ours_cpu, yara_cpu = [], []
    for _ in range(repeats):
        before = _cpu()
        scanned = scan(rules, [folder], jobs=2, max_size=None)
        ours_cpu.append(_cpu() - before)
        ours_runs.append(scanned.seconds)
        ours_found = {(m.rule_id, os.path.relpath(m.path, folder)) for m in scanned.matches}
        if yara_files is not None:
            before = _cpu()
            seconds, yara_found = _yara_scan(compiled, folder)
            yara_cpu.append(_cpu() - before)
            yara_runs.append(seconds)
    assert scanned is not None
    megabytes = scanned.bytes / 1e6
    result["files"] = scanned.files
    result["megabytes"] = megabytes
    result["ours_s"] = min(ours_runs)
    result["ours_runs_s"] = " ".join(f"{s:.2f}" for s in ours_runs)
    result["ours_mb_per_s"] = megabytes / min(ours_runs)
    result["ours_cpu_s"] = min(ours_cpu)
    if yara_runs:
        shutil.rmtree(compiled.parent, ignore_errors=True)
        result["yara_p2_s"] = min(yara_runs)
        result["yara_runs_s"] = " ".join(f"{s:.2f}" for s in yara_runs)
        result["yara_mb_per_s"] = megabytes / min(yara_runs)
        result["speedup_vs_yara_p2"] = min(yara_runs) / min(ours_runs)
        result["yara_cpu_s"] = min(yara_cpu)
        result["cpu_ratio_yara_to_ours"] = min(yara_cpu) / min(ours_cpu)
        plain = {m for m in ours_found if m[0] not in rules.uses_externals}
        theirs = {m for m in yara_found if m[0] not in rules.uses_externals}
        result["matches_ours"] = len(ours_found)
        result["matches_yara"] = len(yara_found)
        result["matches_agree"] = (
            f"{len(plain & theirs)} same, {len(plain - theirs)} only ours, {len(theirs - plain)} only yara (rules without externals)"
        )
    return result


if __name__ == "__main__":
    for key, value in main(int(sys.argv[1]) if len(sys.argv) > 1 else 3).items():
        print(f"{key:24s} {value:,.3f}" if isinstance(value, float) else f"{key:24s} {value}")
