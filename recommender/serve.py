"""`taskprof serve`: task profiles as models for any Ollama or OpenAI client, each chat routed.

The server speaks a subset of Ollama's API (`/`, `/api/version`, `/api/tags`, `/api/show`,
`/api/ps`, `/api/chat`, `/api/generate`) and the OpenAI-compatible `/v1/models` and
`/v1/chat/completions`. Besides the real models it lists virtual ones:

    taskprof/auto                 each request routed by its latest user message (Session.decide)
    taskprof/<profile>            that profile's installed model, the tier that fits first
    taskprof/<profile>:fast       that tier only (and :quality)

A virtual name is resolved once per request through the core (`decide`, `installed_model`,
`host(tier)`), the body is sent on with the real model's name, and the answer comes back as the
upstream Ollama sends it, chunk by chunk, with the real model in `model` and the profile in the
`X-Taskprof-Profile` header. Requests for real models go through byte for byte. `/v1` requests go
to Ollama's own OpenAI-compatible endpoint, so the translation is Ollama's, not a copy of it.

Starlette, uvicorn and httpx are imported by this module only, and this module only by the serve
command: `import recommender` and `taskprof suggest` never load them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from recommender import ollama_client as installer
from recommender.api import Taskprof as Session
from recommender.classifier import FALLBACK_PROFILE
from recommender.encoder import MAX_CHARS
from recommender.errors import InputError, InstallRefused, ProfileError, TaskprofError
from recommender.types import TIERS, Decision

PREFIX = "taskprof/"
AUTO = "auto"
DEFAULT_LISTEN = "127.0.0.1:11435"
MAX_BODY_BYTES = 32 * 1024 * 1024
# How long a server's model list is trusted. A chat that finds its profile missing looks again at
# once, so a model installed a second ago is used; a model removed is noticed by Ollama's own 404.
LISTING_TTL = 10.0
PROFILE_HEADER = "X-Taskprof-Profile"
TIER_HEADER = "X-Taskprof-Tier"
VERSION_FALLBACK = "0.0.0"


# --- names -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Virtual:
    """A parsed virtual model name: `profile` None means auto, `tier` None means "the one that fits"."""

    profile: str | None
    tier: str | None

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.profile or AUTO}:{self.tier or 'latest'}"


class NotServed(Exception):
    """A request this server answers with an error status (the endpoint decides the error's shape)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_virtual(name: str) -> Virtual | None:
    """`taskprof/...` names; None for a real model. An unknown tag is an error, not a real model."""
    if not name.startswith(PREFIX):
        return None
    base, _, tag = name[len(PREFIX):].partition(":")
    tier = None if tag in ("", "latest") else tag
    if tier is not None and tier not in TIERS:
        raise NotServed(404, f"model '{name}' not found: a taskprof model's tag is latest, fast or quality")
    if base == AUTO:
        if tier is not None:
            raise NotServed(404, f"model '{name}' not found: taskprof/auto picks the tier itself")
        return Virtual(None, None)
    return Virtual(base, tier)


def latest_user_text(body: dict[str, Any], *, generate: bool = False) -> str:
    """What routing reads: the latest user message (or a generate prompt), capped at what the
    classifier reads. Content may be a string or a list of parts (OpenAI: {"type": "text", ...})."""
    if generate:
        prompt = body.get("prompt")
        return prompt[:MAX_CHARS] if isinstance(prompt, str) else ""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content[:MAX_CHARS]
        if isinstance(content, list):
            parts, size = [], 0
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    parts.append(text[: MAX_CHARS - size])
                    size += len(parts[-1])
                    if size >= MAX_CHARS:
                        break
            return " ".join(parts)
        return ""
    return ""


# --- the listen address ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name other than localhost may resolve to anything

    @property
    def url(self) -> str:
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """HOST:PORT, :PORT (loopback), [v6]:PORT, or a bare HOST (port 11435)."""
    raw = text.strip()
    host, port = raw, "11435"
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InputError(f"--listen '{text}': a bracketed IPv6 address needs its ']'")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"--listen '{text}': expected [ADDRESS]:PORT")
            port = rest[1:]
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    elif raw.count(":") > 1:
        raise InputError(f"--listen '{text}': write an IPv6 address in brackets, e.g. [::1]:11435")
    host = host or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"--listen '{text}': the port must be a number from 0 to 65535")
    return Listen(host, int(port))


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound before the server starts so that a taken port is a one-line error."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    # proto named, not 0: asyncio turns Nagle's algorithm off only on sockets whose proto is TCP, and
    # with it on, every response whose headers and body are written apart waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise TaskprofError(f"cannot listen on {listen.url}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


