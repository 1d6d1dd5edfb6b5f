"""The package's layout (issue 20): its import graph is a tree, counting the imports made only for
annotations and inside functions too, and its module names explain themselves."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dintero_aio"
PUBLIC = {"__init__", "__main__", "pytest_plugin", "testing"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports, wherever in it the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join([*base, node.module or ""]).rstrip(".") if node.level else node.module
            for alias in node.names:
                for candidate in (f"{target}.{alias.name}", target):
                    if candidate in modules:
                        found.add(candidate)
                        break
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
    return found - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` (depth first), or [] when it has none."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        for dependency in sorted(graph[name]):
            if dependency in path:
                return [*path[path.index(dependency) :], dependency]
            if dependency not in done and (found := visit(dependency, [*path, dependency])):
                return found
        done.add(name)
        return []

    for name in sorted(graph):
        if found := visit(name, [name]):
            return found
    return []


def test_the_import_graph_has_no_circle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["dintero_aio"]  # the walk sees the package's imports at all
    assert "dintero_aio._wire" in graph["dintero_aio._calls"]
    assert _cycle(graph) == []


def test_a_circle_is_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_internal_modules_are_private_and_no_two_names_are_one_letter_apart() -> None:
    names = [path.stem for path in PACKAGE.glob("*.py")]
    assert [name for name in names if not name.startswith("_") and name not in PUBLIC] == []
    close = [
        (a, b)
        for a, b in itertools.combinations(sorted(names), 2)
        if (len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1)
        or a + "s" == b
        or b + "s" == a
    ]
    assert close == []


def test_the_contributors_layout_gives_each_internal_module_a_row_of_its_own() -> None:
    guide = (PACKAGE.parents[1] / "docs" / "explanation" / "contributing.md").read_text("utf-8")
    rows = [line.split("|")[1].strip() for line in guide.splitlines() if line.startswith("| `_")]
    internal = {f"`{p.name}`" for p in PACKAGE.glob("_*.py")} - {
        "`_version.py`",
        "`__init__.py`",
        "`__main__.py`",
    }
    assert sorted(rows) == sorted(internal)  # one row each: no module shared, none missing


def test_every_make_target_is_in_the_contributors_guide() -> None:
    root = PACKAGE.parents[1]
    makefile = (root / "Makefile").read_text("utf-8")
    phony = makefile.split(".PHONY:", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ").split()
    guide = (root / "docs" / "explanation" / "contributing.md").read_text("utf-8")
    assert "demo" in phony
    assert [t for t in phony if t != "venv" and f"`make {t}`" not in guide] == []
