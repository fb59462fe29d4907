"""Headless Chromium driven over the DevTools protocol, to prove a generated HTML page is inert.

`open_page(path)` loads a local file in a fresh Chromium (its own profile, killed afterwards) and reports
what the page did: every URL it requested, every script V8 parsed for it, console messages, exceptions,
dialogs and log entries (CSP violations among them), then its title, visible text and DOM. The harness
talks to Chromium through `--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-terminated JSON), stdlib
only. Requests other than file: and data: are still recorded but failed by the harness (Fetch domain),
so a test never touches the network and never waits on an unroutable address.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BINARIES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--mute-audio", "--remote-debugging-pipe",
)  # fmt: skip
SETTLE = 0.5  # seconds after the load event, so onload/onerror handlers and short timers have run
LOCAL = ("file:", "data:")


def chromium() -> str | None:
    """The Chromium (or Chrome) binary on PATH, None when there is none."""
    return next(filter(None, map(shutil.which, BINARIES)), None)


def require_chromium() -> str:
    """The binary for a test; absent -> skip, except under CI=true where its absence fails (as the corpus)."""
    binary = chromium()
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but none of {', '.join(BINARIES)} is on PATH (make browser installs it)")
        pytest.skip(f"none of {', '.join(BINARIES)} is on PATH (make browser installs Debian's chromium)")
    return binary


@dataclass
class Page:
    """What a page did while it loaded and settled, then what it showed."""

    requests: list[str] = field(default_factory=list)  # every URL requested, the document first
    scripts: list[str] = field(default_factory=list)  # scripts parsed for the page (not the harness's)
    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt, each dismissed
    blocked: list[str] = field(default_factory=list)  # log entries (CSP reports...) and blocked loads
    title: str = ""
    text: str = ""  # document.body.innerText
    html: str = ""  # document.documentElement.outerHTML


class _Pipe:
    """One DevTools connection: commands out, responses and events in (read by a daemon thread)."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self._write_fd, self._deadline, self._ids = write_fd, deadline, itertools.count(1)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(read_fd,), daemon=True)
        self.reader.start()

    def _read(self, fd: int) -> None:  # owns fd: closing it here, never under a blocked read
        buffer = b""
        try:
            while chunk := os.read(fd, 1 << 16):
                *messages, buffer = (buffer + chunk).split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))
        finally:
            os.close(fd)
            self._inbox.put(None)  # Chromium closed its end: it exited

    def send(self, method: str, session: str | None = None, **params: Any) -> int:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = memoryview(json.dumps(message).encode() + b"\0")
        try:
            while data:
                data = data[os.write(self._write_fd, data) :]
        except BrokenPipeError:
            raise RuntimeError("chromium exited") from None
        return message["id"]

    def receive(self, until: float | None = None) -> dict[str, Any] | None:
        """The next message; None once `until` has passed; TimeoutError at the deadline."""
        end = min(until or self._deadline, self._deadline)
        try:
            message = self._inbox.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            if end < self._deadline:
                return None
            raise TimeoutError("chromium did not finish in time") from None
        if message is None:
            raise RuntimeError("chromium exited")
        return message


