"""Run several loops in one process; if one fails, stop them all and fail the process."""

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("jalur.threads")


def run_all(loops: Sequence[Callable[[threading.Event], None]], stop: threading.Event) -> None:
    failed = threading.Event()

    def guarded(loop: Callable[[threading.Event], None]) -> None:
        try:
            loop(stop)
        except BaseException:
            log.exception("a loop failed; stopping the process")
            failed.set()
            stop.set()

    threads = [threading.Thread(target=guarded, args=(loop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed.is_set():
        raise SystemExit(1)
