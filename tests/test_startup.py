"""A service process whose database or Redis does not answer, or whose URL cannot be used, stops at start-up with
one line naming it (without its password) and a non-zero exit code, not a driver traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.test_cli import platestream
from tests.test_storage import POSTGRES_ADMIN_URL


def closed_port() -> int:
    """A local port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(done: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    out = f"{done.stdout}{done.stderr}"
    assert done.returncode == code, out
    assert message in done.stderr and "Traceback" not in out and "s3cret" not in out


@pytest.mark.parametrize("command", [["db", "upgrade"], ["run", "--port", str(closed_port())]])
def test_unreachable_database(command: list[str], tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql://app:s3cret@127.0.0.1:{port}/x"
    done = platestream(*command, env={"PLATESTREAM_DATA_DIR": str(tmp_path), "PLATESTREAM_DATABASE_URL": url})
    check(done, 1, f"cannot reach the database at postgresql://app:***@127.0.0.1:{port}/x: ")


def test_missing_database_on_a_running_postgres(tmp_path: Path) -> None:
    url = make_url(POSTGRES_ADMIN_URL).set(database="platestream_no_such_db").render_as_string(hide_password=False)
    done = platestream("db", "upgrade", env={"PLATESTREAM_DATA_DIR": str(tmp_path), "PLATESTREAM_DATABASE_URL": url})
    check(done, 1, 'database "platestream_no_such_db" does not exist')


@pytest.mark.parametrize("command", ["worker", "rq-worker"])
def test_unreachable_redis(command: str, tmp_path: Path) -> None:
    port = closed_port()
    env = {"PLATESTREAM_DATA_DIR": str(tmp_path), "PLATESTREAM_REDIS_URL": f"redis://:s3cret@127.0.0.1:{port}/0"}
    check(platestream(command, env=env), 1, f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0: ")


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://app:s3cret@db/x", "database driver 'mysql' is not supported"),
    ("postgresql+psycopg://app:s3cret@db/x", "database driver 'postgresql+psycopg' is not supported"),
    ("s3cret", "database_url: Value error, not a database URL"),
])
def test_unusable_database_url_is_a_usage_error(url: str, message: str, tmp_path: Path) -> None:
    done = platestream("db", "upgrade", env={"PLATESTREAM_DATA_DIR": str(tmp_path), "PLATESTREAM_DATABASE_URL": url})
    check(done, 2, message)


def test_a_working_database_is_migrated(tmp_path: Path) -> None:
    # an empty URL, as `bench service` and compose files pass it, means the SQLite default
    done = platestream("db", "upgrade", env={"PLATESTREAM_DATA_DIR": str(tmp_path), "PLATESTREAM_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "platestream.db").is_file() and "is up to date" in done.stdout


@pytest.mark.parametrize("command", [["db", "upgrade"], ["run", "--port", str(closed_port())]])
def test_unusable_data_dir_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    done = platestream(*command, env={"PLATESTREAM_DATA_DIR": str(tmp_path / "a-file" / "data")})
    check(done, 2, f"cannot use PLATESTREAM_DATA_DIR {tmp_path / 'a-file' / 'data'}: Not a directory")
