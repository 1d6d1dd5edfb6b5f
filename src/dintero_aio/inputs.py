"""Checks on what callers pass in, so bad input fails loudly before any request is sent."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence

import httpx

from .errors import InvalidInputError
from .retry import RetryPolicy

# Dintero's pattern for `oid`, ^[PT]{1}(?=(?:.{3}|.{8})$)[0-9]*$, without the lookahead.
_ACCOUNT_ID = re.compile(r"[PT](?:[0-9]{3}|[0-9]{8})")


def account_id(value: object) -> str:
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise InvalidInputError(
            "account_id must be 'P' or 'T' followed by 3 or 8 digits, e.g. 'T12345678'; "
            f"got {value!r}"
        )
    return value


def text(name: str, value: object) -> str:
    """A required, non-empty string (the value is not echoed: it may be a secret)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string")
    return value


def optional_text(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    return value


def string_list(name: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{name} must be a list of strings, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise InvalidInputError(f"{name} must contain only strings")
    return list(value)


def client_uuid(value: object) -> uuid.UUID:
    """A client's `id`: a `uuid.UUID` or any string `uuid.UUID()` accepts."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidInputError(f"a client id must be a UUID, got {value!r}")


def base_url(value: object) -> str:
    """`https://...`, or `http://` to a loopback host (the emulator, tests). No trailing slash."""
    if not isinstance(value, str):
        raise InvalidInputError("base_url must be a string")
    # The URL itself is never echoed: a mistaken one may carry a password (user:pass@host).
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise InvalidInputError("base_url is not a valid URL") from exc
    if not url.host or url.userinfo or url.query or url.fragment:
        raise InvalidInputError("base_url must be a plain URL: a host, no credentials, no query")
    if url.scheme != "https" and not (url.scheme == "http" and _is_loopback(url.host)):
        raise InvalidInputError(
            f"base_url must use https:// (http:// only to a loopback host), got {url.scheme}://{url.host}"
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def timeout(value: object) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return httpx.Timeout(float(value))
    raise InvalidInputError(
        f"timeout must be a positive number of seconds or an httpx.Timeout, got {value!r}"
    )


def retry_policy(value: object) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if not isinstance(value, RetryPolicy):
        raise InvalidInputError(f"retry must be a RetryPolicy, got {type(value).__name__}")
    return value
