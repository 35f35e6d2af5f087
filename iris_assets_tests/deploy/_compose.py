"""Read the deployment files as their tools do, and find the variables the code reads.

No Docker engine runs where the suite runs, so the tests read docker-compose.yaml themselves:
YAML (anchors and merge keys included), then `${VAR}` interpolation from an env file, as Compose
does. The variables the code reads are found in its source, so a new one cannot be forgotten.
"""

import ast
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from iris_devstack.checkout import REPO
from iris_devstack.compose import COMPOSE_FILE

DOCKERFILE = REPO / "Dockerfile"
DAGSTER_HOME_DIR = REPO / "deploy" / "dagster_home"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
STAND_INS = REPO / "deploy" / "standins" / "images"
PACKAGE = "iris_assets"

# Compose's interpolation: $$ is a literal $, ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error}, ${NAME:+alternative}, ${NAME+alternative} and $NAME.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

PROXIED_BY_MLFLOW_SERVER = frozenset(
    {"MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
)
"""Read by the code for a tracking server that lets clients write to S3 themselves, and for
asset values in S3 (IRIS_IO_S3_URI); the deployments' MLflow server proxies artifacts, so a
deployment that keeps asset values on a disk needs none of them."""


class InterpolationError(ValueError):
    """A `${NAME:?message}` (or `${NAME?message}`) whose variable is missing."""


def load_raw() -> dict[str, Any]:
    """docker-compose.yaml as YAML, before interpolation."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load(env: Mapping[str, str]) -> dict[str, Any]:
    """docker-compose.yaml as Compose sees it with `env` as its .env file."""
    return interpolate(load_raw(), env)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Substitute variables in every string of `value` (keys stay as they are)."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _substitute(match, env), value)
    if isinstance(value, Mapping):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    return value


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    """The text one `$...` stands for, by the rules of the Compose Specification."""
    if match["escaped"]:
        return "$"
    name = match["braced"] or match["named"]
    op, arg = match["op"] or "", match["arg"] or ""
    value = env.get(name)
    is_set = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        return value if is_set and value is not None else arg
    if op.endswith("?"):
        if not is_set or value is None:
            raise InterpolationError(f"${{{name}}}: {arg or 'required variable is missing'}")
        return value
    if op.endswith("+"):
        return arg if is_set else ""
    return value or ""


def variables(value: Any) -> set[str]:
    """Names of the variables that the strings of `value` interpolate."""
    if isinstance(value, str):
        return {
            match["braced"] or match["named"]
            for match in _VARIABLE.finditer(value)
            if not match["escaped"]
        }
    if isinstance(value, Mapping):
        return set().union(*(variables(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(variables(item) for item in value))
    return set()


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either of Compose's two forms, as a mapping."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def command(service: Mapping[str, Any]) -> list[str]:
    """A service's `command` in list form (the form this repository uses throughout)."""
    args = service.get("command")
    if not isinstance(args, list):
        raise TypeError(f"expected a list command, got {args!r}")
    return [str(arg) for arg in args]


def option(args: list[str], *names: str) -> str | None:
    """The value after the first of `names` in `args`, or None."""
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            return args[index + 1]
    return None


def dagster_yaml_variables() -> set[str]:
    """Variables deploy/dagster_home/dagster.yaml reads through `env:` fields."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if set(node) == {"env"} and isinstance(node["env"], str):
                found.add(node["env"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((DAGSTER_HOME_DIR / "dagster.yaml").read_text()))
    return found


def console_script_module(name: str) -> str:
    """The module a console script of pyproject.toml runs, e.g. `iris-assets` -> iris_assets.cli."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    return scripts[name].partition(":")[0]


def module_closure(module: str) -> set[Path]:
    """Source files of `module` and of every project module it imports, however deep."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        path = _module_path(pending.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                pending.append(node.module)
                pending.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                pending.extend(alias.name for alias in node.names)
    return seen


def _module_path(module: str) -> Path | None:
    """The source file of a project module; None for other packages' modules."""
    if module != PACKAGE and not module.startswith(f"{PACKAGE}."):
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def required_variables(module: str) -> set[str]:
    """What a deployment must set to run `module`: the variables it (or what it imports) reads
    without a literal default, but for the S3 settings the MLflow server holds instead."""
    read = variables_read(module_closure(module))
    return {name for name, has_default in read.items() if not has_default} - (
        PROXIED_BY_MLFLOW_SERVER
    )


def variables_read(paths: Iterable[Path]) -> dict[str, bool]:
    """Environment variables the files read, each mapped to whether every read has a default.

    A read is a call whose callee mentions "env" (`os.environ.get`, `os.getenv`, `dg.EnvVar`,
    a helper such as `_env`) with a variable name, given literally or as a module constant, as
    its first argument, or `os.environ[...]`. A default is a literal fallback:
    `os.environ.get(NAME) or 100`, `os.environ.get(NAME, "x")`. A `Setting("NAME", ...)` of
    iris_assets.settings, which every entry point resolves, is a read with a default.
    """
    defaulted: dict[str, bool] = {}
    for path in paths:
        tree = ast.parse(path.read_text())
        constants = _string_constants(tree)
        fallbacks = _calls_with_literal_fallback(tree)
        for node in ast.walk(tree):
            name: str | None = None
            has_default = False
            if isinstance(node, ast.Call) and node.args and ast.unparse(node.func) == "Setting":
                name, has_default = _string_value(node.args[0], constants), True
            elif (
                isinstance(node, ast.Call) and node.args and "env" in ast.unparse(node.func).lower()
            ):
                name = _string_value(node.args[0], constants)
                has_default = node in fallbacks or (
                    len(node.args) > 1 and _is_literal(node.args[1])
                )
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and ast.unparse(node.value) == "os.environ"
            ):
                name = _string_value(node.slice, constants)
            if name is not None and _ENV_NAME.match(name):
                defaulted[name] = defaulted.get(name, True) and has_default
    return defaulted


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments, for names passed as constants."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _calls_with_literal_fallback(tree: ast.Module) -> set[ast.AST]:
    """Calls that are the left operand of `or <literal>`."""
    return {
        node.values[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.BoolOp)
        and isinstance(node.op, ast.Or)
        and all(_is_literal(value) for value in node.values[1:])
    }


