"""Connections: uvicorn with the timeouts and caps it lacks.

uvicorn (0.55, h11) gives a keep-alive timeout (`timeout_keep_alive`, between requests), a cap on
header size (h11's 16 KB incomplete-event limit) and `limit_concurrency` — which answers 503 to
*every* request once that many connections are open, so stalled connections would lock real clients
out: not used here. It has no timeout for a request that never finishes arriving (its issue #157):
the keep-alive timer is cancelled by the first byte, so a client that trickles its headers, or
sends none, holds a connection forever (slowloris). GuardedH11 adds:

- a deadline for a request's head (HEAD_TIMEOUT from the connection or from the first byte of the
  next request on it) and for its body (BODY_TIMEOUT after the head): past it, the connection closes;
- a cap on open connections: past it, the connection that has waited longest for a request head is
  closed to make room (a request being read or answered is never the one closed);
and `run` raises the soft RLIMIT_NOFILE to the hard limit, so the cap, not the file limit, decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import h11
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT = 10.0  # seconds for a request line and headers (Go servers commonly use 10-30 s)
BODY_TIMEOUT = 60.0  # seconds for the body after the head (32 MB at ~0.5 MB/s)
# Seconds an idle connection stays open between requests: longer than the idle expiry of the usual
# clients (httpx, and so the ollama and openai Python clients, 5 s; Node's undici 4 s; Go 90 s), so
# the client always closes first. At uvicorn's default of 5 s, a client reusing a connection idle for
# ~5 s raced the server's close and lost its request (1-4 in 1,500 streamed chats here). Ollama itself
# never closes an idle connection; the connection cap closes idle ones first when room is needed.
KEEP_ALIVE_TIMEOUT = 120
MAX_CONNECTIONS = 4096
RESERVED_FILES = 128  # file descriptors kept for upstream connections, the log, the models


def raise_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the soft limit now (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


def connection_cap(file_limit: int) -> int:
    """Open client connections allowed: each may hold an upstream connection too (two descriptors)."""
    if file_limit <= 0:
        return MAX_CONNECTIONS
    return max(32, min(MAX_CONNECTIONS, (file_limit - RESERVED_FILES) // 2))


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with request deadlines and a cap on open connections (see the module)."""

    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None  # waiting for a request head since (loop time)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_head()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._waiting_since = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._expect_head()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._waiting_since is not None:
            self._waiting_since = None
            self._arm(self.body_timeout)
        elif state is h11.DONE or state is h11.MUST_CLOSE or state is h11.CLOSED:
            self._waiting_since = None
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Now idle between requests: uvicorn's keep-alive timer runs; the head deadline starts with
        # the next request's first byte (data_received).
        if self.conn.their_state is h11.IDLE and self._deadline is None:
            self._waiting_since = self.loop.time()

    def _expect_head(self) -> None:
        self._waiting_since = self.loop.time()
        self._arm(self.head_timeout)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        """Close the connection that has waited longest for a request head (this one if none other)."""
        waiting = [c for c in self.connections if isinstance(c, GuardedH11) and c is not self
                   and c._waiting_since is not None and not c.transport.is_closing()]
        victim: GuardedH11 = min(waiting, key=lambda c: c._waiting_since or 0.0) if waiting else self
        victim._waiting_since = None
        victim._disarm()
        victim.transport.close()


def run(app: ASGIApp, sock: socket.socket, *, max_connections: int | None = None) -> None:
    """Serve on a bound socket until Ctrl-C."""
    import uvicorn

    GuardedH11.max_connections = max_connections or connection_cap(raise_file_limit())
    uvicorn.Server(config(app)).run(sockets=[sock])


def config(app: ASGIApp, **overrides: Any) -> Any:
    import uvicorn

    settings: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "on",
                                "timeout_graceful_shutdown": 5, "http": GuardedH11,
                                "timeout_keep_alive": KEEP_ALIVE_TIMEOUT}
    settings.update(overrides)
    return uvicorn.Config(app, **settings)
