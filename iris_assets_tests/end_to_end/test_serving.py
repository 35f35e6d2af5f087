"""`iris-assets serve` as a process against the MLflow tracking server: the champion over HTTP."""

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import psutil

from iris_assets_tests._graph import run_graph
from iris_assets_tests.end_to_end._serving import CLI, SETOSA, VIRGINICA, predict, wait_for_line
from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http
from iris_devstack.service_env import environ_without_services


def _served_on(port: int, serve_pid: int) -> list[str]:
    """What listens on `port`: for each listener started by `iris-assets serve` (`serve_pid`), the
    model URI its `mlflow models serve` was given; for any other, its pid and command."""
    listeners = {
        c.pid
        for c in psutil.net_connections("tcp")
        if c.laddr.port == port and c.status == "LISTEN"
    }
    served = []
    for pid in sorted(filter(None, listeners)):
        chain = [psutil.Process(pid), *psutil.Process(pid).parents()]
        if serve_pid not in {process.pid for process in chain}:
            served.append(f"pid {pid} ({' '.join(chain[0].cmdline()[:3])}), not started by serve")
            continue
        for command in (process.cmdline() for process in chain):
            if command[2:5] == ["mlflow", "models", "serve"]:
                served.append(command[command.index("-m", 5) + 1])
    return served


def test_serves_the_champion_and_follows_the_alias(
    graph_resources: Mapping[str, object], mlflow_server: str, tmp_path: Path
) -> None:
    """The champion answers /invocations; when the alias moves, the new version is served."""
    instance = dg.DagsterInstance.ephemeral()
    ops = {"registered_model": {"model_name": "served_model"}}
    assert run_graph(graph_resources, instance, ops=ops).success

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [CLI, "serve", "--model-name", "served_model", "--port", str(port), "--poll", "1"]
    env = environ_without_services()
    log = tmp_path / "serve.log"
    with background_process(
        command, log, {**env, "MLFLOW_TRACKING_URI": mlflow_server}, tmp_path
    ) as server:
        wait_for_http(f"{url}/ping", 180, server)
        assert "Serving models:/served_model@champion (version 1)" in log.read_text()
        assert _served_on(port, server.pid) == ["models:/served_model/1"]
        assert predict(url, [SETOSA, VIRGINICA]) == [0, 2]

        # Version 2 scores as version 1 on the same rows: a tie, which goes to the newer version.
        assert run_graph(graph_resources, instance, ops=ops).success
        wait_for_line(log, "Serving models:/served_model@champion (version 2)", 60)
        wait_for_http(f"{url}/ping", 180, server)
        assert _served_on(port, server.pid) == ["models:/served_model/2"]
        assert predict(url, [SETOSA]) == [0]
