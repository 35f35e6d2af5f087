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
from dagster import Shape
from dagster._config import validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config_schema
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes.config_class import ConfigurableClassData
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_k8s.container_context import K8sContainerContext
from jsonschema import validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from iris_assets import healthcheck
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
CHART_INSTANCE_KEYS = frozenset(
    {
        "scheduler",
        "schedule_storage",
        "run_launcher",
        "run_storage",
        "event_log_storage",
        "run_coordinator",
        "compute_logs",
        "python_logs",
        "run_monitoring",
        "run_retries",
        "sensors",
        "schedules",
        "auto_materialize",
        "concurrency",
        "telemetry",
        "retention",
    }
)
"""Keys of dagster.yaml that the chart's instance ConfigMap writes from its own values; one that
additionalInstanceConfig wrote as well would be a duplicate key."""
S3_COMPUTE_LOG_KEYS = {
    "localDir": "local_dir",
    "prefix": "prefix",
    "useSsl": "use_ssl",
    "verifyCertPath": "verify_cert_path",
    "endpointUrl": "endpoint_url",
    "skipEmptyFiles": "skip_empty_files",
    "uploadInterval": "upload_interval",
    "uploadExtraArgs": "upload_extra_args",
    "showUrlOnly": "show_url_only",
    "region": "region",
}
"""The optional keys the chart's S3 compute log template writes, each only when it is set."""
QUEUED_COORDINATOR_KEYS = {
    "tagConcurrencyLimits": "tag_concurrency_limits",
    "dequeueIntervalSeconds": "dequeue_interval_seconds",
    "dequeueUseThreads": "dequeue_use_threads",
    "dequeueNumWorkers": "dequeue_num_workers",
}
"""The keys the chart's QueuedRunCoordinator template writes besides max_concurrent_runs: no
retry setting among them."""


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


def render_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The parts of the chart's dagster.yaml that the values here choose, as the chart's templates
    write them (templates/configmap-instance.yaml and helpers/instance/, transcribed): the run
    coordinator, the S3 compute log manager and the keys of additionalInstanceConfig."""
    chart = _chart_values(values)
    instance: dict[str, Any] = dict(chart.get("additionalInstanceConfig") or {})
    daemon = chart["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    if daemon["enabled"] and coordinator["enabled"]:
        if coordinator["type"] == "CustomRunCoordinator":
            custom = coordinator["config"]["customRunCoordinator"]
            instance["run_coordinator"] = {k: custom[k] for k in ("module", "class", "config")}
        else:
            queued = coordinator["config"]["queuedRunCoordinator"]
            limit = queued.get("maxConcurrentRuns")
            config = {"max_concurrent_runs": -1 if limit is None else limit}
            config |= {
                key: queued[k] for k, key in QUEUED_COORDINATOR_KEYS.items() if queued.get(k)
            }
            instance["run_coordinator"] = {
                "module": "dagster.core.run_coordinator",
                "class": "QueuedRunCoordinator",
                "config": config,
            }
    logs = chart["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager", "only the S3 template is transcribed here"
    s3 = logs["config"]["s3ComputeLogManager"]
    instance["compute_logs"] = {
        "module": "dagster_aws.s3.compute_log_manager",
        "class": "S3ComputeLogManager",
        "config": {
            "bucket": s3["bucket"],
            "verify": s3.get("verify") is not False,
            **{key: s3[k] for k, key in S3_COMPUTE_LOG_KEYS.items() if s3.get(k)},
        },
    }
    return instance


def _build(section: dict[str, Any]) -> Any:
    """The object Dagster builds from a `module`/`class`/`config` section of dagster.yaml; its
    config is checked against the class's schema first."""
    data = ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(section["config"])
    )
    return data.rehydrate()


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(_compose.HELM_VALUES.read_text())


@pytest.fixture(scope="module")
def compose_instance() -> dict[str, Any]:
    """deploy/dagster_home/dagster.yaml, the Compose stack's instance."""
    return yaml.safe_load((_compose.DAGSTER_HOME_DIR / "dagster.yaml").read_text())


def test_the_image_leaves_the_charts_dagster_home_to_the_chart(values: dict[str, Any]) -> None:
    """The image sets no DAGSTER_HOME and puts nothing where the chart's pods have it: a
    code-server pod that opens `DagsterInstance.get()` finds the chart's instance (or none),
    never the Compose stack's DefaultRunLauncher and its unset DAGSTER_PG_HOST."""
    chart_home = _chart_values(values)["global"]["dagsterHome"]
    assert chart_home
    assert "DAGSTER_HOME" not in _compose.image_environment()
    for keyword, arguments in _compose.dockerfile_final_stage():
        if keyword in ("COPY", "ADD", "RUN", "WORKDIR", "VOLUME"):
            assert chart_home not in arguments, f"{keyword} {arguments}"


def test_values_validate_against_the_chart_and_its_subchart(values: dict[str, Any]) -> None:
    """Merged with the defaults as Helm merges them, the values meet both charts' schemas."""
    assert _errors("values.schema.json", _chart_values(values)) == []
    assert _errors("user-deployments.values.schema.json", _subchart_values(values)) == []


