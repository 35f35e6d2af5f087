"""PostgreSQL for the stack: a database of one's own on a shared server, or a cluster of one's own.

Many tests and benchmarks share the machine's server, each in a database it creates and drops.
What the shared server cannot offer (password authentication, being stopped and started at will)
comes from a cluster built from the binaries the `pgserver` package ships.
"""

import os
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql

from iris_devstack.ports import free_port

_MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The machine's PostgreSQL as CI provides it: on 127.0.0.1:5432, trusting local connections."""

_POSTGRES_BIN = Path(str(resources.files("pgserver") / "pginstall" / "bin"))
"""Where the pgserver wheel keeps initdb, pg_ctl and postgres."""
_RUN_AS = "pgserver"  # PostgreSQL refuses to run as root; pgserver creates this system user


def shared_server_url() -> str:
    """The server the stack's databases go on: $IRIS_TEST_POSTGRES_URL, or the machine's own."""
    return os.environ.get("IRIS_TEST_POSTGRES_URL", _MACHINE_SERVER_URL)


def with_password(url: str, password: str) -> str:
    """`url` with `password` for its user, whether it names a host (user@host:port) or a socket
    (user@ with ?host=/dir). A server that trusts the connection ignores it; a test that must not
    see it printed has one to look for."""
    parts = urllib.parse.urlsplit(url)
    user = parts.username or "postgres"
    address = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{address}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def postgres_database(server_url: str, name: str, password: str | None = None) -> Iterator[str]:
    """Create database `name` on `server_url`, yield its URL (with `password` in it, if given)
    and drop it afterwards.

    `server_url` must be a libpq URL (postgresql://user@host:port/maintenance_db). A database
    left over from a crashed earlier session is dropped first so a rerun starts clean.
    """
    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"expected a postgresql:// URL, got {server_url!r}")
    database = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
    try:
        url = urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(name)))
        yield url if password is None else with_password(url, password)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


class PostgresCluster:
    """One cluster under a temporary directory, reached at `url` with a password.

    The machine's server trusts every local connection and must keep running for everyone else,
    so what needs a password, or a server that goes down, gets one of these.
    """

    def __init__(self, password: str) -> None:
        self.password = password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="iris-pg-"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "data"
        self.log = self.root / "postgres.log"
        self.user = self._os_user()
        pwfile = self.root / "pwfile"
        pwfile.write_text(password)
        self._chown(self.root, pwfile)
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            f"--pwfile={pwfile}",
        )
        pwfile.unlink()

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        pg_ctl = ("pg_ctl", "-D", str(self.pgdata), "-w", "-l", str(self.log))
        self._run(*pg_ctl, "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")

    def remove(self) -> None:
        """Stop if running and delete everything."""
        subprocess.run(
            [str(_POSTGRES_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "stop"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(_POSTGRES_BIN / program), *args],
            user=self.user,
            capture_output=True,
            check=True,
            timeout=60,
        )

    @staticmethod
    def _os_user() -> str | None:
        if os.geteuid() != 0:
            return None
        from pgserver.utils import ensure_folder_permissions, ensure_user_exists

        ensure_user_exists(_RUN_AS)
        ensure_folder_permissions(_POSTGRES_BIN, 0o555)
        return _RUN_AS

    def _chown(self, *paths: Path) -> None:
        if self.user is not None:
            for path in paths:
                shutil.chown(path, self.user)
