"""Mutation testing of the wrapper's core (issue 9): reproduces the figure in docs/mutation.md.

    .venv/bin/python scripts/mutation.py [--max-children N] [--modules _retry,_calls,...]
        [--functions GLOB,...] [--keep]

Installs mutmut 3.8.1 into .venv if it is missing, copies the working tree (tracked and
untracked, not ignored files) to build/mutation/ so that neither mutmut nor its `mutants/` ever
touch the real tree, runs `mutmut run` there and prints killed/survived/total per module and
overall. mutmut reads its settings from `[tool.mutmut]` in pyproject.toml; while pyproject.toml
has no such table, the copy gets `CONFIG` below (the same table). `--keep` reuses the results of
an earlier run in build/mutation/ (mutmut then checks only new or changed mutants).

A timeout or a mutant caught by mutmut's type check counts as killed, as in `mutmut badge`.
Exit status: 0 when at least `--min-score` percent (default 0) of the mutants are killed.
"""

# ruff: noqa: S603, S606, S607 - runs the venv's own pip and mutmut, and git

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
WORK = ROOT / "build" / "mutation"  # --work overrides
MUTMUT = "mutmut==3.8.1"

MODULES = [
    "_retry",
    "_calls",
    "_wire",
    "_responses",
    "_bodies",
    "_redact",
    "_lifecycle",
    "_auth",
    "_inputs",
    "_dintero",
    "_timeouts",
    "_queue",
    "_errors",
    "_merchants",
]

#: The `[tool.mutmut]` table. forkserver: with the default fork mode every worker inherits the
#: module-level caches (`responses._checker`, `calls._target`) built by the unmutated code, and
#: mutants there survive falsely. The fuzzing suites (hypothesis draws new examples each run, and
#: they take most of the suite's time) are left out: the figure must be the same on every run;
#: so are the tests that run the SDK in subprocesses (CLI, examples, README blocks, the wheel,
#: the import check), which import the unmutated code and cannot kill a mutant.
CONFIG = """
[tool.mutmut]
source_paths = ["src/"]
only_mutate = [
    "src/dintero_aio/_retry.py",
    "src/dintero_aio/_calls.py",
    "src/dintero_aio/_wire.py",
    "src/dintero_aio/_responses.py",
    "src/dintero_aio/_bodies.py",
    "src/dintero_aio/_redact.py",
    "src/dintero_aio/_lifecycle.py",
    "src/dintero_aio/_auth.py",
    "src/dintero_aio/_inputs.py",
    "src/dintero_aio/_dintero.py",
    "src/dintero_aio/_timeouts.py",
    "src/dintero_aio/_queue.py",
    "src/dintero_aio/_errors.py",
    "src/dintero_aio/_merchants.py",
]
also_copy = [
    "generated/", "openapi.yaml", "generator-config.yaml", "templates/", "examples/", "README.md",
    "docs/", "Makefile",
]
pytest_add_cli_args = [
    "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "tests.mutation_plugin",
    "--ignore=tests/test_reliability.py",
    "--ignore=tests/test_hostile.py",
    "--ignore=tests/test_schemathesis.py",
    "--ignore=tests/test_stateful.py", "--ignore=tests/test_redis_interleavings.py",
    "--ignore=tests/test_telemetry_hostile.py", "--ignore=tests/test_redis_fleet.py",
    "--ignore=tests/test_docs.py",
    "--ignore=tests/test_packaging.py", "--ignore=tests/test_examples.py",
    "--ignore=tests/test_readme.py", "--ignore=tests/test_cli.py", "--ignore=tests/test_imports.py",
]
process_isolation = "forkserver"
forkserver_warmup = "collect"
# A mutant that hangs (a loop that no longer ends) is a kill; 5x the tests' clean time is ample.
timeout_multiplier = 5.0
"""

KILLED = {"killed", "timeout", "caught by type check"}