@pytest.mark.parametrize(
    ("path", "key", "misspelt"),
    [
        (("runLauncher", "config", "k8sRunLauncher"), "envSecrets", "envSecret"),
        (("dagsterDaemon", "runCoordinator", "config", "customRunCoordinator"), "class", "klass"),
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


def test_the_instance_sections_are_valid_dagster_instance_config(values: dict[str, Any]) -> None:
    """What the values put into the chart's dagster.yaml passes Dagster's own instance schema, and
    additionalInstanceConfig sets no key the chart writes itself."""
    instance = render_instance(values)
    result = validate_config(Shape(dagster_instance_config_schema()), instance)
    assert result.success, [error.message for error in result.errors or []]
    assert not set(values.get("additionalInstanceConfig") or {}) & CHART_INSTANCE_KEYS


def test_queued_runs_wait_for_a_restarting_code_server_as_in_compose(
    values: dict[str, Any], compose_instance: dict[str, Any]
) -> None:
    """The run coordinator Dagster builds from the chart's dagster.yaml queues runs for the
    daemon, retries a launch that fails on unreachable user code with the Compose instance's
    retries and delay, and dequeues as often (runs from the UI wait no longer than there)."""
    helm = _build(render_instance(values)["run_coordinator"])
    compose = _build(compose_instance["run_coordinator"])
    assert isinstance(helm, QueuedRunCoordinator) and isinstance(compose, QueuedRunCoordinator)
    helm_queue, compose_queue = helm.get_run_queue_config(), compose.get_run_queue_config()
    assert helm_queue.max_concurrent_runs >= 1
    assert helm_queue.max_user_code_failure_retries > 0
    assert (helm_queue.max_user_code_failure_retries, helm_queue.user_code_failure_retry_delay) == (
        compose_queue.max_user_code_failure_retries,
        compose_queue.user_code_failure_retry_delay,
    )
    assert helm.dequeue_interval_seconds == compose.dequeue_interval_seconds


def test_a_misspelt_run_coordinator_setting_is_caught(values: dict[str, Any]) -> None:
    """The chart passes the custom coordinator's config through unchecked; Dagster rejects a key
    its QueuedRunCoordinator does not know, named, when it builds the coordinator."""
    broken = copy.deepcopy(values)
    custom = broken["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]["config"]
    custom["max_user_code_failure_retry"] = custom.pop("max_user_code_failure_retries")
    with pytest.raises(DagsterInvalidConfigError, match="max_user_code_failure_retry"):
        _build(render_instance(broken)["run_coordinator"])


def test_the_charts_queued_type_cannot_carry_the_retries(values: dict[str, Any]) -> None:
    """Why the values use CustomRunCoordinator: the chart's own QueuedRunCoordinator type has no
    key for the retries (the schema rejects one), so its coordinator would never retry."""
    custom = values["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]["config"]
    queued = copy.deepcopy(values)
    queued["dagsterDaemon"]["runCoordinator"] = {
        "enabled": True,
        "type": "QueuedRunCoordinator",
        "config": {"queuedRunCoordinator": {"maxUserCodeFailureRetries": 3}},
    }
    errors = _errors("values.schema.json", _chart_values(queued))
    assert any("'maxUserCodeFailureRetries' was unexpected" in error for error in errors), errors
    del queued["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    built = _build(render_instance(queued)["run_coordinator"])
    assert built.get_run_queue_config().max_user_code_failure_retries == 0
    assert custom["max_user_code_failure_retries"] > 0


def test_a_running_steps_output_reaches_s3_before_the_step_ends(values: dict[str, Any]) -> None:
    """The compute log manager Dagster builds from the chart's dagster.yaml uploads partial
    stdout/stderr at an interval, so the UI shows a running step's output."""
    manager = _build(render_instance(values)["compute_logs"])
    assert isinstance(manager, S3ComputeLogManager)
    assert manager.upload_interval is not None and manager.upload_interval > 0


def test_the_ui_shows_no_community_dialog_as_in_compose(
    values: dict[str, Any], compose_instance: dict[str, Any]
) -> None:
    """The chart's instance turns nux off, as the Compose instance does."""
    assert compose_instance["nux"] == {"enabled": False}
    assert render_instance(values).get("nux") == compose_instance["nux"]


def test_one_code_server_port_everywhere(values: dict[str, Any]) -> None:
    """The image's command and ports, Compose's code server and its health check, the stack's
    workspace and the chart's deployment use the port healthcheck.py names."""
    [deployment] = values[SUBCHART]["deployments"]
    compose = _compose.load_raw()["services"]["iris-assets-code"]
    [server] = yaml.safe_load((_compose.DAGSTER_HOME_DIR / "workspace.yaml").read_text())[
        "load_from"
    ]
    dockerfile = dict(_compose.dockerfile_final_stage())
    ports = {
        deployment["port"],
        int(_compose.option(compose["command"], "-p")),
        int(compose["healthcheck"]["test"][-1].rpartition(":")[2]),
        next(iter(server.values()))["port"],
        int(_compose.option(json.loads(dockerfile["CMD"]), "-p")),
    }
    assert ports == {healthcheck.CODE_SERVER_PORT}
    assert str(healthcheck.CODE_SERVER_PORT) in dockerfile["EXPOSE"].split()
