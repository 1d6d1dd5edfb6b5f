"""Every code block of README.md runs, so the README cannot drift; tests/test_docs.py does the
same for the documentation pages with the machinery defined here.

Fences and what happens to them:

- ```python: run as a script (top-level `await` allowed, as in `python -m asyncio`). Blocks
  written for real credentials (`client_id="..."`) get the emulator injected:
  `dintero_aio.Dintero` is replaced, for the block, by a subclass that swaps those placeholders
  for a fresh emulator's credentials and its in-process transport, and that sends any other
  instance of the same account (a client logging in with what a create returned) there too. The
  base URL and audience stay as written (the emulator accepts Dintero's own audiences).
- ```python blocks that define tests (`def test_`), and blocks whose first line names a file
  (`# tests/partners/conftest.py`, `# pyproject.toml` in a ```toml block): the files of a user's
  pytest project, run by pytest in a subprocess with the plugins found through their entry
  points, as installed.
- ```sh: run by bash (-euo pipefail), in order as one session, against a served partner
  emulator (P00000001 with merchant T00000002) that the DINTERO_* variables name.
- ```console, ```diff, ```text: shown, not run.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dintero_aio
from dintero_aio import Dintero, MerchantAccount
from dintero_aio.testing import Emulator, RunningEmulator, serve

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(
    r"^```(?P<lang>\w*)(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL
)
_FILE = re.compile(r"\A# (?P<name>[\w./-]+\.(?:py|toml))\n")
PLACEHOLDER = "..."
SHOWN = {"console", "diff", "text"}  # fences that are shown, never run
PARTNER, MERCHANT = "P00000001", "T00000002"


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # of the opening fence, 1-based
    lang: str
    info: str  # words after the language: none are used
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def file(self) -> str | None:
        """The file of a pytest project this block is, if its first line names one."""
        named = _FILE.match(self.code)
        if named:
            return named["name"]
        if self.lang == "python" and re.search(r"^(?:async )?def test_", self.code, re.MULTILINE):
            return f"tests/test_block_{self.line}.py"
        return None

    @property
    def tests(self) -> int:
        return len(re.findall(r"^\s*(?:async )?def test_", self.code, re.MULTILINE))


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    page = str(path.relative_to(ROOT))
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m["lang"], m["info"].strip(), m["code"])
        for m in _FENCE.finditer(text)
    ]


def scripts(found: list[Block]) -> list[Block]:
    return [b for b in found if b.lang == "python" and b.file is None]


def project_files(found: list[Block]) -> list[Block]:
    return [b for b in found if b.file is not None]


def shell(found: list[Block]) -> list[Block]:
    return [b for b in found if b.lang == "sh"]


class Injected:
    """The emulators the blocks' `Dintero` instances were wired to, one per account."""

    def __init__(self) -> None:
        self.emulators: dict[str, Emulator] = {}
        self.made: list[Dintero] = []
        #: Emulators served on a socket, for a block on the aiohttp backend (which sends through
        #: aiohttp, never through an httpx transport such as the in-process one).
        self.serving = contextlib.ExitStack()

    def emulator(self, account_id: str) -> Emulator:
        if account_id not in self.emulators:
            self.emulators[account_id] = Emulator(account_id=account_id)
        return self.emulators[account_id]

    def dintero_class(self) -> type[Dintero]:
        injected = self

        class EmulatedDintero(Dintero):
            """Dintero with placeholder credentials replaced by an emulator's, in-process."""

            def __init__(self, **settings: Any) -> None:
                account = settings.get("account_id")
                if PLACEHOLDER in (settings.get("client_id"), settings.get("client_secret")):
                    emulator = injected.emulator(settings["account_id"])
                    settings["client_id"] = emulator.client_id
                    settings["client_secret"] = emulator.client_secret
                    if settings.get("backend") == "aiohttp":
                        running = injected.serving.enter_context(serve(emulator))
                        settings["base_url"] = running.base_url
                    else:
                        settings.setdefault("transport", emulator.transport())
                elif account in injected.emulators:  # another client of an emulated account
                    settings.setdefault("transport", injected.emulators[account].transport())
                super().__init__(**settings)
                injected.made.append(self)

            def for_account(self, account_id: str) -> MerchantAccount:
                """The injected partner has every merchant account a block names."""
                partner = injected.emulators.get(self.account_id)
                if partner is not None and account_id not in partner.merchants:
                    partner.add_merchant(account_id)
                return super().for_account(account_id)

        return EmulatedDintero

    def check(self, where: str) -> None:
        """Every instance the blocks made was closed, and placeholders reached an emulator."""
        self.serving.close()
        assert self.made, f"{where}: no Dintero was made"
        for dintero in self.made:
            assert dintero._caller.lifecycle.closed, f"{where} left {dintero!r} open"
        for emulator in self.emulators.values():
            assert emulator.processed("token") >= 1, f"{where}: no token from {emulator!r}"


