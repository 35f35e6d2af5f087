"""Serving: `iris-assets serve` against plain `mlflow models serve` and against the floor.

    uv run python benchmarks/serving.py [--seconds 15] [--connections 4] [--pairs 2]

Puts its databases on the PostgreSQL at 127.0.0.1:5432 (or IRIS_TEST_POSTGRES_URL), starts
SeaweedFS and an MLflow tracking server, and registers sk_model version 1 (champion) with the
README's command. Then, in rounds whose order flips, each server on that version is started, warmed
up for 2 s and loaded for `--seconds` from a second process on loopback (benchmarks/_load.py:
`--connections` keep-alive connections sending the README's one-row request back to back):

- `mlflow models serve -m models:/sk_model/1 --env-manager local --workers 1`;
- `iris-assets serve --poll 1`.

For each: requests per second, p50 and p99 latency, and the resident memory of its process tree
(psutil RSS, sampled through the load, peak). After the rounds, `iris-assets serve` under the same
load while the alias moves three times (to new versions registered from version 1's files): the
failed requests, the versions the answers named, and its peak resident memory. The floor is the
same row through an in-process pyfunc `predict`; `scoring_server.invocations` in process adds the
parsing both servers do.

Goals of issue 22: 0 failed requests; requests per second and p99 no worse than `mlflow models
serve`; at most 300 MiB resident. Figures only: nothing here asserts. The load generator shares the
machine's cores with the server, as wrk would: compare the two servers within one run.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _bench  # benchmarks/ is the script's directory, so first on sys.path
import psutil

from iris_devstack.materialize import command as materialize_command
from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http

HERE = Path(__file__).parent
MODEL, ALIAS = "sk_model", "champion"
ROW = [[5.1, 3.5, 1.4, 0.2]]
WARMUP_SECONDS = 2.0
RSS_GOAL_MIB = 300
PROMOTIONS = 3


@dataclass(frozen=True)
class Load:
    """What the load generator saw, and the server's peak memory meanwhile."""

    requests: int
    failures: int
    reasons: list[str]
    seconds: float
    latencies_ms: list[float]
    versions: list[str]
    peak_rss_mib: float
    processes: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="Load per server (15).")
    parser.add_argument("--connections", type=int, default=4, help="Keep-alive connections (4).")
    parser.add_argument("--pairs", type=int, default=2, help="Rounds of both servers (2).")
    args = parser.parse_args()
    # A plain `kill` should stop the services too: SystemExit unwinds the blocks that started them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="iris-bench-serving-"))
    with _bench.tracking_stack(work, "iris_bench_serving") as stack:
        _bench.fill(stack.data_url, 0)
        dagster_home = work / "dagster_home"
        dagster_home.mkdir()
        env = _bench.service_env(stack, dagster_home)
        seconds, _ = _bench.measure(
            materialize_command("*champion_model"), env, work, work / "materialize.log"
        )
        print(f"registered {MODEL} version 1 (champion): {seconds:.1f} s", flush=True)
        floor = _floor(stack.tracking_uri)
        servers: dict[str, Callable[[int], list[str]]] = {
            "mlflow models serve --workers 1": _mlflow_models_serve,
            "iris-assets serve": _iris_assets_serve,
        }
        samples: dict[str, list[Load]] = {name: [] for name in servers}
        for round_ in range(args.pairs):
            names = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in names:
                load = _measure(servers[name], env, work, args.seconds, args.connections)
                samples[name].append(load)
                print(f"round {round_ + 1}: {name}: {_line(load)}", flush=True)
        promoted = _promotions(env, work, stack.tracking_uri, args.seconds, args.connections)
    _report(samples, floor, promoted)


def _mlflow_models_serve(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{MODEL}/1",
        "--env-manager",
        "local",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _iris_assets_serve(port: int) -> list[str]:
    cli = str(Path(sys.executable).with_name("iris-assets"))
    return [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--poll", "1"]


def _server_env(env: dict[str, str]) -> dict[str, str]:
    """`mlflow models serve` starts uvicorn by name: this environment's must come first."""
    return env | {"PATH": os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])}


def _measure(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    work: Path,
    seconds: float,
    connections: int,
) -> Load:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / f"server-{port}.log"
    with background_process(command(port), log, _server_env(env), work) as server:
        wait_for_http(f"{url}/ping", 180, server)
        _load(url, WARMUP_SECONDS, connections, server.pid)
        return _load(url, seconds, connections, server.pid)


