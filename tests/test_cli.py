"""The command line against the emulator on loopback: JSON out, masked secrets, exit statuses."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dintero_aio
from dintero_aio import _cli as cli
from dintero_aio.testing import OPERATIONS, Emulator, RunningEmulator, serve


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


def test_create_writes_the_secret_to_a_new_file_and_prints_it_masked(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "pos-1.secret"
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
        "--callback",
        "https://b",
        "--secret-file",
        str(path),
    )
    assert status == 0
    created = json.loads(out)
    (stored,) = running.emulator.clients
    assert created["id"] == stored.id
    assert created["client_secret"] == cli.MASK
    assert created["client_secret_file"] == str(path)
    assert stored.client_secret not in out + err
    assert path.read_text() == stored.client_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (created["name"], created["client_id"], created["callbacks"]) == (
        "pos",
        "pos-1",
        ["https://a", "https://b"],
    )


def test_show_secret_prints_it(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "clients", "create", "--name", "pos", "--show-secret")
    assert status == 0
    assert json.loads(out)["client_secret"] == running.emulator.clients[0].client_secret


def test_lifecycle_commands(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run(capsys, "clients", "create", "--name", "pos", "--show-secret")
    client_id = json.loads(out)["id"]
    old_secret = running.emulator.clients[0].client_secret

    path = tmp_path / "rotated"
    status, out, err = run(
        capsys, "clients", "rotate-secret", client_id, "--secret-file", str(path)
    )
    assert (status, err) == (0, "")
    assert json.loads(out)["client_secret"] == cli.MASK
    new_secret = running.emulator.clients[0].client_secret
    assert new_secret != old_secret
    assert path.read_text() == new_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    status, out, _ = run(capsys, "clients", "rotate-secret", client_id, "--show-secret")
    assert (status, json.loads(out)["client_secret"]) == (
        0,
        running.emulator.clients[0].client_secret,
    )

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
        ("500", ["clients", "create", "--name", "x", "--show-secret"], cli.EXIT_SERVER),
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
    client_id = json.loads(run(capsys, "clients", "create", "--name", "pos", "--show-secret")[1])[
        "id"
    ]
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
        ["clients", "create", "--show-secret", "--grant", "https://a.example/accounts/T12345678"],
        ["clients", "create", "--show-secret", "--grant", "http://example.com/v1=admin:accounts"],
        ["clients", "create", "--show-secret", "--grant", "https://a.example/v1=admin:accounts,"],
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
    argv = ["--account", "T00000002", "clients", "create", "--name", "till", "--show-secret"]
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


# A command that makes a secret runs only when the secret has somewhere to go.


def sent(emulator: Emulator) -> int:
    """Every request the emulator received, of any operation."""
    return sum(emulator.received(operation) for operation in OPERATIONS)


def make_client(running: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> str:
    status, out, _ = run(capsys, "clients", "create", "--name", "pos", "--show-secret")
    assert status == 0
    return str(json.loads(out)["id"])


SECRET_COMMANDS = {
    "create": ["clients", "create", "--name", "pos"],
    "create-with-grant": ["clients", "create", "--name", "pos", "--grant", "AUDIENCE=s"],
    "rotate-secret": ["clients", "rotate-secret", "CLIENT"],
}


def secret_command(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], name: str
) -> list[str]:
    """The argv of a command that makes a secret; rotate-secret gets a client to rotate."""
    audience = f"{running.emulator.audience}"
    argv = [arg.replace("AUDIENCE", audience) for arg in SECRET_COMMANDS[name]]
    if "CLIENT" in argv:
        argv[argv.index("CLIENT")] = make_client(running, capsys)
    return argv


@pytest.mark.parametrize("command", SECRET_COMMANDS)
def test_a_secret_with_nowhere_to_go_is_refused_before_anything_is_sent(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = secret_command(running, capsys, command)
    before, secrets = sent(running.emulator), [c.client_secret for c in running.emulator.clients]

    status, out, err = run(capsys, *argv)

    assert (status, out) == (cli.EXIT_INPUT, "")
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "--show-secret" in err
    assert "--secret-file" in err
    assert sent(running.emulator) == before
    assert [c.client_secret for c in running.emulator.clients] == secrets


def read_only(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `directory` read-only; where that does not stop writes (root), make it look so."""
    directory.chmod(0o500)
    probe = directory / "probe"
    try:
        probe.write_text("")
    except PermissionError:
        return
    probe.unlink()  # root: the mode is ignored, so refuse what the mode would refuse

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if Path(path) == directory and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).parent == directory and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    real_access, real_open = os.access, os.open
    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", open_)


