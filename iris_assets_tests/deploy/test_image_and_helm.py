"""The Dockerfile and the Helm values, checked without Docker or a cluster: do they fit together?"""

import ast
import re
import shlex
from typing import Any

import pytest
import yaml

from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO

SECRETS_EXAMPLE = _compose.HELM_VALUES.with_name("secrets.example.yaml")


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    """deploy/helm/values.yaml."""
    return yaml.safe_load(_compose.HELM_VALUES.read_text())


@pytest.fixture(scope="module")
def secrets() -> dict[str, dict[str, str]]:
    """The Secrets of deploy/helm/secrets.example.yaml: name -> stringData."""
    documents = yaml.safe_load_all(SECRETS_EXAMPLE.read_text())
    return {doc["metadata"]["name"]: doc["stringData"] for doc in documents if doc}


def _allowed_by_dockerignore() -> list[str]:
    """The paths an allowlist .dockerignore (`*`, then `!path` lines) lets into the context."""
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    assert "*" in lines, ".dockerignore should start from nothing and allow what the build needs"
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


def test_dockerfile_copies_only_what_the_build_context_holds() -> None:
    """Every COPY from the context names a path that exists and .dockerignore lets through."""
    allowed = _allowed_by_dockerignore()
    copies = [
        shlex.split(arguments)
        for keyword, arguments in _compose.dockerfile_instructions()
        if keyword == "COPY" and "--from=" not in arguments
    ]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            path = source.rstrip("/")
            assert (REPO / path).exists(), source
            assert any(path == a or path.startswith(f"{a}/") for a in allowed), source
    assert ".env" not in allowed


def test_image_installs_the_lock_without_dev_dependencies() -> None:
    """Each `uv sync` of the build installs uv.lock as it is, without the dev group."""
    syncs = [
        arguments
        for keyword, arguments in _compose.dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in arguments
    ]
    assert syncs
    for arguments in syncs:
        assert "--frozen" in arguments and "--no-dev" in arguments, arguments


def test_the_image_leaves_out_pgserver_and_no_service_needs_it_to_load() -> None:
    """Every `uv sync` of the build leaves out pgserver (else the second one puts it back), and
    no module a service of the image runs imports it when it loads: only the embedded database,
    which the stack never asks for, would."""
    syncs = [
        arguments
        for keyword, arguments in _compose.dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in arguments
    ]
    assert syncs and all("--no-install-package pgserver" in arguments for arguments in syncs)
    entry_points = (
        "iris_assets.definitions",
        _compose.console_script_module("iris-assets"),
        "iris_assets.healthcheck",
        "iris_assets.serving",
    )
    for path in set().union(*(_compose.module_closure(module) for module in entry_points)):
        for node in ast.parse(path.read_text()).body:
            imported = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [name for name in imported if name.split(".")[0] == "pgserver"], path


def test_image_installs_the_projects_current_code() -> None:
    """The step that installs the project rebuilds its wheel instead of reusing uv's cached one."""
    [install] = [
        arguments
        for keyword, arguments in _compose.dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in arguments and "--no-install-project" not in arguments
    ]
    assert "--reinstall-package iris-assets" in install


def test_image_runs_as_a_user_other_than_root() -> None:
    """The services do not run as root."""
    users = [
        arguments for keyword, arguments in _compose.dockerfile_final_stage() if keyword == "USER"
    ]
    assert users and users[-1] not in ("root", "0")


def test_helm_deploys_the_image_as_the_code_server_of_compose(
    helm: dict[str, Any], compose: dict[str, Any]
) -> None:
    """The user deployment serves the module of compose's code server; runs are Kubernetes Jobs."""
    [deployment] = helm["dagster-user-deployments"]["deployments"]
    code_server = _compose.command(compose["services"]["iris-assets-code"])
    module = _compose.option(code_server, "-m", "--module-name")
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"


def test_helm_secrets_hold_what_the_code_and_storage_need(
    helm: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> None:
    """The code server and every run Job get each variable the code needs, and the S3 settings
    of asset values when IRIS_IO_S3_URI is set; storage's password is in its Secret."""
    [deployment] = helm["dagster-user-deployments"]["deployments"]
    launcher = helm["runLauncher"]["config"]["k8sRunLauncher"]
    needed = _compose.required_variables("iris_assets.definitions")
    for refs in (deployment["envSecrets"], launcher["envSecrets"]):
        provided = {name for ref in refs for name in secrets[ref["name"]]}
        provided |= set(_compose.image_environment())
        assert not needed - provided, sorted(needed - provided)
        if "IRIS_IO_S3_URI" in provided:
            assert provided >= _compose.PROXIED_BY_MLFLOW_SERVER
    webserver = {
        name for ref in helm["dagsterWebserver"]["envSecrets"] for name in secrets[ref["name"]]
    }
    if helm["computeLogManager"]["type"] == "S3ComputeLogManager":
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= webserver
    assert not helm["postgresql"]["enabled"]
    assert not helm["generatePostgresqlPasswordSecret"]
    assert "postgresql-password" in secrets[helm["global"]["postgresqlSecretName"]]


def test_helm_files_hold_no_real_secret(
    helm: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> None:
    """values.yaml sets no password; where a committed Secret holds one, it is a placeholder."""
    assert "postgresqlPassword" not in helm["postgresql"]
    for name, data in secrets.items():
        for key, value in data.items():
            secret = re.search(r"PASSWORD|SECRET|_KEY|password", key) or "@" in value
            assert not secret or "change-me" in value, f"{name}: {key}"
