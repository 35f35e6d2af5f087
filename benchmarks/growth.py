"""Growth: end-to-end and per-step time of the main command as `limit` grows, on real services.

    uv run python benchmarks/growth.py [--pairs 3] [--limits 100,1000,10000,100000]

Starts PostgreSQL (a database on 127.0.0.1:5432, or set IRIS_TEST_POSTGRES_URL), a SeaweedFS S3
store and an MLflow tracking server as benchmarks/end_to_end.py does; fills `iris_data` with the
150 iris rows plus max(limits) noisy copies; then runs `dagster asset materialize --select '*'`
with `iris_df`'s `limit` set to each value, in alternating order across rounds. Prints, per
limit, the median wall time, peak memory and seconds of every step (assets and asset checks, read
from Dagster's storage), how each step grows from the smallest to the largest limit, and which
step dominates. Figures only: nothing here asserts.
"""

import argparse
import itertools
import json
import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import _bench  # benchmarks/ is the script's directory, so first on sys.path
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from iris_devstack.materialize import command as materialize_command


@dataclass(frozen=True)
class Sample:
    """One materialization: the process as a whole, and the run's steps as Dagster timed them."""

    wall: float
    peak_mb: float
    run: float
    steps: dict[str, float]
    valid_acc: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="Rounds of all limits (default 3).")
    parser.add_argument(
        "--limits",
        type=_limits,
        default=(100, 1_000, 10_000, 100_000),
        help="Comma-separated values of iris_df's limit (default 100,1000,10000,100000).",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="Unmeasured runs at the smallest limit first (default 1): the first run creates "
        "Dagster's storage and MLflow's experiment and registered model.",
    )
    args = parser.parse_args()
    limits: tuple[int, ...] = args.limits
    work = Path(tempfile.mkdtemp(prefix="iris-growth-"))
    print(f"work directory: {work}", flush=True)
    with _bench.tracking_stack(work, "iris_growth") as stack:
        _bench.fill(stack.data_url, max(limits))
        dagster_home = work / "dagster_home"
        dagster_home.mkdir()
        env = _bench.service_env(stack, dagster_home)
        for _ in range(args.warmup):
            _print("warm-up", limits[0], _measure(limits[0], env, work, dagster_home))
        samples: dict[int, list[Sample]] = {limit: [] for limit in limits}
        for round_ in range(args.pairs):
            # Alternate the order so no limit always runs on a cold (or warm) machine.
            for limit in limits if round_ % 2 == 0 else reversed(limits):
                sample = _measure(limit, env, work, dagster_home)
                samples[limit].append(sample)
                _print(f"round {round_ + 1}", limit, sample)
    _report(samples)


def _print(label: str, limit: int, sample: Sample) -> None:
    """One line per run as it ends, so a long benchmark shows progress and outliers."""
    slowest = max(sample.steps, key=sample.steps.__getitem__)
    print(
        f"{label}: limit {limit}: {sample.wall:.2f} s wall, {sample.run:.2f} s run, "
        f"{sample.peak_mb:.0f} MB, valid_acc {sample.valid_acc:.3f}; slowest step {slowest} "
        f"{sample.steps[slowest]:.2f} s",
        flush=True,
    )


def _limits(text: str) -> tuple[int, ...]:
    """Parse `--limits`: distinct positive integers, kept in ascending order."""
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("limits must be positive integers, e.g. 100,1000")
    return tuple(values)


def _measure(limit: int, env: dict[str, str], cwd: Path, dagster_home: Path) -> Sample:
    """Run the main command once with `limit`; time the process, then read its run's steps."""
    config = {"ops": {"iris_df": {"config": {"limit": limit}}}}
    command = [*materialize_command("*"), "--config-json", json.dumps(config)]
    wall, peak_mb = _bench.measure(command, env, cwd, cwd / f"limit-{limit}.log")
    run, steps, valid_acc = _newest_run(dagster_home)
    return Sample(wall=wall, peak_mb=peak_mb, run=run, steps=steps, valid_acc=valid_acc)


