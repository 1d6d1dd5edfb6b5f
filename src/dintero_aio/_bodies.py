"""Response bodies with a size limit on what they decode to, so memory stays flat.

Dintero's bodies are kilobytes. A misbehaving server or proxy can send far more: a body of
hundreds of megabytes, an endless chunked body, or a small gzip body that inflates to gigabytes.
httpx reads a whole body into memory and inflates each network chunk in one step, so this is done
here, by an httpx `response` event hook that runs for every response (token, API, 401 before a
replay, through a proxy) before its body is read: the body is decoded with a bounded output per
step and counted. A 2xx body past the limit raises `ResponseTooLargeError`; an error body is cut at
the limit (it is only evidence; the status decides the error). Either way no more is read.

A hook rather than a transport wrapper (issue 20 weighed both): the hook sees every response of
every transport, a user's `transport=`, each proxy mount and the aiohttp backend's included, with
nothing to wrap; a wrapper would have to be put around each of them, and around the default
transport only at the price of httpx no longer reading the proxy variables.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx

from ._errors import MalformedResponseError, ResponseTooLargeError

#: What the SDK decodes, and so what it asks for (httpx would add br/zstd when installed).
ACCEPT_ENCODING = "gzip, deflate"
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_STEP = 64 * 1024  # the most one decompression step may produce


def limit_hook(max_bytes: int) -> Callable[[httpx.Response], Awaitable[None]]:
    """The event hook that bounds every response of a client to `max_bytes` decoded bytes."""

    async def bound(response: httpx.Response) -> None:
        if response.is_stream_consumed:  # an in-memory transport built it already read
            if len(response.content) > max_bytes and response.is_success:
                raise Rejected(
                    response, f"its body is longer than {max_bytes} bytes", too_large=True
                )
            return
        encodings = response.headers.get_list("content-encoding", split_commas=True)
        if encodings:
            del response.headers["content-encoding"]  # decoded here; httpx must not decode again
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _Bounded(response, response.stream, encodings, max_bytes)

    return bound


class _Bounded(httpx.AsyncByteStream):
    def __init__(
        self,
        response: httpx.Response,
        raw: httpx.AsyncByteStream,
        encodings: list[str],
        max_bytes: int,
    ) -> None:
        self._response = response
        self._raw = raw
        self._decoders = _decoders(encodings)
        self._max_bytes = max_bytes

    # An iterator object rather than an async generator: a generator left suspended (a caller
    # that stops reading) would be closed later by asyncio in a task of its own, after aclose().
    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._raw.__aiter__()
        self._pieces: Iterator[bytes] = iter(())
        self._left = self._max_bytes
        return self

    async def __anext__(self) -> bytes:
        while self._left >= 0:
            try:
                piece = next(self._pieces)
            except StopIteration:
                self._pieces = _decoded(self._decoders, await self._chunks.__anext__())
                continue
            except zlib.error:
                self._left = -1
                self._fail("its Content-Encoding could not be decoded", too_large=False)
                break
            if len(piece) > self._left:
                piece, self._left = piece[: self._left], -1
                self._fail(f"its body is longer than {self._max_bytes} bytes", too_large=True)
                return piece
            self._left -= len(piece)
            return piece
        raise StopAsyncIteration

    async def aclose(self) -> None:
        chunks = getattr(self, "_chunks", None)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
        await self._raw.aclose()

    def _fail(self, why: str, *, too_large: bool) -> None:
        """Raise for a 2xx (its body is the result); an error body just ends here."""
        if self._response.is_success:
            raise Rejected(self._response, why, too_large=too_large)


class Rejected(Exception):
    """A 2xx body refused by the hook; `error()` is what the caller gets for it."""

    def __init__(self, response: httpx.Response, why: str, *, too_large: bool) -> None:
        super().__init__(why)
        self.why = why
        self.too_large = too_large
        self.status_code = response.status_code
        self.headers = response.headers
        self.request = response.request

    def error(self) -> MalformedResponseError:
        evidence = httpx.Response(self.status_code, headers=self.headers, request=self.request)
        if self.too_large:
            return ResponseTooLargeError(
                f"{self.status_code} response from Dintero refused: {self.why} "
                "(raise max_response_bytes if such answers are expected)",
                response=evidence,
            )
        return MalformedResponseError(
            f"{self.status_code} response from Dintero refused: {self.why}", response=evidence
        )


def _decoders(encodings: list[str]) -> list[zlib._Decompress]:
    """zlib decoders for the encodings in the order they must run (the last applied first);
    none for identity, and none at all if one is unknown: that body passes through as it came,
    and will not parse."""
    decoders = []
    for name in reversed([e.strip().lower() for e in encodings]):
        if name in ("gzip", "x-gzip"):
            decoders.append(zlib.decompressobj(zlib.MAX_WBITS | 16))
        elif name == "deflate":
            decoders.append(zlib.decompressobj(zlib.MAX_WBITS | 32))  # zlib (or gzip) framing
        elif name != "identity":
            return []
    return decoders


def _decoded(decoders: list[zlib._Decompress], data: bytes) -> Iterator[bytes]:
    """`data` through every decoder, lazily, no step producing more than `_STEP` bytes: the
    caller stops pulling at the limit, so a bomb is never inflated past it."""
    if not decoders:
        if data:
            yield data
        return
    decoder, rest = decoders[0], decoders[1:]
    while data:
        out = decoder.decompress(data, _STEP)
        if not out:
            return  # all input taken in, nothing more to give until the next chunk
        yield from _decoded(rest, out)
        data = decoder.unconsumed_tail
