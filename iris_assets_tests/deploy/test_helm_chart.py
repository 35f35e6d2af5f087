"""deploy/helm/values.yaml as Dagster's chart takes it: merged with the chart's defaults as Helm
merges, validated against the chart's schema offline, and rendered into a run's container."""

import copy
import json
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_k8s.container_context import K8sContainerContext
from jsonschema import validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from iris_assets_tests.deploy import _compose
from iris_devstack import browser
from iris_devstack.checkout import REPO

CHART = Path(__file__).parent / "data" / "dagster-helm"
KUBERNETES_DEFINITIONS = (
    "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.19.0/_definitions.json",
    "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json",
)
"""Where the chart's schema looks for Kubernetes' definitions; offline, kubernetes-validate's."""
SUBCHART = "dagster-user-deployments"


def _json(name: str) -> Any:
    return json.loads((CHART / name).read_text())


def helm_merge(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of values over defaults: maps merge key by key, the values win, a null
    deletes the key, anything else (lists included) replaces."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return copy.deepcopy(values)
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def _registry() -> Registry:
    """The Kubernetes definitions the schema refers to, from kubernetes-validate (its oldest
    version; its `$defs` also under `definitions`, the pointer the chart's schema uses)."""
    schemas = files("kubernetes_validate") / "kubernetes-json-schema"
    oldest = min(
        (entry.name for entry in schemas.iterdir() if entry.name.endswith("-local")),
        key=lambda name: tuple(int(part) for part in name[1:].split("-")[0].split(".")),
    )
    definitions = json.loads((schemas / oldest / "_definitions.json").read_text())
    definitions["definitions"] = definitions["$defs"]
    resource = Resource.from_contents(definitions, default_specification=DRAFT202012)
    return Registry().with_resources((url, resource) for url in KUBERNETES_DEFINITIONS)


def _errors(schema_file: str, document: Any) -> list[str]:
    schema = _json(schema_file)
    validator = validators.validator_for(schema, default=validators.Draft202012Validator)
    found = list(validator(schema, registry=_registry()).iter_errors(document))
    # An `anyOf` (a value or null) reports that no branch matched; its branches say why.
    leaves = [leaf for error in found for leaf in (error.context or [error])]
    return sorted(f"{list(error.absolute_path)}: {error.message}" for error in leaves)


def _chart_values(values: dict[str, Any]) -> dict[str, Any]:
    return helm_merge(_json("values.defaults.json"), values)


def _subchart_values(values: dict[str, Any]) -> dict[str, Any]:
    """What the subchart sees: its defaults, the parent's section for it, and `global`."""
    section = {**values.get(SUBCHART, {}), "global": values.get("global", {})}
    return helm_merge(_json("user-deployments.values.defaults.json"), section)


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(_compose.HELM_VALUES.read_text())


def test_values_validate_against_the_chart_and_its_subchart(values: dict[str, Any]) -> None:
    """Merged with the defaults as Helm merges them, the values meet both charts' schemas."""
    assert _errors("values.schema.json", _chart_values(values)) == []
    assert _errors("user-deployments.values.schema.json", _subchart_values(values)) == []


@pytest.mark.parametrize(
    ("path", "key", "misspelt"),
    [
        (("runLauncher", "config", "k8sRunLauncher"), "envSecrets", "envSecret"),
        (
            ("dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator"),
            "maxConcurrentRuns",
            "maxConcurrentRun",
        ),
    ],
)
def test_a_misspelt_key_is_caught(
    values: dict[str, Any], path: tuple[str, ...], key: str, misspelt: str
) -> None:
    """A key the chart does not know fails validation, named, instead of being ignored."""
    broken = copy.deepcopy(values)
    section = broken
    for step in path:
        section = section[step]
    section[misspelt] = section.pop(key)
    errors = _errors("values.schema.json", _chart_values(broken))
    assert any(f"'{misspelt}' was unexpected" in error for error in errors), errors


def test_each_run_gets_the_run_launchers_cpu(values: dict[str, Any]) -> None:
    """Rendered as dagster-k8s does for a run: the launcher's resources, then the code location's
    (only with includeConfigInLaunchedRuns), then the run's tags. The run gets 1 CPU."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    [deployment] = values[SUBCHART]["deployments"]
    context = K8sContainerContext(resources=launcher["resources"])
    if deployment["includeConfigInLaunchedRuns"]["enabled"]:
        context = context.merge(K8sContainerContext(resources=deployment["resources"]))
    assert context.run_k8s_config.container_config["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }


def test_one_code_location_name_everywhere(values: dict[str, Any]) -> None:
    """The chart's deployment, pyproject's [tool.dagster] and [tool.dg.project], both workspaces
    and the UI's URL name the code location alike."""
    [deployment] = values[SUBCHART]["deployments"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    workspaces = [REPO / "workspace.yaml", _compose.DAGSTER_HOME_DIR / "workspace.yaml"]
    names = {
        deployment["name"],
        pyproject["dagster"]["code_location_name"],
        pyproject["dg"]["project"]["code_location_name"],
        *(
            next(iter(entry.values()))["location_name"]
            for workspace in workspaces
            for entry in yaml.safe_load(workspace.read_text())["load_from"]
        ),
        browser.CODE_LOCATION,
    }
    assert names == {"iris-assets"}
