"""STATE_DIR/run/endpoints.json: where a running `jalur up` put what it started, so that
operator commands run in its folder find the system (as `pg_ctl -D` users expect).

It holds locations, never secrets: a database URL carrying a password is left out (whoever
configured it has it), and the master key stays in its own file (STATE_DIR/master.key).
Read back only while the `jalur up` that wrote it is alive.
"""

import json
import os
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from infra.host.processes import Recorded

# The settings a running system may supply, each only when not given explicitly.
FIELDS = ("database_url", "kafka_bootstrap")


def path_in(state_dir: Path) -> Path:
    return state_dir / "run" / "endpoints.json"


def write(state_dir: Path, up: Recorded, database_url: str, kafka_bootstrap: str) -> None:
    found = {"up": str(up), "kafka_bootstrap": kafka_bootstrap}
    if not conninfo_to_dict(database_url).get("password"):
        found["database_url"] = database_url
    body = json.dumps(found, indent=2)
    descriptor = os.open(path_in(state_dir), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(body + "\n")


def of_running_system(state_dir: Path) -> dict[str, Any]:
    """The settings a live `jalur up` in `state_dir` recorded; empty if none runs there."""
    try:
        recorded = json.loads(path_in(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    up = Recorded.parse(str(recorded.get("up", "")))
    if up is None or not up.alive():
        return {}
    return {name: recorded[name] for name in FIELDS if recorded.get(name)}