@pytest.fixture
def restore_modes(tmp_path: Path) -> Iterator[None]:
    yield
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)


@pytest.mark.parametrize(
    "problem", ["exists", "dangling-symlink", "no-directory", "read-only", "a-directory"]
)
@pytest.mark.parametrize("command", SECRET_COMMANDS)
def test_an_unusable_secret_file_is_refused_before_anything_is_sent(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    restore_modes: None,
    command: str,
    problem: str,
) -> None:
    argv = secret_command(running, capsys, command)
    before = sent(running.emulator)
    path = tmp_path / "secrets" / "new.secret"
    path.parent.mkdir()
    if problem == "exists":
        path.write_text("an older secret\n")
    elif problem == "dangling-symlink":
        path.symlink_to(tmp_path / "elsewhere")
    elif problem == "no-directory":
        path = tmp_path / "missing" / "new.secret"
    elif problem == "read-only":
        read_only(path.parent, monkeypatch)
    given = str(path) + ("/" if problem == "a-directory" else "")

    status, out, err = run(capsys, *argv, "--secret-file", given)

    assert (status, out) == (cli.EXIT_INPUT, "")
    assert err.startswith("error: --secret-file")
    assert err.count("\n") == 1
    assert sent(running.emulator) == before
    if problem == "exists":
        assert path.read_text() == "an older secret\n"
    assert not (tmp_path / "elsewhere").exists()


def after_the_call(monkeypatch: pytest.MonkeyPatch, then: Callable[[], object]) -> None:
    """Run `then` once the command's call is over (the secret made), before the CLI writes it."""
    real_call = cli._secret_call

    async def call_then(*args: Any) -> Any:
        try:
            return await real_call(*args)
        finally:
            then()

    monkeypatch.setattr(cli, "_secret_call", call_then)


def fail_for(monkeypatch: pytest.MonkeyPatch, name: str, path: Path, code: int) -> None:
    """Make `os.<name>(fd, ...)` raise OSError(code) for the file at `path` only."""
    real = getattr(os, name)

    def failing(fd: int, *args: Any) -> Any:
        if path.exists() and os.path.samestat(os.fstat(fd), path.stat()):
            raise OSError(code, os.strerror(code))
        return real(fd, *args)

    monkeypatch.setattr(os, name, failing)


@pytest.mark.parametrize(
    "fault",
    ["disk-full", "sync-fails", "directory-made-read-only", "file-appeared", "directory-gone"],
)
@pytest.mark.parametrize("command", SECRET_COMMANDS)
def test_a_secret_that_cannot_be_written_goes_to_stdout_with_a_warning(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    restore_modes: None,
    command: str,
    fault: str,
) -> None:
    argv = secret_command(running, capsys, command)
    directory = tmp_path / "secrets"
    directory.mkdir()
    path = directory / "new.secret"
    if fault == "disk-full":
        fail_for(monkeypatch, "write", path, errno.ENOSPC)
    elif fault == "sync-fails":
        fail_for(monkeypatch, "fsync", path, errno.EIO)
    elif fault == "directory-made-read-only":
        after_the_call(monkeypatch, lambda: read_only(directory, monkeypatch))
    elif fault == "file-appeared":
        after_the_call(monkeypatch, lambda: path.write_text("someone else's\n"))
    else:
        after_the_call(monkeypatch, directory.rmdir)

    status, out, err = run(capsys, *argv, "--secret-file", str(path))

    assert status == cli.EXIT_SECRET_ON_STDOUT
    printed = json.loads(out)
    (stored,) = [c for c in running.emulator.clients if c.id == printed["id"]]
    assert printed["client_secret"] == stored.client_secret  # not lost
    assert "client_secret_file" not in printed
    assert err.startswith(f"warning: the new client secret could not be written to {path} (")
    assert "printed on stdout instead" in err
    assert err.count("\n") == 1
    assert stored.client_secret not in err
    if fault == "file-appeared":
        assert path.read_text() == "someone else's\n"  # never overwritten
    else:
        assert not path.exists()  # no empty or half-written file left behind
    if command == "create-with-grant":
        assert [g["client_id"] for g in printed["grants"]] == [stored.id]


