"""Health checks of the Compose stack's Dagster services, light enough to run every few seconds.

    python -m iris_assets.healthcheck code-server [HOST:PORT]    # default localhost:4000
    python -m iris_assets.healthcheck daemon                     # reads DAGSTER_PG_*

Dagster's own checks (`dagster api grpc-health-check`, `dagster-daemon liveness-check`) import
Dagster and open the instance each time, which an idle stack would pay for at every check. These
ask the same with grpcio and psycopg alone (figures in docs/performance.md, Compose stack). Exit
code 0 means healthy; otherwise the reason goes to stderr.
"""

import os
import sys
from collections.abc import Sequence

CHECK_TIMEOUT_SECONDS = 5.0
CODE_SERVER_PORT = 4000
"""The code server's gRPC port: the one home of a fact that the Dockerfile, Compose, both Dagster
workspaces and the Helm values spell again; test_helm_chart holds them to it."""
HEARTBEAT_MAX_AGE_SECONDS = 90.0
"""A heartbeat older than this is a daemon that stopped beating (it beats every 30 s at most)."""
REQUIRED_DAEMONS = ("QUEUED_RUN_COORDINATOR", "SCHEDULER", "SENSOR")
"""The daemon's loops this stack relies on: launching queued runs, the schedule, the sensor."""


def code_server(address: str) -> str | None:
    """None if the code server's gRPC health service says SERVING for Dagster's API."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    request = health_pb2.HealthCheckRequest(service="DagsterApi")
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                request, timeout=CHECK_TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            return f"no answer from the code server at {address}: {error.code().name}"
    statuses = health_pb2.HealthCheckResponse
    if response.status != statuses.SERVING:
        return f"the code server at {address} is {statuses.ServingStatus.Name(response.status)}"
    return None


def daemon() -> str | None:
    """None if each required loop of the daemon beat recently in Dagster's PostgreSQL storage."""
    import psycopg

    with psycopg.connect(
        host=os.environ["DAGSTER_PG_HOST"],
        port=os.environ.get("DAGSTER_PG_PORT", "5432"),
        user=os.environ["DAGSTER_PG_USER"],
        password=os.environ["DAGSTER_PG_PASSWORD"],
        dbname=os.environ["DAGSTER_PG_DB"],
        connect_timeout=int(CHECK_TIMEOUT_SECONDS),
    ) as conn:
        # Dagster's own table, read without importing Dagster (the check must stay light);
        # test_private_apis fails loudly if an upgrade renames it.
        rows = conn.execute(
            "SELECT daemon_type, extract(epoch FROM now() AT TIME ZONE 'UTC' - timestamp)"
            " FROM daemon_heartbeats WHERE daemon_type = ANY(%s)",
            (list(REQUIRED_DAEMONS),),
        ).fetchall()
    ages = {daemon_type: float(age) for daemon_type, age in rows}
    stale = [
        f"{name} ({'never' if name not in ages else f'{ages[name]:.0f} s ago'})"
        for name in REQUIRED_DAEMONS
        if ages.get(name, HEARTBEAT_MAX_AGE_SECONDS + 1) > HEARTBEAT_MAX_AGE_SECONDS
    ]
    return f"no recent heartbeat from {', '.join(stale)}" if stale else None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["code-server"] and len(args) <= 2:
        problem = code_server(args[1] if len(args) == 2 else f"localhost:{CODE_SERVER_PORT}")
    elif args == ["daemon"]:
        problem = daemon()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
