"""Checks on what callers pass in, so bad input fails loudly before any request is sent.

Text must also survive the trip to the wire: a lone surrogate (or a non-UTF-8 byte smuggled in
through `os.environ`) cannot be encoded, and httpx would raise `UnicodeEncodeError` mid-request.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import InvalidInputError

if TYPE_CHECKING:
    from dintero_aio_api.models import GrantType

# Dintero's pattern for `oid`, ^[PT]{1}(?=(?:.{3}|.{8})$)[0-9]*$, without the lookahead.
_ACCOUNT_ID = re.compile(r"[PT](?:[0-9]{3}|[0-9]{8})")
#: A merchant account (sub-account) in an exchange: always 8 digits.
_MERCHANT_ID = re.compile(r"[PT][0-9]{8}")
#: Longer than any real timeout; keeps every deadline a finite float.


@functools.cache
def grant_types() -> tuple[str, ...]:
    """Dintero's grant types (`Grant.type`), read from the generated enum on first use."""
    from dintero_aio_api.models import GrantType

    return tuple(kind.value for kind in GrantType)


def _shown(value: object) -> str:
    """`value` quoted for a message if it is printable text (never a secret here), else vague."""
    return repr(value)[:80] if isinstance(value, str) and value.isprintable() else "another value"


def account_id(value: object) -> str:
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise InvalidInputError(
            f"account_id must be 'P' or 'T' followed by 3 or 8 digits, e.g. 'T12345678'; "
            f"got {_shown(value)}"
        )
    return value


def merchant_account_id(value: object, partner_id: str) -> str:
    """A partner's merchant account: P or T and 8 digits (Dintero's `Exchange.account_id`),
    and not the partner's own account (which its own token already reaches)."""
    if not isinstance(value, str) or not _MERCHANT_ID.fullmatch(value):
        raise InvalidInputError(
            "a merchant account id must be 'P' or 'T' followed by 8 digits, e.g. 'T12345678'; "
            f"got {_shown(value)}"
        )
    if value == partner_id:
        raise InvalidInputError(
            f"{value} is this instance's own account; use the instance itself, not for_account()"
        )
    return value


def _encodable(name: str, value: str) -> str:
    # Raised after the handler, not chained: UnicodeEncodeError.object is the whole value,
    # which may be a secret.
    if value.isascii():  # the common case, without encoding a copy
        return value
    try:
        value.encode()
        return value
    except UnicodeEncodeError:
        pass
    raise InvalidInputError(f"{name} is not valid text (it cannot be encoded as UTF-8)")


def text(name: str, value: object) -> str:
    """A required, non-empty string (the value is not echoed: it may be a secret)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string")
    return _encodable(name, value)


def credential(name: str, value: object) -> str:
    """A client id or secret, exactly as issued: a secret read from a file with its newline, or
    a `client_id` that was never set (`UNSET`, from a client created without one), would fail
    at Dintero as a bare 401; here it is refused, saying why, and never shown."""
    if type(value).__name__ == "Unset":
        raise InvalidInputError(
            f"{name} is UNSET: a client created without a client_id logs in with the client_id "
            "that Dintero's answer carries (created.client.client_id), or its id"
        )
    checked = text(name, value)
    if checked != checked.strip():
        raise InvalidInputError(
            f"{name} has white space (a newline, say) at its start or end; pass it exactly as "
            "issued, e.g. Path(file).read_text().strip()"
        )
    return checked


def token_cache(value: object) -> Any:
    """The `token_cache=` argument: None, or an object with the `TokenCache` protocol's methods."""
    from ._token_cache import TokenCache

    if value is None or isinstance(value, TokenCache):  # the protocol is runtime-checkable
        return value
    raise InvalidInputError(
        f"token_cache must be a TokenCache, e.g. RedisTokenCache(redis), got {type(value).__name__}"
    )


def optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    return _encodable(name, value)


