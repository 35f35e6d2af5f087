"""The Compose stack on Docker: start-up, image size, idle footprint, UI path against the CLI.

    uv run python benchmarks/compose_stack.py [--pairs 5] [--warmup 1] [--keep-build-cache]

Needs Docker with Compose v2 (where no registry answers, the stand-ins of deploy/standins first).
Brings docker-compose.yaml up under a project of its own from a fresh .env (iris_devstack.compose)
and measures, in this order:

- cold `up --build --wait`: no project image, no build cache (unless --keep-build-cache), new
  volumes; the base images are already local. Then the project image's size.
- idle memory per container (`docker stats`) and idle CPU per container (the container's cgroup
  CPU time over a minute, health checks included), once the stack has settled, and again after
  the runs below. Target: the idle stack at most 1.5 GB.
- UI click to registered version: in headless Chromium, from the click on "Materialize all" to
  the MLflow model version that run registered (its creation time on the server).
- the UI path against the CLI, in pairs whose order alternates, after unmeasured warm-up rounds:
  UI is what the button sends (the webserver's GraphQL API: queued, dequeued by the daemon, run on
  the code server) until the run ended and its version exists; CLI is `dagster asset materialize
  -m iris_assets.definitions --select '*'` run by `docker compose exec` in the code server's
  container, on the same instance. Target: UI / CLI at most 1.3x.
- `restart` then `up --wait`; `down` (volumes kept); warm `up --wait`; `down --volumes`; `up
  --wait` with the image built and new volumes; and `down --volumes` at the end, failures too.

Figures only: nothing here asserts.
"""

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iris_devstack import browser, compose
from iris_devstack.dagster_graphql import graphql, launch_materialize_all, wait_for_run
from iris_devstack.registry import registered_version

