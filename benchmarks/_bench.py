"""What the benchmarks share: the services they start, a filled iris_data, one timed process."""

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from iris_assets import iris_table
from iris_devstack.mlflow_server import s3_environ, tracking_server
from iris_devstack.postgres import postgres_database, shared_server_url
from iris_devstack.seaweedfs import seaweedfs_s3
from iris_devstack.service_env import environ_without_services

ACCESS_KEY, SECRET_KEY, BUCKET = "bench-access", "bench-secret-key", "mlflow"
NOISE_CM = 0.1
"""Width of the uniform noise added to each feature of a copied row: the data set's precision."""
SEED = 0.2022
"""PostgreSQL `setseed` value, so every run of a benchmark trains on the same rows."""

_COLUMNS = (*iris_table.FEATURES, iris_table.LABEL)
# The seed rows numbered 0..n-1; each new row copies a random one, features jittered, label kept.
_FILL = sql.SQL(
    "WITH seed AS ("
    " SELECT row_number() OVER (ORDER BY id) - 1 AS k, {features}, {label} FROM {table}),"
    " picks AS ("
    " SELECT g.i, floor(random() * (SELECT count(*) FROM seed))::bigint AS k"
    " FROM generate_series(1, %(rows)s) AS g(i))"
    " INSERT INTO {table} (timestamp, {columns})"
    " SELECT NOW(), {jittered}, seed.{label} FROM picks JOIN seed USING (k) ORDER BY picks.i"
).format(
    table=sql.Identifier(iris_table.TABLE),
    features=sql.SQL(", ").join(map(sql.Identifier, iris_table.FEATURES)),
    label=sql.Identifier(iris_table.LABEL),
    columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
    jittered=sql.SQL(", ").join(
        sql.SQL("round((seed.{f} + (random() - 0.5) * %(noise)s)::numeric, 2)::float8").format(
            f=sql.Identifier(f)
        )
        for f in iris_table.FEATURES
    ),
)


@dataclass(frozen=True)
class Stack:
    """Where the services the benchmark started are."""

    data_url: str
    tracking_uri: str
    s3_url: str


@contextmanager
def database(name: str) -> Iterator[str]:
    """A database of its own on the suite's server (IRIS_TEST_POSTGRES_URL), dropped afterwards."""
    with postgres_database(shared_server_url(), f"{name}_{uuid.uuid4().hex[:8]}") as url:
        yield url


@contextmanager
def tracking_stack(work: Path, name: str) -> Iterator[Stack]:
    """A database for iris_data, and an MLflow server on PostgreSQL with SeaweedFS artifacts."""
    with (
        database(name) as data_url,
        database(f"{name}_mlflow") as backend,
        seaweedfs_s3(work / "s3", ACCESS_KEY, SECRET_KEY, BUCKET) as s3,
        tracking_server(
            work / "mlflow",
            backend_store_uri=backend,
            artifacts_destination=f"s3://{BUCKET}",
            env=s3_environ(s3, ACCESS_KEY, SECRET_KEY),
        ) as tracking_uri,
    ):
        yield Stack(data_url=data_url, tracking_uri=tracking_uri, s3_url=s3)


def service_env(stack: Stack, dagster_home: Path) -> dict[str, str]:
    """This process's environment, its service settings replaced by the benchmark's own.

    Without PYTHONDONTWRITEBYTECODE (CI images set it): Python caches compiled modules, as on a
    user's machine, instead of compiling the project's own modules again in every process.
    """
    env = environ_without_services()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env | {
        "IRIS_DATABASE_URL": stack.data_url,
        "MLFLOW_TRACKING_URI": stack.tracking_uri,
        "DAGSTER_HOME": str(dagster_home),
    }


def fill(database_url: str, rows: int) -> None:
    """Seed the 150 iris rows, then add `rows` noisy copies server-side, in one statement.

    Copies are drawn at random from the seed rows, so every newest-N window holds all three
    classes in about equal shares and a model trained on it scores as on the real data.
    """
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        iris_table.seed(conn)
        conn.execute("SELECT setseed(%s)", (SEED,))
        conn.execute(_FILL, {"rows": rows, "noise": NOISE_CM})
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(iris_table.TABLE)))
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(iris_table.TABLE))
        ).fetchone()
    total = count[0] if count else 0
    print(f"iris_data: {total:,} rows in {time.perf_counter() - started:.2f} s", flush=True)


def measure(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, float]:
    """Wall time of the whole process and the peak resident memory (MB) of its largest process."""
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024
