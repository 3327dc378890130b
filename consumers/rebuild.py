"""Rebuild a read model beside the live one and switch readers over when it has caught up.

Readers keep querying the live generation throughout; the switch is one transaction.
The live runners notice the switch and continue on the new generation's consumer group.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from consumers import generations
from consumers.registry import Projection, rebuildable
from consumers.runner import ProjectionRunner
from infra.postgres.connections import migration_lock
from infra.settings import Settings

log = logging.getLogger(__name__)


def rebuild(
    projection: Projection,
    settings: Settings,
    stop: threading.Event,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Build a new generation from the beginning of the topics; return its number."""
    if not rebuildable(projection):
        raise SystemExit(
            f"{projection.NAME} cannot be rebuilt: it has side effects (it sends e-mails), "
            "and a replay would repeat every one of them"
        )
    url = settings.require_database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        with migration_lock(url):
            live = generations.ensure_generation(conn, projection)
            new = generations.create_generation(conn, projection)
        runner = ProjectionRunner(
            projection,
            settings,
            generation=new,
            follow_switches=False,
            batch_size=settings.rebuild_batch_size,
        )
        try:
            _follow_until_switched(conn, runner, live, stop, progress)
        finally:
            runner.close()
        generations.drop_generations_before(conn, projection, live)
    log.info("%s: generation %s is live (was %s)", projection.NAME, new, live)
    return new


def _follow_until_switched(
    conn: psycopg.Connection[Any],
    runner: ProjectionRunner,
    live: int,
    stop: threading.Event,
    progress: Callable[[int, int], None],
) -> None:
    """Apply the topics to the new generation until it has reached the live one at the
    moment of the switch; the live runner keeps going meanwhile, so try again until then."""
    projection = runner.projection
    while not stop.is_set():
        runner.step()
        target = generations.positions(conn, projection, live)
        reached = runner.positions()
        done, total = (
            sum(min(reached.get(k, 0), v) for k, v in target.items()),
            sum(target.values()),
        )
        progress(done, total)
        if done == total and generations.activate_if_caught_up(
            conn, projection, runner.generation, live
        ):
            return
    raise SystemExit("rebuild interrupted; the live read model is unchanged")