def open_page(path: Path, timeout: float = 30.0) -> Page:
    """Load `path` in a fresh headless Chromium and report what it did (see `Page`)."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError(f"none of {', '.join(BINARIES)} is on PATH")
    work = Path(tempfile.mkdtemp(prefix="tracehound-chromium-"))
    (parent_read, child_write), (child_read, parent_write) = os.pipe(), os.pipe()
    # Chromium's ends, moved to fd 10+ so that putting them on fds 3 and 4 in the child clobbers nothing.
    child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (child_read, child_write)]
    os.close(child_read), os.close(child_write)
    proc, pipe = None, None
    try:
        try:
            with open(work / "stderr.log", "wb") as log:
                proc = subprocess.Popen(
                    [binary, *FLAGS, f"--user-data-dir={work / 'profile'}", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False, start_new_session=True,
                    preexec_fn=lambda: (os.dup2(child[0], 3), os.dup2(child[1], 4)),
                )  # fmt: skip
        finally:
            os.close(child[0]), os.close(child[1])
        pipe = _Pipe(parent_write, parent_read, time.monotonic() + timeout)
        try:
            return _load(pipe, path.resolve().as_uri())
        except (TimeoutError, RuntimeError) as error:
            said = (work / "stderr.log").read_text(errors="replace")[-2000:]
            raise type(error)(f"{error}; chromium said: {said}") from error
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):  # the browser and its renderer, GPU, zygote...
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(parent_write)
        if pipe is None:
            os.close(parent_read)
        else:
            pipe.reader.join(timeout=5)
        shutil.rmtree(work, ignore_errors=True)


def _load(pipe: _Pipe, url: str) -> Page:
    page, urls, state = Page(), dict[str, str](), {"navigated": False, "loaded": False, "harness": False}

    def on_event(session: str, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            page.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and params.get("blockedReason"):
            page.blocked.append(f"{params['blockedReason']}: {urls.get(params['requestId'], '?')}")
        elif method == "Fetch.requestPaused":
            if params["request"]["url"].startswith(LOCAL):
                pipe.send("Fetch.continueRequest", session, requestId=params["requestId"])
            else:  # recorded above, never fetched: no network, no wait on an unroutable address
                pipe.send(
                    "Fetch.failRequest", session, requestId=params["requestId"], errorReason="BlockedByClient"
                )
        elif method == "Debugger.scriptParsed" and not state["harness"]:
            page.scripts.append(f"{params['url'] or '(no url)'}#{params['scriptId']}")
        elif method == "Runtime.consoleAPICalled":
            args = (a.get("value", a.get("description", a["type"])) for a in params["args"])
            page.console.append(f"{params['type']}: {' '.join(map(str, args))}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            page.exceptions.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Page.javascriptDialogOpening":
            page.dialogs.append(f"{params['type']}: {params['message']}")
            pipe.send("Page.handleJavaScriptDialog", session, accept=False)
        elif method == "Log.entryAdded":
            entry = params["entry"]
            page.blocked.append(f"{entry['source']} {entry['level']}: {entry['text']}")
        elif method == "Page.frameNavigated" and "parentId" not in params["frame"]:
            state["navigated"] = params["frame"]["url"] == url  # our document, not the about:blank before
        elif method == "Page.loadEventFired" and state["navigated"]:
            state["loaded"] = True
        elif method in ("Inspector.targetCrashed", "Target.detachedFromTarget"):
            raise RuntimeError(f"the page went away ({method})")

    def call(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        sent = pipe.send(method, session, **params)
        while (message := pipe.receive()).get("id") != sent:
            if "method" in message:
                on_event(message.get("sessionId", ""), message["method"], message["params"])
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message["result"]

    target = call("Target.createTarget", url="about:blank")["targetId"]
    session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Debugger", "Log"):
        call(f"{domain}.enable", session)
    call("Debugger.setSkipAllPauses", session, skip=True)  # a `debugger;` statement must not hang the page
    call("Fetch.enable", session, patterns=[{"urlPattern": "*"}])
    if error := call("Page.navigate", session, url=url).get("errorText"):
        raise RuntimeError(f"navigating to {url}: {error}")
    settled = None
    while settled is None or time.monotonic() < settled:
        if (message := pipe.receive(settled)) and "method" in message:
            on_event(message.get("sessionId", ""), message["method"], message["params"])
        if state["loaded"] and settled is None:
            settled = time.monotonic() + SETTLE
    state["harness"] = True
    for name, expression in (
        ("title", "document.title"),
        ("text", "document.body ? document.body.innerText : ''"),
        ("html", "document.documentElement.outerHTML"),
    ):
        result = call("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"]
        setattr(page, name, result.get("value", ""))
    return page
