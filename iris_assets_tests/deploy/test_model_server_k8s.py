"""deploy/k8s/model-server.yaml checked without a cluster: valid Kubernetes objects (strict, so a
misspelt key fails), the project image of the Helm values, Compose's command, the Helm Secrets,
and probes that never wait for a champion to keep a pod alive."""

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO

MANIFEST = REPO / "deploy" / "k8s" / "model-server.yaml"
SECRETS_EXAMPLE = _compose.HELM_VALUES.with_name("secrets.example.yaml")
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
"""The version the Helm chart's values are checked against, and the newest known."""


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """The manifest's objects by kind."""
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc}


def _container(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [container] = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_objects_are_valid_kubernetes(
    documents: dict[str, dict[str, Any]], version: str
) -> None:
    assert set(documents) == {"Deployment", "Service"}
    for document in documents.values():
        kubernetes_validate.validate(document, version, strict=True)


def test_a_misspelt_key_is_caught(documents: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(documents["Deployment"])
    container = _container({"Deployment": broken})
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_it_runs_the_helm_image_as_compose_runs_the_model_server(
    documents: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    """The image (and tag) of the Helm values' user deployment, with Compose's command."""
    values = yaml.safe_load(_compose.HELM_VALUES.read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    image = deployment["image"]
    container = _container(documents)
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    assert container["command"] == _compose.command(compose["services"]["model-server"])


def test_probes_ask_ready_on_ping_and_alive_on_health(documents: dict[str, dict[str, Any]]) -> None:
    """Readiness waits for a version (/ping); liveness and start-up only for the process
    (/health), so a pod without a champion yet is kept, not restarted. The Service reaches the
    port the server listens on."""
    container = _container(documents)
    port = _compose.option(container["command"], "--port")
    [named] = container["ports"]
    assert named["containerPort"] == int(port or 0)
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes == {
        "readinessProbe": ("/ping", named["name"]),
        "livenessProbe": ("/health", named["name"]),
        "startupProbe": ("/health", named["name"]),
    }
    service, deployment = documents["Service"], documents["Deployment"]
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] == named["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_its_settings_come_from_the_helm_secrets(documents: dict[str, dict[str, Any]]) -> None:
    """Each variable comes from a key of a Secret of secrets.example.yaml; together with the
    image's own they are every variable the server reads, the tracking server among them."""
    secrets = {
        doc["metadata"]["name"]: doc["stringData"]
        for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text())
        if doc
    }
    env = _container(documents)["env"]
    for variable in env:
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["key"] in secrets[reference["name"]], variable
    provided = {variable["name"] for variable in env} | set(_compose.image_environment())
    assert "MLFLOW_TRACKING_URI" in provided
    assert _compose.required_variables("iris_assets.serving") <= provided