def string_list(name: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{name} must be a list of strings, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise InvalidInputError(f"{name} must contain only strings")
    return [_encodable(name, item) for item in value]


def client_uuid(value: object, what: str = "client") -> uuid.UUID:
    """A client's (or grant's) `id`: a `uuid.UUID` or any string `uuid.UUID()` accepts."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidInputError(f"a {what} id must be a UUID, got {_shown(value)}")


def granted_client(value: object) -> str:
    """The `client_id` of a grant: the client's `id` (its uuid), from the client or its id.

    Dintero's partner guide: "use the id from the previous step as the client_id value"; the
    client's own `client_id` string is a different thing, and the usual mistake."""
    from dintero_aio_api.models import ClientInfo, ClientWithSecret

    if isinstance(value, (ClientInfo, ClientWithSecret)):
        return str(value.id)
    try:
        return str(client_uuid(value))
    except InvalidInputError:
        raise InvalidInputError(
            "client_id must be the client's id (a UUID) or the client object itself "
            f"(ClientInfo, ClientWithSecret), not the client's client_id; got {_shown(value)}"
        ) from None


def audience(value: object) -> str:
    """A token audience: an https URL, or http to a loopback host (the emulator). Kept as given:
    Dintero compares audiences as strings."""
    return _web_url("audience", value, plain=False)


def scopes(value: object) -> list[str]:
    """A grant's scopes: a non-empty list (or other sequence) of non-empty strings."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(
            f"scopes must be a list of strings, e.g. ['admin:accounts'], got {type(value).__name__}"
        )
    if not value:
        raise InvalidInputError("scopes must name at least one scope")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise InvalidInputError("scopes must contain only non-empty strings")
    return [_encodable("scopes", item) for item in value]


def grant_type(value: object) -> GrantType:
    """A grant's `type`: a `GrantType` or its value."""
    from dintero_aio_api.models import GrantType

    if isinstance(value, str) and value in grant_types():
        return GrantType(value)
    raise InvalidInputError(f"type must be one of {', '.join(grant_types())}; got {_shown(value)}")


def base_url(value: object, *, insecure_ok: bool = False) -> str:
    """`https://...`, or `http://` to a loopback host (the emulator, tests), or with `insecure_ok`
    to any host. No trailing slash."""
    return _web_url("base_url", value, plain=True, insecure_ok=insecure_ok).rstrip("/")


def _web_url(name: str, value: object, *, plain: bool, insecure_ok: bool = False) -> str:
    """An https URL, or http to a loopback host; `plain`: no query or fragment either.

    The value is never echoed: a mistaken one may carry a password (user:pass@host)."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string (an https URL)")
    _encodable(name, value)
    try:
        url = httpx.URL(value)
        host = url.host  # decoded lazily: an invalid IDNA name fails here
    except (httpx.InvalidURL, ValueError):  # idna.IDNAError is a ValueError
        host = None  # raised below, unchained: the exception may quote the URL
    if host is None:
        raise InvalidInputError(f"{name} is not a valid URL")
    if not host or url.userinfo or (plain and (url.query or url.fragment)):
        raise InvalidInputError(
            f"{name} must be a plain URL: a host, no user:password@"
            + (", no query or fragment" if plain else "")
        )
    if url.scheme == "http" and (insecure_ok or is_loopback(host)):
        return value
    if url.scheme != "https":
        hint = ", or allow_insecure_http=True for a trusted network" if name == "base_url" else ""
        raise InvalidInputError(
            f"{name} must use https:// (http:// only to a loopback host such as 127.0.0.1{hint})"
        )
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def byte_count(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise InvalidInputError(f"{name} must be a positive whole number of bytes")


def flag(name: str, value: object) -> bool:
    """True or False, nothing else: a truthy "no" must not turn a setting on."""
    if isinstance(value, bool):
        return value
    raise InvalidInputError(f"{name} must be True or False, got {type(value).__name__}")


def ssl_context(value: object) -> ssl.SSLContext | None:
    if value is None or isinstance(value, ssl.SSLContext):
        return value
    raise InvalidInputError(
        f"ssl_context must be an ssl.SSLContext or None, got {type(value).__name__}"
    )