PROJECT_IMAGE = compose.project_image()
SETTLE_SECONDS = 30.0
CPU_WINDOW_SECONDS = 60.0
PAUSE_SECONDS = 2.0
FOOTPRINT_TARGET_MB = 1536
RATIO_TARGET = 1.3
_CLI = ("dagster", "asset", "materialize", "-m", "iris_assets.definitions", "--select", "*")
_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}

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
class Sample:
    """One materialization: its phases in seconds, each from one milestone to the next.

    created: launch to the run's record (for the CLI this includes importing the code);
    queued: until the daemon takes it from the queue and reports RUN_STARTING (UI only);
    starting: to RUN_START (for the UI, the code server starting a run process that imports the
    code); running: RUN_START to the run's end; finishing: to the end of the measurement (for
    the CLI, interpreter shutdown and `docker compose exec` returning).
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
        "experiment and registered model and is each server's first request of its kind.",
    )
    parser.add_argument(
        "--keep-build-cache",
        action="store_true",
        help="Build the project image on the existing build cache instead of from nothing.",
    )
    args = parser.parse_args()
    if reason := compose.unavailable():
        raise SystemExit(f"the Compose stack needs Docker: {reason}")
    # A plain `kill` should take the stack down too: SystemExit unwinds the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="iris-compose-bench-"))
    stack = compose.ComposeStack(
        project=f"iris-bench-{uuid.uuid4().hex[:8]}",
        env_file=work / ".env",
        env=compose.fresh_env_file(work / ".env"),
    )
    lifecycle: dict[str, float] = {}
    try:
        if not args.keep_build_cache:
            for command in (("image", "rm", "--force", PROJECT_IMAGE), ("builder", "prune", "-af")):
                subprocess.run(["docker", *command], capture_output=True, check=False)
        lifecycle["cold `up --build --wait` (no project image or build cache, new volumes)"] = (
            _timed(lambda: stack.up(build=True))
        )
        print(f"stack up: {stack.webserver_url}, .env in {work}", flush=True)
        idle = _footprint(stack)
        clicks = [_click_to_version(stack) for _ in range(max(1, args.pairs // 2))]
        samples = _ui_against_cli(stack, args.pairs, args.warmup)
        after = _footprint(stack)

        def restart() -> None:
            stack.compose("restart", timeout=compose.UP_TIMEOUT)
            stack.up()

        lifecycle["`restart`, then `up --wait`"] = _timed(restart)
        lifecycle["`down` (volumes kept)"] = _timed(stack.down)
        lifecycle["warm `up --wait` (image and volumes kept)"] = _timed(stack.up)
        lifecycle["`down --volumes`"] = _timed(lambda: stack.down(volumes=True))
        lifecycle["`up --wait` (image built, new volumes)"] = _timed(stack.up)
    finally:
        stack.down(volumes=True)
    _report_lifecycle(lifecycle)
    _report_image()
    _report_footprint(f"idle, {SETTLE_SECONDS:.0f} s after the start", idle)
    _report_footprint(f"idle, {SETTLE_SECONDS:.0f} s after the runs", after)
    _report_clicks(clicks)
    _report_times(samples)


def _timed(action: Callable[[], Any]) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"{seconds:.1f} s", flush=True)
    return seconds


def _click_to_version(stack: compose.ComposeStack) -> tuple[float, float]:
    """Seconds from the click to the version's creation, and to the run's end."""
    with browser.chromium() as chromium, browser.page(chromium) as page:
        browser.open_iris_group(page, stack.webserver_url)
        clicked = time.time()
        run_id = browser.click_materialize_all(page)
        status = wait_for_run(stack.webserver_url, run_id)
    if status != "SUCCESS":
        raise SystemExit(f"run {run_id} ended {status}\n{stack.diagnosis()}")
    version = registered_version(stack.mlflow_url, run_id)
    run, _ = _run_times(stack, run_id)
    print(f"click: version {version.version}", flush=True)
    return version.creation_timestamp / 1000 - clicked, run["endTime"] - clicked


def _ui_against_cli(
    stack: compose.ComposeStack, pairs: int, warmup: int
) -> dict[str, list[Sample]]:
    paths = {"UI": _ui_run, "CLI": _cli_run}
    for _ in range(warmup):
        for name, path in paths.items():
            print(f"warm-up: {name}: {path(stack).total:.2f} s", flush=True)
            time.sleep(PAUSE_SECONDS)
    samples: dict[str, list[Sample]] = {"UI": [], "CLI": []}
    for round_ in range(pairs):
        for name in ("UI", "CLI") if round_ % 2 == 0 else ("CLI", "UI"):
            sample = paths[name](stack)
            samples[name].append(sample)
            print(f"round {round_ + 1}: {name}: {sample.total:.2f} s", flush=True)
            time.sleep(PAUSE_SECONDS)
    return samples


def _ui_run(stack: compose.ComposeStack) -> Sample:
    """The UI's "Materialize all" by GraphQL, until the run ended and its model version exists."""
    launched = time.time()
    run_id = launch_materialize_all(stack.webserver_url)
    status = wait_for_run(stack.webserver_url, run_id)
    if status != "SUCCESS":
        raise SystemExit(f"UI run {run_id} ended {status}\n{stack.diagnosis()}")
    version = registered_version(stack.mlflow_url, run_id)
    run, events = _run_times(stack, run_id)
    return _phases(launched, run, events, max(run["endTime"], version.creation_timestamp / 1000))


def _cli_run(stack: compose.ComposeStack) -> Sample:
    """The main command as a whole process in the code server's container, on its instance."""
    launched = time.time()
    stack.exec("iris-assets-code", *_CLI)
    done = time.time()
    results = graphql(stack.webserver_url, _LATEST_RUN)["runsOrError"]["results"]
    run, events = _run_times(stack, results[0]["runId"])
    if run["creationTime"] < launched:
        raise SystemExit(f"the latest run {results[0]['runId']} is not the command's")
    return _phases(launched, run, events, done)


