"""Import time and memory, each measured in fresh subprocesses.

Import time: wall time of `python -c "import X"` minus that of `python -c "pass"`, the three
commands interleaved round by round (A B C C B A ...), after one untimed round that leaves the
bytecode caches warm.

Memory: peak RSS of a fresh process making `calls` sequential creates through
`httpx.MockTransport` (bench/overhead.py as a script), SDK vs raw httpx with base_url, and how
much of it the calls added after the warm-up. The peak is the kernel's VmHWM, not `ru_maxrss`,
which a process started by this (larger) one inherits (see overhead._maxrss_kb).
"""

from __future__ import annotations

import statistics
import subprocess
import time

from common import PYTHON, Blocks, rounds
from overhead import worker_rss

IMPORTS = {"pass": "pass", "httpx": "import httpx", "dintero_aio": "import dintero_aio"}


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], check=True)  # noqa: S603 - fixed code strings
    return time.perf_counter() - start


def import_times(count: int) -> dict[str, Blocks]:
    """Milliseconds added by each import over a bare interpreter start, one figure per round."""
    for code in IMPORTS.values():
        _wall(code)
    walls: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for name in rounds(list(IMPORTS), count):
        walls[name].append(_wall(IMPORTS[name]) * 1000)
    bare = walls.pop("pass")
    # Round i's bare start is subtracted from round i's imports (they ran side by side).
    return {
        name: Blocks([ms - base for ms, base in zip(values, bare, strict=True)])
        for name, values in walls.items()
    } | {"pass": Blocks(bare)}


def peak_rss(calls: int, runs: int) -> dict[str, tuple[float, float]]:
    """(peak RSS, growth during the calls) in MiB per side: medians over `runs` fresh processes
    per side, interleaved."""
    runs_of: dict[str, list[dict[str, int]]] = {"sdk": [], "raw-rel": []}
    for side in rounds(list(runs_of), runs):
        runs_of[side].append(worker_rss(side, calls))
    return {
        side: (
            statistics.median(r["maxrss_kb"] / 1024 for r in done),
            statistics.median((r["maxrss_kb"] - r["warm_maxrss_kb"]) / 1024 for r in done),
        )
        for side, done in runs_of.items()
    }
