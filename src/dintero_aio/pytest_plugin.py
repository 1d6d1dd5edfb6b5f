"""pytest fixtures for code that uses dintero-aio: `dintero_emulator` and `dintero_client`.

Registered through the `pytest11` entry point, so pytest loads this module in every environment
where dintero-aio is installed, with or without the `testing` extra. That is why it lives here
and not in `dintero_aio.testing`: importing that package without the extra raises ImportError
(by design, to name the extra), and a plugin that fails to import breaks every pytest run of
the environment. So this module imports nothing beyond pytest and the SDK: the emulator is
imported when a fixture is first used, and a missing extra fails only the tests that use it,
with the command that installs it. See `dintero_aio.testing` for how to use the fixtures.

A test that asks for one of these fixtures runs with no pytest-asyncio configuration and no
mark: an `async def` test that requests `dintero_client` or `dintero_emulator` is marked
`asyncio` here, as it is collected (pytest-asyncio's default "strict" mode runs only marked
tests, and a newcomer's project has no configuration yet). Other tests are left alone. For the
same newcomer, pytest-asyncio's warning that `asyncio_default_fixture_loop_scope` is unset is
silenced: these fixtures are function-scoped, so that setting cannot change them; a project whose
own async fixtures depend on it sets it, and then no warning arises anyway.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from ._dintero import Dintero
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from .testing import Emulator

#: Real but tiny waits: a test that scripts a fault sees the retry happen, in milliseconds.
FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.01, total_timeout=10.0)

#: The fixtures whose tests this plugin marks `asyncio` when they are coroutines.
_FIXTURES = frozenset({"dintero_client", "dintero_emulator"})
_UNSET_LOOP_SCOPE = 'The configuration option "asyncio_default_fixture_loop_scope" is unset'

_NO_ASYNCIO = (
    "the dintero_client fixture is async and needs pytest-asyncio: "
    'pip install "dintero-aio[testing]" (or pytest-asyncio)'
)


@pytest.fixture
def dintero_emulator() -> Emulator:
    """A fresh in-memory Dintero for this test (account T12345678, its admin credentials).

    Override it in a conftest to configure it (a partner, `require_grants=False`, ...);
    `dintero_client` uses whatever this fixture returns.
    """
    from .testing import Emulator  # here, not at import: the extra may be missing

    return Emulator()


def _async_fixture(
    function: Callable[[Emulator], AsyncIterator[Dintero]],
) -> Callable[[Emulator], AsyncIterator[Dintero]]:
    """pytest-asyncio's fixture decorator, so that the fixture works in its strict mode as well
    as in auto mode (it runs on the test's event loop). Without pytest-asyncio, a fixture of the
    same name that fails the tests asking for it, and says what to install."""
    try:
        import pytest_asyncio
    except ImportError:

        def needs_pytest_asyncio(dintero_emulator: Emulator) -> AsyncIterator[Dintero]:
            pytest.fail(_NO_ASYNCIO, pytrace=False)

        return pytest.fixture(name=function.__name__)(needs_pytest_asyncio)
    return pytest_asyncio.fixture(function)


@_async_fixture
async def dintero_client(dintero_emulator: Emulator) -> AsyncIterator[Dintero]:
    """A `Dintero` on `dintero_emulator`, in-process (no socket), closed after the test.

    Logged in with the emulator's admin credentials on `IN_PROCESS_BASE_URL`, with
    `FAST_RETRIES` (retries that wait milliseconds). An `async def` test that asks for it needs
    no mark and no pytest-asyncio configuration (see the module docstring); without
    pytest-asyncio installed, the tests that ask for it fail and name the package to install.
    """
    from .testing import IN_PROCESS_BASE_URL

    async with Dintero(
        account_id=dintero_emulator.account_id,
        client_id=dintero_emulator.client_id,
        client_secret=dintero_emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,
        transport=dintero_emulator.transport(),
        retry=FAST_RETRIES,
    ) as dintero:
        yield dintero


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Silence pytest-asyncio's warning about an unset fixture loop scope (see the module
    docstring); tryfirst, so the filter is in place before pytest-asyncio's own configure."""
    warnings.filterwarnings(
        "ignore", message=_UNSET_LOOP_SCOPE, category=pytest.PytestDeprecationWarning
    )


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Iterator[None]:
    """Mark a coroutine test that requests one of our fixtures `asyncio` before it becomes an
    item, so that pytest-asyncio runs it in any mode (the mark is stored on the function)."""
    if _asks_for_our_fixtures(collector, name, obj) and _pytest_asyncio_runs(collector.config):
        pytest.mark.asyncio(obj)
    return (yield)


def _asks_for_our_fixtures(collector: pytest.Module | pytest.Class, name: str, obj: object) -> bool:
    if not (inspect.iscoroutinefunction(obj) and collector.funcnamefilter(name)):
        return False
    if any(mark.name == "asyncio" for mark in getattr(obj, "pytestmark", ())):
        return False
    requested = set(inspect.signature(obj).parameters)
    for mark in getattr(obj, "pytestmark", ()):
        if mark.name == "usefixtures":
            requested.update(mark.args)
    return bool(requested & _FIXTURES)


def _pytest_asyncio_runs(config: pytest.Config) -> bool:
    """Whether pytest-asyncio is loaded in this run (without it, the mark would mean nothing
    and `dintero_client` already fails with what to install)."""
    try:
        from pytest_asyncio import plugin
    except ImportError:
        return False
    return config.pluginmanager.is_registered(plugin)
