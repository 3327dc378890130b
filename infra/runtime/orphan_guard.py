"""Run a program that dies with its parent:
`python -m infra.runtime.orphan_guard PPID PROGRAM ARGS...`.

Asks Linux for SIGTERM when the parent dies (`PR_SET_PDEATHSIG`, kept across exec), then
becomes PROGRAM (same pid). If the parent died before the request was made, PROGRAM is
never started. Linux counts the *thread* that forked as the parent: spawn from a thread
that lives as long as the parent process (the main thread).

A wrapper rather than `preexec_fn`, which is unsafe in a process that has threads.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def guarded(argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM when this process dies (no-op off Linux)."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-m", "infra.runtime.orphan_guard", str(os.getpid()), *argv]


def main() -> None:
    parent, program = int(sys.argv[1]), sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before prctl: nobody would stop us
        raise SystemExit(1)
    os.execvp(program[0], program)  # noqa: S606 (our own argv, from the supervisor)


if __name__ == "__main__":
    main()