def test_the_secret_is_in_its_file_before_anything_is_printed(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.secret"
    seen: list[str] = []
    real_write = cli.Stdout.write

    def write(self: cli.Stdout, text: str) -> bool:
        seen.append(path.read_text())
        return real_write(self, text)

    monkeypatch.setattr(cli.Stdout, "write", write)
    grant = f"{running.emulator.audience}=admin:accounts"
    argv = ["clients", "create", "--name", "pos", "--grant", grant, "--secret-file", str(path)]
    status, _, _ = run(capsys, *argv)
    assert status == 0
    assert seen == [running.emulator.clients[0].client_secret] * 2  # before and after the grant


@pytest.mark.parametrize("file_fails", [False, True])
def test_a_failed_grant_still_delivers_the_secret(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    file_fails: bool,
) -> None:
    path = tmp_path / "new.secret"
    if file_fails:
        fail_for(monkeypatch, "write", path, errno.ENOSPC)
    running.emulator.fail_next("grants_create", status=403)
    status, out, err = run(
        capsys,
        "clients",
        "create",
        "--name",
        "pos",
        "--grant",
        f"{running.emulator.audience}=admin:accounts",
        "--secret-file",
        str(path),
    )
    (stored,) = running.emulator.clients
    printed = json.loads(out)
    assert (printed["id"], printed["grants"]) == (stored.id, [])
    *warnings, last = err.splitlines()
    assert last.startswith(f"error: client {stored.id} was created, but its grant for ")
    assert "`" not in err
    assert stored.client_secret not in err
    if file_fails:
        assert status == cli.EXIT_SECRET_ON_STDOUT  # the secret's fate comes first
        assert printed["client_secret"] == stored.client_secret
        assert len(warnings) == 1
        assert warnings[0].startswith("warning: ")
        assert not path.exists()
    else:
        assert status == cli.EXIT_AUTH  # the grant's failure decides
        assert (printed["client_secret"], printed["client_secret_file"]) == (cli.MASK, str(path))
        assert path.read_text() == stored.client_secret
        assert warnings == []


# What a shell user meets: version, usage, help, wording.


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"dintero-aio {dintero_aio.__version__}\n"


@pytest.mark.parametrize("argv", [[], ["clients"], ["grants"], ["token"]])
def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (cli.EXIT_INPUT, "")
    assert err.startswith(f"usage: dintero-aio {' '.join(argv)}".rstrip())
    assert "required" not in err
    assert "DINTERO_CLIENT_SECRET" in err


def parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """The command line's parsers, by the words that reach them: (), ("clients",), ..."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(words: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        found[words] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk((*words, name), sub)

    walk((), cli._parser())
    return found


FOR_PYTHON_ONLY = re.compile(
    r"`|httpx|Timeout|RetryPolicy|GrantSpec|Client(Info|WithSecret)|list\[|\w\(\)"
)


@pytest.mark.parametrize("argv", [list(words) for words in parsers()], ids=" ".join)
def test_every_help_says_where_credentials_come_from(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for variable in (
        "DINTERO_ACCOUNT_ID",
        "DINTERO_CLIENT_ID",
        "DINTERO_CLIENT_SECRET",
        "DINTERO_BASE_URL",
    ):
        assert variable in text
    assert "environment only" in text
    assert not FOR_PYTHON_ONLY.search(text), FOR_PYTHON_ONLY.search(text)
    for action in parsers()[tuple(argv)]._actions:
        if isinstance(action, argparse._AppendAction):
            assert action.help is not None
            assert action.help.endswith("repeatable"), action.option_strings


def test_the_repeatable_flags_are_found() -> None:
    appended = {
        option
        for parser in parsers().values()
        for action in parser._actions
        if isinstance(action, argparse._AppendAction)
        for option in action.option_strings
    }
    assert appended == {"--callback", "--grant", "--scope"}


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "soon"])
def test_a_bad_timeout_is_refused_in_shell_words(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--timeout", value, "token", "check"])
    assert exited.value.code == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "argument --timeout: must be a positive number of seconds" in err
    assert not FOR_PYTHON_ONLY.search(err)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--account-id", "X1", "token", "check"], "--account-id must be P or T"),
        (["--base-url", "ftp://a.example", "token", "check"], "--base-url or DINTERO_BASE_URL"),
        (
            ["grants", "create", "--client-id", "pos-1", "--audience", "https://a", "--scope", "s"],
            "--client-id must be the client's id",
        ),
        (["grants", "list", "--client-id", "pos-1"], "--client-id must be the client's id"),
        (["--account", "T12345678", "clients", "list"], "leave --account out"),
    ],
)
def test_input_errors_speak_to_the_shell_user(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (cli.EXIT_INPUT, "")
    assert says in err
    assert not FOR_PYTHON_ONLY.search(err), err
    assert sent(running.emulator) == 0


def test_an_outcome_unknown_error_speaks_to_the_shell_user(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = make_client(running, capsys)
    running.emulator.drop_next("grants_create", after_processing=True)
    argv = ["grants", "create", "--client-id", client_id, "--audience", "https://a", "--scope", "s"]
    status, out, err = run(capsys, *argv)
    assert (status, out) == (cli.EXIT_NETWORK, "")
    assert "The outcome is unknown" in err
    assert not FOR_PYTHON_ONLY.search(err), err


# Plain http to a host that is not loopback: only with --allow-insecure-http.


@pytest.fixture
def not_loopback(running: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """A base URL whose host is not a loopback address but reaches the emulator: 0.0.0.0 (on
    Linux, connecting to it reaches the local host)."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    base_url = running.base_url.replace("127.0.0.1", "0.0.0.0")  # noqa: S104 - connects, binds nothing
    monkeypatch.setenv("DINTERO_BASE_URL", base_url)
    return base_url


def test_plain_http_to_another_host_is_refused_with_the_way_to_opt_in(
    running: RunningEmulator, not_loopback: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["token", "check"], ["--base-url", not_loopback, "token", "check"]):
        status, out, err = run(capsys, *argv)
        assert (status, out) == (cli.EXIT_INPUT, "")
        assert "pass --allow-insecure-http" in err
        assert err.count("\n") == 1
    assert sent(running.emulator) == 0


def test_allow_insecure_http_reaches_another_host(
    running: RunningEmulator, not_loopback: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--allow-insecure-http", "token", "check")
    assert status == 0, err
    assert json.loads(out)["ok"] is True
    assert running.emulator.processed("token") == 1


# Issue 18: a secret file holds exactly the secret; options go anywhere; every flag documented.


def test_a_secret_file_holds_exactly_the_secret_and_logs_in_as_read(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """`Dintero(client_secret=Path(f).read_text())` must work: no newline, nothing around it."""
    path = tmp_path / "pos.secret"
    grant = f"{running.emulator.audience}=admin:accounts"
    argv = [
        "clients",
        "create",
        "--client-id",
        "pos-1",
        "--grant",
        grant,
        "--secret-file",
        str(path),
    ]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    (stored,) = running.emulator.clients
    assert path.read_bytes() == stored.client_secret.encode()

    monkeypatch.setenv("DINTERO_CLIENT_ID", json.loads(out)["client_id"])
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", path.read_text())
    assert run(capsys, "token", "check")[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--account", "T00000002", "clients", "list"],
        ["clients", "--account", "T00000002", "list"],
        ["clients", "list", "--account", "T00000002"],
        ["clients", "list", "--account", "T00000002", "--timeout", "5", "-v"],
    ],
    ids=["before", "between", "after", "after-several"],
)
def test_options_go_before_or_after_the_command(
    partner: RunningEmulator, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert json.loads(out) == []
    assert partner.emulator.processed("list", account="T00000002") == 1
    assert partner.emulator.processed("list", account="P00000001") == 0


def test_an_option_after_the_command_wins_over_the_same_before_it(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "--account-id", "T12345678", "token", "check", "--account-id", "X")
    assert status == cli.EXIT_INPUT
    assert "--account-id must be P or T" in err
    assert sent(running.emulator) == 0


def test_an_option_not_repeated_after_the_command_keeps_its_value(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "--account-id", "X", "token", "check")
    assert status == cli.EXIT_INPUT
    assert "--account-id must be P or T" in err


def options() -> set[str]:
    """Every option string of every command, help and version included."""
    return {
        option
        for parser in parsers().values()
        for action in parser._actions
        for option in action.option_strings
    }


def test_every_option_is_in_the_command_line_reference() -> None:
    reference = (Path(__file__).resolve().parents[1] / "docs/reference/cli.md").read_text()
    documented = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", reference))
    assert options() - documented == set()
    assert {"--backend", "--account-id", "--auth-client-id", "--timeout"} <= documented
    for variable in ("DINTERO_BACKEND", "DINTERO_REDIS_URL", "DINTERO_CLIENT_SECRET"):
        assert variable in reference


def test_backend_and_settings_reach_from_env(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI passes what its options say and leaves the environment to `from_env`."""
    seen: list[dict[str, Any]] = []

    class Recording(dintero_aio.Dintero):
        @classmethod
        def from_env(cls, **overrides: Any) -> Any:
            seen.append(dict(overrides))
            overrides.pop("backend", None)  # the recording is the point, not the transport
            return super().from_env(**overrides)

    monkeypatch.setattr(cli, "Dintero", Recording)
    monkeypatch.setenv("DINTERO_BACKEND", "aiohttp")
    assert run(capsys, "token", "check", "--backend", "httpcore", "--timeout", "7")[0] == 0
    assert run(capsys, "token", "check")[0] == 0
    assert seen == [{"timeout": 7.0, "backend": "httpcore"}, {"timeout": 30.0}]


# Issue 17, item 4: a value from the environment is never echoed; the variable is named.

LEAKED = "sk_live_4f9a7c0ffee0ddba11"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DINTERO_ACCOUNT_ID", LEAKED),
        ("DINTERO_ACCOUNT_ID", f"T1234 {LEAKED}"),
        ("DINTERO_BACKEND", LEAKED),
        ("DINTERO_BASE_URL", f"https://user:{LEAKED}@api.dintero.com/v1"),
        ("DINTERO_BASE_URL", f"ftp://{LEAKED}.example/v1"),
    ],
)
def test_a_bad_environment_value_is_named_never_echoed(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    status, out, err = run(capsys, "token", "check")
    assert (status, out) == (cli.EXIT_INPUT, "")
    assert variable in err
    assert not cli._quotes(err, LEAKED), err
    assert err.count("\n") == 1
    assert sent(running.emulator) == 0


def test_an_error_that_quotes_a_secret_setting_names_the_variable_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DINTERO_REDIS_URL", f"redis://:{LEAKED}@localhost:6379/0")
    error = dintero_aio.InvalidInputError(f"redis_url is not a URL: got 'redis://:{LEAKED[:20]}'")
    assert cli._for_shell(error) == (
        "the setting from DINTERO_REDIS_URL is not valid (its value is not shown)"
    )


# Issue 17, item 10: what can be checked about --secret-file is checked before sending.


@pytest.mark.parametrize("command", SECRET_COMMANDS)
def test_a_file_name_too_long_for_the_file_system_is_refused_before_sending(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    argv = secret_command(running, capsys, command)
    before = sent(running.emulator)
    status, out, err = run(capsys, *argv, "--secret-file", str(tmp_path / ("s" * 300)))
    assert (status, out) == (cli.EXIT_INPUT, "")
    assert err.startswith("error: --secret-file: the file name is 300 bytes long")
    assert sent(running.emulator) == before
    assert list(tmp_path.iterdir()) == []


# Issue 17, item 5: a secret that is not valid text never gives a traceback.


@pytest.mark.parametrize("destination", ["--show-secret", "--secret-file"])
def test_a_secret_that_is_not_valid_text_is_a_malformed_answer(
    running: RunningEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path, destination: str
) -> None:
    client_id = str(uuid.uuid4())
    body = (
        f'{{"id": "{client_id}", "client_id": "pos-1", "name": "pos", '
        '"client_secret": "abc\\ud800def"}'
    ).encode()
    running.emulator.respond_next("create", status=200, body=body)
    path = tmp_path / "new.secret"
    where = [destination] + ([str(path)] if destination == "--secret-file" else [])
    grant = f"{running.emulator.audience}=admin:accounts"

    status, out, err = run(capsys, "clients", "create", "--name", "pos", "--grant", grant, *where)

    assert (status, out) == (cli.EXIT_SERVER, "")
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not path.exists()
    assert running.emulator.received("grants_create") == 0
    if "client" in err and "not valid text" in err:  # the CLI's words (the SDK may refuse first)
        assert client_id in err
        assert "rotate-secret" in err


# In a real process: signals (issue 17, item 5) and a stdout that cannot be written (item 11).


def start(*argv: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """`dintero-aio ARGV` in a process of its own, with the test's DINTERO_* environment."""
    return subprocess.Popen(  # noqa: S603 - our interpreter and module, fixed arguments
        [sys.executable, "-m", "dintero_aio", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def grant_argv(running: RunningEmulator) -> list[str]:
    grant = f"{running.emulator.audience}=admin:accounts"
    return ["clients", "create", "--name", "pos", "--grant", grant]


@pytest.mark.parametrize(
    ("signum", "destination"),
    [(signal.SIGTERM, "--secret-file"), (signal.SIGINT, "--show-secret")],
)
def test_a_signal_during_the_grant_loses_no_secret(
    running: RunningEmulator, tmp_path: Path, signum: signal.Signals, destination: str
) -> None:
    emulator = running.emulator
    emulator.delay_next("grants_create", 1.0)
    path = tmp_path / "new.secret"
    where = [destination, str(path)] if destination == "--secret-file" else [destination]
    process = start(*grant_argv(running), *where)
    wait_until(lambda: emulator.received("grants_create") == 1, process)
    (stored,) = emulator.clients
    if destination == "--secret-file":  # on disk before the grant was asked for
        assert path.read_bytes() == stored.client_secret.encode()

    process.send_signal(signum)
    out, err = process.communicate(timeout=30)

    assert process.returncode == cli.EXIT_SIGNAL[signum], err
    printed = json.loads(out)
    assert (printed["id"], printed["grants"]) == (stored.id, [])
    secret = cli.MASK if destination == "--secret-file" else stored.client_secret
    assert printed["client_secret"] == secret
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(f"error: stopped by {signum.name}: client {stored.id} was created")
    assert "0 of 1 grants made" in last
    assert stored.client_secret not in err


def test_a_signal_while_the_create_is_answered_waits_for_the_secret(
    running: RunningEmulator, tmp_path: Path
) -> None:
    emulator = running.emulator
    emulator.delay_next("create", 0.5)
    path = tmp_path / "new.secret"
    process = start(*grant_argv(running), "--secret-file", str(path))
    wait_until(lambda: emulator.received("create") == 1, process)

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)

    assert process.returncode == cli.EXIT_SIGNAL[signal.SIGTERM], err
    (stored,) = emulator.clients
    assert path.read_bytes() == stored.client_secret.encode()
    assert json.loads(out)["id"] == stored.id
    assert "stopping once Dintero's answer" in err
    assert emulator.received("grants_create") == 0  # stopped before the grant
    assert "Traceback" not in err


@pytest.mark.parametrize("stdout", ["closed", "full", "broken-pipe"])
def test_a_shown_secret_that_cannot_be_printed_names_the_client(
    running: RunningEmulator, stdout: str
) -> None:
    argv = ["clients", "create", "--name", "pos", "--show-secret"]
    if stdout == "broken-pipe":
        process = start(*argv)
        assert process.stdout is not None
        process.stdout.close()  # the reader goes away before the command writes
        err = process.communicate(timeout=30)[1]
    else:
        redirect = ">&-" if stdout == "closed" else ">/dev/full"
        shell = ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "dintero_aio"]
        process = subprocess.Popen(  # noqa: S603 - a fixed shell line, our interpreter
            [*shell, *argv], stderr=subprocess.PIPE, text=True
        )
        err = process.communicate(timeout=30)[1]

    assert process.returncode == cli.EXIT_SECRET_ON_STDOUT, err
    (stored,) = running.emulator.clients
    assert err.count("\n") == 1, err  # no traceback, no "Exception ignored"
    assert err.startswith("error: the new client secret could not be printed on stdout (")
    assert f"client {stored.id} was created" in err
    assert f"clients rotate-secret {stored.id}" in err
    assert stored.client_secret not in err


def test_a_listing_that_cannot_be_printed_is_one_line_and_exit_1(running: RunningEmulator) -> None:
    process = start("clients", "list")
    assert process.stdout is not None
    process.stdout.close()
    err = process.communicate(timeout=30)[1]
    assert process.returncode == cli.EXIT_OUTPUT
    assert err.startswith("error: stdout could not be written (")
    assert err.count("\n") == 1, err


def test_a_secret_in_its_file_is_kept_when_stdout_fails(
    running: RunningEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "new.secret"
    argv = ["clients", "create", "--name", "pos", "--secret-file", str(path)]
    shell = ["sh", "-c", 'exec "$@" >/dev/full', "sh", sys.executable, "-m", "dintero_aio"]
    process = subprocess.Popen(  # noqa: S603 - a fixed shell line, our interpreter
        [*shell, *argv], stderr=subprocess.PIPE, text=True
    )
    err = process.communicate(timeout=30)[1]
    (stored,) = running.emulator.clients
    assert process.returncode == cli.EXIT_OUTPUT, err
    assert path.read_bytes() == stored.client_secret.encode()
    assert f"client {stored.id} was created" in err
    assert str(path) in err
    assert err.count("\n") == 1, err


def test_verbose_names_each_token_it_fetched_and_leaves_logging_as_it_was(
    partner: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root, sdk = logging.getLogger(), logging.getLogger("dintero_aio")
    before = (list(root.handlers), root.level, list(sdk.handlers), sdk.level)

    status, _, err = run(capsys, "token", "check", "--account", "T00000002", "-v")

    assert status == 0
    fetched = [line for line in err.splitlines() if "fetched" in line]
    assert len(fetched) == 2, err
    assert fetched[0].startswith("dintero-aio: access token of P00000001 fetched")
    assert fetched[1].startswith("dintero-aio: exchange token of T00000002 fetched")
    assert partner.emulator.client_secret not in err
    assert (list(root.handlers), root.level, list(sdk.handlers), sdk.level) == before


@pytest.mark.parametrize("where", ["option", "environment"])
def test_the_aiohttp_backend_is_chosen_by_option_or_environment(
    running: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    import aiohttp

    sessions: list[object] = []
    real_init = aiohttp.ClientSession.__init__

    def init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        sessions.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", init)
    if where == "environment":
        monkeypatch.setenv("DINTERO_BACKEND", "aiohttp")
    argv = ["--backend", "aiohttp"] if where == "option" else []
    status, out, err = run(capsys, "clients", "list", *argv)
    assert (status, json.loads(out)) == (0, []), err
    assert running.emulator.processed("list") == 1
    assert sessions  # the requests went through aiohttp


def test_every_option_is_in_the_readme_s_command_line_section() -> None:
    """Issue 18: the README's own CLI section names every flag (its meaning is in the reference)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", section))
    assert options() - named == set()
    assert "DINTERO_CLIENT_SECRET" in section
