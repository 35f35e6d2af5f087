"""`iris-assets`: fill `iris_data` as the tutorial's data generator does; serve the champion;
show the embedded MLflow store's UI; say what the settings point at and whether it answers."""

import argparse
import logging
import random
import signal
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from iris_assets import doctor, iris_table, mlflow_ui, serving, settings

if TYPE_CHECKING:
    from iris_assets.resources.postgres import PostgresResource

_log = logging.getLogger("iris_assets")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    resolved = settings.apply()
    if args.command == "serve":
        serving.run(args)
        return
    if args.command == "mlflow-ui":
        raise SystemExit(mlflow_ui.run(args))
    if args.command == "doctor":
        raise SystemExit(doctor.run())
    # Imported after parsing: Dagster and pandas take seconds that --help and bad usage need not.
    from iris_assets.resources.postgres_from_env import postgres_from_env

    postgres = postgres_from_env(resolved, resolve=True)
    _log.info("Using %s", postgres.describe())
    if args.command == "seed":
        seed(postgres)
    else:
        # `docker compose stop` sends SIGTERM: end as Ctrl-C does, between rows, with exit code 0.
        signal.signal(signal.SIGTERM, _interrupt)
        generate(
            postgres,
            interval=args.interval,
            count=args.count,
            seed_value=args.seed,
            report_every=args.report_every,
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def seed(postgres: "PostgresResource") -> int:
    """Create `iris_data` if missing and insert the 150 iris rows unless it already has rows."""
    with postgres.connect() as conn:
        inserted = iris_table.seed(conn)
    if inserted:
        _log.info("Inserted %d iris rows into %s", inserted, iris_table.TABLE)
    else:
        _log.info("%s already holds rows; nothing inserted", iris_table.TABLE)
    return inserted


def generate(
    postgres: "PostgresResource",
    interval: float,
    count: int | None,
    seed_value: int | None,
    report_every: int = 60,
) -> int:
    """Insert one random iris row every `interval` seconds, `count` times or until interrupted.

    Says so every `report_every` rows, so a person watching a generator that runs for hours
    knows it still does.
    """
    rng = random.Random(seed_value)
    inserted = 0
    with postgres.connect() as conn:
        iris_table.create_table(conn)
        _log.info(
            "Inserting a random row into %s every %g s%s",
            iris_table.TABLE,
            interval,
            f", {count} in all" if count else " until stopped (Ctrl-C)",
        )
        try:
            while count is None or inserted < count:
                if inserted:
                    time.sleep(interval)
                iris_table.insert_rows(conn, [iris_table.random_row(rng)])
                inserted += 1
                if inserted % report_every == 0:
                    _log.info("%d rows inserted so far", inserted)
        except KeyboardInterrupt:
            _log.info("Interrupted")
    _log.info("Inserted %d random rows into %s", inserted, iris_table.TABLE)
    return inserted


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iris-assets",
        description="Fill iris_data in IRIS_DATABASE_URL (unset: the embedded PostgreSQL), serve "
        "the champion, show the embedded MLflow store. Settings come from the environment, then "
        ".env in the working directory.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="Create iris_data if missing; insert the 150 iris rows once.")
    generate_parser = commands.add_parser("generate", help="Insert random iris rows.")
    generate_parser.add_argument(
        "--interval", type=_non_negative, default=1.0, help="Seconds between rows (default 1)."
    )
    generate_parser.add_argument(
        "--count", type=_positive_int, default=None, help="Stop after N rows (default: never)."
    )
    generate_parser.add_argument("--seed", type=int, default=None, help="Seed of the row choice.")
    generate_parser.add_argument(
        "--report-every",
        type=_positive_int,
        default=60,
        help="Say how many rows went in every N rows (default 60: a minute at the default pace).",
    )
    serve_parser = commands.add_parser(
        "serve",
        help="Serve models:/<model>@<alias> over HTTP in MLflow's scoring protocol "
        "(MLFLOW_TRACKING_URI), swapping in each new version the alias points at once it "
        "proved it answers.",
    )
    serving.add_arguments(serve_parser)
    mlflow_ui.add_arguments(
        commands.add_parser(
            "mlflow-ui",
            help="Serve the MLflow UI of the embedded store under IRIS_HOME, lightly: one "
            "worker, no job runner.",
        )
    )
    commands.add_parser(
        "doctor",
        help="Show each setting and its source, check that each service they need answers (a "
        "few seconds each), where local state lives and the versions in use. Exit code 1 when "
        "something needed does not answer.",
    )
    return parser


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value
