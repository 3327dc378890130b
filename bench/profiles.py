"""py-spy profiles of a running process, summarised as small text files: which functions
(self: the sample's innermost frame; total: anywhere in the stack) and which packages
take the samples."""

import collections
import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

TOP = 25
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


@contextlib.contextmanager
def recording(pid: int, seconds: float, raw: Path) -> Iterator[None]:
    """py-spy record -f raw on `pid` while the block runs (py-spy beside the interpreter)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [py_spy, "record", "--nonblocking", "-r", "100", "-d", str(max(1, int(seconds)))]
    argv += ["-p", str(pid), "-f", "raw", "-o", str(raw)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        _, errors = process.communicate(timeout=seconds + 30)
        if process.returncode != 0:
            print(f"py-spy failed: {errors.decode(errors='replace')[-500:]}", file=sys.stderr)


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    return f"{match['function']} ({_package_path(match['file'])})"


def _package_path(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file.split("/wt-bench/", 1)[-1]


def _package(frame: str) -> str:
    match = FRAME.match(frame)
    path = _package_path(match["file"]) if match else frame
    return path.split("/", 1)[0] if "/" in path else path


def summarise(raw: Path, title: str) -> str:
    """Top functions by self and total share of samples, and self share by package."""
    self_count: collections.Counter[str] = collections.Counter()
    total_count: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        samples += count
        leaf = frames[-1]
        self_count[_short(leaf)] += count
        packages[_package(leaf)] += count
        for name in {_short(f) for f in frames}:
            total_count[name] += count
    return _render(title, samples, self_count, total_count, packages)


def _render(
    title: str,
    samples: int,
    self_count: collections.Counter[str],
    total_count: collections.Counter[str],
    packages: collections.Counter[str],
) -> str:
    def share(n: int) -> str:
        return f"{100 * n / max(samples, 1):5.1f}%"

    lines = [title, f"{samples} samples (py-spy, 100 Hz, non-idle threads)", ""]
    lines += ["self % by package (innermost frame's top folder)"]
    lines += [f"  {share(n)}  {name}" for name, n in packages.most_common(15)]
    lines += ["", f"top {TOP} functions by self %"]
    lines += [f"  {share(n)}  {name}" for name, n in self_count.most_common(TOP)]
    lines += ["", f"top {TOP} functions by total % (in the stack)"]
    lines += [f"  {share(n)}  {name}" for name, n in total_count.most_common(TOP)]
    return "\n".join(lines) + "\n"
