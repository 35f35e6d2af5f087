"""UI path against the main command, and the stack's idle memory, on the same running services.

    uv run python benchmarks/ui_path.py [--pairs 5] [--warmup 1]

Starts PostgreSQL databases (on 127.0.0.1:5432, or set `IRIS_TEST_POSTGRES_URL`), a SeaweedFS S3
store, an MLflow tracking server, and the compose file's Dagster services as local processes
(`iris_assets_tests/deploy/_native.py: local_stack`: code server, webserver, daemon, seed job, data
generator). Then, after one unmeasured run of each (the stack's first run pays its one-time setup),
in pairs whose order alternates (UI first, then CLI first, ...):

- UI: what the UI's "Materialize all" button sends, through the webserver's GraphQL API. Timed
  from the launch (which includes the asset-list query the page would already have made) to the
  later of the run's end (its RUN_SUCCESS) and the creation of the MLflow model version it
  registered. The run is queued by the webserver, dequeued by the daemon, launched on the code
  server.
- CLI: `dagster asset materialize -m iris_assets.definitions --select '*'`, the whole process,
  with the same services and the same Dagster storage: DAGSTER_HOME is the stack's dagster_home
  (deploy/dagster_home/dagster.yaml, PostgreSQL through the DAGSTER_PG_* variables), so both
  paths write runs and events to the same database.

Between runs it waits for the code server's run process to exit and pauses briefly, so one run
does not share the two cores with the end of the other. Prints each path's median wall time,
min-max and UI/CLI ratio, where the time goes (from Dagster's run record and events), and the
memory of each long-running service's process tree (VmRSS and PSS from /proc) once the stack has
settled and again after the runs. Figures only: nothing here asserts.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _bench  # benchmarks/ is the script's directory, so first on sys.path
import psutil

from iris_assets_tests._materialize import command as materialize_command
from iris_assets_tests.deploy import _compose
from iris_assets_tests.deploy._native import (
    NativeStack,
    graphql,
    launch_materialize_all,
    local_stack,
    registered_version,
    wait_for_run,
)

SETTLE_SECONDS = 10.0
PAUSE_SECONDS = 2.0
FOOTPRINT_TARGET_MB = 1536
RATIO_TARGET = 1.3
SERVICES = {
    "MLflow tracking server": None,  # not a process of the stack: found by its port
    "Dagster webserver": "dagster-webserver",
    "dagster-daemon": "dagster-daemon",
    "code server": "iris-assets-code",
}
"""The long-running services whose memory the target counts, by compose service name."""
OUTSIDE_TARGET = {"data generator": "data-generator", "SeaweedFS (stands in for MinIO)": None}
"""Shown for comparison only: the tutorial's generator, and an S3 store that is not MinIO."""

_RUN_TIMES = """
query RunTimes($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status creationTime startTime endTime }
    ... on Error { message }
  }
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { timestamp } } }
  }
}
"""

_LATEST_RUN = """
query LatestRun {
  runsOrError(limit: 1) { __typename ... on Runs { results { runId } } }
}
"""


@dataclass(frozen=True)
class ProcessMemory:
    """One process of a service: what it runs and its VmRSS and PSS in MB."""

    pid: int
    command: str
    rss: float
    pss: float


@dataclass(frozen=True)
class Sample:
    """One materialization: its phases in seconds, each from one milestone to the next.

    created: launch to the run's record (for the CLI this includes importing the code);
    queued: until the daemon takes it from the queue and reports RUN_STARTING (UI only);
    starting: to RUN_START (for the UI, the code server starting a run process that imports the
    code); running: RUN_START to the run's end; finishing: to the end of the measurement (for
    the CLI, interpreter shutdown).
    """

    created: float
    queued: float
    starting: float
    running: float
    finishing: float

    @property
    def total(self) -> float:
        return self.created + self.queued + self.starting + self.running + self.finishing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="Rounds of UI and CLI (default 5).")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="Unmeasured rounds first (default 1): the stack's first run creates MLflow's "
        "experiment and registered model and is the server's first request of each kind.",
    )
    args = parser.parse_args()
    # A plain `kill` should stop the services too: SystemExit unwinds every context manager.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="iris-ui-bench-"))
    compose = _compose.load(_compose.read_env_file(_compose.ENV_EXAMPLE))
    with (
        _bench.tracking_stack(work, "iris_bench") as services,
        local_stack(work / "stack", compose, _bench.SERVER_URL, services.tracking_uri) as stack,
    ):
        print(f"stack up: {stack.webserver_url}, logs in {stack.logs}", flush=True)
        roots = _service_roots(stack, services.tracking_uri, services.s3_url)
        time.sleep(SETTLE_SECONDS)
        idle = _footprint(roots)
        samples: dict[str, list[Sample]] = {"UI": [], "CLI": []}
        paths = {"UI": _ui_run, "CLI": _cli_run}
        for _ in range(args.warmup):
            for name, path in paths.items():
                print(f"warm-up: {name}: {path(stack, work).total:.2f} s", flush=True)
                _wait_for_run_processes(roots["code server"])
        for round_ in range(args.pairs):
            order = ("UI", "CLI") if round_ % 2 == 0 else ("CLI", "UI")
            for name in order:
                sample = paths[name](stack, work)
                samples[name].append(sample)
                print(f"round {round_ + 1}: {name}: {sample.total:.2f} s", flush=True)
                _wait_for_run_processes(roots["code server"])
        time.sleep(SETTLE_SECONDS)
        after = _footprint(roots)
    _report_times(samples)
    _report_footprint(f"idle, {SETTLE_SECONDS:.0f} s after the start", idle)
    _report_footprint(f"idle, {SETTLE_SECONDS:.0f} s after the runs", after)
    _report_processes(after)


