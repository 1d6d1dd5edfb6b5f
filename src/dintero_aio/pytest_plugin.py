"""pytest fixtures for code that uses dintero-aio: `dintero_emulator` and `dintero_client`.

Registered through the `pytest11` entry point, so pytest loads this module in every environment
where dintero-aio is installed, with or without the `testing` extra. That is why it lives here
and not in `dintero_aio.testing`: importing that package without the extra raises ImportError
(by design, to name the extra), and a plugin that fails to import breaks every pytest run of
the environment. So this module imports nothing beyond pytest and the SDK: the emulator is
imported when a fixture is first used, and a missing extra fails only the tests that use it,
with the command that installs it. See `dintero_aio.testing` for how to use the fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from ._dintero import Dintero
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from .testing import Emulator

#: Real but tiny waits: a test that scripts a fault sees the retry happen, in milliseconds.
FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.01, total_timeout=10.0)

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


try:
    import pytest_asyncio
except ImportError:  # no async fixture support: fail the tests that ask for one, and say why

    @pytest.fixture(name="dintero_client")
    def _dintero_client_needs_pytest_asyncio(dintero_emulator: Emulator) -> Dintero:
        """Without pytest-asyncio a test that uses this fixture fails, and says what to install."""
        pytest.fail(_NO_ASYNCIO, pytrace=False)

else:

    @pytest_asyncio.fixture(name="dintero_client")
    async def _dintero_client(dintero_emulator: Emulator) -> AsyncIterator[Dintero]:
        """A `Dintero` on `dintero_emulator`, in-process (no socket), closed after the test.

        Logged in with the emulator's admin credentials on `IN_PROCESS_BASE_URL`, with retries
        that wait milliseconds. pytest-asyncio's decorator, so that it works in its strict mode
        as well as in auto mode; it runs on the test's event loop.
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
