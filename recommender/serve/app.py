"""The ASGI app: Ollama's API and the OpenAI-compatible /v1, each request routed and passed on."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from recommender import ollama_client
from recommender.classifier import FALLBACK_PROFILE
from recommender.errors import TaskprofError
from recommender.serve import validate
from recommender.serve.background import Installs, UseLog
from recommender.serve.gate import BODIES_IN_FLIGHT, Gate, error_response, split_origins
from recommender.serve.names import PREFIX, NotServed, Virtual, parse_virtual
from recommender.serve.route import Routed, Router, ServeSession
from recommender.serve.upstream import LISTING_TTL, Upstream, UpstreamStream

MAX_BODY_BYTES = 32 * 1024 * 1024
VERSION_FALLBACK = "0.0.0"
Handler = Callable[[Request], Awaitable[Response]]


class Server:
    """The request handlers, over one ServeSession and the upstream servers."""

    def __init__(self, session: ServeSession, *, on_event: Callable[[str], None] | None = None,
                 listing_ttl: float = LISTING_TTL):
        self.session = session
        self.on_event = on_event or (lambda message: None)
        self.upstream = Upstream(self._store_tags, listing_ttl=listing_ttl)
        self.installs = Installs(session, self.on_event, self.upstream.forget)
        self.router = Router(session, self.upstream, on_missing=self.installs.start)
        self.uses = UseLog(session, self.on_event)
        self.open_streams = [0]  # upstream answers being passed on right now

    def _store_tags(self, host: str, models: list[dict[str, Any]]) -> None:
        self.session.store_tags(host, models)
        self.router.listings_changed()

    # -- life cycle ----------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the classifier, settings and machine facts before the first request needs them."""
        self.router.conversations.route([{"role": "user", "content": "write a function that parses a date"}])
        self.session.catalogue  # noqa: B018  a cached property: loading it is the point
        self.session.tier_choice(next(iter(self.session.catalogue.values())))

    async def startup(self) -> None:
        await self.upstream.start()
        for problem in await self.upstream.check(self.session.hosts):
            self.on_event(f"Warning: {problem} (serve answers anyway, and asks again on every request)")

    async def shutdown(self) -> None:
        await self.upstream.close()
        await anyio.to_thread.run_sync(self.uses.close)

    # -- bodies --------------------------------------------------------------------------------

    async def _body(self, request: Request) -> tuple[bytes, dict[str, Any]]:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
        body = validate.parse(raw)
        return bytes(raw), body

    # -- chat, generate and the OpenAI equivalents ----------------------------------------------

    async def answer(self, request: Request, path: str, *, openai: bool, generate: bool = False) -> Response:
        """chat, generate, chat/completions, completions: route, send on, stream back."""
        raw, body = await self._body(request)
        name = validate.model_name(body)
        if generate:
            validate.generate(body, openai=openai)
            prompt = validate.prompt_text(body)
            system = body.get("system")
            messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if isinstance(system, str) else []
            if prompt:
                messages.append({"role": "user", "content": prompt})
        else:
            validate.chat(body, openai=openai)
            messages = body.get("messages") or []
        routed = await self.router.route(name, messages)
        if routed.profile is not None:
            body["model"] = routed.model
            raw = json.dumps(body, separators=(",", ":")).encode()
        # Ollama streams unless told not to; OpenAI's API streams only when asked.
        streaming = body.get("stream") is True if openai else body.get("stream") is not False
        del body
        upstream = await self.upstream.open(routed.host, path, raw)
        del raw
        headers = routed.headers()
        if upstream.status_code != 200 or not streaming:
            data = await self.upstream.read(upstream, routed.host)
            if upstream.status_code == 200:
                self._used(routed)
            elif upstream.status_code == 404 and routed.profile is not None:
                self.upstream.forget()  # removed behind our back: read the lists again next time
            return Response(data, status_code=upstream.status_code, headers=headers,
                            media_type=upstream.headers.get("content-type", "application/json"))
        self._used(routed)
        return UpstreamStream(upstream, headers, openai, routed.host, self.open_streams)  # type: ignore[return-value]

    def _used(self, routed: Routed) -> None:
        # A real model is no profile's use; a request with no user text is a client loading the model.
        if routed.profile is None or (routed.decision is not None and routed.text is None):
            return
        d = routed.decision
        event: dict[str, Any] = {"profile": routed.profile, "tier": routed.tier, "model": routed.model,
                                 "confidence": d.confidence if d else None,
                                 "abstained": (d.profile == FALLBACK_PROFILE) if d else None,
                                 "text": routed.text}  # only auto-routed chats keep their text: it decided
        if d is not None:
            event.update(conversation=routed.conversation, route=d.route)
        self.uses.add(**event)
        how = f"auto, {d.route} ({d.confidence:.0%})" if d else "named"
        self.on_event(f"chat -> {routed.profile} ({routed.tier}) {routed.model} on {routed.host} [{how}]"
                      + (f"; {routed.note}" if routed.note else ""))

    # -- embeddings -----------------------------------------------------------------------------

    async def embed(self, request: Request, path: str, *, field: str) -> Response:
        """/api/embed, /api/embeddings, /v1/embeddings: passed through to a real model. A taskprof name
        is a chat model picked per conversation: an embedding needs the same model every time."""
        raw, body = await self._body(request)
        name = validate.model_name(body)
        validate.embed(body, field=field)
        if parse_virtual(name) is not None:
            raise NotServed(400, f"'{name}' routes chats; embeddings need one fixed embedding model every "
                                 "time (e.g. nomic-embed-text): name a real model")
        routed = await self.router.route(name)
        upstream = await self.upstream.open(routed.host, path, raw)
        data = await self.upstream.read(upstream, routed.host)
        return Response(data, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type", "application/json"))

    # -- listing -------------------------------------------------------------------------------

    async def tags(self, request: Request) -> Response:
        await self.upstream.refresh(self.session.hosts)
        return JSONResponse({"models": self._listed()})

    def _listed(self) -> list[dict[str, Any]]:
        """Virtual models first (profiles with something installed), then every server's real models."""
        real: dict[str, dict[str, Any]] = {}
        for host in self.session.hosts:
            for m in self.upstream.tags.get(host, []):
                real.setdefault(ollama_client.normal_ref(str(m.get("model") or m.get("name") or "")), m)
        profiles = self.router.installed()
        answering = self.router.answering()
        out = []
        if profiles:
            newest = max((str(m.get("modified_at") or "") for m in real.values()), default="")
            out.append(_virtual_entry(Virtual(None, None), {"modified_at": newest} if newest else None,
                                      "routed per conversation by taskprof"))
        for name, tiers in profiles.items():
            if name not in answering:
                continue
            ref = answering[name][0]
            out.append(_virtual_entry(Virtual(name, None), real.get(ref), ref))
            for tier, (ref, _) in tiers.items():
                out.append(_virtual_entry(Virtual(name, tier), real.get(ref), ref))
        return out + list(real.values())

    async def models(self, request: Request) -> Response:
        await self.upstream.refresh(self.session.hosts)
        return JSONResponse({"object": "list", "data": [_openai_model(m) for m in self._listed()]})

    async def model(self, request: Request) -> Response:
        """GET /v1/models/{id}: a virtual or a real model, as /v1/models lists it."""
        wanted = request.path_params["name"]
        await self.upstream.refresh(self.session.hosts)
        virtual = parse_virtual(wanted) if wanted.startswith(PREFIX) else None
        key = virtual.name if virtual is not None else ollama_client.normal_ref(wanted)
        for m in self._listed():
            if m["name"] == key:
                return JSONResponse({**_openai_model(m), "id": wanted})
        raise NotServed(404, f"model '{wanted}' not found")

    async def show(self, request: Request) -> Response:
        raw, body = await self._body(request)
        name = validate.model_name(body, also="name")
        routed = await self.router.route(name)
        if routed.profile is not None:
            body["model"] = routed.model
            body.pop("name", None)
            raw = json.dumps(body).encode()
        upstream = await self.upstream.open(routed.host, "/api/show", raw)
        data = await self.upstream.read(upstream, routed.host)
        return Response(data, status_code=upstream.status_code, headers=routed.headers(),
                        media_type=upstream.headers.get("content-type", "application/json"))

    async def ps(self, request: Request) -> Response:
        running: list[Any] = []
        for host in self.session.hosts:
            response = await self.upstream.get(host, "/api/ps")
            if response.status_code == 200:
                running += response.json().get("models") or []
        return JSONResponse({"models": running})

    async def version(self, request: Request) -> Response:
        response = await self.upstream.get(self.session.host("fast"), "/api/version")
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


def _openai_model(m: dict[str, Any]) -> dict[str, Any]:
    owner = "taskprof" if m["name"].startswith(PREFIX) else "library"
    return {"id": m["name"], "object": "model", "created": _epoch(m.get("modified_at")), "owned_by": owner}


def _epoch(stamp: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def create_app(session: ServeSession, *, api_key: str | None = None, on_event: Callable[[str], None] | None = None,
               max_body: int = MAX_BODY_BYTES, listing_ttl: float = LISTING_TTL, warm: bool = True,
               loopback: bool = True, origins: tuple[str, ...] = (),
               bodies_in_flight: int = BODIES_IN_FLIGHT) -> Gate:
    """The ASGI app: the handlers behind the gate (Host, Origin, key, body limits). `origins`: allowed
    beside the defaults, the `serve_origins` setting and OLLAMA_ORIGINS."""
    server = Server(session, on_event=on_event, listing_ttl=listing_ttl)
    if warm:
        server.warm()

    def handle(fn: Handler, *, openai: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except NotServed as exc:
                if exc.status in (400, 413):
                    server.on_event(f"{exc.status} {request.method} {request.url.path}: {exc.message[:200]}")
                return error_response(openai, exc.status, exc.message, retry_after=exc.retry_after)
            except TaskprofError as exc:
                return error_response(openai, 500, str(exc))
            except Exception as exc:
                server.on_event(f"Error: {request.method} {request.url.path}: {type(exc).__name__}: {exc}")
                return error_response(openai, 500, f"internal error: {type(exc).__name__}")
            finally:
                for message in session.drain_warnings():
                    server.on_event(f"Warning: {message}")
        return endpoint

    async def root(request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def not_offered(request: Request) -> Response:
        openai = request.url.path.startswith("/v1/")
        return error_response(openai, 404, f"taskprof serve does not offer {request.method} {request.url.path}")

    def chat(path: str, *, openai: bool, generate: bool = False) -> Handler:
        return handle(lambda r: server.answer(r, path, openai=openai, generate=generate), openai=openai)

    def embed(path: str, field: str) -> Handler:
        openai = path.startswith("/v1/")
        return handle(lambda r: server.embed(r, path, field=field), openai=openai)

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/api/version", handle(server.version), methods=["GET"]),
        Route("/api/tags", handle(server.tags), methods=["GET"]),
        Route("/api/ps", handle(server.ps), methods=["GET"]),
        Route("/api/show", handle(server.show), methods=["POST"]),
        Route("/api/chat", chat("/api/chat", openai=False), methods=["POST"]),
        Route("/api/generate", chat("/api/generate", openai=False, generate=True), methods=["POST"]),
        Route("/api/embed", embed("/api/embed", "input"), methods=["POST"]),
        Route("/api/embeddings", embed("/api/embeddings", "prompt"), methods=["POST"]),
        Route("/v1/models", handle(server.models, openai=True), methods=["GET"]),
        Route("/v1/models/{name:path}", handle(server.model, openai=True), methods=["GET"]),
        Route("/v1/chat/completions", chat("/v1/chat/completions", openai=True), methods=["POST"]),
        Route("/v1/completions", chat("/v1/completions", openai=True, generate=True), methods=["POST"]),
        Route("/v1/embeddings", embed("/v1/embeddings", "input"), methods=["POST"]),
        Route("/{path:path}", not_offered, methods=["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.startup()
        try:
            yield
        finally:
            await server.shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = server
    allowed = split_origins(session.settings.get("serve_origins"), os.environ.get("OLLAMA_ORIGINS"), *origins)
    gate = Gate(app, api_key=api_key, max_body=max_body, loopback=loopback, origins=allowed,
                bodies_in_flight=bodies_in_flight)
    gate.server = server  # type: ignore[attr-defined]
    return gate
