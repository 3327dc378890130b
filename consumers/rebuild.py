"""Rebuild a read model beside the live one and switch readers over when it has caught up.

Readers keep querying the live generation throughout; the switch is one transaction.
The live runners notice the switch and continue on the new generation's consumer group.
"""

import logging
import threading
from collections.abc import Callable

import psycopg

from consumers import generations
from consumers.registry import Projection, rebuildable
from consumers.runner import ProjectionRunner
from infra.db import migration_lock
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
        target = generations.positions(conn, projection, live)
    runner = ProjectionRunner(projection, settings, generation=new, follow_switches=False)
    total = sum(target.values())
    try:
        while not stop.is_set():
            runner.step(timeout=0.5)
            reached = runner.positions()
            progress(sum(min(reached.get(k, 0), v) for k, v in target.items()), total)
            if all(reached.get(key, 0) >= nid for key, nid in target.items()):
                break
        else:
            raise SystemExit("rebuild interrupted; the live read model is unchanged")
    finally:
        runner.close()
    with psycopg.connect(url, autocommit=True) as conn:
        generations.activate(conn, projection, new)
        generations.drop_generations_before(conn, projection, live)
    log.info("%s: generation %s is live (was %s)", projection.NAME, new, live)
    return new