# --- the session, with model lists refreshed by the event loop ----------------------------------


class ServeSession(Session):
    """A long-lived Session: the server fetches each Ollama's /api/tags itself (async, with a TTL) and
    hands the result to the core's listing cache, so `installed_model` and friends see it."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.tags: dict[str, list[dict[str, Any]]] = {}  # host -> the models as /api/tags gave them
        self.fetched: dict[str, float] = {}  # host -> monotonic time of that answer

    @cached_property
    def classifier(self) -> Any:
        return _RoutingClassifier(Session.classifier.func(self))

    def store_tags(self, host: str, models: list[dict[str, Any]]) -> None:
        parsed = {}
        for m in models:
            ref = installer.normal_ref(str(m.get("model") or m.get("name") or ""))
            parsed[ref] = installer.InstalledModel(ref, int(m.get("size") or 0), str(m.get("digest") or ""),
                                                   str(m.get("modified_at") or ""))
        self.tags[host] = models
        self._listings[host] = parsed
        self.fetched[host] = time.monotonic()

    def stale(self, host: str, ttl: float) -> bool:
        return time.monotonic() - self.fetched.get(host, -1e9) > ttl


class _RoutingClassifier:
    """The session's classifier without the nearest training examples, which `suggest` shows as reasons
    and a routed chat never does: they cost ~24 ms a text, the rest of the prediction ~0.1 ms. The
    profile, confidence and abstention are the same."""

    def __init__(self, inner: Any):
        self._inner = inner

    def predict(self, texts: list[str], *, similar: int = 0) -> Any:
        return self._inner.predict(texts, similar=0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass(frozen=True)
class Routed:
    """Where one request goes."""

    model: str  # the real model
    host: str
    profile: str | None = None  # None: a real model, passed through
    tier: str | None = None
    decision: Decision | None = None
    note: str | None = None

    def headers(self) -> dict[str, str]:
        if self.profile is None:
            return {}
        return {PROFILE_HEADER: self.profile, TIER_HEADER: self.tier or ""}


# --- the use log, off the event loop ----------------------------------------------------------


class UseLog:
    """Routed chats become uses in the usage log, written by one thread so SQLite never blocks a stream."""

    def __init__(self, session: Session, on_event: Callable[[str], None]):
        self.session = session
        self.on_event = on_event
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="taskprof-uses", daemon=True)
        self.thread.start()

    def add(self, **event: Any) -> None:
        self.queue.put(event)

    def _run(self) -> None:
        while (event := self.queue.get()) is not None:
            try:
                self.session.record("chat", **event)
                for message in self.session.drain_warnings():
                    self.on_event(f"Warning: {message}")
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def flush(self) -> None:
        self.queue.join()

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)


# --- background installs (auto_install) -------------------------------------------------------


class Installs:
    """`config set auto_install true`: a chat that needs a missing profile starts its install, once."""

    def __init__(self, session: ServeSession, on_event: Callable[[str], None]):
        self.session = session
        self.on_event = on_event
        self.running: set[str] = set()
        self.lock = threading.Lock()

    def enabled(self) -> bool:
        return bool(self.session.settings.get("auto_install"))

    def start(self, profile: str) -> str:
        """Start (or find running) an install; returns the tier it installs."""
        tier = str(self.session.settings.get("auto_install_tier", "fast"))
        with self.lock:
            if profile in self.running:
                return tier
            self.running.add(profile)
        threading.Thread(target=self._install, args=(profile, tier), daemon=True,
                         name=f"taskprof-install-{profile}").start()
        return tier

    def _install(self, profile: str, tier: str) -> None:
        # Its own Session: an install reads and writes state the serving session must not see half-done.
        core = Session(host=self.session.host_flag, log=self.session.log)
        try:
            self.on_event(f"auto-install: pulling the {tier} tier of {profile}")
            outcome = core.install(core.plan_install([profile], tier))
            if outcome.ok:
                self.on_event(f"auto-install: {profile} ({tier}) is installed")
            else:
                why = "; ".join(f"{ref}: {reason}" for ref, reason in outcome.failed.items())
                self.on_event(f"auto-install of {profile} failed: {why or 'not every model was pulled'}")
        except TaskprofError as exc:
            self.on_event(f"auto-install of {profile} failed: {exc}")
        finally:
            for message in core.drain_warnings():
                self.on_event(f"Warning: {message}")
            with self.lock:
                self.running.discard(profile)
            self.session.fetched.clear()  # look at the servers again on the next request


# --- the app -------------------------------------------------------------------------------------


class Gate:
    """ASGI middleware in front of everything: the key (when one is set) and the body limit."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body: int):
        self.app = app
        self.expected = api_key.encode("utf-8") if api_key else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        openai = scope["path"].startswith("/v1/")
        headers = dict(scope["headers"])
        if self.expected is not None and not self._authorized(headers.get(b"authorization", b"")):
            response = error_response(openai, 401, "unauthorized: send the key as 'Authorization: Bearer <key>'")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            await error_response(openai, 413, self._too_big())(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _authorized(self, header: bytes) -> bool:
        scheme, _, token = header.partition(b" ")
        # compare_digest takes the same time wherever the first difference is; an empty or wrong
        # scheme still goes through one comparison so that timing says nothing about the key either.
        same = hmac.compare_digest(token.strip(), self.expected or b"")
        return same and scheme.lower() == b"bearer"

    def _too_big(self) -> str:
        return f"request body too large: the limit is {self.max_body // (1024 * 1024)} MB"

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise NotServed(413, self._too_big())
            return message

        return wrapped


def error_response(openai: bool, status: int, message: str) -> JSONResponse:
    """An error as Ollama writes it: {"error": "..."} on /api, OpenAI's object on /v1."""
    if openai:
        kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                413: "request_too_large"}.get(status, "api_error")
        return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}},
                            status_code=status)
    return JSONResponse({"error": message}, status_code=status)


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


