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
    return _start_database(settings.iris_home() / "pg")


def tracking_uri() -> str:
    """The embedded MLflow tracking and registry store."""
    home = settings.iris_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def artifact_root() -> Path:
    """Where experiments of the embedded store keep their artifacts."""
    return settings.iris_home() / "mlartifacts"


@cache
def _start_database(pgdata: Path) -> str:
    """Start the server once per process; pgserver stops it when the last process using it exits."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver copes without it.
        warnings.simplefilter("ignore")
        import pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata)
    url = server.get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        inserted = iris_table.seed(conn)
    if inserted:
        _log.info("Seeded the embedded %s with %d iris rows", iris_table.TABLE, inserted)
    return url
