"""`iris-assets doctor` as a user runs it: in a directory of their own, whose `.env` names the
database with its password."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from iris_devstack.service_env import environ_without_services

CLI = Path(sys.executable).with_name("iris-assets")
PASSWORD = "pw-doctor-e2e-3307"


def _with_password(url: str) -> str:
    """`url` with PASSWORD as its user's password (the suite's server trusts local users, so
    the connection still succeeds and the password has to be kept out of the output)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return parts._replace(netloc=f"{user}:{PASSWORD}@{parts.netloc.rpartition('@')[2]}").geturl()


def test_doctor_names_dotenv_and_never_prints_the_password(
    tmp_path: Path, iris_database_url: str
) -> None:
    """The report says `IRIS_DATABASE_URL from .env`, finds the 150 rows through that URL, exits
    0, and the password appears nowhere in what it prints."""
    url = _with_password(iris_database_url)
    (tmp_path / ".env").write_text(f"IRIS_DATABASE_URL={url}\n")
    assert PASSWORD in (tmp_path / ".env").read_text()
    env = {**environ_without_services(), "IRIS_HOME": str(tmp_path / ".iris")}

    result = subprocess.run(
        [str(CLI), "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "IRIS_DATABASE_URL from .env" in result.stdout
    assert "iris_data holds 150 rows" in " ".join(result.stdout.split())
    assert PASSWORD not in output
    assert "Traceback" not in output
    assert result.stderr == ""
