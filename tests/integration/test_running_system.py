"""Settings find the `jalur up` running in STATE_DIR, only while it runs, and never over
what was given explicitly."""

import json
import os
import subprocess
from pathlib import Path

from infra.host import endpoints
from infra.host.processes import Recorded
from infra.settings import Settings

RUNNING_DB = "postgresql://postgres@/jalur?host=/run/there&port=5432"


def record_run(state_dir: Path, up: Recorded) -> None:
    (state_dir / "run").mkdir(parents=True)
    endpoints.write(state_dir, up, RUNNING_DB, "127.0.0.1:19092")


def this_process() -> Recorded:
    recorded = Recorded.of(os.getpid())
    assert recorded is not None
    return recorded


def test_settings_find_the_running_system_but_explicit_settings_win(tmp_path: Path) -> None:
    record_run(tmp_path, this_process())

    found = Settings(state_dir=tmp_path)
    assert (found.database_url, found.kafka_bootstrap) == (RUNNING_DB, "127.0.0.1:19092")
    given = Settings(state_dir=tmp_path, database_url="postgresql://db.example/jalur")
    assert given.database_url == "postgresql://db.example/jalur"
    assert Settings(state_dir=tmp_path, kafka_bootstrap=None).kafka_bootstrap is None


def test_a_run_that_is_gone_is_not_found(tmp_path: Path) -> None:
    finished = subprocess.Popen(["sleep", "0"])
    recorded = Recorded.of(finished.pid)
    finished.wait()
    record_run(tmp_path, recorded or Recorded(finished.pid, 0))

    assert Settings(state_dir=tmp_path).database_url is None


def test_a_database_url_with_a_password_is_never_written(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    secret_url = "postgresql://jalur:s3cret@db.example/jalur"
    endpoints.write(tmp_path, this_process(), secret_url, "127.0.0.1:19092")

    written = endpoints.path_in(tmp_path).read_text()
    assert "s3cret" not in written
    assert json.loads(written)["kafka_bootstrap"] == "127.0.0.1:19092"
    assert Settings(state_dir=tmp_path).database_url is None
