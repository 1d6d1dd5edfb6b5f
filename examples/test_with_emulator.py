"""The emulator in your own pytest suite: copy what you need into your tests.

    pytest examples/test_with_emulator.py        # or: python examples/test_with_emulator.py

Needs `dintero-aio[testing]`, which brings the emulator, its pytest plugin (loaded by pytest on
its own, through an entry point) and pytest-asyncio. The plugin gives each test
`dintero_emulator`, a fresh in-memory Dintero, and `dintero_client`, a `Dintero` wired to it
in-process (no socket, millisecond retries, closed after the test). In real code the client
comes from your application: give it `base_url=IN_PROCESS_BASE_URL` and
`transport=emulator.transport()`, or the URL of a served emulator, as the last fixture here does.
The tests are marked `asyncio` so that they also run in pytest-asyncio's strict mode.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from dintero_aio import APIConnectionError, Dintero, GrantSpec, NotFoundError, RetryPolicy
from dintero_aio.testing import Emulator, serve


@pytest.mark.asyncio
async def test_a_new_client_can_log_in(dintero_client: Dintero, dintero_emulator: Emulator) -> None:
    grant = GrantSpec(audience=dintero_client.audience, scopes=["admin:accounts"])
    created = await dintero_client.clients.create(name="pos", client_id="pos-1", grants=[grant])

    assert [client.client_id for client in dintero_emulator.clients] == ["pos-1"]
    assert dintero_emulator.clients[0].client_secret == created.client.client_secret
    emulator = dintero_emulator  # log in as the new client, on the same emulator
    async with Dintero(
        account_id=emulator.account_id,
        client_id="pos-1",
        client_secret=created.client.client_secret,
        base_url=dintero_client.base_url,
        transport=emulator.transport(),
    ) as as_new:
        assert await as_new.verify_credentials() == emulator.expires_in


@pytest.mark.asyncio
async def test_a_503_is_retried_and_makes_one_client(
    dintero_client: Dintero, dintero_emulator: Emulator
) -> None:
    dintero_emulator.fail_next("create", status=503)  # never reached the server: safe to retry

    await dintero_client.clients.create(name="pos")

    assert dintero_emulator.received("create") == 2
    assert dintero_emulator.processed("create") == 1 == len(dintero_emulator.clients)


@pytest.mark.asyncio
async def test_a_lost_answer_is_not_retried(
    dintero_client: Dintero, dintero_emulator: Emulator
) -> None:
    dintero_emulator.drop_next("create", after_processing=True)  # made, then the answer is lost

    with pytest.raises(APIConnectionError) as raised:
        await dintero_client.clients.create(name="pos")

    assert raised.value.outcome_unknown  # your code should list the clients before retrying
    assert len(dintero_emulator.clients) == 1


@pytest.mark.asyncio
async def test_a_missing_client_is_a_typed_error(dintero_client: Dintero) -> None:
    with pytest.raises(NotFoundError):
        await dintero_client.clients.get("3f2c9a40-0c4e-4a43-9d1e-1f6c2b7d8e90")


class TestAPartner:
    """Override `dintero_emulator` (here for one class; in a conftest for a whole suite) to
    configure it: `dintero_client` then logs in to this one."""

    @pytest.fixture
    def dintero_emulator(self) -> Emulator:
        return Emulator(account_id="P00000001", merchants=["T00000002"])

    @pytest.mark.asyncio
    async def test_creates_a_client_in_a_merchant_account(
        self, dintero_client: Dintero, dintero_emulator: Emulator
    ) -> None:
        merchant = dintero_client.for_account("T00000002")

        await merchant.clients.create(name="till")

        assert [client.name for client in dintero_emulator.clients_of("T00000002")] == ["till"]
        assert dintero_emulator.clients == []  # the partner's own account is untouched
        assert dintero_emulator.processed("exchange") == 1


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    """Without the plugin: an emulator on a real loopback socket, and its base URL. Timeouts
    are real there (in-process, httpx ignores them)."""
    emulator = Emulator()
    with serve(emulator) as running:
        yield emulator, running.base_url


@pytest.mark.asyncio
async def test_a_slow_list_times_out_and_is_retried(served: tuple[Emulator, str]) -> None:
    emulator, base_url = served
    emulator.delay_next("list", 0.5)  # longer than the read timeout below
    async with Dintero(
        account_id=emulator.account_id,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=base_url,
        timeout=0.2,
        retry=RetryPolicy(max_retries=2, initial_delay=0.01, total_timeout=5.0),
    ) as dintero:
        assert await dintero.clients.list() == []

    assert emulator.received("list") == 2  # the first attempt timed out; a list is safe to retry


if __name__ == "__main__":
    # In a fresh process, so that pytest imports (and can rewrite) everything itself. `-p` loads
    # the plugin by name as well, in case plugin autoloading is off; harmless otherwise.
    command = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "dintero_aio.pytest_plugin"]
    raise SystemExit(subprocess.call(command))  # noqa: S603 - our interpreter, fixed arguments
