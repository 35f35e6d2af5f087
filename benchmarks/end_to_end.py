"""End to end: the graph's main command against the tutorial's script, on the same real services.

    uv run python benchmarks/end_to_end.py [--pairs 5]

Starts PostgreSQL (a database on 127.0.0.1:5432, or an embedded server), a SeaweedFS S3 store
and an MLflow tracking server; then runs, alternating, `dagster asset materialize --select '*'`,
the chapter's script with MLflow's defaults, and the script with explicit requirements. Prints
each one's median wall time and peak memory with their spread, and the ratios the performance
issue targets. Figures only: nothing here asserts.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from iris_assets import iris_table
from iris_assets_tests import _services
from iris_assets_tests._materialize import command as materialize_command

HERE = Path(__file__).parent
ACCESS_KEY, SECRET_KEY, BUCKET = "bench-access", "bench-secret-key", "mlflow"
COMMANDS = {
    "graph": materialize_command("*"),
    "script": [sys.executable, str(HERE / "tutorial_script.py")],
    "script, explicit requirements": [
        sys.executable,
        str(HERE / "tutorial_script.py"),
        "--explicit-requirements",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="Rounds of all commands (default 5).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="iris-bench-"))
    server_url = os.environ.get(
        "IRIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    with (
        _services.postgres_database(server_url, f"iris_bench_{uuid.uuid4().hex[:8]}") as data_url,
        _services.postgres_database(
            server_url, f"iris_bench_mlflow_{uuid.uuid4().hex[:8]}"
        ) as backend,
        _services.seaweedfs_s3(work / "s3", ACCESS_KEY, SECRET_KEY, BUCKET) as s3,
        _services.mlflow_server(
            work / "mlflow",
            backend_store_uri=backend,
            artifacts_destination=f"s3://{BUCKET}",
            env=_services.s3_environ(s3, ACCESS_KEY, SECRET_KEY),
        ) as tracking_uri,
    ):
        with psycopg.connect(data_url, autocommit=True) as conn:
            iris_table.seed(conn)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "IRIS_"))
        }
        env |= {
            "IRIS_DATABASE_URL": data_url,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "DAGSTER_HOME": str(_fresh(work / "dagster_home")),
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for round_ in range(args.pairs):
            for name, command in COMMANDS.items():
                seconds, peak_mb = _measure(command, env, work)
                samples[name].append((seconds, peak_mb))
                print(f"round {round_ + 1}: {name}: {seconds:.2f} s, {peak_mb:.0f} MB", flush=True)
    _report(samples)


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _measure(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time of the whole process and the peak resident memory of its largest process."""
    log = cwd / "last-command.log"
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def _report(samples: dict[str, list[tuple[float, float]]]) -> None:
    print("\n| command | median wall (s) | min-max (s) | median peak RSS (MB) | min-max (MB) |")
    print("| --- | --- | --- | --- | --- |")
    medians = {}
    for name, runs in samples.items():
        times, memory = [t for t, _ in runs], [m for _, m in runs]
        medians[name] = (statistics.median(times), statistics.median(memory))
        print(
            f"| {name} | {medians[name][0]:.2f} | {min(times):.2f}-{max(times):.2f} | "
            f"{medians[name][1]:.0f} | {min(memory):.0f}-{max(memory):.0f} |"
        )
    graph, script, explicit = (medians[name] for name in COMMANDS)
    print(f"\ngraph / script wall time: {graph[0] / script[0]:.2f}x (target at most 0.8x)")
    print(f"graph / script peak memory: {graph[1] / script[1]:.2f}x (target at most 1.2x)")
    print(
        f"graph / script with explicit requirements: {graph[0] / explicit[0]:.2f}x "
        "(target at most 1.25x)"
    )


if __name__ == "__main__":
    main()
