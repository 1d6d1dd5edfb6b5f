"""The emulator's optional limit on token requests (`Emulator(token_rate_limit=...)`).

Dintero documents `429 Too Many Requests` with `Retry-After` on Get Token but publishes no
numbers, so the form is ours: at most N admitted requests per account in any rolling second.
A rolling window (a log of admission times), not a token bucket, because it has no burst
allowance to explain: N requests in one instant pass, the next one waits until the oldest of
them is a second old. Refused requests do not count against the limit, as at most gateways, so
clients that back off for `Retry-After` get through.
"""

from __future__ import annotations

import math
import threading
from collections import deque

WINDOW = 1.0
"""Seconds of the rolling window."""


class RollingWindow:
    """At most `limit` admissions per key in any `WINDOW` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, key: str, limit: int, now: float) -> int | None:
        """None if the request is admitted (and recorded); else the whole seconds to wait,
        at least 1, for `Retry-After`."""
        with self._lock:
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return None
            # The request `limit` places back must leave the window before another fits (the
            # limit may have been lowered since, leaving more than `limit` in it).
            return max(1, math.ceil(times[-limit] + WINDOW - now))
