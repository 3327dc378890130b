"""A process of several loops fails as a whole, and soon, when one loop fails."""

import threading
import time

import pytest

from infra.runtime import threads
from infra.runtime.threads import run_all


def test_one_failed_loop_ends_the_process_even_if_another_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads, "FAILED_GRACE_S", 0.5)
    release = threading.Event()

    def stuck(_stop: threading.Event) -> None:  # blocked on something that never answers
        release.wait(60)

    def failing(_stop: threading.Event) -> None:
        raise ConnectionError("the database went away")

    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        run_all([stuck, failing], threading.Event())
    release.set()

    assert exit_info.value.code == 1
    assert time.monotonic() - started < 30  # not the stuck loop's 60 s


def test_loops_that_stop_when_told_end_the_process_cleanly() -> None:
    stop = threading.Event()
    finished: list[int] = []

    def loop(stop_event: threading.Event) -> None:
        stop_event.wait(10)
        finished.append(1)

    threading.Timer(0.1, stop.set).start()
    run_all([loop, loop], stop)  # returns: no SystemExit

    assert finished == [1, 1]