class Server:
    """The request handlers, over one ServeSession and one HTTP client for the upstream servers."""

    def __init__(self, session: ServeSession, *, on_event: Callable[[str], None] | None = None,
                 listing_ttl: float = LISTING_TTL):
        self.session = session
        self.on_event = on_event or (lambda message: None)
        self.ttl = listing_ttl
        self.client: httpx.AsyncClient | None = None
        self.uses = UseLog(session, self.on_event)
        self.installs = Installs(session, self.on_event)
        self.refresh_lock: anyio.Lock | None = None
        self.down: dict[str, str] = {}  # host -> why its model list could not be read
        self.open_streams = [0]  # upstream answers being passed on right now

    # -- life cycle ----------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the classifier, settings and machine facts before the first request needs them."""
        self.session.decide("write a function that parses a date")
        self.session.catalogue  # noqa: B018  a cached property: loading it is the point

    async def startup(self) -> None:
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
            timeout=httpx.Timeout(installer.CHAT_READ_TIMEOUT, connect=installer.REACH_TIMEOUT),
            trust_env=False,  # a proxy from the environment must not see local chats
        )
        self.refresh_lock = anyio.Lock()

    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await anyio.to_thread.run_sync(self.uses.close)

    # -- upstream ------------------------------------------------------------------------------

    def _unreachable(self, host: str) -> NotServed:
        return NotServed(502, str(installer.unreachable(host)))

    async def _get(self, host: str, path: str) -> httpx.Response:
        assert self.client is not None
        try:
            return await self.client.get(host + path, timeout=installer.REACH_TIMEOUT * 5)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self._unreachable(host) from None
        except httpx.HTTPError as exc:
            raise NotServed(502, f"Ollama at {host} did not answer {path}: {type(exc).__name__}") from None

    async def refresh(self, *, force: bool = False) -> None:
        """Every server's model list, when older than the TTL (or now, with force). A server that
        cannot be asked is remembered in `down` (and asked again after a second); 502 when none can."""
        assert self.refresh_lock is not None
        hosts = self.session.hosts
        async with self.refresh_lock:  # concurrent requests share one fetch
            for host in hosts:
                if not force and not self.session.stale(host, self.ttl):
                    continue
                try:
                    models = await self._tags_of(host)
                except NotServed as exc:
                    self.down[host] = exc.message
                    if host not in self.session.tags:
                        self.session.store_tags(host, [])
                    self.session.fetched[host] = time.monotonic() - self.ttl + 1.0
                else:
                    self.down.pop(host, None)
                    self.session.store_tags(host, models)
        if all(host in self.down for host in hosts):
            raise NotServed(502, "; ".join(self.down[host] for host in hosts))

    async def _tags_of(self, host: str) -> list[dict[str, Any]]:
        response = await self._get(host, "/api/tags")
        if response.status_code != 200:
            raise NotServed(502, f"Ollama at {host} answered HTTP {response.status_code} to /api/tags")
        try:
            return list(response.json().get("models") or [])
        except (ValueError, AttributeError):
            raise NotServed(502, f"{host} answered /api/tags, but not like an Ollama server") from None

    async def _open(self, routed: Routed, path: str, content: bytes) -> httpx.Response:
        assert self.client is not None
        request = self.client.build_request("POST", routed.host + path, content=content,
                                            headers={"content-type": "application/json"})
        try:
            return await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self._unreachable(routed.host) from None
        except httpx.TimeoutException:
            raise NotServed(504, f"Ollama at {routed.host} did not start answering in time") from None
        except httpx.HTTPError as exc:
            raise NotServed(502, f"the connection to Ollama at {routed.host} broke: {type(exc).__name__}") from None

    # -- routing -------------------------------------------------------------------------------

    def _virtual_profiles(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Profiles with something installed: profile -> tier -> (model, host), from the cached lists."""
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for p in self.session.catalogue.values():
            for m in p.models:
                host = self.session.host(m.tier)
                if m.ref in self.session.listing(host):
                    out.setdefault(p.name, {})[m.tier] = (m.ref, host)
        return out

    def _real_host(self, name: str) -> str:
        ref = installer.normal_ref(name)
        for host in self.session.hosts:
            if ref in self.session.listing(host):
                return host
        return self.session.host("fast")

    async def route(self, name: Any, text: str) -> Routed:
        if not isinstance(name, str) or not name:
            raise NotServed(400, "model is required")
        virtual = parse_virtual(name)
        await self.refresh()
        if virtual is None:
            return Routed(name, self._real_host(name))
        try:
            routed = self._resolve(virtual, name, text)
        except InstallRefused:
            await self.refresh(force=True)  # installed a moment ago?
            try:
                routed = self._resolve(virtual, name, text)
            except InstallRefused as exc:
                if self.down:  # not "not installed": a server that holds it may be the one that is down
                    raise NotServed(502, "; ".join(self.down.values())) from None
                raise NotServed(404, self._missing(exc, virtual, text)) from None
        if routed.host in self.down:
            raise NotServed(502, self.down[routed.host])
        return routed

    def _resolve(self, virtual: Virtual, name: str, text: str) -> Routed:
        decision = None
        if virtual.profile is not None:
            try:
                profile = self.session.profile(virtual.profile).name
            except ProfileError:
                raise NotServed(404, f"model '{name}' not found: `taskprof profiles` lists the profiles") from None
        elif text.strip():
            decision = self.session.decide(text)
            profile = decision.chosen_profile
            if decision.abstained:  # no profile stood out: the general default, as with no text at all
                profile = self._default_profile()
                decision = replace(decision, fallback_profile=profile)
        else:  # nothing to read (a client loading the model first)
            profile = self._default_profile()
        model, host, note = self.session.installed_model(decision or profile, tier=virtual.tier)
        if virtual.tier is not None and model.tier != virtual.tier:
            raise InstallRefused(f"the {virtual.tier} tier of '{profile}' is not installed on "
                                 f"{self.session.host(virtual.tier)}: run `taskprof install {profile} "
                                 f"--tier {virtual.tier}` first")
        return Routed(model.ref, host, profile, model.tier, decision, note)

    def _default_profile(self) -> str:
        """The fallback profile (balanced) when installed, else the first installed one, else the fallback."""
        installed = self._virtual_profiles()
        return FALLBACK_PROFILE if FALLBACK_PROFILE in installed or not installed else next(iter(installed))

    def _missing(self, exc: InstallRefused, virtual: Virtual, text: str) -> str:
        """Not installed: say how to install, or start it when auto_install is on."""
        if not self.installs.enabled():
            return str(exc)
        profile = virtual.profile
        if profile is None:
            decision = self.session.decide(text) if text.strip() else None
            if decision is None or decision.abstained:
                return str(exc)
            profile = decision.chosen_profile
        tier = self.installs.start(profile)
        return (f"'{profile}' is not installed yet; auto_install is on, so taskprof started installing its "
                f"{tier} tier in the background: ask again when it is done (`taskprof status` shows it)")

    # -- handlers ------------------------------------------------------------------------------

    async def _body(self, request: Request) -> tuple[bytes, dict[str, Any]]:
        chunks = []
        async for chunk in request.stream():
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise NotServed(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise NotServed(400, "the request body must be a JSON object")
        return raw, body

    async def answer(self, request: Request, path: str, *, openai: bool, generate: bool = False) -> Response:
        """chat, generate, chat/completions: route, send on, stream back."""
        raw, body = await self._body(request)
        text = latest_user_text(body, generate=generate)
        routed = await self.route(body.get("model"), text)
        if routed.profile is not None:
            body["model"] = routed.model
            raw = json.dumps(body).encode()
        # Ollama streams unless told not to; OpenAI's API streams only when asked.
        streaming = body.get("stream") is True if openai else body.get("stream") is not False
        upstream = await self._open(routed, path, raw)
        headers = routed.headers()
        if upstream.status_code != 200 or not streaming:
            try:
                data = await upstream.aread()
            except httpx.HTTPError as exc:
                raise NotServed(502, f"the connection to Ollama at {routed.host} broke: {type(exc).__name__}") from None
            finally:
                await upstream.aclose()
            if upstream.status_code == 200:
                self._used(routed, text)
            elif upstream.status_code == 404 and routed.profile is not None:
                self.session.fetched.clear()  # removed behind our back: read the lists again next time
            return Response(data, status_code=upstream.status_code, headers=headers,
                            media_type=upstream.headers.get("content-type", "application/json"))
        self._used(routed, text)
        return UpstreamStream(upstream, headers, openai, routed.host, self.open_streams)  # type: ignore[return-value]

    def _used(self, routed: Routed, text: str) -> None:
        # A real model is no profile's use; a request with no user text is a client loading the model.
        if routed.profile is None or not text.strip():
            return
        d = routed.decision
        # Only auto-routed chats keep their text, as `suggest` does: it is what decided.
        self.uses.add(profile=routed.profile, tier=routed.tier, model=routed.model,
                      confidence=d.confidence if d else None, abstained=d.abstained if d else None,
                      text=d.read_text if d else None)
        how = f"auto ({d.confidence:.0%})" if d else "named"
        self.on_event(f"chat -> {routed.profile} ({routed.tier}) {routed.model} on {routed.host} [{how}]"
                      + (f"; {routed.note}" if routed.note else ""))

    async def tags(self, request: Request) -> Response:
        await self.refresh()
        return JSONResponse({"models": self._listed()})

    def _listed(self) -> list[dict[str, Any]]:
        """Virtual models first (profiles with something installed), then every server's real models."""
        real: dict[str, dict[str, Any]] = {}
        for host in self.session.hosts:
            for m in self.session.tags.get(host, []):
                real.setdefault(installer.normal_ref(str(m.get("model") or m.get("name") or "")), m)
        profiles = self._virtual_profiles()
        out = []
        if profiles:
            newest = max((str(m.get("modified_at") or "") for m in real.values()), default="")
            out.append(_virtual_entry(Virtual(None, None), {"modified_at": newest} if newest else None,
                                      "routed per chat by taskprof"))
        for name, tiers in profiles.items():
            try:
                model, _, _ = self.session.installed_model(name)
            except InstallRefused:
                continue
            out.append(_virtual_entry(Virtual(name, None), real.get(model.ref), model.ref))
            for tier, (ref, _) in tiers.items():
                out.append(_virtual_entry(Virtual(name, tier), real.get(ref), ref))
        return out + list(real.values())

    async def models(self, request: Request) -> Response:
        await self.refresh()
        data = []
        for m in self._listed():
            created = _epoch(m.get("modified_at"))
            owner = "taskprof" if m["name"].startswith(PREFIX) else "library"
            data.append({"id": m["name"], "object": "model", "created": created, "owned_by": owner})
        return JSONResponse({"object": "list", "data": data})

    async def show(self, request: Request) -> Response:
        raw, body = await self._body(request)
        routed = await self.route(body.get("model") or body.get("name"), "")
        if routed.profile is not None:
            body["model"] = routed.model
            body.pop("name", None)
            raw = json.dumps(body).encode()
        upstream = await self._open(routed, "/api/show", raw)
        try:
            data = await upstream.aread()
        finally:
            await upstream.aclose()
        return Response(data, status_code=upstream.status_code, headers=routed.headers(),
                        media_type=upstream.headers.get("content-type", "application/json"))

    async def ps(self, request: Request) -> Response:
        running: list[Any] = []
        for host in self.session.hosts:
            response = await self._get(host, "/api/ps")
            if response.status_code == 200:
                running += response.json().get("models") or []
        return JSONResponse({"models": running})

    async def version(self, request: Request) -> Response:
        response = await self._get(self.session.host("fast"), "/api/version")
        version = response.json().get("version", VERSION_FALLBACK) if response.status_code == 200 else VERSION_FALLBACK
        return JSONResponse({"version": version})


def _virtual_entry(virtual: Virtual, real: dict[str, Any] | None, target: str) -> dict[str, Any]:
    """A virtual model in /api/tags: the real model's details, its name as parent_model."""
    details = dict((real or {}).get("details") or {"format": "", "family": "taskprof", "families": ["taskprof"],
                                                    "parameter_size": "", "quantization_level": ""})
    details["parent_model"] = target
    name = virtual.name
    return {
        "name": name,
        "model": name,
        "modified_at": (real or {}).get("modified_at") or "1970-01-01T00:00:00Z",
        "size": int((real or {}).get("size") or 0),
        "digest": hashlib.sha256(f"{name} {target} {(real or {}).get('digest', '')}".encode()).hexdigest(),
        "details": details,
    }


def _epoch(stamp: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def create_app(session: ServeSession, *, api_key: str | None = None, on_event: Callable[[str], None] | None = None,
               max_body: int = MAX_BODY_BYTES, listing_ttl: float = LISTING_TTL, warm: bool = True) -> Gate:
    """The ASGI app: the handlers behind the key and body-size gate."""
    server = Server(session, on_event=on_event, listing_ttl=listing_ttl)
    if warm:
        server.warm()

    def handle(fn: Callable[[Request], Any], *, openai: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except NotServed as exc:
                return error_response(openai, exc.status, exc.message)
            except TaskprofError as exc:
                return error_response(openai, 500, str(exc))
            finally:
                for message in session.drain_warnings():
                    server.on_event(f"Warning: {message}")
        return endpoint

    async def root(request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def not_offered(request: Request) -> Response:
        openai = request.url.path.startswith("/v1/")
        return error_response(openai, 404, f"taskprof serve does not offer {request.method} {request.url.path}")

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/api/version", handle(server.version), methods=["GET"]),
        Route("/api/tags", handle(server.tags), methods=["GET"]),
        Route("/api/ps", handle(server.ps), methods=["GET"]),
        Route("/api/show", handle(server.show), methods=["POST"]),
        Route("/api/chat", handle(lambda r: server.answer(r, "/api/chat", openai=False)), methods=["POST"]),
        Route("/api/generate", handle(lambda r: server.answer(r, "/api/generate", openai=False, generate=True)),
              methods=["POST"]),
        Route("/v1/models", handle(server.models, openai=True), methods=["GET"]),
        Route("/v1/chat/completions", handle(lambda r: server.answer(r, "/v1/chat/completions", openai=True),
                                             openai=True), methods=["POST"]),
        Route("/{path:path}", not_offered, methods=["GET", "POST", "DELETE", "PUT", "HEAD"]),
    ]

    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.startup()
        try:
            yield
        finally:
            await server.shutdown()

    from contextlib import asynccontextmanager

    app = Starlette(routes=routes, lifespan=asynccontextmanager(lifespan))
    app.state.server = server
    gate = Gate(app, api_key=api_key, max_body=max_body)
    gate.server = server  # type: ignore[attr-defined]
    return gate


def run(app: ASGIApp, sock: socket.socket) -> None:
    """Serve on a bound socket until Ctrl-C."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
