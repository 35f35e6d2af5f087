"""The embedded PostgreSQL on a disk without room: the disk, the path and the space it needs are
named before initdb runs, and a full disk that initdb meets anyway is named too."""

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pgserver
import pytest

from iris_assets import embedded
from iris_assets.embedded import NoEmbeddedDatabase, NotEnoughSpace, disk_of, require_free_space


def test_a_disk_with_too_little_room_is_named_with_the_path_and_the_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked for more than the disk has free, the check names the disk, the path, what is free,
    what is needed and the setting to move; asked for what fits, it passes."""
    monkeypatch.setenv("IRIS_HOME", str(tmp_path / "home"))
    pgdata = tmp_path / "home" / "pg"
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(NotEnoughSpace) as refused:
        require_free_space(pgdata, free + 2**30)
    message = str(refused.value)
    assert f"The disk that holds {pgdata} ({disk_of(tmp_path)})" in message
    assert f"needs about {(free + 2**30) / 2**20:.1f} MiB" in message
    assert "point IRIS_HOME at a disk with room (IRIS_HOME from the environment)" in message
    assert not pgdata.exists()
    require_free_space(pgdata, 1)


def test_the_disk_is_named_as_df_names_it(tmp_path: Path) -> None:
    """The device (or filesystem type) and the mount point that hold the path."""
    named = disk_of(tmp_path)
    mount_point = tmp_path.resolve()
    while not mount_point.is_mount():
        mount_point = mount_point.parent
    assert named.endswith(f"mounted on {mount_point}")


def _failing_initdb(message: str):
    """pgserver.get_server as it fails when initdb does: its log says why, then it raises."""

    def get_server(pgdata: Path) -> None:
        logging.getLogger("pgserver._commands").error("Failed postgres command: %s", message)
        raise subprocess.CalledProcessError(1, ["initdb", "-D", str(pgdata)])

    return get_server


def test_a_full_disk_that_initdb_meets_is_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """initdb's "No space left on device" becomes the disk, the path and the need, and pgserver's
    long log of the failed command is not printed, whatever level its logger has."""
    caplog.set_level(logging.CRITICAL, logger="pgserver")  # as `iris-assets doctor` leaves it
    monkeypatch.setattr(
        pgserver,
        "get_server",
        _failing_initdb("initdb: error: could not write file: No space left on device"),
    )
    with pytest.raises(NotEnoughSpace) as refused:
        embedded.start_server(tmp_path / "pg")
    assert f"The disk that holds {tmp_path / 'pg'}" in str(refused.value)
    assert "ran out of space while initdb created" in str(refused.value)
    assert isinstance(refused.value.__cause__, subprocess.CalledProcessError)
    assert "Failed postgres command" not in caplog.text


def test_any_other_initdb_failure_keeps_pgserver_s_own_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure that is not a full disk is raised as it was, pgserver's log of it shown."""
    caplog.set_level(logging.WARNING, logger="pgserver")  # the level embedded sets
    monkeypatch.setattr(pgserver, "get_server", _failing_initdb("initdb: invalid locale"))
    with pytest.raises(subprocess.CalledProcessError):
        embedded.start_server(tmp_path / "pg")
    assert "initdb: invalid locale" in caplog.text


def test_without_pgserver_the_database_setting_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where pgserver is not installed (the project image), the embedded database is asked for
    only with IRIS_DATABASE_URL unset, and the error says to set it."""
    monkeypatch.delenv("IRIS_DATABASE_URL", raising=False)
    monkeypatch.setitem(sys.modules, "pgserver", None)
    with pytest.raises(NoEmbeddedDatabase) as missing:
        embedded._start_database.__wrapped__(tmp_path / "pg")
    assert "pgserver is not installed" in str(missing.value)
    assert "Set IRIS_DATABASE_URL" in str(missing.value)
    assert "(IRIS_DATABASE_URL unset)" in str(missing.value)
