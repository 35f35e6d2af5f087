"""docker-compose.yaml brought up with Docker as a user brings it up, under a project of its own.

The `.env` is made as the README says (`cp .env.example .env`, then replace every change-me),
with new secrets each time and the published ports moved to free ones, so the stack runs beside
whatever the host already serves (a PostgreSQL on 5432, say) and beside a user's own stack.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iris_devstack.checkout import REPO
from iris_devstack.ports import free_port

COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
PLACEHOLDER = "change-me"
HOST_PORTS = (
    "POSTGRES_HOST_PORT",
    "S3_HOST_PORT",
    "S3_CONSOLE_HOST_PORT",
    "MLFLOW_HOST_PORT",
    "DAGSTER_HOST_PORT",
    "MODEL_SERVER_HOST_PORT",
)
"""The variables of .env.example that choose the host ports the stack publishes."""
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$")
"""Variables of .env whose values must never show: passwords and S3 keys."""
UP_TIMEOUT = 900.0
"""Seconds for `up --build --wait` on a cold machine: the project image's build is most of it."""
COMMAND_TIMEOUT = 300.0
_NO_REGISTRY = re.compile(r"pull access denied|failed to resolve|no such host|dial tcp", re.I)


def project_image() -> str:
    """The name of the image docker-compose.yaml builds from the Dockerfile."""
    return yaml.safe_load(COMPOSE_FILE.read_text())["x-project-image"]["image"]


def engine() -> str:
    """The Docker Engine's and Compose's versions, for a person reading the test output."""
    server = _docker("version", "--format", "{{.Server.Version}}").strip()
    plugin = _docker("compose", "version", "--short").strip()
    return f"Docker Engine {server}, Compose {plugin}"


def _image_id(image: str) -> str | None:
    """The id of a local image, or None where there is none."""
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


class ComposeError(RuntimeError):
    """A `docker compose` command failed; the message holds its output."""