def _run_times(stack: compose.ComposeStack, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
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


def _footprint(stack: compose.ComposeStack) -> dict[str, tuple[float, float | None]]:
    """Per service: memory in MiB (`docker stats`) and CPU in % of one core over a minute."""
    time.sleep(SETTLE_SECONDS)
    containers = {
        name: row["ID"] for name, row in stack.states().items() if row["State"] == "running"
    }
    before = {name: _cpu_seconds(container) for name, container in containers.items()}
    started = time.monotonic()
    time.sleep(CPU_WINDOW_SECONDS)
    elapsed = time.monotonic() - started
    after = {name: _cpu_seconds(container) for name, container in containers.items()}
    output = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{json .}}", *containers.values()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    memory = {}
    for line in output.splitlines():
        row = json.loads(line)
        name = next(n for n, c in containers.items() if row["ID"].startswith(c[:12]))
        memory[name] = _bytes(row["MemUsage"].split("/")[0]) / 2**20
    return {
        name: (
            memory[name],
            None
            if before[name] is None or after[name] is None
            else 100 * (after[name] - before[name]) / elapsed,
        )
        for name in containers
    }


def _cpu_seconds(container: str) -> float | None:
    """CPU time of the container's cgroup so far (cgroup v1 or v2), or None where not found."""
    full = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}}", container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{full}/cpuacct.usage")
    if v1.is_file():
        return int(v1.read_text()) / 1e9
    for v2 in (
        Path(f"/sys/fs/cgroup/system.slice/docker-{full}.scope/cpu.stat"),
        Path(f"/sys/fs/cgroup/docker/{full}/cpu.stat"),
    ):
        if v2.is_file():
            usage = re.search(r"^usage_usec (\d+)", v2.read_text(), re.M)
            return int(usage.group(1)) / 1e6 if usage else None
    return None


def _bytes(text: str) -> float:
    """'103.5MiB' -> bytes."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _report_lifecycle(lifecycle: Mapping[str, float]) -> None:
    print("\n| step | seconds |")
    print("| --- | --- |")
    for step, seconds in lifecycle.items():
        print(f"| {step} | {seconds:.1f} |")


def _report_image() -> None:
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", PROJECT_IMAGE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    venv = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "du", PROJECT_IMAGE, "-sm", "/app/.venv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    print(f"\nproject image {PROJECT_IMAGE}: {int(size) / 1e6:.0f} MB ({venv} MiB of it the venv)")


def _report_footprint(when: str, figures: Mapping[str, tuple[float, float | None]]) -> None:
    print(f"\nContainers, {when}:\n")
    print("| service | memory (MiB) | CPU (% of a core) |")
    print("| --- | --- | --- |")
    for name, (memory, cpu) in sorted(figures.items(), key=lambda item: -item[1][0]):
        print(f"| {name} | {memory:.0f} | {'n/a' if cpu is None else f'{cpu:.1f}'} |")
    total = sum(memory for memory, _ in figures.values())
    cpus = [cpu for _, cpu in figures.values() if cpu is not None]
    print(f"| **total** | {total:.0f} | {sum(cpus):.1f} |")
    print(f"\nidle stack: {total:.0f} MiB (target at most {FOOTPRINT_TARGET_MB} MiB, 1.5 GB)")


def _report_clicks(clicks: list[tuple[float, float]]) -> None:
    to_version = [version for version, _ in clicks]
    to_end = [end for _, end in clicks]
    print(
        f"\nUI click to registered version: median {statistics.median(to_version):.2f} s "
        f"({min(to_version):.2f}-{max(to_version):.2f}) in {len(clicks)} clicks; to the run's "
        f"end {statistics.median(to_end):.2f} s"
    )


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
    phases = ("created", "queued", "starting", "running", "finishing")
    print("\nWhere the time goes, medians in seconds (see Sample):\n")
    print("| path | " + " | ".join(phases) + " |")
    print("| --- |" + " --- |" * len(phases))
    for name, runs in samples.items():
        cells = [f"{statistics.median(getattr(s, phase) for s in runs):.2f}" for phase in phases]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
