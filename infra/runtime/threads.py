"""Run several loops in one process; if one fails, stop them all and fail the process."""

import logging
import threading
import time
from collections.abc import Callable, Sequence

log = logging.getLogger("jalur.threads")
FAILED_GRACE_S = 4.0  # how long the other loops get to stop after one failed


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
    while not failed.wait(0.2) and any(t.is_alive() for t in threads):
        pass
    if failed.is_set():
        # The others were told to stop; one blocked on what made this one fail (a database
        # gone, say) would hold the process for minutes. A supervisor restarts it anyway.
        deadline = time.monotonic() + FAILED_GRACE_S
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise SystemExit(1)
