"""py-spy profiles of a running process, summarised as small text files: which packages and
functions take the samples (self: the innermost frame; total: anywhere in the stack).

Two views, recorded at once: `--gil` samples only the thread holding the GIL (what uses the
interpreter's one core), the default samples every thread that py-spy does not see idle
(also threads blocked in C, such as psycopg waiting for PostgreSQL)."""

import collections
import contextlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

TOP = 20
RATE_HZ = 100
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")
# Frames under every sample (start-up, the event loop, thread bootstrap): no news in "total".
SCAFFOLDING = re.compile(
    r"threading\.py|runpy|typer/|infra/runtime/(cli|tls)\.py|uvicorn/(server|_compat)\.py"
    r"|asyncio/(runners|base_events)\.py|anyio/_backends/_asyncio\.py\)$|WorkerThread\.run"
)
VIEWS = {"gil": ["--gil"], "threads": []}


@contextlib.contextmanager
def recording(pid: int, seconds: float, raw_dir: Path) -> Iterator[dict[str, Path]]:
    """py-spy record -f raw on `pid`, once per view, while the block runs."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    raws = {view: raw_dir / f"{view}.raw" for view in VIEWS}
    common = [py_spy, "record", "--nonblocking", "-r", str(RATE_HZ), "-d", str(int(seconds))]
    processes = [
        subprocess.Popen(
            [*common, *flags, "-p", str(pid), "-f", "raw", "-o", str(raws[view])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for view, flags in VIEWS.items()
    ]
    try:
        yield raws
    finally:
        for process in processes:
            _, errors = process.communicate(timeout=seconds + 30)
            if process.returncode != 0:
                print(f"py-spy failed: {errors.decode(errors='replace')[-500:]}", file=sys.stderr)


def _package_path(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return re.sub(r"^.*/wt-[^/]+/|^/work/[^/]+/", "", file)


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    return f"{match['function']} ({_package_path(match['file'])})" if match else frame


def _package(frame: str) -> str:
    match = FRAME.match(frame)
    path = _package_path(match["file"]) if match else frame
    return path.split("/", 1)[0]


def _counts(raw: Path) -> tuple[int, dict[str, collections.Counter[str]]]:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    samples = 0
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        samples += count
        counts["package"][_package(frames[-1])] += count
        counts["self"][_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            if not SCAFFOLDING.search(name):
                counts["total"][name] += count
    return samples, counts


def summarise(raws: dict[str, Path], title: str, seconds: float) -> str:
    lines = [title, ""]
    for view, raw in raws.items():
        samples, counts = _counts(raw)
        active = samples / (RATE_HZ * seconds)

        def share(n: int, samples: int = samples) -> str:
            return f"{100 * n / max(samples, 1):5.1f}%"

        what = "the thread holding the GIL" if view == "gil" else "every non-idle thread"
        lines += [f"== view {view}: {what}; {samples} samples, {active:.2f} per tick on average"]
        for kind, heading in (
            ("package", "self % by package (top folder of the innermost frame)"),
            ("self", f"top {TOP} functions by self %"),
            ("total", f"top {TOP} functions by total % (start-up and loop frames left out)"),
        ):
            lines += [heading] + [
                f"  {share(n)}  {name}" for name, n in counts[kind].most_common(TOP)
            ]
            lines += [""]
    return "\n".join(lines)