def _newest_run(dagster_home: Path) -> tuple[float, dict[str, float], float]:
    """The newest run's duration, its steps' seconds (retries included) and its valid_acc.

    valid_acc shows that the noisy copies still make a sound model at every limit.
    """
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (record,) = instance.get_run_records(limit=1)
        if record.dagster_run.status != DagsterRunStatus.SUCCESS:
            raise SystemExit(f"run {record.dagster_run.run_id} ended {record.dagster_run.status}")
        steps = {
            stat.step_key: stat.end_time - stat.start_time
            for stat in instance.get_run_step_stats(record.dagster_run.run_id)
            if stat.start_time is not None and stat.end_time is not None
        }
        event = instance.get_latest_materialization_event(AssetKey("metrics"))
    materialization = event.asset_materialization if event else None
    valid_acc = materialization.metadata["valid_acc"].value if materialization else math.nan
    run = (record.end_time or 0.0) - (record.start_time or 0.0)
    return run, steps, float(valid_acc)


def _report(samples: dict[int, list[Sample]]) -> None:
    """Medians per limit, how each step grows, and which step dominates where."""
    limits = list(samples)
    steps = list(dict.fromkeys(step for runs in samples.values() for s in runs for step in s.steps))
    median = {
        limit: {
            "wall": statistics.median(s.wall for s in runs),
            "run": statistics.median(s.run for s in runs),
            "rss": statistics.median(s.peak_mb for s in runs),
            "acc": statistics.median(s.valid_acc for s in runs),
            **{step: statistics.median(s.steps.get(step, 0.0) for s in runs) for step in steps},
        }
        for limit, runs in samples.items()
    }

    print("\nMedian seconds (wall: the whole process; run: Dagster's run; then each step).\n")
    print(
        "| limit | wall (s) | wall min-max (s) | run (s) | outside run (s) | peak RSS (MB) "
        "| valid_acc | " + " | ".join(steps) + " |"
    )
    print("| --- " * (7 + len(steps)) + "|")
    for limit, runs in samples.items():
        walls = [s.wall for s in runs]
        m = median[limit]
        cells = [
            f"{limit:,}",
            f"{m['wall']:.2f}",
            f"{min(walls):.2f}-{max(walls):.2f}",
            f"{m['run']:.2f}",
            f"{m['wall'] - m['run']:.2f}",
            f"{m['rss']:.0f}",
            f"{m['acc']:.3f}",
            *(f"{m[step]:.2f}" for step in steps),
        ]
        print("| " + " | ".join(cells) + " |")

    first, last = limits[0], limits[-1]
    hops = list(itertools.pairwise(limits))
    print(
        f"\nGrowth from limit {first:,} to {last:,}: the factor per step between neighbouring "
        "limits, overall, and the log-log slope (0: flat, 1: linear, 2: quadratic in rows).\n"
    )
    header = [f"{a:,} → {b:,}" for a, b in hops]
    print("| step | " + " | ".join([*header, "overall", "slope"]) + " |")
    print("| --- " * (3 + len(hops)) + "|")
    for name in ["wall", "run", "rss", *steps]:
        label = {"wall": "wall (process)", "run": "run (Dagster)", "rss": "peak RSS"}.get(
            name, name
        )
        factors = [_ratio(median[b][name], median[a][name]) for a, b in hops]
        overall = _ratio(median[last][name], median[first][name])
        slope = (
            math.log(overall) / math.log(last / first)
            if last > first and overall > 0
            else float("nan")
        )
        cells = [*(f"{f:.2f}x" for f in factors), f"{overall:.2f}x", f"{slope:.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\nDominant step at each limit (share of the run, and of the whole process).\n")
    print(
        "| limit | dominant step | seconds | share of run | share of wall | runner-up "
        "| outside run (share of wall) |"
    )
    print("| --- " * 7 + "|")
    for limit in limits:
        m = median[limit]
        ranked = sorted(steps, key=lambda step: m[step], reverse=True)
        top = ranked[0]
        runner_up = f"{ranked[1]} ({m[ranked[1]]:.2f} s)" if len(ranked) > 1 else "-"
        outside = m["wall"] - m["run"]
        print(
            f"| {limit:,} | {top} | {m[top]:.2f} | {m[top] / m['run']:.0%} | "
            f"{m[top] / m['wall']:.0%} | {runner_up} | "
            f"{outside:.2f} s ({outside / m['wall']:.0%}) |"
        )


def _ratio(numerator: float, denominator: float) -> float:
    """A factor that prints as nan instead of failing when a step took no measurable time."""
    return numerator / denominator if denominator > 0 else float("nan")


if __name__ == "__main__":
    main()
