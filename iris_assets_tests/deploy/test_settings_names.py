"""The deployments set the project's settings by the names iris_assets.settings resolves: a
misspelt variable in Compose or a Secret would leave its service on the embedded default."""

import re
from typing import Any

import yaml

from iris_assets import settings
from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO

_PROJECT_NAME = re.compile(r"^(IRIS_|MLFLOW_(TRACKING|S3)_)")
"""The prefixes of the settings that choose a service."""
_KNOWN = {setting.name for setting in settings.SETTINGS}


def _secret_keys() -> set[str]:
    documents = yaml.safe_load_all((REPO / "deploy/helm/secrets.example.yaml").read_text())
    return {key for doc in documents if doc for key in (doc.get("stringData") or {})}


def test_compose_sets_only_settings_the_code_resolves(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        set_here = {v for v in _compose.environment(service) if _PROJECT_NAME.match(v)}
        assert set_here <= _KNOWN, f"{name} sets {sorted(set_here - _KNOWN)}"


def test_the_helm_secrets_hold_only_settings_the_code_resolves() -> None:
    keys = {key for key in _secret_keys() if _PROJECT_NAME.match(key)}
    assert keys, "the Secrets hold no setting at all"
    assert keys <= _KNOWN, sorted(keys - _KNOWN)
