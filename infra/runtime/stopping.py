"""A stop that always ends: after SIGTERM or Ctrl-C a process has STOP_DEADLINE_S to wind
down cleanly, then exits anyway.

Loops notice the stop at their next turn, but one turn can block far longer: eventsourcing
retries a lost database ten times, each time waiting up to its connect timeout, and a
producer's flush waits for a broker that is gone. Every process is built to survive
kill -9 (positions are saved only after the work they record, offsets are advisory), so
abandoning a turn half done loses nothing.
"""

import logging
import os
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

STOP_DEADLINE_S = 4.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, after which the process ends within the deadline."""
    stop = threading.Event()
    signalled = threading.Event()  # `stop` alone may have been set by a loop that failed

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        if not signalled.is_set():
            signalled.set()
            deadline = threading.Timer(STOP_DEADLINE_S, _give_up, (signum,))
            deadline.daemon = True
            deadline.start()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    return stop


def _give_up(signum: int) -> None:
    log.warning(
        "not stopped %.0f s after %s (a database or broker that does not answer?): exiting now",
        STOP_DEADLINE_S,
        signal.Signals(signum).name,
    )
    logging.shutdown()
    os._exit(128 + signum)
