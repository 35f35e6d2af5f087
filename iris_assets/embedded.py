"""Zero-configuration services under `$IRIS_HOME`: PostgreSQL from `pgserver`, a local MLflow store.

They let a fresh clone materialize the graph with no environment set; any variable that points at a
real service replaces the embedded one.
"""

import logging
import warnings
from functools import cache
from pathlib import Path

import psycopg

from iris_assets import iris_table, settings

_log = logging.getLogger(__name__)
# pgserver narrates every pg_ctl call at INFO; its warnings and errors still show.
logging.getLogger("pgserver").setLevel(logging.WARNING)


def database_url() -> str:
    """The URL of the embedded PostgreSQL, started (and on first use seeded) as needed."""
    return _start_database(database_directory())


def database_directory() -> Path:
    """Where the embedded PostgreSQL keeps its cluster; looking creates nothing."""
    return settings.iris_home() / "pg"


def tracking_uri() -> str:
    """The embedded MLflow tracking and registry store."""
    settings.iris_home().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{tracking_store()}"


def tracking_store() -> Path:
    """The embedded MLflow store's SQLite file; looking creates nothing."""
    return settings.iris_home() / "mlflow.db"


def artifact_root() -> Path:
    """Where experiments of the embedded store keep their artifacts."""
    return settings.iris_home() / "mlartifacts"


def start_server(pgdata: Path) -> str:
    """Start the server on `pgdata` (creating the cluster if there is none), or join the process
    already running it, and return its URL. pgserver stops it when the last process using it
    exits."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver copes without it.
        warnings.simplefilter("ignore")
        import pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata)
    return server.get_uri()


@cache
def _start_database(pgdata: Path) -> str:
    """Start the server once per process and seed `iris_data` on first use."""
    url = start_server(pgdata)
    with psycopg.connect(url, autocommit=True) as conn:
        inserted = iris_table.seed(conn)
    if inserted:
        _log.info("Seeded the embedded %s with %d iris rows", iris_table.TABLE, inserted)
    return url
