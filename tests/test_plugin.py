"""The `testing` extra as a user meets it: the pytest plugin, the emulator's repr, the import
error without the extra.

The fixtures here come from the plugin itself (`pytest_plugins` below loads it by name, which
is a no-op once the `pytest11` entry point has registered it under the same name). Runs of
pytest in a subprocess check what an in-process test cannot: loading through the entry point,
and a pytest run in an environment without the extra or without pytest-asyncio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dintero_aio import Dintero, GrantSpec
from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

pytest_plugins = ["dintero_aio.pytest_plugin"]

PLUGIN = "dintero_aio.pytest_plugin"
INSTALL = 'pip install "dintero-aio[testing]"'

#: Installed first thing by Python (sitecustomize): makes the modules named in $BLOCK_MODULES
#: impossible to import, as in an environment where they are not installed.
BLOCKER = """
import importlib.abc, os, sys

class _Missing(importlib.abc.MetaPathFinder):
    blocked = set(os.environ["BLOCK_MODULES"].split(","))

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Missing())
"""


def python(
    tmp_path: Path, *args: str, block: str = "", autoload: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run our interpreter in `tmp_path`, with `block` (comma-separated) modules missing."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    if block:
        (tmp_path / "sitecustomize.py").write_text(BLOCKER)
        env["BLOCK_MODULES"] = block
    if not autoload:  # faster: only the plugins a run names
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def user_suite(tmp_path: Path, tests: str, *, asyncio: bool = True) -> None:
    """A user's test file and settings (pytest-asyncio's, if they use it) in `tmp_path`."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(tests))
    ini = "[pytest]\n"
    if asyncio:
        ini += "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    (tmp_path / "pytest.ini").write_text(ini)


# The fixtures, used as a user would.


async def test_dintero_client_is_wired_in_process_to_dintero_emulator(
    dintero_client: Dintero, dintero_emulator: Emulator
) -> None:
    assert dintero_client.base_url == IN_PROCESS_BASE_URL
    assert (dintero_client.account_id, dintero_client.client_id) == (
        dintero_emulator.account_id,
        dintero_emulator.client_id,
    )
    grant = GrantSpec(audience=dintero_client.audience, scopes=["admin:accounts"])
    created = await dintero_client.clients.create(name="pos", grants=[grant])
    assert [c.id for c in dintero_emulator.clients] == [str(created.client.id)]


async def test_dintero_client_retries_in_milliseconds(
    dintero_client: Dintero, dintero_emulator: Emulator
) -> None:
    dintero_emulator.fail_next("list", status=503, times=2)
    assert await dintero_client.clients.list() == []
    assert dintero_emulator.received("list") == 3


def test_dintero_emulator_is_a_fresh_default_emulator(dintero_emulator: Emulator) -> None:
    assert (dintero_emulator.account_id, dintero_emulator.received("token")) == ("T12345678", 0)
    assert dintero_emulator.clients == []


@pytest.fixture
def made() -> Iterator[list[Dintero]]:
    """Set up before `dintero_client` and torn down after it: checks that it was closed."""
    clients: list[Dintero] = []
    yield clients
    assert clients
    assert all(client._caller.lifecycle.closed for client in clients)


async def test_dintero_client_is_closed_after_the_test(
    made: list[Dintero], dintero_client: Dintero
) -> None:
    await dintero_client.verify_credentials()
    made.append(dintero_client)
    assert not dintero_client._caller.lifecycle.closed


class TestAnOverriddenEmulator:
    @pytest.fixture
    def dintero_emulator(self) -> Emulator:
        return Emulator(account_id="P00000001", merchants=["T00000002"], require_grants=False)

    async def test_dintero_client_logs_in_to_the_override(
        self, dintero_client: Dintero, dintero_emulator: Emulator
    ) -> None:
        await dintero_client.for_account("T00000002").clients.create(name="till")
        assert dintero_client.account_id == "P00000001"
        assert len(dintero_emulator.clients_of("T00000002")) == 1
        assert repr(dintero_emulator).endswith(
            "clients=0, grants=0, merchants={'T00000002': (clients=1, grants=0)}, "
            "require_grants=False)"
        )


# Loading: through the entry point, and without the extra or pytest-asyncio.


