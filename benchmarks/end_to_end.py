"""End to end: the graph's main command against the tutorial's script, on the same real services.

    uv run python benchmarks/end_to_end.py [--pairs 5] [--warmup 1]

Starts PostgreSQL (a database on 127.0.0.1:5432, or set IRIS_TEST_POSTGRES_URL), a SeaweedFS S3
store and an MLflow tracking server; runs each command once unmeasured (the stack's first run pays
its one-time setup); then runs, alternating, `dagster asset materialize --select
'*registered_model'` (what the chapter's script does: read, split, train, score, log and register,
with the new version's load check; not the champion and the predictions, which the script has no
part of), the chapter's script with MLflow's defaults, the script with explicit requirements, and
the same command on benchmarks/empty_graph.py (those steps doing nothing: Dagster's own floor).
Prints each one's median wall time and peak memory with their spread, and the ratios the
performance issue targets. Figures only: nothing here asserts.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import _bench  # benchmarks/ is the script's directory, so first on sys.path

from iris_devstack.materialize import command as materialize_command

HERE = Path(__file__).parent
COMMANDS = {
    "graph": materialize_command("*registered_model"),
    "script": [sys.executable, str(HERE / "tutorial_script.py")],
    "script, explicit requirements": [
        sys.executable,
        str(HERE / "tutorial_script.py"),
        "--explicit-requirements",
    ],
    "Dagster alone (same steps, no work)": [
        *materialize_command("*")[:3],
        "-f",
        str(HERE / "empty_graph.py"),
        "--select",
        "*",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="Rounds of all commands (default 5).")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="Unmeasured rounds first (default 1): the stack's first run creates Dagster's storage "
        "and MLflow's experiment and registered model, and is the server's first request of each "
        "kind: 2-4 s that no later run pays.",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="iris-bench-"))
    with _bench.tracking_stack(work, "iris_bench") as stack:
        _bench.fill(stack.data_url, 0)
        dagster_home = work / "dagster_home"
        dagster_home.mkdir()
        env = _bench.service_env(stack, dagster_home)
        for _ in range(args.warmup):
            for name, command in COMMANDS.items():
                seconds, _ = _bench.measure(command, env, work, work / "last-command.log")
                print(f"warm-up: {name}: {seconds:.2f} s", flush=True)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for round_ in range(args.pairs):
            # Alternate the order so no command always runs on a cold (or warm) machine.
            names = list(COMMANDS) if round_ % 2 == 0 else list(reversed(COMMANDS))
            for name in names:
                seconds, peak_mb = _bench.measure(
                    COMMANDS[name], env, work, work / "last-command.log"
                )
                samples[name].append((seconds, peak_mb))
                print(f"round {round_ + 1}: {name}: {seconds:.2f} s, {peak_mb:.0f} MB", flush=True)
    _report(samples)


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
    graph, script, explicit, dagster = (medians[name] for name in COMMANDS)
    graph_name, script_name, explicit_name, _ = COMMANDS
    print(
        f"\ngraph / script wall time: {graph[0] / script[0]:.2f}x; "
        f"{_paired(samples, graph_name, script_name)} (target at most 0.8x)"
    )
    print(f"graph / script peak memory: {graph[1] / script[1]:.2f}x (target at most 1.2x)")
    print(
        f"graph / script with explicit requirements: {graph[0] / explicit[0]:.2f}x; "
        f"{_paired(samples, graph_name, explicit_name)} (target at most 1.25x)"
    )
    # What the graph would take if putting the script's work into Dagster's steps cost nothing.
    floor = dagster[0] + explicit[0]
    print(
        f"graph / (Dagster alone + script with explicit requirements): {graph[0] / floor:.2f}x "
        "(what the graph's orchestration costs beyond Dagster's own floor)"
    )


def _paired(samples: dict[str, list[tuple[float, float]]], over: str, under: str) -> str:
    """The wall-time ratio within each round, where both ran a minute apart: its median and range.

    Steadier than the ratio of medians when the machine's speed drifts between rounds.
    """
    ratios = [a[0] / b[0] for a, b in zip(samples[over], samples[under], strict=True)]
    return f"round by round {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


if __name__ == "__main__":
    main()
