"""`python -m dintero_aio.testing serve` with one change: the server keeps an idle connection
open for SERVER_KEEP_ALIVE seconds instead of uvicorn's default 5 s.

Why: httpx also drops idle pooled connections after 5 s (`keepalive_expiry`). With both at 5 s,
a client that reuses a connection after about 5 s idle can send its request just as the server
closes that connection; the request then meets a reset and fails with `httpx.ReadError` (a
create is not retried: it may have been processed). Loopback stage blocks alternate sides, so
each side's pool sits idle for two of the other side's blocks, which took about 5 s: that is how
the first full `make bench` run crashed on the raw side. A real server (a load balancer in front
of Dintero) keeps idle connections far longer than a client pool does, so the client always
drops them first; here that is so too, and neither side's client is changed.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from dintero_aio.testing.__main__ import main

SERVER_KEEP_ALIVE = 60  # seconds; longer than httpx's 5 s keepalive_expiry, and than any block

_config_init = uvicorn.Config.__init__


def _init(self: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("timeout_keep_alive", SERVER_KEEP_ALIVE)
    _config_init(self, *args, **kwargs)


uvicorn.Config.__init__ = _init  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
