"""The Dagster webserver's GraphQL API as the UI uses it: launch "Materialize all", follow runs."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

RUN_TIMEOUT = 300.0
_TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}

_ASSET_NODES = """
query MaterializableAssets {
  assetNodes {
    assetKey { path }
    isMaterializable
    repository { name location { name } }
  }
}
"""

_LAUNCH = """
mutation MaterializeAll($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PipelineConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

_RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on Error { message }
  }
}
"""


def graphql(webserver_url: str, query: str, variables: Mapping[str, Any] | None = None) -> Any:
    """The `data` of a GraphQL request to the webserver; errors raise."""
    request = urllib.request.Request(
        f"{webserver_url}/graphql",
        data=json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # GraphQL errors come with a status of 4xx or 500
        with error:
            body = json.loads(error.read() or b"{}")
        body.setdefault("errors", [f"HTTP {error.code}"])
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def launch_materialize_all(webserver_url: str) -> str:
    """Launch what the UI's "Materialize all" launches: the asset job on every materializable asset.

    Returns the run id.
    """
    nodes = graphql(webserver_url, _ASSET_NODES)["assetNodes"]
    selected = [node for node in nodes if node["isMaterializable"]]
    repository = selected[0]["repository"]
    result = graphql(
        webserver_url,
        _LAUNCH,
        {
            "executionParams": {
                "selector": {
                    "repositoryLocationName": repository["location"]["name"],
                    "repositoryName": repository["name"],
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": node["assetKey"]["path"]} for node in selected],
                },
                "mode": "default",
                "executionMetadata": {"tags": []},
            }
        },
    )["launchPipelineExecution"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launch failed: {result}")
    return result["run"]["runId"]


def wait_for_run(webserver_url: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    """Poll the run's status until it ends; returns SUCCESS, FAILURE or CANCELED."""
    deadline = time.monotonic() + timeout
    while True:
        result = graphql(webserver_url, _RUN_STATUS, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise RuntimeError(f"run {run_id}: {result}")
        if result["status"] in _TERMINAL_RUN_STATUSES:
            return result["status"]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"run {run_id} still {result['status']} after {timeout:.0f}s")
        time.sleep(1.0)