def _is_literal(node: ast.AST) -> bool:
    """Whether a node is a constant other than None (a usable default)."""
    return isinstance(node, ast.Constant) and node.value is not None


def _string_value(node: ast.AST, constants: Mapping[str, str]) -> str | None:
    """A string literal's value, or a module constant's; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (keyword.upper(), arguments.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for keyword, _, arguments in [line.strip().partition(" ")]
    ]


def dockerfile_final_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage, the image the services run."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def image_environment() -> dict[str, str]:
    """Variables the project image sets (ENV of the last stage), as written there."""
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_final_stage():
        if keyword == "ENV":
            env.update(item.partition("=")[::2] for item in shlex.split(arguments))
    return env


def built_images(services: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Images that services of the compose file build (the project's own)."""
    return {service["image"] for service in services.values() if "build" in service}


def depends_on(services: Mapping[str, Mapping[str, Any]], name: str) -> set[str]:
    """Every service that `name` waits for, directly or through another."""
    found: set[str] = set()
    pending = [name]
    while pending:
        for target in services[pending.pop()].get("depends_on") or {}:
            if target not in found:
                found.add(target)
                pending.append(target)
    return found


def external_images() -> set[str]:
    """Images the stack pulls: the compose file's (but the project's own) and the Dockerfile's."""
    services = load_raw()["services"]
    pulled = {service["image"] for service in services.values()} - built_images(services)
    froms = [
        arguments.split() for keyword, arguments in dockerfile_instructions() if keyword == "FROM"
    ]
    stages = {words[2] for words in froms if len(words) == 3 and words[1].upper() == "AS"}
    return pulled | {words[0] for words in froms if words[0] not in stages}


def image_tag(image: str) -> str:
    """The tag of `name:tag` (a registry's `host:port/` prefix is not one); empty if none."""
    last = image.rsplit("/", 1)[-1]
    return last.partition(":")[2]


def stand_ins() -> dict[str, str]:
    """deploy/standins/images: folder -> the image it stands in for."""
    lines = STAND_INS.read_text().splitlines()
    return dict(line.split() for line in lines if line.strip() and not line.startswith("#"))


def locked_version(package: str) -> str:
    """The version of `package` that uv.lock pins."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    [version] = {entry["version"] for entry in lock["package"] if entry["name"] == package}
    return version