def unavailable() -> str | None:
    """Why Docker with Compose v2 cannot bring the stack up here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker command: install Docker Engine and Compose v2 (see .ci/run for Debian)"
    checks = {
        ("docker", "info"): "no Docker engine answers: start dockerd (as root) and rerun",
        (
            "docker",
            "compose",
            "version",
        ): "Compose v2 is missing: install the docker compose plugin",
    }
    for args, reason in checks.items():
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return f"{reason} (`{' '.join(args)}` did not answer within 30 s)"
        if result.returncode != 0:
            return (
                f"{reason} (`{' '.join(args)}`: {(result.stderr or result.stdout).strip()[-300:]})"
            )
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of a .env file; comments and blank lines skipped."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        if not separator:
            raise ValueError(f"{path}: not a NAME=value line: {line!r}")
        values[name.strip()] = value.strip()
    return values


HOST_SETTINGS = (
    "IRIS_DATABASE_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
"""The first part of .env.example, commented out there: uncommented, it points the host's own
commands at the stack."""


def fresh_env_file(path: Path) -> dict[str, str]:
    """Write a .env as a user edits .env.example: new secrets, free host ports; its values.

    The first part (the host's own commands) is uncommented and pointed at this stack, as the
    README says.
    """
    lines = ENV_EXAMPLE.read_text().splitlines()
    values = read_env_file(ENV_EXAMPLE)
    for name, value in values.items():
        if name in HOST_PORTS:
            values[name] = str(free_port())
        elif value == PLACEHOLDER:
            values[name] = secrets.token_hex(12)
    values["S3_ACCESS_KEY"] = f"iris-{secrets.token_hex(6)}"
    values |= {
        "IRIS_DATABASE_URL": "postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@localhost:"
        "{POSTGRES_HOST_PORT}/{POSTGRES_DB}".format(**values),
        "MLFLOW_TRACKING_URI": f"http://localhost:{values['MLFLOW_HOST_PORT']}",
        "MLFLOW_S3_ENDPOINT_URL": f"http://localhost:{values['S3_HOST_PORT']}",
        "AWS_ACCESS_KEY_ID": values["S3_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": values["S3_SECRET_KEY"],
    }
    if stale := [name for name, value in values.items() if PLACEHOLDER in value]:
        raise ValueError(f"{ENV_EXAMPLE}: {stale} still hold {PLACEHOLDER}")
    path.write_text(
        "\n".join(
            f"{name}={values[name]}"
            if name in values
            and "=" in line
            and (not line.startswith("#") or name in HOST_SETTINGS)
            else line
            for line in lines
            for name in [line.partition("=")[0].removeprefix("# ")]
        )
        + "\n"
    )
    path.chmod(0o600)
    return values


@dataclass(frozen=True)
class ComposeStack:
    """One Compose project of docker-compose.yaml and the .env it runs with."""

    project: str
    env_file: Path
    env: Mapping[str, str]

    def compose(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker compose <args>` for this project; a failure raises with its output."""
        command = [
            "docker",
            "compose",
            "--project-name",
            self.project,
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(self.env_file),
            *args,
        ]
        # Compose lets the caller's environment override .env: none of its names may leak in.
        environ = {k: v for k, v in os.environ.items() if k not in self.env}
        result = subprocess.run(
            command,
            env=environ,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            output = (result.stdout + result.stderr)[-6000:]
            hint = ""
            if _NO_REGISTRY.search(output):
                hint = (
                    "\nAn image could not be pulled. Without access to an image registry, build "
                    "local stand-ins first: deploy/standins/build.sh (see its README)."
                )
            raise ComposeError(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n{output}{hint}"
            )
        return result

    def up(self, *, build: bool = False, timeout: float = UP_TIMEOUT) -> None:
        """`up -d --wait`: every service healthy or, for one-shots, exited successfully."""
        args = ["up", "--detach", "--wait", "--wait-timeout", str(int(timeout))]
        try:
            self.compose(*args, *(["--build"] if build else []), timeout=timeout + 60)
        except ComposeError as error:
            raise ComposeError(f"{error}\n\n{self.diagnosis()}") from error

    def down(self, *, volumes: bool = False) -> None:
        """`down`, as the README says it: containers and network removed; with `volumes`, the
        data."""
        volume_args = ["--volumes"] if volumes else []
        self.compose("down", "--remove-orphans", *volume_args)

    def exec(self, service: str, *args: str) -> str:
        """Run a command in the service's running container; its standard output."""
        return self.compose("exec", "-T", service, *args).stdout

    def psql(self, service: str, query: str) -> list[str]:
        """Rows of `query` (fields |-separated) in the database a PostgreSQL service created."""
        output = self.exec(
            service,
            "sh",
            "-c",
            'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -X -q -t -A -v ON_ERROR_STOP=1 -c "$0"',
            query,
        )
        return [line for line in output.splitlines() if line]

    def states(self) -> dict[str, dict[str, Any]]:
        """Each service's container as `docker compose ps -a` reports it (State, Health, ...)."""
        output = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in output.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def logs(self, *services: str) -> str:
        """What the services printed, every line prefixed with its service."""
        return self.compose("logs", "--no-color", "--timestamps", *services).stdout

    def diagnosis(self) -> str:
        """The services' states and the end of each one's log, for a failure message."""
        try:
            states = self.states()
            parts = [
                f"{name}: {row.get('State')} {row.get('Health') or ''} {row.get('Status', '')}"
                for name, row in sorted(states.items())
            ]
            for name in sorted(states):
                parts.append(f"--- {name} (last lines) ---\n{self.logs(name)[-1500:]}")
            return "\n".join(parts)
        except (ComposeError, subprocess.TimeoutExpired) as error:
            return f"(no diagnosis: {error})"

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project that Docker still has."""
        label = f"label=com.docker.compose.project={self.project}"
        listings = {
            "containers": ("ps", "--all", "--quiet", "--filter", label),
            "networks": ("network", "ls", "--quiet", "--filter", label),
            "volumes": ("volume", "ls", "--quiet", "--filter", label),
        }
        return {kind: _docker(*command).split() for kind, command in listings.items()}

    def url(self, port_variable: str) -> str:
        """http://127.0.0.1:<port> of a published port named in .env."""
        return f"http://127.0.0.1:{self.env[port_variable]}"

    @property
    def webserver_url(self) -> str:
        return self.url("DAGSTER_HOST_PORT")

    @property
    def mlflow_url(self) -> str:
        return self.url("MLFLOW_HOST_PORT")

    @property
    def s3_url(self) -> str:
        return self.url("S3_HOST_PORT")

    def secrets(self) -> dict[str, str]:
        """The .env values that must never show: passwords and S3 keys, by name."""
        return {name: value for name, value in self.env.items() if SECRET_NAME.search(name)}


@contextmanager
def running_stack(workdir: Path, *, build: bool = True) -> Iterator[ComposeStack]:
    """Bring the stack up from a fresh .env; on exit, `down --volumes`, checked to leave nothing.

    The logs of every service are kept in `workdir/compose.log` for a person to read afterwards.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    stack = ComposeStack(
        project=f"iris-assets-test-{uuid.uuid4().hex[:8]}",
        env_file=workdir / ".env",
        env=fresh_env_file(workdir / ".env"),
    )
    replaced = _image_id(project_image())
    try:
        stack.up(build=build)
        # A rebuild leaves the previous image without a name: remove it, unless still in use.
        if replaced not in (None, _image_id(project_image())):
            subprocess.run(["docker", "image", "rm", replaced], capture_output=True, check=False)
        yield stack
    finally:
        try:
            (workdir / "compose.log").write_text(stack.logs())
        finally:
            stack.down(volumes=True)
        left = stack.leftovers()
        if any(left.values()):
            raise ComposeError(f"`down --volumes` left {left} of project {stack.project}")
