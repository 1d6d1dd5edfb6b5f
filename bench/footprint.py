"""Import time, memory and instances, each measured in fresh subprocesses.

Import time: in a CLEAN virtualenv built from the wheel (not the dev environment, where
`import httpx` also loads rich, click and pygments): `pip wheel --no-deps` of the project, a
fresh venv with that wheel and its runtime dependencies only (from PyPI), bytecode compiled
(`compileall`). The venv is kept in VENV_DIR and reused while the wheel's sha256 is the same.
Then the wall time of `python -c "import X"` minus that of `python -c "pass"`, the three commands
interleaved round by round (A B C C B A ...), after one untimed round; and one
`python -X importtime -c "import dintero_aio"` for where the time goes.

Instances: a fresh process builds INSTANCES `Dintero` instances (default https base URL, so
each needs the verifying SSL context) after one warm-up instance; VmRSS and CPU time
(`time.process_time`) before and after, per instance. A few `httpx.AsyncClient()` (which builds
its own SSL context) in the same kind of process for comparison.

Memory: peak RSS of a fresh process making `calls` sequential creates through
`httpx.MockTransport` (bench/overhead.py as a script), SDK vs raw httpx with base_url, and how
much of it the calls added after the warm-up. The peak is the kernel's VmHWM, not `ru_maxrss`,
which a process started by this (larger) one inherits (see overhead._maxrss_kb).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR, PYTHON, Blocks, rounds
from overhead import worker_rss

PROJECT = BENCH_DIR.parent
VENV_DIR = Path(tempfile.gettempdir()) / "dintero-bench-venv"  # reused between runs

_DINTERO = "dintero_aio.Dintero(account_id='T12345678', client_id='c', client_secret='s')"
IMPORTS = {
    "pass": "pass",
    "httpx": "import httpx",
    "dintero_aio": "import dintero_aio",
    # The same import, as a user writes it: the lazy re-exports of __init__ must not flatter.
    "from dintero_aio": "from dintero_aio import Dintero",
    # An asyncio app has asyncio loaded before either: what each import adds on top of it.
    "asyncio": "import asyncio",
    "asyncio+httpx": "import asyncio, httpx",
    "asyncio+dintero_aio": "import asyncio, dintero_aio",
    # A cold start: the import and the first client (the SDK builds its machinery there).
    "httpx+client": "import httpx; httpx.AsyncClient()",
    "dintero_aio+client": f"import dintero_aio; {_DINTERO}",
}


def _run(*args: str | Path) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)  # noqa: S603 - fixed arguments
    if proc.returncode != 0:  # pip's warnings are noise unless it failed
        raise RuntimeError(f"{' '.join(map(str, args[:4]))}: {proc.stderr[-2000:]}")


def clean_venv() -> tuple[Path, bool]:
    """(the clean venv's python, whether it was reused): see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="dintero-wheel-") as tmp:
        # hatchling (the dev extra) builds reproducible wheels: same sources, same sha256.
        _run(PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
             "-w", tmp, PROJECT)  # fmt: skip
        (wheel,) = Path(tmp).glob("dintero_aio-*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        python = VENV_DIR / "bin" / "python"
        stamp = VENV_DIR / ".wheel-sha256"
        if python.exists() and stamp.exists() and stamp.read_text() == digest:
            return python, True
        shutil.rmtree(VENV_DIR, ignore_errors=True)
        _run(sys.executable, "-m", "venv", VENV_DIR)  # the base interpreter, no dev packages
        _run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
        _run(python, "-m", "compileall", "-q", VENV_DIR / "lib")
        stamp.write_text(digest)
        return python, False


def _wall(python: str | Path, code: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", code], check=True)  # noqa: S603 - fixed code strings
    return time.perf_counter() - start


def import_profile(python: str | Path, top: int = 8) -> list[tuple[str, float]]:
    """The packages that `import dintero_aio` spends the most time in: ms of `-X importtime`'s
    self time summed per top-level package (so nothing is counted twice), slowest first."""
    proc = subprocess.run(  # noqa: S603 - fixed arguments
        [python, "-X", "importtime", "-c", "import dintero_aio"],
        capture_output=True,
        text=True,
        check=True,
    )
    per_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        own, _, name = line[len("import time:") :].split("|")
        package = name.strip().split(".")[0]
        per_package[package] = per_package.get(package, 0) + int(own) / 1000
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def import_times(count: int, python: str | Path = PYTHON) -> dict[str, Blocks]:
    """Milliseconds added by each import over a bare interpreter start, one figure per round."""
    for code in IMPORTS.values():
        _wall(python, code)
    walls: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for name in rounds(list(IMPORTS), count):
        walls[name].append(_wall(python, IMPORTS[name]) * 1000)
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


INSTANCES = 1000
RAW_INSTANCES = 20


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _instances(kind: str, count: int) -> dict[str, float]:
    """In this (fresh) process: build one `kind` instance, then `count`; RSS and CPU per one."""
    import httpx

    from dintero_aio import Dintero

    def build() -> object:
        if kind == "raw":
            return httpx.AsyncClient()
        return Dintero(account_id="T12345678", client_id="bench", client_secret="not-real")

    made = [build()]
    gc.collect()
    rss, cpu = _rss_kb(), time.process_time()
    made += [build() for _ in range(count)]
    cpu = time.process_time() - cpu
    gc.collect()
    rss = _rss_kb() - rss

    async def close() -> None:
        for one in made:
            await one.aclose()  # type: ignore[attr-defined]

    asyncio.run(close())
    return {"made": len(made) - 1, "kib_each": rss / count, "cpu_ms_each": cpu / count * 1000}


def instances() -> dict[str, dict[str, float]]:
    """Per instance: KiB of RSS and ms of CPU, SDK (INSTANCES) and raw httpx (RAW_INSTANCES)."""
    result = {}
    for kind, count in (("sdk", INSTANCES), ("raw", RAW_INSTANCES)):
        proc = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
            [PYTHON, str(BENCH_DIR / "footprint.py"), "instances", kind, str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        result[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
        if result[kind]["made"] != count:
            raise RuntimeError(f"instances {kind}: {result[kind]}")
    return result


if __name__ == "__main__":
    if sys.argv[1] == "instances":
        print(json.dumps(_instances(sys.argv[2], int(sys.argv[3]))))
