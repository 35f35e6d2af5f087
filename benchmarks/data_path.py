"""Data path at scale: `iris_df` against the COPY floor and the chapter's `pandas.read_sql`.

    uv run python benchmarks/data_path.py [--rows 1000000] [--pairs 5]

Fills `iris_data` in a database of its own on PostgreSQL (127.0.0.1:5432, or set
IRIS_TEST_POSTGRES_URL) with `--rows` rows, then reads the newest `--rows` of them, alternating,
each in a fresh process:

- floor: `COPY (SELECT <iris_df's columns> ... LIMIT n) TO STDOUT` through psycopg, every block
  thrown away: what the server and the wire cost before any row becomes a value;
- chapter: the tutorial's way, psycopg2 and `pandas.read_sql("SELECT * ... LIMIT n")`;
- iris_df: the asset's own function with its PostgreSQL resource and `limit` = n.

Time is the read alone, connecting included; each way's modules are imported before the clock
starts. Memory is the peak resident memory the read adds to its process, against the DataFrame's
own size (index and columns). Figures only: nothing here asserts.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import _bench  # benchmarks/ is the script's directory, so first on sys.path

MODES = ("floor", "chapter", "iris_df")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows to read (default 1M).")
    parser.add_argument("--pairs", type=int, default=5, help="Rounds of all modes (default 5).")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_read(args.child, os.environ["IRIS_DATABASE_URL"], args.rows)))
        return
    with _bench.database("iris_data_path") as data_url:
        _bench.fill(data_url, args.rows - 150)
        samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for round_ in range(args.pairs):
            for mode in MODES if round_ % 2 == 0 else reversed(MODES):
                command = [sys.executable, __file__, "--child", mode, "--rows", str(args.rows)]
                env = {**os.environ, "IRIS_DATABASE_URL": data_url}
                result = subprocess.run(command, env=env, capture_output=True, text=True)
                if result.returncode != 0:
                    raise SystemExit(f"{mode} failed:\n{result.stderr[-3000:]}")
                sample = json.loads(result.stdout.strip().splitlines()[-1])
                samples[mode].append(sample)
                print(
                    f"round {round_ + 1}: {mode}: {sample['seconds']:.2f} s, "
                    f"+{sample['peak_mb']:.0f} MB peak, frame {sample['frame_mb']:.0f} MB",
                    flush=True,
                )
    _report(samples, args.rows)


def _read(mode: str, database_url: str, rows: int) -> dict[str, float]:
    """Read `rows` rows the way `mode` says; seconds, peak memory added and the frame's size.

    Imports come first and count for none of the figures: each way's own start-up is measured
    end to end elsewhere.
    """
    read = _reader(mode, database_url, rows)
    before = _resident_mb()
    started = time.perf_counter()
    frame = read()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = 0.0 if frame is None else frame.memory_usage(index=True, deep=True).sum() / 2**20
    return {"seconds": seconds, "peak_mb": peak - before, "frame_mb": size}


def _reader(mode: str, database_url: str, rows: int) -> Callable[[], Any]:
    """The read of `mode`, its modules imported."""
    if mode == "floor":
        import psycopg

        from iris_assets.iris_table import NEWEST_ROWS

        def floor() -> None:
            query = NEWEST_ROWS.as_string() % rows
            with (
                psycopg.connect(database_url) as conn,
                conn.cursor().copy(f"COPY ({query}) TO STDOUT") as copy,
            ):
                for _ in copy:
                    pass

        return floor
    if mode == "chapter":
        import pandas as pd
        import psycopg2

        def chapter() -> Any:
            conn = psycopg2.connect(database_url)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas: "only supports SQLAlchemy connectable"
                frame = pd.read_sql(f"SELECT * FROM iris_data ORDER BY id DESC LIMIT {rows}", conn)
            conn.close()
            return frame

        return chapter
    # ADBC's driver, which the resource imports on its first read of over PSYCOPG_MAX_ROWS rows;
    # here, like the other ways' modules, before the clock.
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import dagster as dg

    from iris_assets.assets import iris_df
    from iris_assets.resources.postgres import PostgresResource

    context = dg.build_asset_context(
        resources={"postgres": PostgresResource(database_url=database_url)}
    )
    return lambda: iris_df(context, config={"limit": rows}).value


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _report(samples: dict[str, list[dict[str, float]]], rows: int) -> None:
    print(f"\nReading the newest {rows:,} rows.\n")
    print("| mode | median (s) | min-max (s) | peak memory added (MB) | frame (MB) |")
    print("| --- | --- | --- | --- | --- |")
    median: dict[str, dict[str, float]] = {}
    for mode, runs in samples.items():
        seconds = [run["seconds"] for run in runs]
        median[mode] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        m = median[mode]
        frame = f"{m['frame_mb']:.1f}" if m["frame_mb"] else "-"
        print(
            f"| {mode} | {m['seconds']:.2f} | {min(seconds):.2f}-{max(seconds):.2f} | "
            f"{m['peak_mb']:.0f} | {frame} |"
        )
    ours, floor, chapter = median["iris_df"], median["floor"], median["chapter"]
    print(f"\niris_df / floor: {ours['seconds'] / floor['seconds']:.2f}x (target at most 2x)")
    print(
        f"chapter / iris_df: {chapter['seconds'] / ours['seconds']:.2f}x faster "
        "(target at least 5x)"
    )
    print(
        f"iris_df peak memory / its DataFrame: {ours['peak_mb'] / ours['frame_mb']:.2f}x "
        "(target at most 2x)"
    )
    print(f"chapter peak memory / its DataFrame: {chapter['peak_mb'] / chapter['frame_mb']:.2f}x")


if __name__ == "__main__":
    main()