def _ui_run(stack: NativeStack, work: Path) -> Sample:
    """The UI's "Materialize all" by GraphQL, until the run ended and its model version exists."""
    launched = time.time()
    run_id = launch_materialize_all(stack.webserver_url)
    status = wait_for_run(stack.webserver_url, run_id)
    if status != "SUCCESS":
        raise SystemExit(f"UI run {run_id} ended {status}; logs in {stack.logs}")
    version = registered_version(stack.mlflow_url, run_id)
    run, events = _run_times(stack, run_id)
    done = max(run["endTime"], version.creation_timestamp / 1000)
    return _phases(launched, run, events, done)


def _cli_run(stack: NativeStack, work: Path) -> Sample:
    """The main command as a whole process, with the code server's services and instance."""
    env = {k: v for k, v in os.environ.items() if not _configures_a_service(k)}
    env |= {**stack.values, "PYTHONUNBUFFERED": "1"}
    cwd = work / "cli"
    cwd.mkdir(exist_ok=True)
    log = work / "last-cli.log"
    with log.open("w") as output:
        launched = time.time()
        process = subprocess.run(
            materialize_command("*"),
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
        done = time.time()
    if process.returncode != 0:
        raise SystemExit(f"the main command failed:\n{log.read_text()[-3000:]}")
    results = graphql(stack.webserver_url, _LATEST_RUN)["runsOrError"]["results"]
    run, events = _run_times(stack, results[0]["runId"])
    if run["creationTime"] < launched:
        raise SystemExit(f"the latest run {results[0]['runId']} is not the command's")
    return _phases(launched, run, events, done)


def _configures_a_service(name: str) -> bool:
    """Whether an inherited variable could point the command elsewhere than the stack."""
    return name.startswith(("DAGSTER_", "IRIS_", "MLFLOW_", "AWS_", "PG"))


def _run_times(stack: NativeStack, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
    """The run's record times and the first time of each kind of event, in epoch seconds."""
    data = graphql(stack.webserver_url, _RUN_TIMES, {"runId": run_id})
    run = data["runOrError"]
    if run["__typename"] != "Run" or run["status"] != "SUCCESS":
        raise SystemExit(f"run {run_id}: {run}")
    events: dict[str, float] = {}
    for event in data["logsForRun"]["events"]:
        events.setdefault(event["__typename"], int(event["timestamp"]) / 1000)
    return run, events


def _phases(
    launched: float, run: Mapping[str, Any], events: Mapping[str, float], done: float
) -> Sample:
    """Cut launch-to-done at the run's creation, dequeue, RUN_START and end."""
    created = run["creationTime"]
    # The daemon reports RUN_STARTING as it dequeues and launches; a CLI run is never queued.
    dequeued = events.get("RunStartingEvent", created)
    return Sample(
        created=created - launched,
        queued=dequeued - created,
        starting=run["startTime"] - dequeued,
        running=run["endTime"] - run["startTime"],
        finishing=done - run["endTime"],
    )


def _service_roots(stack: NativeStack, mlflow_url: str, s3_url: str) -> dict[str, psutil.Process]:
    """The first process of each service; its descendants are counted with it."""
    urls = {"MLflow tracking server": mlflow_url, "SeaweedFS (stands in for MinIO)": s3_url}
    return {
        label: psutil.Process(stack.pids[service])
        if service
        else _group_leader_listening_on(urls[label])
        for label, service in {**SERVICES, **OUTSIDE_TARGET}.items()
    }


def _group_leader_listening_on(url: str) -> psutil.Process:
    """The process group leader (the started command) of whatever listens on `url`'s port.

    The MLflow server's listener is its uvicorn child; the group leader is `mlflow server`.
    """
    port = urllib.parse.urlsplit(url).port
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            if connection.pid is None:
                break
            return psutil.Process(os.getpgid(connection.pid))
    raise LookupError(f"no process of ours listens on {url}")


def _tree(root: psutil.Process) -> list[psutil.Process]:
    """`root` and every process it started (a code server's gRPC child, a server's workers)."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _wait_for_run_processes(code_server: psutil.Process) -> None:
    """Wait (up to 60 s) until the code server's run processes have exited, then pause briefly.

    Dagster's gRPC server starts each run with multiprocessing's spawn (`--multiprocessing-fork`
    in the command line). The first one also starts multiprocessing's resource tracker, which
    stays for the server's lifetime, so the number of processes is no sign of quiet.
    """
    deadline = time.monotonic() + 60
    running: list[psutil.Process] = []
    while time.monotonic() < deadline:
        running = []
        for process in _tree(code_server):
            try:
                if "--multiprocessing-fork" in process.cmdline():
                    running.append(process)
            except psutil.NoSuchProcess:
                continue
        if not running:
            break
        time.sleep(0.2)
    else:
        print(f"run processes of the code server still alive after 60 s: {running}", flush=True)
    time.sleep(PAUSE_SECONDS)


def _footprint(roots: Mapping[str, psutil.Process]) -> dict[str, list[ProcessMemory]]:
    """Per service, the memory of each process of its tree.

    RSS counts a page shared by two processes twice; PSS charges each process its share, so
    PSS sums over processes (and over services) without double counting.
    """
    figures: dict[str, list[ProcessMemory]] = {}
    for label, root in roots.items():
        figures[label] = []
        for process in _tree(root):
            try:
                rss_kb = _proc_kb(process.pid, "status", "VmRSS:")
                pss_kb = _proc_kb(process.pid, "smaps_rollup", "Pss:")
                command = _short_command(process.cmdline())
            except (FileNotFoundError, ProcessLookupError, psutil.NoSuchProcess, ValueError):
                continue  # it exited meanwhile (a zombie has no VmRSS)
            figures[label].append(ProcessMemory(process.pid, command, rss_kb / 1024, pss_kb / 1024))
    return figures


def _short_command(args: list[str]) -> str:
    """The command without paths: `python -m mlflow server ...`, `dagster api grpc ...`."""
    if len(args) > 1 and Path(args[0]).name.startswith("python") and not args[1].startswith("-"):
        args = args[1:]  # a script, such as .venv/bin/dagster
    text = " ".join([Path(args[0]).name, *args[1:4]]) if args else "?"
    return text if len(text) <= 60 else text[:57] + "..."


def _proc_kb(pid: int, file: str, field: str) -> int:
    """A `Field:   123 kB` line of /proc/<pid>/<file>."""
    for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/{file} has no {field}")


def _report_times(samples: dict[str, list[Sample]]) -> None:
    print("\n| path | median wall (s) | min-max (s) |")
    print("| --- | --- | --- |")
    medians = {}
    for name, runs in samples.items():
        totals = [sample.total for sample in runs]
        medians[name] = statistics.median(totals)
        print(f"| {name} | {medians[name]:.2f} | {min(totals):.2f}-{max(totals):.2f} |")
    ratio = medians["UI"] / medians["CLI"]
    print(f"\nUI / CLI wall time: {ratio:.2f}x (target at most {RATIO_TARGET}x)")
    print("\nWhere the time goes, medians in seconds:\n")
    print("- created: launch to the run's record (CLI: with importing the code)")
    print("- queued: until the daemon takes the run from the queue (RUN_STARTING)")
    print("- starting: to RUN_START (UI: the code server starts a process that imports the code)")
    print("- running: RUN_START to the run's end (RUN_SUCCESS)")
    print("- finishing: to the end of the measurement (CLI: the process's exit)\n")
    phases = ("created", "queued", "starting", "running", "finishing")
    print("| path | " + " | ".join(phases) + " |")
    print("| --- |" + " --- |" * len(phases))
    for name, runs in samples.items():
        cells = [f"{statistics.median(getattr(s, phase) for s in runs):.2f}" for phase in phases]
        print(f"| {name} | " + " | ".join(cells) + " |")


def _report_footprint(when: str, figures: Mapping[str, list[ProcessMemory]]) -> None:
    print(f"\nStack memory, {when}:\n")
    print("| service | processes | RSS (MB) | PSS (MB) |")
    print("| --- | --- | --- | --- |")

    def row(label: str, processes: list[ProcessMemory]) -> None:
        rss, pss = sum(p.rss for p in processes), sum(p.pss for p in processes)
        print(f"| {label} | {len(processes)} | {rss:.0f} | {pss:.0f} |")

    for label in SERVICES:
        row(label, figures[label])
    counted = [process for label in SERVICES for process in figures[label]]
    row("**total**", counted)
    for label in OUTSIDE_TARGET:
        row(f"({label}, not in the total)", figures[label])
    pss = sum(process.pss for process in counted)
    print(f"\ntotal PSS: {pss:.0f} MB (target at most {FOOTPRINT_TARGET_MB} MB, 1.5 GB)")


def _report_processes(figures: Mapping[str, list[ProcessMemory]]) -> None:
    print("\nBy process, after the runs:\n")
    print("| service | pid | command | RSS (MB) | PSS (MB) |")
    print("| --- | --- | --- | --- | --- |")
    for label, processes in figures.items():
        for process in processes:
            print(
                f"| {label} | {process.pid} | `{process.command}` | {process.rss:.0f} | "
                f"{process.pss:.0f} |"
            )


if __name__ == "__main__":
    main()
