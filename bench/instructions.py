"""Callgrind instruction counts between marks in one process.

A benchmark program run with `--marks` calls `mark()` (`os.getppid()`, a libc call nothing else
in these programs makes) after its warm-up, after N calls and after 6N more calls (or, for lists,
after K calls on short and K calls on long lists). Callgrind runs with `--dump-before=getppid`,
so each mark writes the count of the interval before it to its own file: interval 2 holds the N
calls, interval 3 the 6N calls, and (I3 - I2) / 5N is the cost of one call, free of start-up,
imports and the warm-up (the N-and-6N method of /work/shared/measuring.md, in one process, so
each side costs one valgrind run instead of two). `PYTHONHASHSEED=0` makes runs repeatable.

Instruction counts do not depend on other load, so the runs can go in the background while
other load-insensitive stages run; `Job.intervals()` waits for its run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from common import BENCH_DIR, PYTHON

_SUMMARY = re.compile(r"^summary:\s*(\d+)", re.MULTILINE)


def mark() -> None:
    """The interval boundary: callgrind dumps its counters right before this libc call."""
    os.getppid()


async def marked_calls(call: Callable[[], Awaitable[object]], n: int, warmup: int) -> None:
    """`warmup` calls, mark, `n` calls, mark, `6n` calls, mark: the intervals `Job` reads. The
    loop is let run every 100 calls, as real I/O would."""
    for _ in range(warmup):
        await call()
    gc.collect()
    for batch in (n, 6 * n):
        mark()
        for i in range(batch):
            await call()
            if i % 100 == 99:
                await asyncio.sleep(0)
    mark()


class Job:
    """One callgrind run of `bench/<script> --marks *args`, started at once."""

    def __init__(self, valgrind: str, script: str, *args: str, expected: int) -> None:
        self.label = f"{script} {' '.join(args)}"
        self.expected = expected
        self._dir = tempfile.TemporaryDirectory(prefix="dintero-callgrind-")
        self.proc = subprocess.Popen(  # noqa: S603 - valgrind, our interpreter, fixed arguments
            [
                valgrind,
                "--tool=callgrind",
                "--dump-before=getppid",
                f"--callgrind-out-file={self._dir.name}/cg.%p",
                PYTHON,
                str(BENCH_DIR / script),
                "--marks",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )

    def intervals(self) -> list[int]:
        """Instructions of intervals 1..3 (start-up and warm-up, first batch, second batch).

        Fails unless the program exited 0, reported the expected number of responses and made
        exactly three marks: a side that crashed or skipped work must not look cheap."""
        try:
            out, _ = self.proc.communicate()
            done = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            if self.proc.returncode != 0 or done.get("responses") != self.expected:
                raise RuntimeError(
                    f"callgrind {self.label}: status {self.proc.returncode}, "
                    f"responses {done.get('responses')} (expected {self.expected})"
                )
            pid = self.proc.pid  # valgrind runs the program in its own process
            dumps = sorted(Path(self._dir.name).glob("cg.*.*"), key=lambda p: int(p.suffix[1:]))
            counts = [int(m.group(1)) for p in dumps if (m := _SUMMARY.search(p.read_text()))]
            if len(counts) != 3:
                raise RuntimeError(
                    f"callgrind {self.label} (pid {pid}): {len(counts)} marks, not 3"
                )
            return counts
        finally:
            self._dir.cleanup()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._dir.cleanup()
