"""The wheel a user installs: only this project's names, its license, the metadata PyPI shows."""

from __future__ import annotations

import subprocess
import sys
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