def test_the_entry_point_loads_the_plugin_and_naming_it_too_is_harmless(tmp_path: Path) -> None:
    """The `pytest11` entry point given to pyproject.toml, declared by a stand-in distribution
    (the real one has it once the project is reinstalled)."""
    dist = tmp_path / "dintero_aio_entry_point-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dintero-aio-entry-point\n")
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{PLUGIN} = {PLUGIN}\n")
    user_suite(
        tmp_path,
        """
        async def test_it(dintero_client, dintero_emulator):
            await dintero_client.clients.create(name="pos")
            assert len(dintero_emulator.clients) == 1
        """,
    )
    for extra in ([], ["-p", PLUGIN]):
        done = python(tmp_path, "-m", "pytest", "-q", *extra, autoload=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 passed" in done.stdout


def test_without_the_extra_only_tests_that_use_the_fixtures_fail(tmp_path: Path) -> None:
    """The plugin is loaded in every pytest run where dintero-aio is installed: a missing extra
    must not break the run, only the tests that need the emulator, and say what to install."""
    user_suite(
        tmp_path,
        """
        def test_unrelated():
            assert True

        def test_uses_the_emulator(dintero_emulator):
            pass
        """,
    )
    done = python(
        tmp_path, "-m", "pytest", "-q", "-p", "pytest_asyncio.plugin", "-p", PLUGIN,
        block="starlette,uvicorn",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed, 1 error")  # in the fixture
    assert INSTALL in done.stdout


def test_without_pytest_asyncio_dintero_client_says_what_to_install(tmp_path: Path) -> None:
    user_suite(
        tmp_path,
        """
        def test_unrelated(dintero_emulator):
            assert dintero_emulator.clients == []

        def test_client(dintero_client):
            pass
        """,
        asyncio=False,
    )
    done = python(tmp_path, "-m", "pytest", "-q", "-p", PLUGIN, block="pytest_asyncio")
    assert done.stdout.splitlines()[-1].startswith("1 passed, 1 error"), done.stdout
    assert "needs pytest-asyncio" in done.stdout
    assert INSTALL in done.stdout


NEWCOMER_TESTS = """
    from dintero_aio import GrantSpec


    async def test_client(dintero_client, dintero_emulator):
        grant = GrantSpec(audience=dintero_client.audience, scopes=["admin:accounts"])
        await dintero_client.clients.create(name="pos", grants=[grant])
        assert len(dintero_emulator.grants) == 1


    async def test_emulator_alone(dintero_emulator):
        assert dintero_emulator.clients == []


    class TestInAClass:
        async def test_method(self, dintero_client):
            assert await dintero_client.clients.list() == []
"""


def test_async_tests_of_the_fixtures_run_with_no_configuration_no_mark_and_no_warning(
    tmp_path: Path,
) -> None:
    """A newcomer's project: an empty pytest configuration of its own, no marks, plugins found
    through their entry points as installed (pytest-asyncio in its default strict mode)."""
    user_suite(tmp_path, NEWCOMER_TESTS, asyncio=False)
    done = python(tmp_path, "-m", "pytest", "-q", "-p", "no:cacheprovider", autoload=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert done.stdout.splitlines()[-1].startswith("3 passed"), output
    assert "warning" not in output.lower(), output


def test_the_fixtures_tests_pass_with_warnings_as_errors(tmp_path: Path) -> None:
    user_suite(tmp_path, NEWCOMER_TESTS, asyncio=False)
    done = python(
        tmp_path, "-m", "pytest", "-q", "-W", "error", "-p", "pytest_asyncio.plugin", "-p", PLUGIN
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_other_async_tests_are_left_to_pytest_asyncio(tmp_path: Path) -> None:
    """Only tests that ask for our fixtures are marked: the project's own async tests keep
    pytest-asyncio's strict mode (unmarked, they are not run as coroutines)."""
    user_suite(
        tmp_path,
        """
        async def test_unrelated():
            pass
        """,
        asyncio=False,
    )
    done = python(tmp_path, "-m", "pytest", "-q", "-p", "pytest_asyncio.plugin", "-p", PLUGIN)
    assert done.returncode != 0, done.stdout
    assert "async def functions are not natively supported" in done.stdout


@pytest.mark.parametrize("missing", ["starlette", "uvicorn"])
def test_importing_the_testing_module_without_the_extra_names_it(
    tmp_path: Path, missing: str
) -> None:
    done = python(tmp_path, "-c", "import dintero_aio.testing", block=missing)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: dintero_aio.testing needs the 'testing' extra"), last
    assert f"({missing} is not installed)" in last
    assert INSTALL in last
    # The SDK itself does not need the extra.
    assert python(tmp_path, "-c", "import dintero_aio", block=missing).returncode == 0


# The emulator's repr.


def test_the_repr_of_a_fresh_emulator() -> None:
    assert repr(Emulator()) == (
        "Emulator(account_id='T12345678', client_id='emulator-client', clients=0, grants=0)"
    )


async def test_the_repr_counts_live_clients_and_grants_and_shows_no_secret(
    dintero_client: Dintero, dintero_emulator: Emulator
) -> None:
    grant = GrantSpec(audience=dintero_client.audience, scopes=["x"])
    await dintero_client.clients.create(name="pos", grants=[grant, grant])
    deleted = await dintero_client.clients.create(name="gone")
    await dintero_client.clients.delete(deleted.id)

    text = repr(dintero_emulator)

    assert "clients=1, grants=2" in text
    secrets = [dintero_emulator.client_secret, deleted.client_secret]
    secrets += [client.client_secret for client in dintero_emulator.clients]
    assert not [secret for secret in secrets if secret in text]


def test_the_repr_of_a_partner_counts_each_merchant_account() -> None:
    emulator = Emulator(
        account_id="P00000001", merchants=["T00000002", "T00000003"], require_grants=False
    )
    assert repr(emulator) == (
        "Emulator(account_id='P00000001', client_id='emulator-client', clients=0, grants=0, "
        "merchants={'T00000002': (clients=0, grants=0), 'T00000003': (clients=0, grants=0)}, "
        "require_grants=False)"
    )