def ensure_mutmut() -> None:
    try:
        if importlib.metadata.version("mutmut") == MUTMUT.split("==")[1]:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    subprocess.run([str(VENV_BIN / "pip"), "install", "--quiet", MUTMUT], check=True)


def copy_tree(keep: bool) -> None:
    """The working tree's files (as git sees them) into WORK; `mutants/` survives with --keep."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    if WORK.exists() and not keep:
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True, exist_ok=True)
    for raw in filter(None, listed):
        source = ROOT / os.fsdecode(raw)
        if not source.is_file():  # deleted in the working tree
            continue
        target = WORK / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    pyproject = WORK / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if "mutmut" not in tomllib.loads(text).get("tool", {}):
        pyproject.write_text(text + CONFIG, encoding="utf-8")


def statuses() -> dict[str, str]:
    """Every mutant's status, by mutant name, from mutmut's own result files."""
    from mutmut.stats import status_by_exit_code

    found: dict[str, str] = {}
    for meta in sorted((WORK / "mutants" / "src").rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            found[name] = status_by_exit_code[code]
    return found


def report(found: dict[str, str], modules: list[str]) -> float:
    rows = []
    for module in modules:
        mine = {k: v for k, v in found.items() if k.startswith(f"dintero_aio.{module}.")}
        counts = Counter("killed" if v in KILLED else v for v in mine.values())
        rows.append((module, counts, len(mine)))
    total = Counter("killed" if v in KILLED else v for v in found.values())
    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'other':>6} {'total':>6} {'score':>7}")
    for module, counts, n in [*rows, ("all", total, len(found))]:
        other = n - counts["killed"] - counts["survived"]
        score = 100 * counts["killed"] / n if n else 0.0
        print(
            f"{module:<12} {counts['killed']:>7} {counts['survived']:>9} {other:>6} {n:>6} "
            f"{score:>6.1f}%"
        )
    left = sorted(k for k, v in found.items() if v not in KILLED)
    if left:
        print(f"\nnot killed ({len(left)}):")
        for name in left:
            print(f"    {name}: {found[name]}")
    killed = total["killed"]
    print(f"\nmutation score: {killed}/{len(found)} killed ({100 * killed / len(found):.1f}%)")
    return 100 * killed / len(found)


def main() -> int:
    global WORK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="reuse build/mutation's results")
    parser.add_argument("--min-score", type=float, default=0.0)
    parser.add_argument(
        "--modules", default=",".join(MODULES), help="comma-separated, e.g. _retry,_calls"
    )
    parser.add_argument(
        "--functions",
        default="",
        help="also these functions of other modules, as mutmut's names without the mutant "
        "number, e.g. '_dintero.x__check_variable,_calls.xǁCallerǁguard'",
    )
    parser.add_argument("--work", type=Path, default=WORK, help="where the copy is made")
    args = parser.parse_args()
    modules = args.modules.split(",")
    WORK = args.work.resolve()
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(VENV_BIN / "python", [str(VENV_BIN / "python"), __file__, *sys.argv[1:]])
    ensure_mutmut()
    copy_tree(args.keep)
    run = [str(VENV_BIN / "mutmut"), "run", "--max-children", str(args.max_children)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MUTANT_UNDER_TEST", None)
    functions = [f for f in args.functions.split(",") if f]
    names = [] if modules == MODULES else [f"dintero_aio.{m}.*" for m in modules]
    names += [f"dintero_aio.{f}__mutmut_*" for f in functions]
    subprocess.run([*run, *names], cwd=WORK, env=env, check=True)
    os.chdir(WORK)
    picked = {f"dintero_aio.{f}" for f in functions}
    found = {
        k: v
        for k, v in statuses().items()
        if k.split(".")[1] in modules or k.rpartition("__mutmut_")[0] in picked
    }
    score = report(found, [*modules, *sorted({f.split(".")[0] for f in functions})])
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
