"""`jalur` processes that a crash test kills with SIGKILL at random moments and starts again."""

import os
import signal
import subprocess
from pathlib import Path

from infra.settings import Settings
from tests.support import start_process


class Processes:
    """Real `jalur` processes by name (e.g. "relay": ("relay",)), each logging to LOGS/NAME.log."""

    def __init__(
        self, settings: Settings, logs: Path, commands: dict[str, tuple[str, ...]]
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.commands = commands
        self.running = {name: self._start(name) for name in self.commands}
        self.kills = dict.fromkeys(self.commands, 0)

    def _start(self, name: str) -> subprocess.Popen[bytes]:
        return start_process(self.settings, *self.commands[name], log=self.log(name))

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def kill_and_restart(self, name: str) -> None:
        process = self.running[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        self.kills[name] += 1
        self.running[name] = self._start(name)

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            process.wait(timeout=30)
