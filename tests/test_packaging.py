"""The wheel a user installs: only this project's names, its license, the metadata PyPI shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(  # noqa: S603 - this interpreter's pip, on this checkout
        [*pip, "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = out.glob("dintero_aio-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_installs_only_packages_named_for_this_project(wheel: zipfile.ZipFile) -> None:
    top_level = {name.split("/", 1)[0] for name in wheel.namelist()}
    packages = {name for name in top_level if not name.endswith(".dist-info")}
    assert packages == {"dintero_aio", "dintero_aio_api"}
    assert "dintero_aio_api/py.typed" in wheel.namelist()
    assert "dintero_aio/py.typed" in wheel.namelist()


def test_the_metadata_has_license_classifiers_and_entry_points(wheel: zipfile.ZipFile) -> None:
    info = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(wheel.read(info).decode())
    assert metadata["License-Expression"] == "MIT"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel.namelist())
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Typing :: Typed" in classifiers
    assert metadata.get_all("Project-URL")
    entry_points = wheel.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "dintero-aio = dintero_aio._cli:main" in entry_points
    assert "[pytest11]" in entry_points


def test_the_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    assert "## [0.1.0] - 2026-11-29" in text
    for section in ("### Added", "### Changed", "### Fixed"):
        assert section in text


def runtime_requirements() -> dict[str, str]:
    """The package's and its user-facing extras' requirements: name -> "range" as the README
    writes it ("httpx>=0.28,<0.30" -> ">= 0.28, < 0.30")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    found: dict[str, str] = {}
    for requirement in project["dependencies"] + [
        r for extra in ("testing", "http2", "redis", "aiohttp", "otel") for r in extras[extra]
    ]:
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)(.*)", requirement).groups()  # type: ignore[union-attr]
        found[name] = ", ".join(re.sub(r"^([<>=!~]+)", r"\1 ", part) for part in spec.split(","))
    return found


def test_the_readme_states_every_supported_range() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    requirements = runtime_requirements()
    assert set(requirements) >= {"httpx", "attrs", "certifi", "sniffio", "h2", "redis"}
    for name, spec in requirements.items():
        [row] = [row for row in rows if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", row)]
        assert spec in row, (name, spec, row)


def test_the_runtime_range_of_httpx_is_not_the_generators() -> None:
    """The generator's requirement (httpx<0.29) binds its own environment only."""
    assert runtime_requirements()["httpx"] == ">= 0.28, < 0.30"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "GEN_VENV := $(VENV)/gen" in makefile
    assert "$(GEN_BIN)/openapi-python-client generate" in makefile


def test_a_new_project_runs_the_readme_quickstart_from_the_wheel(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    """Done-when of issue 18: the wheel installed into a new environment, the quickstart (the
    README's first Python block) saved as the project's script and run there unchanged. The new
    environment installs the wheel itself and takes its dependencies from this one (appended to
    its path, after its own packages), so no network is needed and the package imported is the
    wheel's, not this checkout's."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)  # noqa: S603
    python = env / "bin" / "python"
    site = subprocess.run(  # noqa: S603 - the new environment's interpreter
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    (Path(site) / "dependencies.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    # `--target`: into the new environment only (`--prefix` would uninstall this environment's
    # editable copy of the package first).
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run(  # noqa: S603 - this interpreter's pip, the wheel just built
        [*install, "--target", site, str(wheel.filename)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = re.search(r"^```python\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
    assert quickstart is not None
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text(quickstart[1], encoding="utf-8")
    run = subprocess.run(  # noqa: S603 - the new environment's interpreter, the README's code
        [python, "-W", "error", "main.py"],
        cwd=project,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "pos logged in; its token lasts 14400 s" in run.stdout
    where = subprocess.run(  # noqa: S603
        [python, "-c", "import dintero_aio; print(dintero_aio.__file__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(env)), where  # the wheel's copy, not this checkout's
