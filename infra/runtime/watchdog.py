"""The watchdog of `jalur up`: stops what it started once it is gone, however it died.

The children and the broker get SIGTERM from Linux when `jalur up` dies (orphan_guard),
but the embedded PostgreSQL runs daemonised as another user, out of reach of that. So
`jalur up` starts this process first, in its own session (a signal to the terminal's
process group or `kill -9` of that group misses it), holding the read end of a pipe whose
write end only `jalur up` holds. When `jalur up` dies the pipe closes and the watchdog
wakes at once: it waits for the children, SIGKILLs any still there after a grace, and
stops PostgreSQL with a fast shutdown. It also holds the run lock, so a new `jalur up`
starts only after it is done. After a clean stop it finds nothing to do.
"""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from infra.runtime.run_dir import RunDir

log = logging.getLogger("jalur.watchdog")


class Watchdog:
    def __init__(self, process: subprocess.Popen[bytes], alive_pipe: int) -> None:
        self.process = process
        self._alive_pipe = alive_pipe

    @classmethod
    def start(
        cls, state_dir: Path, lock: int, postgres_dir: Path | None, log_file: IO[bytes]
    ) -> "Watchdog":
        read_end, write_end = os.pipe()  # neither is inherited by other children
        argv = [
            sys.executable,
            "-m",
            "infra.runtime.watchdog",
            str(state_dir),
            str(postgres_dir or ""),
        ]
        process = subprocess.Popen(  # noqa: S603 (our own module and arguments)
            argv,
            stdin=read_end,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(lock,),
            start_new_session=True,
        )
        os.close(read_end)
        return cls(process, write_end)

    def stand_down(self, timeout: float = 10.0) -> None:
        """After a clean stop: close the pipe and wait while it finds nothing left."""
        os.close(self._alive_pipe)
        self.process.wait(timeout)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGHUP):  # the terminal's signals are not for us
        signal.signal(signum, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    state_dir, postgres = Path(sys.argv[1]), sys.argv[2]
    while sys.stdin.buffer.read(4096):  # nobody writes: this returns at EOF, when up is gone
        pass
    RunDir(state_dir).stop_leftovers(Path(postgres) if postgres else None)


if __name__ == "__main__":
    main()
