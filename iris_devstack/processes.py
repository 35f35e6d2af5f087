"""Processes the stack starts: each in its own process group, logged to a file, stopped whole.

A service such as `mlflow server` forks workers; stopping only the process started would leave
them running. A wait that ends in an error shows the end of the service's log, so a failure
says why the service did not come up.
"""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

# Log file of every process started here, so a failed wait can show why a process died.
_LOG_FILES: weakref.WeakKeyDictionary[subprocess.Popen[bytes], Path] = weakref.WeakKeyDictionary()

_STOP_TIMEOUT = 15.0


@contextmanager
def background_process(
    args: list[str], log_file: Path, env: Mapping[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` in its own process group, output to `log_file`; stop the whole group on exit."""
    process = _start_process(args, log_file, env, cwd)
    try:
        yield process
    finally:
        _stop_process_group(process)


def log_tail(process: subprocess.Popen[bytes] | None, max_chars: int = 4000) -> str:
    """The end of the log file of a process started here, for error messages; "" for others."""
    path = _LOG_FILES.get(process) if process is not None else None
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"\n(could not read log {path}: {exc})"
    return f"\n--- last lines of {path} ---\n{text[-max_chars:]}"


def wait_for_http(
    url: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    *,
    accept_non_5xx: bool = False,
) -> None:
    """Poll `url` until it answers 200 (or any status below 500 if `accept_non_5xx`).

    S3 answers anonymous requests with 403, hence `accept_non_5xx`. Fails fast, with the tail
    of the process's log, if `process` exits before the URL answers.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        _fail_if_exited(process, f"{url} answered")
        status: int | None = None
        try:
            with opener.open(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            last = repr(exc)
        if status is not None:
            if status == 200 or (accept_non_5xx and status < 500):
                return
            last = f"HTTP {status}"
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"{url} did not answer within {timeout:.0f}s (last: {last}){log_tail(process)}"
            )
        time.sleep(0.25)


def _fail_if_exited(process: subprocess.Popen[bytes] | None, awaited: str) -> None:
    """Stop waiting for a service whose process has died, with the tail of its log."""
    if process is not None and process.poll() is not None:
        raise RuntimeError(
            f"process {process.pid} ({_short_cmd(process)}) exited with code "
            f"{process.returncode} before {awaited}{log_tail(process)}"
        )


def _short_cmd(process: subprocess.Popen[bytes]) -> str:
    args = process.args
    if isinstance(args, (list, tuple)):
        return " ".join(str(a) for a in args[:4]) + (" ..." if len(args) > 4 else "")
    return str(args)


def _start_process(
    args: list[str], log_file: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `args` in its own process group so the whole tree can be stopped at once."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _LOG_FILES[process] = log_file
    return process


def _stop_process_group(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT) -> None:
    """SIGTERM the process group, SIGKILL it after `timeout`, and wait for every member.

    Descendants are snapshotted first: once the group leader is gone, its children are
    reparented and would otherwise be missed.
    """
    try:
        members = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        members = []
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout)
    _, alive = psutil.wait_procs(members, timeout=timeout)
    if alive:
        _signal_group(process.pid, signal.SIGKILL)
        for member in alive:
            with suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(alive, timeout=timeout)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):  # group already gone
        os.killpg(pgid, signum)
