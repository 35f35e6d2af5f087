"""Settings: one order of sources for every entry point, and values shown without secrets."""

import re
from pathlib import Path

import dagster as dg
import pytest

from iris_assets import settings
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_devstack import browser
from iris_devstack.checkout import REPO

NAME = settings.DATABASE_URL.name
LIBPQ_PASSWORD = "pw-libpq-4417"


def _env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_an_export_wins_over_env_file_even_after_dagster_loaded_it(tmp_path: Path) -> None:
    """Dagster's CLI puts .env's value over the exported one; the exported one is resolved."""
    env_file = _env_file(tmp_path, f"{NAME}=postgresql://file/db\n")
    resolved = settings.resolve(
        environ={NAME: "postgresql://file/db"},
        startup_environ={NAME: "postgresql://exported/db"},
        env_file=env_file,
    )[NAME]
    assert (resolved.value, resolved.origin) == (
        "postgresql://exported/db",
        f"{NAME} from the environment",
    )


def test_env_file_fills_what_the_environment_leaves_unset(tmp_path: Path) -> None:
    """An `iris-assets` command (Dagster loaded nothing): .env's value, said to come from .env."""
    env_file = _env_file(tmp_path, f"# a comment\n{NAME}=postgresql://file/db\n")
    resolved = settings.resolve(environ={}, startup_environ={}, env_file=env_file)[NAME]
    assert (resolved.value, resolved.origin) == ("postgresql://file/db", f"{NAME} from .env")


def test_a_value_dagster_loaded_from_env_file_is_said_to_come_from_it(tmp_path: Path) -> None:
    env_file = _env_file(tmp_path, f"{NAME}=postgresql://file/db\n")
    resolved = settings.resolve(
        environ={NAME: "postgresql://file/db"}, startup_environ={}, env_file=env_file
    )[NAME]
    assert resolved.source is settings.Source.ENV_FILE


def test_unset_everywhere_is_the_embedded_default(tmp_path: Path) -> None:
    """Commented-out lines of .env.example set nothing."""
    env_file = _env_file(tmp_path, (REPO / ".env.example").read_text())
    resolved = settings.resolve(environ={}, startup_environ={}, env_file=env_file)
    for setting in (settings.DATABASE_URL, settings.TRACKING_URI, settings.IRIS_HOME):
        assert resolved[setting.name].value is None
        assert resolved[setting.name].origin == f"{setting.name} unset"
        assert resolved[setting.name].shown() == f"unset: {setting.default}"


def test_apply_leaves_the_environment_as_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What libraries read from os.environ (dg.EnvVar, boto, MLflow) is what was resolved."""
    monkeypatch.chdir(tmp_path)
    _env_file(tmp_path, f"{NAME}=postgresql://file/db\nIRIS_HOME={tmp_path / 'home'}\n")
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.setenv("IRIS_HOME", str(tmp_path / "exported"))
    resolved = settings.apply()
    assert dg.EnvVar(NAME).get_value() == "postgresql://file/db"
    assert settings.iris_home() == tmp_path / "exported"
    assert resolved["IRIS_HOME"].source is settings.Source.ENVIRONMENT


def test_shown_values_hold_no_password_or_secret(tmp_path: Path) -> None:
    env_file = _env_file(
        tmp_path,
        f"{NAME}=postgresql://myuser:pw-5521@db:5432/iris\n"
        "AWS_SECRET_ACCESS_KEY=secret-6632\n"
        "MLFLOW_TRACKING_URI=https://bob:token-7743@mlflow.example\n",
    )
    resolved = settings.resolve(environ={}, startup_environ={}, env_file=env_file)
    shown = " ".join(r.shown() for r in resolved.values())
    assert "postgresql://myuser@db:5432/iris" in shown
    assert "https://mlflow.example" in shown
    assert not re.search(r"pw-5521|secret-6632|token-7743|bob", shown)


def test_a_bad_retrain_threshold_names_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(settings.RETRAIN_MIN_NEW_ROWS.name, "many")
    with pytest.raises(
        ValueError, match="IRIS_RETRAIN_MIN_NEW_ROWS from the environment is 'many'"
    ):
        settings.retrain_min_new_rows()


def test_a_refused_connection_names_the_variable_and_its_source() -> None:
    """Errors name what the user set and where, not the resource's field."""
    postgres = PostgresResource(
        database_url="postgresql://myuser:pw-9931@127.0.0.1:9/iris",
        connect_timeout_seconds=2,
        origins={"database_url": f"{NAME} from .env"},
    )
    with pytest.raises(dg.Failure) as failure, postgres.connect():
        pass
    message = failure.value.description or ""
    assert f"{NAME} from .env" in message
    assert "pw-9931" not in message


def test_no_dagster_link_without_a_known_ui() -> None:
    """A guessed Dagster UI may be another instance's, which says "No run found"."""
    assert ModelRegistry().dagster_run_url("abc") is None
    linked = ModelRegistry(dagster_ui_url="http://dagster.example:3000/")
    assert linked.dagster_run_url("abc") == "http://dagster.example:3000/runs/abc"


def test_the_readme_clicks_materialize_all_where_the_browser_test_does() -> None:
    """Dagster 1.13's Catalog offers "Materialize selected"; "Materialize all" is on the group's
    lineage page, which the browser test opens."""
    readme = (REPO / "README.md").read_text()
    assert "*Catalog* → group" not in readme
    assert f"/locations/{browser.CODE_LOCATION}/asset-groups/iris" in readme


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (f"postgresql://u:{LIBPQ_PASSWORD}@h:5432/d", "postgresql://u@h:5432/d"),
        (
            f"postgresql://u@h/d?password={LIBPQ_PASSWORD}&sslmode=require",
            "postgresql://u@h/d?sslmode=require",
        ),
        (f"host=h user=u password={LIBPQ_PASSWORD} dbname=d", "host=h user=u dbname=d"),
        (f"host=h password='{LIBPQ_PASSWORD} x' dbname=d", "host=h dbname=d"),
        (f"http://admin:{LIBPQ_PASSWORD}@mlflow:5000", "http://mlflow:5000"),
        ("sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"),
    ],
)
def test_no_form_of_database_url_shows_its_password(value: str, shown: str) -> None:
    """libpq takes a password in the URL, its query or as a keyword: none of them is shown."""
    resolved = settings.resolve(environ={"IRIS_DATABASE_URL": value}, startup_environ={})
    assert resolved["IRIS_DATABASE_URL"].shown() == shown
