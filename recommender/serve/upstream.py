"""The upstream Ollama servers: one HTTP client, their model lists and loaded models (cached), and
answers passed back to the client as they arrive."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from starlette.types import Receive, Scope, Send

from recommender import ollama_client
from recommender.serve.names import NotServed

# How long a server's model list is trusted. A chat that finds its profile missing looks again at
# once, so a model installed a second ago is used; a model removed is noticed by Ollama's own 404.
LISTING_TTL = 10.0
# How long a server's loaded models (/api/ps) are trusted: residency only breaks close calls, and a
# stale answer costs at most one avoidable load.
PS_TTL = 3.0


class Upstream:
    """One httpx client for every upstream server, with each server's /api/tags and /api/ps cached."""

    def __init__(self, store_tags: Callable[[str, list[dict[str, Any]]], None], *, listing_ttl: float = LISTING_TTL):
        self.store_tags = store_tags
        self.ttl = listing_ttl
        self.client: httpx.AsyncClient | None = None
        self.lock: anyio.Lock | None = None
        self.tags: dict[str, list[dict[str, Any]]] = {}  # host -> the models as /api/tags gave them
        self.fetched: dict[str, float] = {}  # host -> monotonic time of that answer
        self.down: dict[str, str] = {}  # host -> why its model list could not be read
        self.loaded: dict[str, tuple[float, frozenset[str]]] = {}  # host -> (when, models in memory)

    async def start(self) -> None:
        # No overall timeout: a 70B model can take minutes to load before its first token. The
        # connect timeout makes "Ollama is down" quick; the read timeout ends a silent server.
        # TCP_NODELAY: httpx writes a request's headers and body separately; with Nagle's algorithm the
        # body waits for the ACK of the headers, which the server delays (~40 ms on Linux) on every chat.
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(ollama_client.CHAT_READ_TIMEOUT, connect=ollama_client.REACH_TIMEOUT),
            trust_env=False,  # a proxy from the environment must not see local chats
        )
        self.lock = anyio.Lock()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def forget(self) -> None:
        """Read every server's list again on the next request (after an install, or a model gone)."""
        self.fetched.clear()

    def unreachable(self, host: str) -> NotServed:
        return NotServed(502, str(ollama_client.unreachable(host)))

    async def get(self, host: str, path: str, *, timeout: float = ollama_client.REACH_TIMEOUT * 5) -> httpx.Response:
        assert self.client is not None
        try:
            return await self.client.get(host + path, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unreachable(host) from None
        except httpx.HTTPError as exc:
            raise NotServed(502, f"Ollama at {host} did not answer {path}: {type(exc).__name__}") from None

    async def check(self, hosts: tuple[str, ...]) -> list[str]:
        """One line per server that does not answer /api/version now (serve starts anyway)."""
        problems = []
        for host in hosts:
            try:
                response = await self.get(host, "/api/version", timeout=ollama_client.REACH_TIMEOUT)
                if response.status_code != 200:
                    problems.append(f"Ollama at {host} answered HTTP {response.status_code} to /api/version")
            except NotServed as exc:
                problems.append(exc.message)
        return problems

    async def refresh(self, hosts: tuple[str, ...], *, force: bool = False) -> None:
        """Every server's model list, when older than the TTL (or now, with force). A server that
        cannot be asked is remembered in `down` (and asked again after a second); 502 when none can."""
        fresh = not force and all(time.monotonic() - self.fetched.get(h, -1e9) <= self.ttl for h in hosts)
        if not fresh:  # the common case skips the lock
            await self._fetch(hosts, force)
        if all(host in self.down for host in hosts):
            raise NotServed(502, "; ".join(self.down[host] for host in hosts))

    async def _fetch(self, hosts: tuple[str, ...], force: bool) -> None:
        assert self.lock is not None
        async with self.lock:  # concurrent requests share one fetch
            for host in hosts:
                if not force and time.monotonic() - self.fetched.get(host, -1e9) <= self.ttl:
                    continue
                try:
                    models = await self._tags_of(host)
                except NotServed as exc:
                    self.down[host] = exc.message
                    if host not in self.tags:
                        self._store(host, [])
                    self.fetched[host] = time.monotonic() - self.ttl + 1.0
                else:
                    self.down.pop(host, None)
                    self._store(host, models)

    def _store(self, host: str, models: list[dict[str, Any]]) -> None:
        self.tags[host] = models
        self.store_tags(host, models)
        self.fetched[host] = time.monotonic()

    async def _tags_of(self, host: str) -> list[dict[str, Any]]:
        response = await self.get(host, "/api/tags")
        if response.status_code != 200:
            raise NotServed(502, f"Ollama at {host} answered HTTP {response.status_code} to /api/tags")
        try:
            return list(response.json().get("models") or [])
        except (ValueError, AttributeError):
            raise NotServed(502, f"{host} answered /api/tags, but not like an Ollama server") from None

    async def resident(self, host: str) -> frozenset[str]:
        """The models loaded in memory on a server now (its /api/ps, cached PS_TTL seconds); empty when
        it cannot be asked: residency is a tie-breaker, never a reason to fail."""
        cached = self.loaded.get(host)
        if cached is not None and time.monotonic() - cached[0] <= PS_TTL:
            return cached[1]
        models: frozenset[str] = frozenset()
        try:
            response = await self.get(host, "/api/ps", timeout=ollama_client.REACH_TIMEOUT)
            if response.status_code == 200:
                listed = response.json().get("models") or []
                models = frozenset(ollama_client.normal_ref(str(m.get("model") or m.get("name") or ""))
                                   for m in listed if isinstance(m, dict))
        except (NotServed, ValueError, AttributeError):
            pass
        self.loaded[host] = (time.monotonic(), models)
        return models

    async def open(self, host: str, path: str, content: bytes) -> httpx.Response:
        """POST a body on, the answer streamed (its status and headers read, the body not yet)."""
        assert self.client is not None
        request = self.client.build_request("POST", host + path, content=content,
                                            headers={"content-type": "application/json"})
        try:
            return await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self.unreachable(host) from None
        except httpx.TimeoutException:
            raise NotServed(504, f"Ollama at {host} did not start answering in time") from None
        except httpx.HTTPError as exc:
            raise NotServed(502, f"the connection to Ollama at {host} broke: {type(exc).__name__}") from None

    async def read(self, upstream: httpx.Response, host: str) -> bytes:
        try:
            return await upstream.aread()
        except httpx.HTTPError as exc:
            raise NotServed(502, f"the connection to Ollama at {host} broke: {type(exc).__name__}") from None
        finally:
            await upstream.aclose()


def stream_error(openai: bool, message: str) -> bytes:
    """An error inside a stream that has started (the status line has gone: the stream says it)."""
    if openai:
        payload = {"error": {"message": message, "type": "api_error", "param": None, "code": None}}
        return f"data: {json.dumps(payload)}\n\n".encode()
    return (json.dumps({"error": message}) + "\n").encode()


class UpstreamStream:
    """An ASGI response that passes an upstream answer on as it arrives: every complete line as soon
    as it is read (a partial line waits for its end, so an error after it is still a clean line).
    The moment the client goes, the upstream request is closed, which stops Ollama generating."""

    def __init__(self, upstream: httpx.Response, headers: dict[str, str], openai: bool, host: str,
                 open_streams: list[int]):
        self.upstream = upstream
        self.headers = headers
        self.openai = openai
        self.host = host
        self.open_streams = open_streams  # a shared counter: upstream answers being read now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = self.upstream.headers.get("content-type", "application/x-ndjson")
        headers = [(b"content-type", content_type.encode("latin-1"))]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        self.open_streams[0] += 1
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async with anyio.create_task_group() as group:

                async def pump() -> None:
                    await self._pump(send)
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()  # the client left: stop reading from Ollama

                group.start_soon(pump)
                group.start_soon(watch)
        except OSError:
            pass  # the client went away while we wrote to it
        finally:
            await self.upstream.aclose()
            self.open_streams[0] -= 1

    async def _pump(self, send: Send) -> None:
        pending = b""
        try:
            async for piece in self.upstream.aiter_raw():
                pending += piece
                end = pending.rfind(b"\n")
                if end >= 0:
                    await send({"type": "http.response.body", "body": pending[: end + 1], "more_body": True})
                    pending = pending[end + 1:]
            if pending:
                await send({"type": "http.response.body", "body": pending, "more_body": True})
        except httpx.TimeoutException:
            await send({"type": "http.response.body", "more_body": True,
                        "body": stream_error(self.openai, f"Ollama at {self.host} stopped answering mid-answer")})
        except httpx.HTTPError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            await send({"type": "http.response.body", "more_body": True, "body": stream_error(
                self.openai, f"the connection to Ollama at {self.host} broke mid-answer: {reason}")})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
