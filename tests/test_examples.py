"""The scripts in examples/ run as documented: out of the box, and against a configured account.

Each runs in a subprocess, as a user would run it. "A configured account" is an emulator this
test serves, named by the DINTERO_* variables, so the test can check what the script did there.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dintero_aio import Dintero, GrantSpec
from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator, RunningEmulator, serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: What the scripts read; unset for a run "out of the box".
SETTINGS = ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET", "DINTERO_BASE_URL")


def run(
    script: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return subprocess.run(  # noqa: S603 - our interpreter, our scripts
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_secret_file(path: Path, printed: str) -> str:
    """A secret file: only its owner may read it, it holds exactly one secret (no newline, so
    that `Path(f).read_text()` logs in), which was not printed."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text(encoding="utf-8")
    assert secret
    assert secret == secret.strip()
    assert secret not in printed
    return secret


@pytest.fixture
def served() -> Iterator[RunningEmulator]:
    with serve(Emulator()) as running:
        yield running


def configured(running: RunningEmulator) -> dict[str, str]:
    emulator = running.emulator
    return {
        "DINTERO_ACCOUNT_ID": emulator.account_id,
        "DINTERO_CLIENT_ID": emulator.client_id,
        "DINTERO_CLIENT_SECRET": emulator.client_secret,
        "DINTERO_BASE_URL": running.base_url,
    }


def test_create_client_runs_out_of_the_box(tmp_path: Path) -> None:
    done = run("create_client.py", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "using an emulator" in done.stdout
    assert "Logged in as pos-1" in done.stdout
    assert "clients=1, grants=1" in done.stdout  # the emulator's repr
    assert_secret_file(tmp_path / "pos-1.secret", done.stdout + done.stderr)


def test_create_client_acts_on_the_configured_account(
    tmp_path: Path, served: RunningEmulator
) -> None:
    done = run(
        "create_client.py", "--name", "till", "--client-id", "till-7", "--secret-file", "s",
        cwd=tmp_path, env=configured(served),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    secret = assert_secret_file(tmp_path / "s", done.stdout + done.stderr)
    emulator = served.emulator
    [client] = emulator.clients
    assert (client.name, client.client_id, client.client_secret) == ("till", "till-7", secret)
    [grant] = emulator.grants
    assert grant.client_id == client.id
    assert grant.audience == f"{served.base_url}/accounts/{emulator.account_id}"
    assert emulator.processed("token") == 2  # the admin's token, then the new client's


def test_create_client_never_overwrites_a_secret_file(
    tmp_path: Path, served: RunningEmulator
) -> None:
    (tmp_path / "pos-1.secret").write_text("an older secret")

    done = run("create_client.py", cwd=tmp_path, env=configured(served))

    assert done.returncode == 2
    assert "never overwritten" in done.stderr
    assert (tmp_path / "pos-1.secret").read_text() == "an older secret"
    assert served.emulator.received("create") == 0  # refused before anything was sent


def test_rotate_secret_runs_out_of_the_box(tmp_path: Path) -> None:
    done = run("rotate_secret.py", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "New secret: logs in" in done.stdout
    assert "Old secret: rejected" in done.stdout
    assert "1 rotation(s)" in done.stdout
    assert_secret_file(tmp_path / "pos-1.secret", done.stdout + done.stderr)


async def test_rotate_secret_acts_on_the_configured_account(
    tmp_path: Path, served: RunningEmulator
) -> None:
    emulator = served.emulator
    async with Dintero(
        account_id=emulator.account_id,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,
        transport=emulator.transport(),
    ) as dintero:
        grant = GrantSpec(audience=emulator.audience, scopes=["x"])  # any URL the script uses
        created = await dintero.clients.create(name="pos", client_id="pos-1", grants=[grant])
    old = created.client.client_secret

    done = run("rotate_secret.py", str(created.client.id), cwd=tmp_path, env=configured(served))

    assert done.returncode == 0, done.stderr
    new = assert_secret_file(tmp_path / f"{created.client.id}.secret", done.stdout + done.stderr)
    assert emulator.clients[0].client_secret == new != old
    assert emulator.processed("rotate") == 1
    assert "New secret: logs in" in done.stdout


def test_rotate_secret_needs_a_client_id_when_configured(
    tmp_path: Path, served: RunningEmulator
) -> None:
    done = run("rotate_secret.py", cwd=tmp_path, env=configured(served))

    assert done.returncode == 1
    assert "usage: rotate_secret.py CLIENT_UUID" in done.stderr
    assert served.emulator.received("rotate") == 0
    assert not list(tmp_path.iterdir())


def test_the_pytest_example_passes_as_a_script(tmp_path: Path) -> None:
    """`python examples/test_with_emulator.py`: under this project's pytest settings."""
    done = run("test_with_emulator.py", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def test_the_pytest_example_passes_in_strict_mode(tmp_path: Path) -> None:
    """In a user's suite with its own settings: pytest-asyncio in strict mode, and plugins
    loaded by name only (autoloading off; faster, and the plugin needs nothing else)."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "pytest_asyncio.plugin",
         "-p", "dintero_aio.pytest_plugin", str(EXAMPLES / "test_with_emulator.py"),
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
