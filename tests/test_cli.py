"""The command line against the emulator on loopback: JSON out, masked secrets, exit statuses."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from dintero_aio import cli
from dintero_aio.testing import Emulator, RunningEmulator, serve


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    emulator = Emulator()
    with serve(emulator) as running:
        monkeypatch.setenv("DINTERO_ACCOUNT_ID", emulator.account_id)
        monkeypatch.setenv("DINTERO_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("DINTERO_CLIENT_SECRET", emulator.client_secret)
        monkeypatch.setenv("DINTERO_BASE_URL", running.base_url)
        yield running


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_create_prints_json_with_the_secret_masked(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        "clients",
        "create",
        "--name",
        "pos",
        "--client-id",
        "pos-1",
        "--callback",
        "https://a",
    )
    assert status == 0
    created = json.loads(out)
    (stored,) = running.emulator.clients
    assert created["id"] == stored.id
    assert created["client_secret"] == cli.MASK
    assert stored.client_secret not in out + err
    assert "can never be read again" in err
    assert (created["name"], created["client_id"], created["callbacks"]) == (
        "pos",
        "pos-1",
        ["https://a"],
    )


def test_show_secret_prints_it(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "clients", "create", "--name", "pos", "--show-secret")
    assert status == 0
    assert json.loads(out)["client_secret"] == running.emulator.clients[0].client_secret


def test_lifecycle_commands(running: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "clients", "create", "--name", "pos")
    client_id = json.loads(out)["id"]
    old_secret = running.emulator.clients[0].client_secret

    status, out, err = run(capsys, "clients", "rotate-secret", client_id)
    assert status == 0
    assert json.loads(out)["client_secret"] == cli.MASK
    assert running.emulator.clients[0].client_secret != old_secret
    assert "can never be read again" in err

    assert [c["id"] for c in json.loads(run(capsys, "clients", "list")[1])] == [client_id]
    assert json.loads(run(capsys, "clients", "get", client_id)[1])["id"] == client_id
    assert run(capsys, "clients", "delete", client_id)[0] == 0
    assert json.loads(run(capsys, "clients", "list")[1]) == []


def test_token_check(running: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "token", "check")
    assert (status, json.loads(out)) == (0, {"ok": True, "expires_in": 14400})
    assert running.emulator.processed("token") == 1


@pytest.mark.parametrize(
    ("setup", "argv", "expected"),
    [
        ("none", ["--account-id", "X1", "token", "check"], cli.EXIT_INPUT),
        ("none", ["clients", "get", "not-a-uuid"], cli.EXIT_INPUT),
        ("wrong-secret", ["token", "check"], cli.EXIT_AUTH),
        ("closed-port", ["token", "check"], cli.EXIT_NETWORK),
        ("500", ["clients", "create", "--name", "x"], cli.EXIT_SERVER),
        ("none", ["clients", "get", str(uuid.uuid4())], cli.EXIT_REJECTED),
    ],
)
def test_each_class_of_failure_has_its_exit_status_and_one_line(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    argv: list[str],
    expected: int,
) -> None:
    if setup == "wrong-secret":
        monkeypatch.setenv("DINTERO_CLIENT_SECRET", "wrong")
    elif setup == "closed-port":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        monkeypatch.setenv("DINTERO_BASE_URL", f"http://127.0.0.1:{port}/v1")
        argv = ["--timeout", "1", *argv]
    elif setup == "500":
        running.emulator.fail_next("create", status=500)

    status, out, err = run(capsys, *argv)

    assert status == expected
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1  # one line, no traceback
    assert running.emulator.client_secret not in err


def test_missing_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DINTERO_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", "T12345678")
    monkeypatch.setenv("DINTERO_CLIENT_ID", "x")
    status, _, err = run(capsys, "token", "check")
    assert status == cli.EXIT_INPUT
    assert "DINTERO_CLIENT_SECRET" in err


def test_console_entry_point_runs(running: RunningEmulator) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dintero_aio", "token", "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


# Grants, a created client with grants, and a partner's merchant accounts (--account).


def test_create_with_grants_then_log_in_as_the_new_client(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    audience = f"{running.base_url}/accounts/{running.emulator.account_id}"
    status, out, _ = run(
        capsys,
        "clients",
        "create",
        "--name",
        "pos",
        "--grant",
        f"{audience}=admin:accounts,write:accounts",
        "--grant",
        f"{audience}=read:accounts",
        "--show-secret",
    )
    assert status == 0
    created = json.loads(out)
    assert [(g["client_id"], g["scope"]) for g in created["grants"]] == [
        (created["id"], ["admin:accounts", "write:accounts"]),
        (created["id"], ["read:accounts"]),
    ]
    assert len(running.emulator.grants) == 2

    monkeypatch.setenv("DINTERO_CLIENT_ID", created["id"])
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", created["client_secret"])
    assert run(capsys, "token", "check")[0] == 0


def test_grants_commands(running: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    client_id = json.loads(run(capsys, "clients", "create", "--name", "pos")[1])["id"]
    audience = running.emulator.audience

    status, out, _ = run(
        capsys,
        "grants",
        "create",
        "--client-id",
        client_id,
        "--audience",
        audience,
        "--scope",
        "admin:accounts",
        "--scope",
        "read:accounts",
        "--type",
        "client_credentials",
    )
    assert status == 0
    grant = json.loads(out)
    assert (grant["client_id"], grant["scope"], grant["type"]) == (
        client_id,
        ["admin:accounts", "read:accounts"],
        "client_credentials",
    )
    for argv in ([], ["--client-id", client_id], ["--audience", audience]):
        listed = json.loads(run(capsys, "grants", "list", *argv)[1])
        assert [g["id"] for g in listed] == [grant["id"]]
    assert json.loads(run(capsys, "grants", "list", "--audience", "https://x.example")[1]) == []

    assert json.loads(run(capsys, "grants", "delete", grant["id"])[1]) == {"deleted": grant["id"]}
    assert running.emulator.grants == []


@pytest.mark.parametrize(
    "argv",
    [
        ["clients", "create", "--grant", "https://api.dintero.com/v1/accounts/T12345678"],
        ["clients", "create", "--grant", "http://example.com/v1=admin:accounts"],
        ["clients", "create", "--grant", "https://api.dintero.com/v1=admin:accounts,"],
        ["grants", "create", "--client-id", "pos-1", "--audience", "https://a", "--scope", "s"],
        ["grants", "delete", "not-a-uuid"],
        ["--account", "T123", "clients", "list"],
        ["--account", "T12345678", "clients", "list"],  # the account logged in to
    ],
)
def test_bad_grant_and_account_input_sends_nothing(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (cli.EXIT_INPUT, "")
    assert err.startswith("error: ")
    assert running.emulator.received("token") == 0


def test_a_failed_grant_prints_the_created_client(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    running.emulator.fail_next("grants_create", status=403)
    status, out, err = run(
        capsys,
        "clients",
        "create",
        "--name",
        "pos",
        "--grant",
        f"{running.emulator.audience}=admin:accounts",
        "--show-secret",
    )
    assert status == cli.EXIT_AUTH  # the grant's failure decides
    (stored,) = running.emulator.clients
    printed = json.loads(out)
    assert (printed["id"], printed["client_secret"], printed["grants"]) == (
        stored.id,
        stored.client_secret,
        [],
    )
    assert f"client {stored.id} was created" in err
    assert stored.client_secret not in err


@pytest.fixture
def partner(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    emulator = Emulator(account_id="P00000001", merchants=["T00000002"])
    with serve(emulator) as running:
        monkeypatch.setenv("DINTERO_ACCOUNT_ID", emulator.account_id)
        monkeypatch.setenv("DINTERO_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("DINTERO_CLIENT_SECRET", emulator.client_secret)
        monkeypatch.setenv("DINTERO_BASE_URL", running.base_url)
        yield running


def test_account_acts_on_a_merchant_account(
    partner: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = partner.emulator
    status, out, _ = run(capsys, "--account", "T00000002", "token", "check")
    assert (status, json.loads(out)["ok"]) == (0, True)

    audience = f"{partner.base_url}/accounts/T00000002"
    argv = ["--account", "T00000002", "clients", "create", "--name", "till"]
    status, out, _ = run(capsys, *argv, "--grant", f"{audience}=admin:accounts")
    assert status == 0
    created = json.loads(out)
    assert [c.id for c in emulator.clients_of("T00000002")] == [created["id"]]
    assert emulator.clients == []
    listed = json.loads(run(capsys, "--account", "T00000002", "grants", "list")[1])
    assert [g["client_id"] for g in listed] == [created["id"]]
    assert emulator.received("exchange") == 3  # one per command: each is a new instance


def test_account_that_is_not_a_merchant_is_refused(
    partner: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--account", "T99999999", "clients", "list")
    assert (status, out) == (cli.EXIT_AUTH, "")
    assert "not a merchant account" in err
