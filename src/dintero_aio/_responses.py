"""Turning an `httpx.Response` into a checked model or a typed error.

The generated parsers trust the server: a missing field is a bare `KeyError`, `{"name": 42}` is
accepted as a `str`, and a JSON object where an array belongs parses as an empty list. Here every
2xx body goes through the generated parser and then a type check of the model it built, so a
caller gets either a model that matches the spec or a `MalformedResponseError` with the response.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import functools
import json
import math
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import dintero_aio_api.models
import httpx
from dintero_aio_api.types import Unset

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


class Operation(Protocol):
    """The contract our endpoint template adds to every generated operation module
    (`dintero_aio_api.api.auth.*`): public names only (tests/test_generated.py pins them)."""

    __name__: str
    SUCCESS_STATUS: int

    def build_request(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...
    def parse_success(self, response: httpx.Response) -> Any: ...


class BrokenContract(Exception):
    """The generated parser returned something other than the model it promises: a bug of ours
    (the template or the generator changed), never Dintero's; the boundary makes it an
    `UnexpectedError`."""


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (a number of seconds or an HTTP-date), or None if it is absent
    or unusable: a server's odd header must never turn a status error into a crash."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:  # RFC 9110 dates are GMT
                when = when.replace(tzinfo=datetime.UTC)
            seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
        except (TypeError, ValueError, OverflowError, IndexError):  # what email.utils raises
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response, with Dintero's error code and message if any."""
    status = response.status_code
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    code, api_message = _error_body(response)
    text = f"HTTP {status} {response.reason_phrase} from {_name(response)}"
    if code:
        text += f" [{code}]"
    if api_message:
        text += f": {api_message}"
    error = cls(text, response=response, code=code, api_message=api_message)
    error.retry_after = retry_after(response)
    return error


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    """Dintero's `{"error": {"code", "message"}}`, read defensively: error bodies vary."""
    body = response.content
    if not body.lstrip().startswith(b"{"):
        return None, None
    try:
        error = json.loads(body)["error"]
        code, message = error.get("code"), error.get("message")
    # RecursionError: a body nested deeper than the parser's stack.
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None, None
    return (
        code if isinstance(code, str) else None,
        message[:500] if isinstance(message, str) else None,
    )


def parse(
    operation: Operation,
    response: httpx.Response,
    returns: Any,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """The model for a 2xx `response`, checked against `returns` (e.g. `list[ClientInfo]`) and
    then by `check`, which returns what is wrong with the model, if anything."""
    if response.status_code != operation.SUCCESS_STATUS:
        raise MalformedResponseError(
            f"{response.status_code} response to {_name(response)} is not the "
            f"{operation.SUCCESS_STATUS} the spec promises",
            response=response,
        )
    if _is_list(returns) and not response.content.lstrip().startswith(b"["):
        raise MalformedResponseError("expected a JSON array from Dintero", response=response)
    try:
        parsed = operation.parse_success(response)
    # The generated parsers fail with whatever the bad data trips over: KeyError, TypeError,
    # ValueError (JSONDecodeError, UnicodeDecodeError, enums, dates), AttributeError, ...
    except Exception as exc:
        # Neither the text nor the chain of the parser's exception is kept: it can quote a value
        # from the body, and this body may hold a token or a new client secret.
        problem: str | None = type(exc).__name__
        if isinstance(exc, KeyError):
            problem = f"{problem} {exc}"
    else:
        if not isinstance(parsed, typing.get_origin(returns) or returns):
            raise BrokenContract(operation.__name__)
        problem = None
        if not _checker(returns)(parsed):
            problem = "a missing or mistyped field"
        elif check is not None:
            problem = check(parsed)
        if problem is None:
            return parsed
    raise MalformedResponseError(
        f"{response.status_code} response to {_name(response)} does not match the spec ({problem})",
        response=response,
    )


@functools.cache
def _is_list(hint: Any) -> bool:
    return typing.get_origin(hint) is list


def _name(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"


_PLAIN = (str, bool, uuid.UUID, datetime.datetime, Unset, enum.Enum)


#: Types that no JSON value has: the generated parser builds them (`UUID(...)`, `isoparse(...)`,
#: `GrantType(...)`) and fails on anything else, so a field of such a type needs no check.
_BUILT = (uuid.UUID, datetime.datetime, datetime.date, enum.Enum)


def _is_a(hint: Any, kinds: tuple[type, ...]) -> bool:
    """Whether `hint` is a class, and one of `kinds` (a generic such as `list[str]` is not)."""
    return isinstance(hint, type) and issubclass(hint, kinds)


def _built_by_parser(hint: Any) -> bool:
    options = [a for a in typing.get_args(hint) or (hint,) if a is not Unset]
    return all(_is_a(a, _BUILT) for a in options)


@functools.cache
def _checker(hint: Any) -> Callable[[object], bool]:
    """A predicate for "this value has type `hint`", compiled once per type from its annotations
    into one expression: for a model, `isinstance(v, Model) and isinstance(v.name, _1) and ...`.
    Walking the annotations for every value instead cost a third of the parser's own time for
    each item of a list."""
    names: dict[str, object] = {}
    check: Callable[[object], bool] = eval(f"lambda v: {_test(hint, 'v', names)}", names)  # noqa: S307 - our own expression, over our own names
    return check


def _test(hint: Any, var: str, names: dict[str, object]) -> str:
    """The Python expression that tests `var` against `hint`; `names` gets the objects it uses."""

    def name(value: object) -> str:
        names[f"_{len(names)}"] = value
        return f"_{len(names) - 1}"

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        plain = tuple(a for a in args if _is_a(a, _PLAIN))
        tests = [f"isinstance({var}, {name(plain)})"] if plain else []
        tests += [_test(a, var, names) for a in args if a not in plain]
        return f"({' or '.join(tests)})"
    if origin is list:
        return f"(isinstance({var}, list) and all(map({name(_checker(args[0]))}, {var})))"
    if origin is dict:
        return f"isinstance({var}, dict)"
    if hint is Any:
        return "True"
    if hint is int:
        return f"(isinstance({var}, int) and not isinstance({var}, bool))"
    if attrs.has(hint):
        if var != "v":  # a nested model: its own compiled check
            return f"{name(_checker(hint))}({var})"
        # The generated modules import nested models (e.g. GrantOidc) only for type checking.
        hints = typing.get_type_hints(hint, localns=vars(dintero_aio_api.models))
        fields = [
            _test(hints[f.name], f"{var}.{f.name}", names)
            for f in attrs.fields(hint)
            if not _built_by_parser(hints[f.name])
        ]
        return f"(isinstance({var}, {name(hint)}) and {' and '.join(fields or ['True'])})"
    if _is_a(hint, _PLAIN):
        return f"isinstance({var}, {name(hint)})"
    raise TypeError(f"no checker for {hint!r}")  # a new type in the spec: extend this function
