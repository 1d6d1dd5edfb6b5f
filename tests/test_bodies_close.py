"""Closing a bounded body closes what it reads from at once, not when asyncio finalizes it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from dintero_aio import _bodies as bodies


class RecordingStream(httpx.AsyncByteStream):
    """A network stream that records whether its iterator and the stream itself were closed."""

    def __init__(self) -> None:
        self.iterator_closed = False
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for _ in range(3):
                yield b"x" * 10
        finally:
            self.iterator_closed = True

    async def aclose(self) -> None:
        self.closed += 1


async def bounded(raw: RecordingStream, status: int = 200) -> httpx.AsyncByteStream:
    request = httpx.Request("GET", "https://api.dintero.com/v1/x")
    response = httpx.Response(status, stream=raw, request=request)
    await bodies.limit_hook(1000)(response)
    assert isinstance(response.stream, httpx.AsyncByteStream)
    return response.stream


async def test_closing_a_partly_read_body_closes_the_raw_iterator_and_stream() -> None:
    raw = RecordingStream()
    stream = await bounded(raw)
    chunks = stream.__aiter__()
    assert await chunks.__anext__() == b"x" * 10
    assert not raw.iterator_closed
    await stream.aclose()
    assert raw.iterator_closed  # now, not at garbage collection in a task of asyncio's own
    assert raw.closed == 1


async def test_closing_an_unread_body_closes_the_raw_stream() -> None:
    raw = RecordingStream()
    stream = await bounded(raw)
    await stream.aclose()
    assert (raw.iterator_closed, raw.closed) == (False, 1)


async def test_a_body_read_to_its_end_is_whole_and_closes_once() -> None:
    raw = RecordingStream()
    stream = await bounded(raw, status=500)
    assert b"".join([chunk async for chunk in stream]) == b"x" * 30
    await stream.aclose()
    assert raw.iterator_closed
    assert raw.closed == 1
