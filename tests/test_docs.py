"""Every code block of the documentation pages runs (the rules are in tests/test_readme.py), and
the reference names everything public: each name of `dintero_aio` and `dintero_aio.testing`,
each emulator fault, each fixture of the plugin, each command of the command line.

A page's Python scripts run in order in one namespace, as a reader typing them into
`python -m asyncio` would; its test blocks and named files form one pytest project, run with
the configuration the page shows (if it shows one) and with an empty one; its shell blocks run
as one session against a served partner emulator.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dintero_aio
import dintero_aio.testing
from dintero_aio import _cli as cli
from dintero_aio.testing import RunningEmulator

from .test_readme import (
    ROOT,
    SHOWN,
    Block,
    assert_all_passed,
    blocks,
    partner,  # noqa: F401 - the fixture, for the shell blocks
    project_files,
    run_pytest,
    run_session,
    run_shell,
    scripts,
    shell,
)

DOCS = ROOT / "docs"
#: Written by make targets (bench, reliability, mutation): their commands are those targets.
REPORTS = {"benchmarks.md", "reliability.md", "mutation.md"}
ALL_PAGES = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
PAGES = {page: blocks(DOCS / page) for page in ALL_PAGES if page not in REPORTS}


def reference(name: str) -> str:
    return (DOCS / "reference" / name).read_text(encoding="utf-8")


def test_every_fence_is_one_the_tests_know() -> None:
    fences = [block for found in PAGES.values() for block in found]
    assert len(scripts(fences)) >= 15
    unknown = [b.id for b in fences if b.lang not in {"python", "toml", "sh"} | SHOWN]
    assert not unknown, "a fence without a language this test runs or shows"
    assert not [b.id for b in fences if b.info], "words after a fence's language are not used"
    assert not [b.id for b in fences if b.lang == "toml" and b.file is None]


@pytest.mark.parametrize("page", [p for p, found in PAGES.items() if scripts(found)])
def test_the_scripts_of_a_page_run(
    page: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_session(scripts(PAGES[page]), monkeypatch, tmp_path).check(page)


@pytest.mark.parametrize("page", [p for p, found in PAGES.items() if project_files(found)])
def test_the_tests_of_a_page_pass(page: str, tmp_path: Path) -> None:
    files = project_files(PAGES[page])
    configs = [b.code for b in files if b.file == "pyproject.toml"]
    for index, config in enumerate([None, *configs]):
        assert_all_passed(run_pytest(files, tmp_path / str(index), config), files)


@pytest.mark.parametrize("page", [p for p, found in PAGES.items() if shell(found)])
def test_the_shell_blocks_of_a_page_run(
    page: str,
    partner: RunningEmulator,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    run_shell(shell(PAGES[page]), partner, tmp_path)


def test_the_tutorial_logs_in_as_the_client_it_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = scripts(PAGES["tutorial/first-client.md"])
    namespace_blocks = found[:-2]  # the steps, without the "real Dintero" and "all at once" ones
    injected = run_session(namespace_blocks, monkeypatch, tmp_path)
    printed = capsys.readouterr().out
    assert "pos logs in: 14400 seconds" in printed
    assert not list(tmp_path.glob("*.secret"))  # the tutorial cleans up after itself
    assert all(d._caller.lifecycle.closed for d in injected.made)


def test_the_cli_pages_have_shell_blocks_that_run() -> None:
    assert len(shell(PAGES["how-to/cli.md"])) >= 6


# The reference names everything public.


def test_every_public_name_of_dintero_aio_is_in_the_reference() -> None:
    text = reference("dintero_aio.md") + reference("models.md") + reference("errors.md")
    errors = {name for name in dintero_aio.__all__ if name.endswith("Error")}
    missing = [
        name
        for name in dintero_aio.__all__
        if name not in errors and name != "__version__" and f"dintero_aio.{name}" not in text
        and f"`{name}`" not in text
    ]  # fmt: skip
    assert missing == []
    assert "::: dintero_aio._errors" in text  # every error, from its module


def test_every_public_name_of_the_testing_module_is_in_the_reference() -> None:
    text = reference("testing.md")
    assert [name for name in dintero_aio.testing.__all__ if f"- {name}\n" not in text] == []


def test_every_fault_is_in_the_reference() -> None:
    text = reference("testing.md")
    faults = [name for name in dir(dintero_aio.testing.Emulator) if name.endswith("_next")]
    assert len(faults) >= 5
    assert [name for name in faults if f"`{name}(" not in text] == []
    assert "`clear_faults()`" in text


def test_every_fixture_of_the_plugin_is_in_the_reference() -> None:
    text = reference("pytest-plugin.md")
    for name in ("dintero_emulator", "dintero_client", "FAST_RETRIES"):
        assert f"- {name}\n" in text


def test_every_command_of_the_command_line_is_in_the_reference() -> None:
    text = reference("cli.md")
    commands: list[str] = []

    def walk(words: tuple[str, ...], parser: object) -> None:
        subparsers = [
            action for action in getattr(parser, "_actions", []) if hasattr(action, "choices")
        ]
        children = [a.choices for a in subparsers if isinstance(a.choices, dict)]
        if not children and len(words) == 2:
            commands.append(" ".join(words))
        for choices in children:
            for name, sub in choices.items():
                walk((*words, name), sub)

    walk((), cli._parser())
    assert len(commands) == 9
    assert [c for c in commands if not re.search(rf"`{c}( [A-Z]+)?`", text)] == []


def test_the_reference_pages_document_modules_not_their_internals() -> None:
    api = reference("dintero_aio.md")
    assert api.count("merge_init_into_class: false") == 3  # Clients, Grants, MerchantAccount
    assert "`type_`" in reference("models.md")


def test_the_nav_has_every_page(tmp_path: Path) -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert [page for page in ALL_PAGES if f": {page}\n" not in nav] == []


def test_blocks_know_their_files() -> None:
    found = PAGES["how-to/testing.md"]
    assert {b.file for b in project_files(found)} >= {
        "pyproject.toml",
        "tests/partners/conftest.py",
        "tests/partners/test_partner.py",
    }
    assert all(isinstance(b, Block) for b in found)
