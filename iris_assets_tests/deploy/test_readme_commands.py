"""The deployment commands the README (and the Helm values' header) give, read as a shell would
split them, in the order an operator types them."""

import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO

README = REPO / "README.md"
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`]+)`")
_SEPARATORS = {"&&", "||", ";", "|"}


def readme_section(title: str) -> str:
    """The text under `## title`, up to the next heading of that level."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(text: str) -> list[list[str]]:
    """Every command of the fenced blocks and inline code spans of `text`, in document order,
    split into words; `&&`, `;` and `|` end a command, `\\` at a line's end continues it."""
    found: list[tuple[int, list[str]]] = []
    for match in _FENCE.finditer(text):
        found.extend((match.start(), words) for words in _split(match.group(1)))
    outside = _FENCE.sub(lambda match: " " * len(match.group(0)), text)
    for match in _INLINE.finditer(outside):
        found.extend((match.start(), words) for words in _split(match.group(1).replace("\n", " ")))
    return [words for _, words in sorted(found, key=lambda item: item[0])]


def _split(script: str) -> Iterable[list[str]]:
    for line in script.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # prose in backticks that is no shell line
            continue
        command: list[str] = []
        for word in [*words, ";"]:
            if word in _SEPARATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(word)


def _option(words: list[str], *names: str) -> str | None:
    """The value of an option given as `-n value`, `--name value` or `--name=value`."""
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if name.startswith("--") and word.startswith(f"{name}="):
                return word.partition("=")[2]
    return None


def namespace_used_before_created(lines: list[list[str]]) -> list[str]:
    """kubectl and helm commands that act in a namespace no earlier command created (`kubectl
    create namespace`, or helm's `--create-namespace` for itself and what follows)."""
    created: set[str] = set()
    early = []
    for words in lines:
        if words[0] not in ("kubectl", "helm"):
            continue
        if words[0] == "kubectl" and words[1:3] in (["create", "namespace"], ["create", "ns"]):
            created.add(words[3])
            continue
        namespace = _option(words, "-n", "--namespace")
        if namespace is None:
            continue
        if words[0] == "helm" and "--create-namespace" in words:
            created.add(namespace)
        elif namespace not in created:
            early.append(shlex.join(words))
    return early


def _values_header() -> str:
    """The comment block that opens deploy/helm/values.yaml, its commands as shell lines."""
    header = []
    for line in _compose.HELM_VALUES.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:])
    return "```\n" + "\n".join(line for line in header if line.startswith("   ")) + "\n```\n"


def test_the_check_catches_a_namespace_used_before_it_exists() -> None:
    """The order the README had: Secrets and the chart into a namespace nothing created."""
    before = commands(
        "`kubectl apply -n iris -f deploy/helm/secrets.example.yaml`, then "
        "`helm upgrade --install iris dagster/dagster -n iris -f deploy/helm/values.yaml`"
    )
    assert len(namespace_used_before_created(before)) == 2
    helm_creates_it = [before[1] + ["--create-namespace"], before[0]]
    assert namespace_used_before_created(helm_creates_it) == []
    assert namespace_used_before_created(list(reversed(helm_creates_it))) != []


def test_kubernetes_steps_create_the_namespace_before_applying_into_it() -> None:
    """On a new cluster the README's steps and the values' header work in the order given."""
    for source, text in (
        ("README", readme_section("Scale-out on Kubernetes")),
        (_compose.HELM_VALUES.name, _values_header()),
    ):
        lines = commands(text)
        in_namespace = [words for words in lines if _option(words, "-n", "--namespace")]
        assert any(words[0] == "kubectl" for words in in_namespace), source
        assert any(words[0] == "helm" for words in in_namespace), source
        assert namespace_used_before_created(lines) == [], source


def _exec_command(words: list[str]) -> tuple[str, list[str]] | None:
    """(service, command) of a `docker compose exec`, or None for any other command."""
    if words[:3] != ["docker", "compose", "exec"]:
        return None
    rest = words[3:]
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in ("-e", "--env", "-u", "--user", "-w", "--workdir", "--index"):
            rest.pop(0)
    return rest[0], rest[1:]


def _in_repo(image_path: str) -> Path | None:
    """The checkout's file that the image's final stage copies to `image_path`, if any."""
    for keyword, arguments in _compose.dockerfile_final_stage():
        words = shlex.split(arguments)
        if keyword != "COPY" or any(word.startswith("--from=") for word in words):
            continue
        *sources, target = words
        for source in sources:
            if source.endswith("/") and image_path.startswith(target.rstrip("/") + "/"):
                return REPO / source / image_path[len(target.rstrip("/")) + 1 :]
            if image_path == target:
                return REPO / source
    return None


def test_compose_automation_commands_name_the_workspace_the_image_holds(
    compose: dict[str, Any],
) -> None:
    """The container has no pyproject.toml to find the definitions by: the README's `docker
    compose exec ... dagster sensor|schedule` commands pass a workspace file that the image
    holds, in a service that runs the image."""
    services = compose["services"]
    [project_image] = _compose.built_images(services)
    found = set()
    for words in commands(README.read_text()):
        parsed = _exec_command(words)
        if parsed is None or parsed[1][:1] != ["dagster"]:
            continue
        service, args = parsed
        if args[1] not in ("sensor", "schedule"):
            continue
        found.add(args[1])
        assert services[service]["image"] == project_image, shlex.join(words)
        workspace = _compose.option(args, "-w", "--workspace")
        assert workspace, f"no workspace file: {shlex.join(words)}"
        source = _in_repo(workspace)
        assert source is not None and source.is_file(), f"the image holds no {workspace}"
        assert yaml.safe_load(source.read_text())["load_from"], source
    assert found == {"sensor", "schedule"}
