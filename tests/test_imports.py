"""`import dintero_aio` stays light (issue 12): asyncio, attrs and the generated client load with
the first instance, and the names re-exported from them on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dintero_aio

HEAVY = ("asyncio", "attr", "attrs", "dintero_aio_api", "certifi")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_importing_the_package_or_its_client_class_loads_none_of_the_machinery() -> None:
    assert loaded_after("import dintero_aio") == []
    assert loaded_after("from dintero_aio import Dintero, DinteroError, InvalidInputError") == []


def test_the_first_instance_loads_it() -> None:
    made = (
        "import dintero_aio\n"
        "dintero_aio.Dintero(account_id='T12345678', client_id='c', client_secret='s')"
    )
    assert set(loaded_after(made)) >= {"asyncio", "attr", "dintero_aio_api", "certifi"}


def test_every_exported_name_is_there_and_listed() -> None:
    for name in dintero_aio.__all__:
        assert getattr(dintero_aio, name) is not None
    assert set(dintero_aio.__all__) <= set(dir(dintero_aio))
    from dintero_aio_api.models import ClientInfo

    assert dintero_aio.ClientInfo is ClientInfo
    namespace: dict[str, object] = {}
    exec("from dintero_aio import *", namespace)  # noqa: S102 - a star import, as users write it
    assert set(namespace) - {"__builtins__"} == set(dintero_aio.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        dintero_aio.NoSuchThing  # noqa: B018
