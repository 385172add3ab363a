"""A loopback HTTP server that speaks Ollama's wire protocol, for tests that drive the real client.

It follows ../shared/ollama-api.md: NDJSON pulls with several layers and a partial `completed`,
the error of an unknown model inside a 200 stream (a 500 when not streaming), 400 for a malformed
name, tags/show/delete/version/ps, and streaming chat and generate whose final chunk carries known
timings. Tests can make it drop the connection mid-pull (the partial blob is kept, so the next pull
resumes), answer any path with a 500, or slow every streamed line down.

Embeddings as Ollama answers them (`/api/embed`, `/api/embeddings`; a stand-in vector derived from
the text), and `/api/ps` lists the models in `loaded`.

For `taskprof serve` it also speaks the OpenAI-compatible `/v1/models`, `/v1/models/{id}`,
`/v1/chat/completions`, `/v1/completions` and `/v1/embeddings` as Ollama does (server-sent events, `data: [DONE]`, errors as `{"error": {"message", "type", ...}}`), can
start each answer with the model's name (`echo_model`, so a test sees which model answered), hang
up in the middle of an answer (`drop_answer_after`), and records the answers a client abandoned
(`hung_up`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

VERSION = "0.12.6"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$")
UNKNOWN_MANIFEST = "pull model manifest: file does not exist"

# Every chat/generate answer ends with these timings (nanoseconds), so 40 tokens/s exactly.
EVAL_COUNT = 120
EVAL_DURATION = 3_000_000_000
PROMPT_EVAL_COUNT = 30
PROMPT_EVAL_DURATION = 250_000_000
LOAD_DURATION = 1_500_000_000


def ref_of(name: str) -> str:
    """Ollama's normal form: a name without a tag means :latest."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Layer:
    digest: str
    size: int


@dataclass
class FakeOllama:
    """State of the pretend server. Tests edit it directly between requests."""

    host: str = ""
    library: dict[str, list[Layer]] = field(default_factory=dict)  # what the registry can serve
    installed: dict[str, dict[str, Any]] = field(default_factory=dict)  # ref -> {digest, size, modified_at}
    blobs: dict[str, int] = field(default_factory=dict)  # layer digest -> bytes on disk (partial or whole)
    drop_after: dict[str, int] = field(default_factory=dict)  # ref -> drop the pull after this many new bytes
    fail_500: set[str] = field(default_factory=set)  # paths answered with a 500
    line_delay: float = 0.0  # seconds between streamed lines
    chunk: int = 400_000  # bytes a progress line advances
    reply: str = "Start with the termination clause, then the liability cap."
    echo_model: bool = False  # start every answer with "[<model>] "
    drop_answer_after: int | None = None  # hang up after this many lines of a chat/generate answer
    hung_up: list[tuple[str, int]] = field(default_factory=list)  # (path, lines sent) of answers a client left
    loaded: list[str] = field(default_factory=list)  # models in memory now, as /api/ps lists them
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # handler failures other than a client hanging up
    _revision: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- setting up ----------------------------------------------------------------------------

    def publish(self, name: str, weights: int = 2_000_000) -> str:
        """Make a model pullable: a weights layer and two small ones (template, params)."""
        ref = ref_of(name)
        rev = self._revision.get(ref, 0)
        self.library[ref] = [
            Layer(_digest(ref, rev, "weights"), weights),
            Layer(_digest(ref, rev, "template"), 1_200),
            Layer(_digest(ref, rev, "params"), 96),
        ]
        return ref

    def publish_update(self, name: str) -> None:
        """A new upload under the same tag: new layer digests, so a re-pull changes the digest."""
        ref = ref_of(name)
        self._revision[ref] = self._revision.get(ref, 0) + 1
        self.publish(ref, self.library[ref][0].size if ref in self.library else 2_000_000)

    def install(self, name: str, weights: int = 2_000_000) -> str:
        """A model already on the server's disk."""
        ref = self.publish(name, weights) if ref_of(name) not in self.library else ref_of(name)
        for layer in self.library[ref]:
            self.blobs[layer.digest] = layer.size
        self._finish(ref)
        return ref

    def _finish(self, ref: str) -> None:
        layers = self.library[ref]
        self.installed[ref] = {
            "digest": _digest(*(layer.digest for layer in layers)).removeprefix("sha256:"),
            "size": sum(layer.size for layer in layers),
            "modified_at": datetime.now(UTC).isoformat(),
        }

    def paths_called(self, method: str | None = None) -> list[str]:
        return [p for m, p, _ in self.requests if method is None or m == method]


