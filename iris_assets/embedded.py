"""Zero-configuration services under `$IRIS_HOME`: PostgreSQL from `pgserver`, a local MLflow store.

They let a fresh clone materialize the graph with no environment set; any variable that points at a
real service replaces the embedded one.
"""

import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg

from iris_assets import iris_table, settings

_log = logging.getLogger(__name__)
# pgserver narrates every pg_ctl call at INFO; its warnings and errors still show.
logging.getLogger("pgserver").setLevel(logging.WARNING)

NEW_CLUSTER_BYTES = 64 * 2**20
"""Free space a new embedded PostgreSQL needs: a cluster took 38 MB here after initdb and the 150
seed rows (21 MB of databases, one 16 MB WAL segment), and the next WAL segment needs 16 MB more."""
_NO_SPACE = "No space left on device"
"""How initdb and PostgreSQL say the disk is full (strerror of ENOSPC)."""


class NotEnoughSpace(OSError):
    """The disk under IRIS_HOME cannot hold the embedded PostgreSQL."""


class NoEmbeddedDatabase(RuntimeError):
    """pgserver is not installed (as in the project image), so there is no embedded PostgreSQL."""


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
    exits.

    A new cluster first needs room on the disk: initdb on a full one fails with a
    CalledProcessError, its "No space left on device" some 160 lines up, among pgserver's log.
    """
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver copes without it.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ModuleNotFoundError:
            raise NoEmbeddedDatabase(
                "There is no embedded PostgreSQL here: pgserver is not installed (the project "
                "image leaves it out, since every service of the stack gets a database). Set "
                f"IRIS_DATABASE_URL to the PostgreSQL that holds iris_data "
                f"({settings.resolve()[settings.DATABASE_URL.name].origin})."
            ) from None

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        new = not (pgdata / "PG_VERSION").exists()
        if new:
            require_free_space(pgdata, NEW_CLUSTER_BYTES)
        with _held_back("pgserver") as held:
            try:
                server = pgserver.get_server(pgdata)
            except subprocess.CalledProcessError as error:
                if new and held.says(_NO_SPACE):
                    raise NotEnoughSpace(_no_space(pgdata, NEW_CLUSTER_BYTES)) from error
                held.let_through()
                raise
            held.let_through()
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


def require_free_space(path: Path, need: int) -> None:
    """Raise `NotEnoughSpace` where the disk that will hold `path` has less than `need` bytes
    free, naming the disk, the path and how much it needs."""
    if shutil.disk_usage(_existing(path)).free < need:
        raise NotEnoughSpace(_no_space(path, need))


def _no_space(path: Path, need: int) -> str:
    """The disk, the path, what is free and what is needed, and what to do."""
    existing = _existing(path)
    free = shutil.disk_usage(existing).free
    home = settings.resolve()[settings.IRIS_HOME.name]
    short = (
        f"has {_mib(free)} free, and the embedded PostgreSQL needs about {_mib(need)} there to "
        f"create its database: free {_mib(need - free)} or more on that disk"
        if free < need
        else f"ran out of space while initdb created the embedded PostgreSQL's database there "
        f"({_mib(free)} free now, about {_mib(need)} needed): free space on that disk"
    )
    return (
        f"The disk that holds {path} ({disk_of(existing)}) {short}, or point IRIS_HOME at a disk "
        f"with room ({home.origin}), or IRIS_DATABASE_URL at a PostgreSQL of your own."
    )


def disk_of(path: Path) -> str:
    """The filesystem that holds `path`, as `df` names it: its device (or type) and mount point.

    The mount point is the nearest above `path`; Linux's mount table says what is mounted there
    (elsewhere, only the mount point is named).
    """
    mount_point = path.resolve()
    while not os.path.ismount(mount_point):
        mount_point = mount_point.parent
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):  # the last mount on a point is the one in effect
        fields, _, described = line.partition(" - ")
        point = fields.split()[4].replace("\\040", " ") if len(fields.split()) > 4 else ""
        if point == str(mount_point) and len(described.split()) >= 2:
            fstype, source = described.split()[:2]
            kind = "" if source == fstype else f" ({fstype})"
            return f"{source}{kind} mounted on {mount_point}"
    return f"the filesystem mounted on {mount_point}"


def _existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists: what the disk's free space is asked of."""
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


class _HeldBack(logging.Handler):
    """A logger's warnings and errors, held back while pgserver starts a server: a full disk is
    said in one line instead of its 160; anything else lets through what the logger's own level
    would have (`iris-assets doctor` silences pgserver)."""

    def __init__(self, level: int) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.shown_level = level

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def says(self, text: str) -> bool:
        return any(text in record.getMessage() for record in self.records)

    def let_through(self) -> None:
        for record in self.records:
            if record.levelno >= self.shown_level:
                logging.getLogger().handle(record)
        self.records.clear()


@contextmanager
def _held_back(name: str) -> Iterator[_HeldBack]:
    """The warnings and errors of logger `name` and its children go to a `_HeldBack` for the
    block, whatever level the logger had; it shows them as that level would have."""
    logger = logging.getLogger(name)
    level, propagate = logger.level, logger.propagate
    held = _HeldBack(logger.getEffectiveLevel())
    logger.addHandler(held)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield held
    finally:
        logger.removeHandler(held)
        logger.setLevel(level)
        logger.propagate = propagate