def _promotions(
    env: dict[str, str], work: Path, tracking_uri: str, seconds: float, connections: int
) -> Load:
    """`iris-assets serve` under load while the alias moves to three new versions, spread over
    the load's first two thirds."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    first = client.get_model_version(MODEL, "1")
    model_id = first.source.removeprefix("models:/")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "promotions.log"
    with background_process(_iris_assets_serve(port), log, _server_env(env), work) as server:
        wait_for_http(f"{url}/ping", 180, server)
        _load(url, WARMUP_SECONDS, connections, server.pid)

        def promote() -> None:
            for _ in range(PROMOTIONS):
                time.sleep(seconds / (PROMOTIONS + 1.5))
                copy = client.create_model_version(
                    MODEL, first.source, first.run_id, model_id=model_id
                )
                client.set_registered_model_alias(MODEL, ALIAS, copy.version)

        promoter = threading.Thread(target=promote)
        promoter.start()
        load = _load(url, seconds, connections, server.pid)
        promoter.join()
    swaps = [line for line in log.read_text().splitlines() if "in place of version" in line]
    for line in swaps:
        print(f"  {line}")
    return load


def _load(url: str, seconds: float, connections: int, pid: int) -> Load:
    """Run the load generator as a process of its own; sample the server's memory meanwhile."""
    command = [
        sys.executable,
        str(HERE / "_load.py"),
        url,
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    # Its answer (every latency) outgrows a pipe's buffer: a file, so it never waits on a reader.
    with tempfile.TemporaryFile("w+") as output:
        generator = subprocess.Popen(command, stdout=output, text=True)
        peak, processes = 0.0, 0
        while generator.poll() is None:
            rss, processes = _tree_rss(pid)
            peak = max(peak, rss)
            time.sleep(0.25)
        if generator.returncode != 0:
            raise SystemExit(f"the load generator failed ({generator.returncode})")
        output.seek(0)
        result = json.load(output)
    return Load(
        requests=result["requests"],
        failures=result["failures"],
        reasons=result["reasons"],
        seconds=result["seconds"],
        latencies_ms=result["latencies_ms"],
        versions=result["versions"],
        peak_rss_mib=peak,
        processes=processes,
    )


def _tree_rss(pid: int) -> tuple[float, int]:
    """Resident memory (MiB) of a process and all its descendants, and how many there are."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0
    total = 0
    for process in tree:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20, len(tree)


def _floor(tracking_uri: str) -> dict[str, list[float]]:
    """Milliseconds of the README's row through pyfunc `predict` in this process, and through
    `scoring_server.invocations` (JSON parsing, schema, predict, JSON answer)."""
    import mlflow
    import pandas as pd
    from mlflow.pyfunc import scoring_server

    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
    schema = model.metadata.get_input_schema()
    columns = schema.input_names()
    frame = pd.DataFrame(ROW, columns=columns)
    body = json.dumps({"dataframe_split": {"columns": columns, "data": ROW}})
    calls = {
        "predict": lambda: model.predict(frame),
        "invocations": lambda: scoring_server.invocations(body, "application/json", model, schema),
    }
    timings: dict[str, list[float]] = {}
    for name, call in calls.items():
        for _ in range(200):
            call()
        samples = []
        for _ in range(2000):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = samples
    return timings


def _line(load: Load) -> str:
    return (
        f"{load.rps:.0f} req/s, p50 {load.percentile(0.5):.2f} ms, p99 "
        f"{load.percentile(0.99):.2f} ms, {load.failures} failed of {load.requests}, "
        f"{load.peak_rss_mib:.0f} MiB in {load.processes} process(es)"
    )


def _report(samples: dict[str, list[Load]], floor: dict[str, list[float]], promoted: Load) -> None:
    print("\n| server | req/s | p50 (ms) | p99 (ms) | failed | peak RSS (MiB) | processes |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    medians = {}
    for name, loads in samples.items():
        rps = statistics.median(load.rps for load in loads)
        p50 = statistics.median(load.percentile(0.5) for load in loads)
        p99 = statistics.median(load.percentile(0.99) for load in loads)
        rss = max(load.peak_rss_mib for load in loads)
        failed = sum(load.failures for load in loads)
        medians[name] = (rps, p50, p99, rss)
        print(
            f"| {name} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {failed} | {rss:.0f} | "
            f"{loads[0].processes} |"
        )
    for name, timings in floor.items():
        ordered = sorted(timings)
        p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
        label = "floor: pyfunc predict" if name == "predict" else "scoring_server.invocations"
        print(f"| {label}, in process | {1000 / p50:.0f} | {p50:.2f} | {p99:.2f} | - | - | - |")
    mlflow_rps, _, mlflow_p99, mlflow_rss = medians["mlflow models serve --workers 1"]
    rps, p50, p99, rss = medians["iris-assets serve"]
    floor_p50 = sorted(floor["predict"])[len(floor["predict"]) // 2]
    print(
        f"\niris-assets serve / mlflow models serve: req/s {rps / mlflow_rps:.2f}x (goal: at "
        f"least 1x), p99 {p99 / mlflow_p99:.2f}x (goal: at most 1x), memory "
        f"{rss / mlflow_rss:.2f}x"
    )
    print(f"iris-assets serve p50 / the floor's predict: {p50 / floor_p50:.1f}x")
    runs: list[str] = []
    for version in promoted.versions:
        if version not in runs:
            runs.append(version)
    counts = {version: promoted.versions.count(version) for version in runs}
    print(
        f"\nthree promotions under load: {promoted.requests} requests, {promoted.failures} failed "
        f"(goal: 0){': ' + '; '.join(promoted.reasons) if promoted.reasons else ''}; answers by "
        f"version {counts}; {_line(promoted)}"
    )
    print(
        f"peak resident memory of iris-assets serve: {max(rss, promoted.peak_rss_mib):.0f} MiB "
        f"(goal: at most {RSS_GOAL_MIB} MiB)"
    )


if __name__ == "__main__":
    main()