def run_script(block: Block, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    """Run a block as a script in `namespace`; a top-level await runs on `loop`."""
    compiled = compile(
        block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    result = eval(compiled, namespace)  # noqa: S307 - our own documentation, under test
    if inspect.iscoroutine(result):
        loop.run_until_complete(result)


def run_session(found: list[Block], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Injected:
    """Run the blocks in order in one namespace and on one event loop, as a reader typing them
    into `python -m asyncio` would, in `tmp_path` (also HOME)."""
    injected = Injected()
    monkeypatch.setattr(dintero_aio, "Dintero", injected.dintero_class())
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    try:
        for block in found:
            run_script(block, namespace, loop)
    finally:
        loop.close()
    return injected


def run_pytest(
    files: list[Block], tmp_path: Path, config: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The blocks as a user's pytest project in `tmp_path`, with `config` as its pyproject.toml
    (an empty configuration of its own if None), run as the user would: `python -m pytest`."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(config or "[tool.pytest.ini_options]\n")
    for block in files:
        if block.file != "pyproject.toml":
            path = project / (block.file or "")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_all_passed(done: subprocess.CompletedProcess[str], files: list[Block]) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    expected = sum(block.tests for block in files)
    assert done.stdout.splitlines()[-1].startswith(f"{expected} passed"), output
    assert "warning" not in output.lower(), output


@pytest.fixture
def partner() -> Iterator[RunningEmulator]:
    with serve(Emulator(account_id=PARTNER, merchants=[MERCHANT])) as running:
        yield running


def run_shell(found: list[Block], running: RunningEmulator, cwd: Path) -> None:
    """The blocks in order as one bash session, with DINTERO_* naming the served emulator and
    this environment's `dintero-aio` first on PATH."""
    emulator = running.emulator
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DINTERO_ACCOUNT_ID": emulator.account_id,
        "DINTERO_CLIENT_ID": emulator.client_id,
        "DINTERO_CLIENT_SECRET": emulator.client_secret,
        "DINTERO_BASE_URL": running.base_url,
    }
    script = "".join(f"echo '>>> {b.id}' >&2\n{b.code}" for b in found)
    done = subprocess.run(  # noqa: S603 - bash on our own documentation
        ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607 - bash from PATH
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    failed_in = [line for line in done.stderr.splitlines() if line.startswith(">>> ")][-1:]
    assert done.returncode == 0, f"{failed_in}: {done.stdout}{done.stderr}"
    assert emulator.client_secret not in done.stderr


# The README.

BLOCKS = blocks(README)


def test_every_readme_fence_is_known() -> None:
    assert {b.lang for b in BLOCKS} <= {"python", "toml", "sh"} | SHOWN
    assert not [b.id for b in BLOCKS if b.info], "words after a fence's language are not used"


@pytest.mark.parametrize("block", scripts(BLOCKS), ids=lambda b: b.id)
def test_readme_script_runs(
    block: Block,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_session([block], monkeypatch, tmp_path).check(block.id)


def test_the_quickstart_logs_in_as_the_client_it_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first block: a client made with a grant logs in with `created.client.client_id` and
    its secret, then is rotated and deleted; no secret is printed."""
    quickstart = scripts(BLOCKS)[0]
    seen: list[Emulator] = []
    real_serve = dintero_aio.testing.serve

    def serve_recording(emulator: Emulator, **kwargs: Any) -> Any:
        seen.append(emulator)
        return real_serve(emulator, **kwargs)

    monkeypatch.setattr(dintero_aio.testing, "serve", serve_recording)
    run_session([quickstart], monkeypatch, tmp_path).check(quickstart.id)

    (emulator,) = seen
    printed = capsys.readouterr().out
    assert "pos logged in; its token lasts 14400 s" in printed
    assert emulator.processed("token") == 2  # the admin's token, then the new client's
    for operation in ("create", "grants_create", "rotate", "delete"):
        assert emulator.processed(operation) == 1, operation
    assert emulator.clients == []
    assert "client_secret=***" in printed


def test_readme_tests_pass_in_a_new_project_with_no_configuration(tmp_path: Path) -> None:
    files = project_files(BLOCKS)
    assert files
    assert_all_passed(run_pytest(files, tmp_path), files)


def test_readme_shell_blocks_run(partner: RunningEmulator, tmp_path: Path) -> None:
    found = shell(BLOCKS)
    assert found
    run_shell(found, partner, tmp_path)
    assert len(partner.emulator.clients) == 1
    assert (tmp_path / "pos.secret").read_text() == partner.emulator.clients[0].client_secret


def test_the_readme_has_the_sections_a_newcomer_needs() -> None:
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    for heading in ("Install", "Quickstart", "Supported versions", "Contributing"):
        assert heading in headings
    assert headings.index("Install") < headings.index("Quickstart") < 3
    for command in ("make demo", "make test", "make compat"):
        assert command in text
    assert len(text.splitlines()) <= 160  # issue 18: about 150; the long reference is in docs/