def vector(text: str, dim: int = 8) -> list[float]:
    """A stand-in embedding: the same text gives the same unit vector, another text another."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b - 127.5 for b in digest[:dim]]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in raw]


class _Dropped(Exception):
    """The handler hung up on purpose, mid-stream."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Ollama's Go server sends without Nagle's delay; without this every answer whose headers and body
    # are written apart waits ~40 ms for a delayed ACK, which a latency benchmark would blame on its subject.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return {"_malformed": raw.decode("latin-1")}

    def _send(self, status: int, body: Any = None, content_type: str = "application/json") -> None:
        data = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type if body is not None else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _line(self, obj: dict[str, Any]) -> None:
        if self.fake.line_delay:
            time.sleep(self.fake.line_delay)
        self._chunk((json.dumps(obj) + "\n").encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
        self._sent = getattr(self, "_sent", 0) + 1

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hang_up(self) -> None:
        """Close the socket without ending the chunked body: the client sees an incomplete read."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True
        raise _Dropped

    def _dispatch(self, method: str) -> None:
        body = self._body() if method in ("POST", "DELETE") else {}
        with self.fake.lock:
            self.fake.requests.append((method, self.path, body))
        if self.path in self.fake.fail_500:
            self._send(500, {"error": "something went wrong on the server"})
            return
        route = {
            ("GET", "/"): lambda: self._send(200, "Ollama is running", "text/plain; charset=utf-8"),
            ("HEAD", "/"): lambda: self._send(200, ""),
            ("GET", "/api/version"): lambda: self._send(200, {"version": VERSION}),
            ("GET", "/api/tags"): self._tags,
            ("GET", "/api/ps"): self._ps,
            ("POST", "/api/show"): lambda: self._show(body),
            ("DELETE", "/api/delete"): lambda: self._delete(body),
            ("POST", "/api/pull"): lambda: self._pull(body),
            ("POST", "/api/chat"): lambda: self._answer(body, chat=True),
            ("POST", "/api/generate"): lambda: self._answer(body, chat=False),
            ("POST", "/api/embed"): lambda: self._embed(body),
            ("POST", "/api/embeddings"): lambda: self._embeddings(body),
            ("GET", "/v1/models"): self._openai_models,
            ("POST", "/v1/chat/completions"): lambda: self._openai_chat(body),
            ("POST", "/v1/completions"): lambda: self._openai_completion(body),
            ("POST", "/v1/embeddings"): lambda: self._openai_embeddings(body),
        }.get((method, self.path.split("?")[0]))
        if route is None and method == "GET" and self.path.startswith("/v1/models/"):
            route = lambda: self._openai_model(self.path.removeprefix("/v1/models/"))  # noqa: E731
        if route is None:
            self._send(404, "404 page not found", "text/plain")
            return
        self._sent = 0
        try:
            route()
        except _Dropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            with self.fake.lock:
                self.fake.hung_up.append((self.path, self._sent))
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- endpoints -----------------------------------------------------------------------------

    def _tags(self) -> None:
        models = []
        for ref, info in sorted(self.fake.installed.items()):
            family = ref.split(":")[0].split("/")[-1]
            models.append({
                "name": ref,
                "model": ref,
                "modified_at": info["modified_at"],
                "size": info["size"],
                "digest": info["digest"],
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": family,
                    "families": [family],
                    "parameter_size": "7.6B",
                    "quantization_level": "Q4_K_M",
                },
            })
        self._send(200, {"models": models})

    def _ps(self) -> None:
        models = []
        for ref in self.fake.loaded:
            info = self.fake.installed.get(ref, {"size": 0, "digest": ""})
            models.append({"name": ref, "model": ref, "size": info["size"], "digest": info["digest"],
                           "details": {"format": "gguf", "family": "llama"}, "expires_at": "2099-01-01T00:00:00Z",
                           "size_vram": info["size"], "context_length": 4096})
        self._send(200, {"models": models})

    def _model_arg(self, body: dict[str, Any]) -> str:
        return str(body.get("model") or body.get("name") or "")

    def _show(self, body: dict[str, Any]) -> None:
        name = self._model_arg(body)
        ref = ref_of(name)
        if ref not in self.fake.installed:
            self._send(404, {"error": f"model '{name}' not found"})
            return
        self._send(200, {
            "modelfile": f"FROM {ref}\n",
            "parameters": "stop \"<|im_end|>\"",
            "template": "{{ .Prompt }}",
            "details": {"format": "gguf", "family": "llama", "parameter_size": "7.6B", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "llama", "llama.context_length": 32768},
            "capabilities": ["completion"],
            "modified_at": self.fake.installed[ref]["modified_at"],
        })

    def _delete(self, body: dict[str, Any]) -> None:
        name = self._model_arg(body)
        ref = ref_of(name)
        with self.fake.lock:
            found = self.fake.installed.pop(ref, None)
        if found is None:
            self._send(404, {"error": f"model '{name}' not found"})
        else:
            self._send(200)

    def _pull(self, body: dict[str, Any]) -> None:
        name = self._model_arg(body)
        if not NAME_RE.match(name):
            self._send(400, {"error": "invalid model name"})
            return
        ref = ref_of(name)
        layers = self.fake.library.get(ref)
        if body.get("stream") is False:
            if layers is None:
                self._send(500, {"error": UNKNOWN_MANIFEST})
                return
            for layer in layers:
                self.fake.blobs[layer.digest] = layer.size
            self.fake._finish(ref)
            self._send(200, {"status": "success"})
            return
        self._start_stream()
        self._line({"status": "pulling manifest"})
        if layers is None:
            self._line({"error": UNKNOWN_MANIFEST})
            self._end_stream()
            return
        budget = self.fake.drop_after.pop(ref, None)
        sent = 0
        for layer in layers:
            status = f"pulling {layer.digest.removeprefix('sha256:')[:12]}"
            have = self.fake.blobs.get(layer.digest, 0)
            if have >= layer.size:
                self._line({"status": status, "digest": layer.digest, "total": layer.size, "completed": layer.size})
                continue
            # Before any byte arrives Ollama reports the total without `completed`.
            self._line({"status": status, "digest": layer.digest, "total": layer.size})
            while have < layer.size:
                step = min(self.fake.chunk, layer.size - have)
                if budget is not None and sent + step > budget:
                    have += max(0, budget - sent)
                    self.fake.blobs[layer.digest] = have
                    self._hang_up()
                have += step
                sent += step
                self.fake.blobs[layer.digest] = have
                self._line({"status": status, "digest": layer.digest, "total": layer.size, "completed": have})
        self._line({"status": "verifying sha256 digest"})
        self._line({"status": "writing manifest"})
        self.fake._finish(ref)
        self._line({"status": "success"})
        self._end_stream()

    def _answer(self, body: dict[str, Any], chat: bool) -> None:
        name = self._model_arg(body)
        ref = ref_of(name)
        if ref not in self.fake.installed:
            self._send(404, {"error": f"model \"{name}\" not found, try pulling it first"})
            return
        self._reply(name, chat, body.get("stream") is not False)

    def _reply(self, name: str, chat: bool, stream: bool, load_ns: int = LOAD_DURATION) -> None:
        """The answer to a chat or generate, streamed a word a chunk or whole, with Ollama's timings."""
        pieces = self._pieces(name)
        stamp = datetime.now(UTC).isoformat()

        def chunk(text: str, done: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"model": name, "created_at": stamp, "done": done}
            if chat:
                out["message"] = {"role": "assistant", "content": text}
            else:
                out["response"] = text
            if done:
                out.update(
                    done_reason="stop",
                    total_duration=load_ns + PROMPT_EVAL_DURATION + EVAL_DURATION + 50_000_000,
                    load_duration=load_ns,
                    prompt_eval_count=PROMPT_EVAL_COUNT,
                    prompt_eval_duration=PROMPT_EVAL_DURATION,
                    eval_count=EVAL_COUNT,
                    eval_duration=EVAL_DURATION,
                )
            return out

        if not stream:
            self._send(200, chunk("".join(pieces), True))
            return
        self._start_stream()
        for i, piece in enumerate(pieces):
            self._maybe_drop(i)
            self._line(chunk(piece, False))
        self._line(chunk("", True))
        self._end_stream()

    def _pieces(self, name: str) -> list[str]:
        """The answer, a word a chunk; with echo_model the first chunk names the model asked for."""
        words = self.fake.reply.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        return [f"[{name}] ", *pieces] if self.fake.echo_model else pieces

    def _maybe_drop(self, lines_sent: int) -> None:
        if self.fake.drop_answer_after is not None and lines_sent >= self.fake.drop_answer_after:
            self._hang_up()

    # -- embeddings ----------------------------------------------------------------------------

    def _embed(self, body: dict[str, Any]) -> None:
        """/api/embed: `input` a string or a list of strings; one vector each."""
        name = self._model_arg(body)
        if ref_of(name) not in self.fake.installed:
            self._send(404, {"error": f"model \"{name}\" not found, try pulling it first"})
            return
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        self._send(200, {"model": name, "embeddings": [vector(str(t)) for t in texts],
                         "total_duration": 14_000_000, "load_duration": 1_000_000,
                         "prompt_eval_count": sum(len(str(t).split()) for t in texts)})

    def _embeddings(self, body: dict[str, Any]) -> None:
        """/api/embeddings (the older endpoint): `prompt`, one vector."""
        name = self._model_arg(body)
        if ref_of(name) not in self.fake.installed:
            self._send(404, {"error": f"model \"{name}\" not found, try pulling it first"})
            return
        self._send(200, {"embedding": vector(str(body.get("prompt") or ""))})

    # -- the OpenAI-compatible endpoints, as Ollama's middleware answers them ------------------

    def _openai_error(self, status: int, message: str) -> None:
        kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
        self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def _openai_models(self) -> None:
        data = [{"id": ref, "object": "model", "created": 1_700_000_000, "owned_by": "library"}
                for ref in sorted(self.fake.installed)]
        self._send(200, {"object": "list", "data": data})

    def _openai_model(self, name: str) -> None:
        from urllib.parse import unquote

        name = unquote(name)
        if ref_of(name) not in self.fake.installed:
            self._openai_error(404, f"model \"{name}\" not found")
            return
        self._send(200, {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "library"})

    def _openai_embeddings(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or "")
        inputs = body.get("input")
        if not inputs:
            self._openai_error(400, "invalid input")
            return
        if ref_of(name) not in self.fake.installed:
            self._openai_error(404, f"model \"{name}\" not found, try pulling it first")
            return
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        tokens = sum(len(str(t).split()) for t in texts)
        self._send(200, {"object": "list", "model": name,
                         "data": [{"object": "embedding", "embedding": vector(str(t)), "index": i}
                                  for i, t in enumerate(texts)],
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def _openai_completion(self, body: dict[str, Any]) -> None:
        """/v1/completions: a prompt completed, whole or as server-sent events."""
        name = str(body.get("model") or "")
        if ref_of(name) not in self.fake.installed:
            self._openai_error(404, f"model \"{name}\" not found, try pulling it first")
            return
        pieces = self._pieces(name)
        base = {"id": "cmpl-1", "created": int(time.time()), "model": name, "system_fingerprint": "fp_ollama",
                "object": "text_completion"}
        if not body.get("stream"):
            self._send(200, {**base, "choices": [{"text": "".join(pieces), "index": 0, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": PROMPT_EVAL_COUNT, "completion_tokens": EVAL_COUNT,
                                       "total_tokens": PROMPT_EVAL_COUNT + EVAL_COUNT}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, piece in enumerate([*pieces, ""]):
            self._maybe_drop(i)
            if self.fake.line_delay:
                time.sleep(self.fake.line_delay)
            choice = {"text": piece, "index": 0, "finish_reason": "stop" if i == len(pieces) else None}
            self._chunk(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _openai_chat(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or "")
        if not body.get("messages"):
            self._openai_error(400, "[] is too short - 'messages'")
            return
        if ref_of(name) not in self.fake.installed:
            self._openai_error(404, f"model \"{name}\" not found, try pulling it first")
            return
        pieces = self._pieces(name)
        created = int(time.time())
        base = {"id": "chatcmpl-1", "created": created, "model": name, "system_fingerprint": "fp_ollama"}
        usage = {"prompt_tokens": PROMPT_EVAL_COUNT, "completion_tokens": EVAL_COUNT,
                 "total_tokens": PROMPT_EVAL_COUNT + EVAL_COUNT}
        if not body.get("stream"):
            self._send(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                 "finish_reason": "stop"}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(delta: dict[str, Any], finish: str | None) -> None:
            if self.fake.line_delay:
                time.sleep(self.fake.line_delay)
            data = {**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self._chunk(f"data: {json.dumps(data)}\n\n".encode())

        for i, piece in enumerate(pieces):
            self._maybe_drop(i)
            event({"role": "assistant", "content": piece}, None)
        event({"role": "assistant", "content": ""}, "stop")
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of new connections overflows it and the
    # kernel resets some after their request was sent (a ReadError for the client). Go's net/http, and
    # so Ollama, listens with the system's maximum.
    request_queue_size = 1024
    fake: FakeOllama

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client closing its keep-alive connection is normal (Ollama says nothing); record the rest.

        socketserver's default prints a traceback to sys.stderr, which CliRunner may be capturing at
        that moment, so a harmless reset between requests used to land in the command's output.
        """
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        with self.fake.lock:
            self.fake.errors.append("".join(traceback.format_exception(error)))


@contextlib.contextmanager
def _running() -> Iterator[FakeOllama]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeOllama(host=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert not server.fake.errors, "the fake Ollama failed:\n" + "\n".join(server.fake.errors)


@pytest.fixture
def ollama_server():
    """A running fake Ollama on 127.0.0.1 and an ephemeral port; `.host` is its address."""
    with _running() as fake:
        yield fake


@pytest.fixture
def gpu_box():
    """A second fake Ollama at once: the "heavy tier on another machine" of the tests."""
    with _running() as fake:
        yield fake


@pytest.fixture
def dead_host() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
