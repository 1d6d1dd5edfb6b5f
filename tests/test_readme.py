"""Every ```python block of README.md runs, against the emulator, so the README cannot drift.

A block runs as a script in a fresh namespace (top-level `await` allowed, as in
`python -m asyncio`). Blocks written for real credentials (`client_id="..."`) get the emulator
injected: `dintero_aio.Dintero` is replaced, for the block, by a subclass that swaps those
placeholders for a fresh emulator's credentials and its in-process transport; the base URL and
audience stay as written (the emulator accepts Dintero's own audiences). A block that defines
pytest tests runs under pytest in a subprocess, with the plugin, as in a user's suite. A block
marked ```python no-run is not run; there is none today, and each one must say why.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dintero_aio
from dintero_aio import Dintero, MerchantAccount
from dintero_aio.testing import Emulator

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
PLACEHOLDER = "..."
#: What a README reader's suite loads: pytest-asyncio and our plugin (the testing extra).
PLUGINS = ("-p", "pytest_asyncio.plugin", "-p", "dintero_aio.pytest_plugin")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    info: str  # words after ```python
    code: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def blocks(text: str) -> list[Block]:
    return [
        Block(text.count("\n", 0, m.start()) + 1, m["info"].strip(), m["code"])
        for m in _FENCE.finditer(text)
    ]


BLOCKS = blocks(README.read_text(encoding="utf-8"))


class Injected:
    """The emulators the blocks' `Dintero` instances were wired to, one per account."""

    def __init__(self) -> None:
        self.emulators: dict[str, Emulator] = {}
        self.made: list[Dintero] = []

    def emulator(self, account_id: str) -> Emulator:
        if account_id not in self.emulators:
            self.emulators[account_id] = Emulator(account_id=account_id)
        return self.emulators[account_id]

    def dintero_class(self) -> type[Dintero]:
        injected = self

        class EmulatedDintero(Dintero):
            """Dintero with placeholder credentials replaced by an emulator's, in-process."""

            def __init__(self, **settings: Any) -> None:
                if PLACEHOLDER in (settings.get("client_id"), settings.get("client_secret")):
                    emulator = injected.emulator(settings["account_id"])
                    settings["client_id"] = emulator.client_id
                    settings["client_secret"] = emulator.client_secret
                    settings.setdefault("transport", emulator.transport())
                super().__init__(**settings)
                injected.made.append(self)

            def for_account(self, account_id: str) -> MerchantAccount:
                """The injected partner has every merchant account a block names."""
                partner = injected.emulators.get(self.account_id)
                if partner is not None and account_id not in partner.merchants:
                    partner.add_merchant(account_id)
                return super().for_account(account_id)

        return EmulatedDintero


def run_block(code: str, name: str) -> dict[str, Any]:
    """Run `code` as a script (top-level await allowed) and return its namespace."""
    compiled = compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    result = eval(compiled, namespace)  # noqa: S307 - our own README, under test
    if inspect.iscoroutine(result):
        asyncio.run(result)
    return namespace


def test_the_readme_has_python_blocks_and_every_one_runs() -> None:
    assert len(BLOCKS) >= 4
    unmarked = [b.id for b in BLOCKS if b.info not in ("", "no-run")]
    assert not unmarked, f"unknown markers after ```python: {unmarked}"
    assert not [b.id for b in BLOCKS if b.info == "no-run"], "every README block should run"


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if not b.info and "def test_" not in b.code], ids=lambda b: b.id
)
def test_readme_block_runs(
    block: Block,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    injected = Injected()
    monkeypatch.setattr(dintero_aio, "Dintero", injected.dintero_class())
    monkeypatch.setenv("HOME", str(tmp_path))  # a block may keep a secret in a file in ~
    run_block(block.code, block.id)

    assert injected.made, "the block made no Dintero"
    for dintero in injected.made:  # every instance a block makes is closed by it
        assert dintero._caller.lifecycle.closed, f"{block.id} left {dintero!r} open"
    for emulator in injected.emulators.values():  # and the placeholders reached an emulator
        assert emulator.processed("token") >= 1, f"{block.id}: no token from {emulator!r}"
    printed = capsys.readouterr().out
    for path in tmp_path.glob(".*.secret"):  # a secret kept in a file is only for its owner
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text()
        assert path.read_text() not in printed


def test_the_usage_block_does_what_it_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first block's calls reach the emulator, each once, and nothing it made is left."""
    injected = Injected()
    monkeypatch.setattr(dintero_aio, "Dintero", injected.dintero_class())
    monkeypatch.setenv("HOME", str(tmp_path))
    run_block(BLOCKS[0].code, BLOCKS[0].id)

    emulator = injected.emulators["T12345678"]
    for operation in ("create", "list", "rotate", "get", "delete", "grants_list", "grants_delete"):
        assert emulator.processed(operation) == 1, operation
    assert emulator.processed("grants_create") == 2
    assert emulator.clients == []
    printed = capsys.readouterr().out
    assert "pos-1" in printed  # the client's repr, which leaves its secret out
    assert (tmp_path / ".pos-1.secret").read_text() not in printed


@pytest.mark.parametrize("block", [b for b in BLOCKS if "def test_" in b.code], ids=lambda b: b.id)
def test_readme_pytest_block_passes_under_the_plugin(block: Block, tmp_path: Path) -> None:
    """A block of tests runs as a user's suite would: pytest, the plugin, pytest-asyncio."""
    (tmp_path / "test_readme_block.py").write_text(block.code, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
        encoding="utf-8",
    )
    expected = len(re.findall(r"^(?:async )?def test_", block.code, re.MULTILINE))
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", *PLUGINS],
        cwd=tmp_path,
        # Only the plugins a user of the README needs: faster, and nothing else can help.
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{expected} passed" in done.stdout, done.stdout
