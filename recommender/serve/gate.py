"""What every request passes before a handler sees it: Host, Origin (and CORS), the key, the body.

Browser rules as Ollama applies them: a page may use serve only from a loopback origin (any port,
http or https), an app/file/tauri/vscode-webview origin, or an origin the user allowed (the
`serve_origins` setting, `--origins`, `OLLAMA_ORIGINS`; `*` allows every origin and must be said).
Other origins get 403 before any work is done — a POST sent as text/plain, which needs no preflight,
included. When serve listens on loopback, a Host header that is not a loopback address or local
name is 403 too: a DNS-rebinding page reaches 127.0.0.1 under its own name.

Written here rather than with Starlette's middleware: CORSMiddleware answers a request from a
refused origin anyway (it only leaves the CORS headers off, so the side effect happens), answers
preflight with 200 instead of Ollama's 204, and cannot refuse a preflight by its headers;
TrustedHostMiddleware splits `[::1]:11435` at the first colon, knows no address ranges, and
answers 400 in plain text where Ollama answers 403.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.serve.names import NotServed

# Origins every Ollama allows (any port): loopback pages and the app shells that wrap local pages.
DEFAULT_ORIGIN_PATTERNS = (
    r"https?://(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(:\d+)?",
    r"(app|file|tauri|vscode-webview)://.*",
)
# Request headers a browser client may send: the Ollama and OpenAI SDKs' (x-stainless-* names the
# OpenAI SDKs' platform headers).
ALLOWED_HEADERS = frozenset(("content-type", "authorization", "accept", "accept-language", "user-agent",
                             "x-requested-with", "openai-organization", "openai-project", "openai-beta"))
ALLOWED_HEADER_PREFIXES = ("x-stainless-",)
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
EXPOSED_HEADERS = "X-Taskprof-Profile, X-Taskprof-Tier, X-Taskprof-Route"
PREFLIGHT_MAX_AGE = "600"
# Bodies being read or answered at once, in bytes: past this a request is 503 with Retry-After.
# Three bodies of the 32 MB maximum; each costs ~3x its size while parsed and sent on.
BODIES_IN_FLIGHT = 96 * 1024 * 1024
RETRY_AFTER = 2
BUSY = "busy: too many large requests are being read at once; retry in a moment"


def error_response(openai: bool, status: int, message: str, *, retry_after: int | None = None) -> JSONResponse:
    """An error as Ollama writes it: {"error": "..."} on /api, OpenAI's object on /v1."""
    if openai:
        kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 503: "overloaded_error"}.get(status, "api_error")
        response = JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}},
                                status_code=status)
    else:
        response = JSONResponse({"error": message}, status_code=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def origin_patterns(extra: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the default origins and the configured ones (`*` a wildcard); None allows all."""
    parts = list(DEFAULT_ORIGIN_PATTERNS)
    for item in extra:
        item = item.strip().lower()
        item = item if item.endswith("://") else item.rstrip("/")
        if not item:
            continue
        if item == "*":
            return None
        parts.append(".*".join(re.escape(piece) for piece in item.split("*")))
    return re.compile("|".join(f"(?:{p})" for p in parts))


def split_origins(*sources: str | None) -> list[str]:
    return [item for source in sources if source for item in source.split(",") if item.strip()]


def local_names() -> frozenset[str]:
    """Host names that mean this machine: localhost and the machine's own name."""
    names = {"localhost"}
    with contextlib.suppress(OSError):
        names.add(socket.gethostname().lower())
    return frozenset(names)


def host_is_local(header: bytes, names: frozenset[str]) -> bool:
    """A Host header naming this machine: a loopback or unspecified address, localhost, *.localhost, or
    the machine's name. A missing Host (HTTP/1.0) is local: no browser sends a request without one."""
    try:
        host = header.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return False
    if not host:
        return True
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in names or host.endswith(".localhost")
    return address.is_loopback or address.is_unspecified


class Budget:
    """Bytes of request bodies in flight, shared by every request (the event loop is single-threaded)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit and self.used > 0:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class Gate:
    """ASGI middleware in front of everything: Host, Origin and preflight, the key, the body limits."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body: int, loopback: bool = True,
                 origins: Iterable[str] = (), bodies_in_flight: int = BODIES_IN_FLIGHT):
        self.app = app
        self.expected = api_key.encode("utf-8") if api_key else None
        self.max_body = max_body
        self.loopback = loopback
        self.origins = origin_patterns(origins)
        self.names = local_names()
        self.budget = Budget(max(bodies_in_flight, max_body))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        openai = scope["path"].startswith("/v1/")
        headers = dict(scope["headers"])

        async def refuse(status: int, message: str, **kw: Any) -> None:
            await error_response(openai, status, message, **kw)(scope, receive, send)

        if self.loopback and not host_is_local(headers.get(b"host", b""), self.names):
            await refuse(403, "forbidden: serve listens on loopback and answers only requests addressed to "
                              "this machine (localhost, 127.0.0.1, [::1]); the Host header named another")
            return
        origin = headers.get(b"origin")
        if origin is not None and not self.origin_allowed(origin):
            await refuse(403, f"forbidden: origin {origin.decode('latin-1')[:200]} is not allowed; allow it "
                              "with `taskprof config set serve_origins ORIGIN` or OLLAMA_ORIGINS")
            return
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self.preflight(origin, headers, openai, scope, receive, send)
            return
        if self.expected is not None and not self._authorized(headers.get(b"authorization", b"")):
            response = error_response(openai, 401, "unauthorized: send the key as 'Authorization: Bearer <key>'")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        length = headers.get(b"content-length", b"")
        declared = int(length) if length.isdigit() else None
        if declared is not None and declared > self.max_body:
            await refuse(413, self._too_big())
            return
        reserved = declared or 0
        if not self.budget.take(reserved):
            await refuse(503, BUSY, retry_after=RETRY_AFTER)
            return
        if origin is not None:
            send = self._with_cors(origin, send)
        counter = _Counter(receive, self, declared)
        try:
            await self.app(scope, counter, send)
        finally:
            self.budget.give(reserved + counter.taken)

    def origin_allowed(self, origin: bytes) -> bool:
        if self.origins is None:
            return True
        try:
            text = origin.decode("ascii").strip().lower()
        except UnicodeDecodeError:
            return False
        return self.origins.fullmatch(text) is not None

    async def preflight(self, origin: bytes | None, headers: dict[bytes, bytes], openai: bool, scope: Scope,
                        receive: Receive, send: Send) -> None:
        asked = [h.strip().lower() for h in headers.get(b"access-control-request-headers", b"")
                 .decode("latin-1").split(",") if h.strip()]
        refused = [h for h in asked if h not in ALLOWED_HEADERS and not h.startswith(ALLOWED_HEADER_PREFIXES)]
        if refused:
            await error_response(openai, 403, f"forbidden: header {refused[0]} is not allowed from a browser")(
                scope, receive, send)
            return
        out = {"Access-Control-Allow-Methods": ALLOWED_METHODS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
               "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
        if origin is not None:
            out["Access-Control-Allow-Origin"] = origin.decode("latin-1")
        if asked:
            out["Access-Control-Allow-Headers"] = ", ".join(asked)
        await Response(status_code=204, headers=out)(scope, receive, send)

    def _with_cors(self, origin: bytes, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []),
                                      (b"access-control-allow-origin", origin),
                                      (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                                      (b"vary", b"Origin")]
            await send(message)

        return wrapped

    def _authorized(self, header: bytes) -> bool:
        scheme, _, token = header.partition(b" ")
        # compare_digest takes the same time wherever the first difference is; an empty or wrong
        # scheme still goes through one comparison so that timing says nothing about the key either.
        same = hmac.compare_digest(token.strip(), self.expected or b"")
        return same and scheme.lower() == b"bearer"

    def _too_big(self) -> str:
        return f"request body too large: the limit is {self.max_body // (1024 * 1024)} MB"



class _Counter:
    """The receive channel with the body counted as it arrives: past the size limit 413; a body of
    unknown length (chunked) takes its share of the in-flight budget as it grows."""

    def __init__(self, receive: Receive, gate: Gate, declared: int | None):
        self.receive = receive
        self.gate = gate
        self.declared = declared
        self.seen = 0
        self.taken = 0  # budget taken beyond the declared length, given back by the gate

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            size = len(message.get("body", b""))
            self.seen += size
            if self.seen > self.gate.max_body:
                raise NotServed(413, self.gate._too_big())
            if self.declared is None and size:
                if not self.gate.budget.take(size):
                    raise NotServed(503, BUSY, retry_after=RETRY_AFTER)
                self.taken += size
        return message
