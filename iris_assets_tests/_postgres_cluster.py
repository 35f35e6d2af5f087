"""A PostgreSQL cluster the suite owns: password auth over TCP, stopped and started at will.

The machine's server trusts every local connection and must keep running for the other tests, so
fault tests get this one, built from the binaries the `pgserver` package ships.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pgserver._commands import POSTGRES_BIN_PATH

from iris_devstack.ports import free_port

_RUN_AS = "pgserver"  # PostgreSQL refuses to run as root; pgserver creates this system user


class PostgresCluster:
    """One cluster under a temporary directory, reached at `url` with a password."""

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
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "stop"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / program), *args],
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
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
        return _RUN_AS

    def _chown(self, *paths: Path) -> None:
        if self.user is not None:
            for path in paths:
                shutil.chown(path, self.user)
