"""A loopback HTTP server that speaks Ollama's wire protocol, for tests that drive the real client.

It follows ../shared/ollama-api.md: NDJSON pulls with several layers and a partial `completed`,
the error of an unknown model inside a 200 stream (a 500 when not streaming), 400 for a malformed
name, tags/show/delete/version/ps, and streaming chat and generate whose final chunk carries known
timings. Tests can make it drop the connection mid-pull (the partial blob is kept, so the next pull
resumes), answer any path with a 500, or slow every streamed line down.
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


class _Dropped(Exception):
    """The handler hung up on purpose, mid-stream."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

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
            ("GET", "/api/ps"): lambda: self._send(200, {"models": []}),
            ("POST", "/api/show"): lambda: self._show(body),
            ("DELETE", "/api/delete"): lambda: self._delete(body),
            ("POST", "/api/pull"): lambda: self._pull(body),
            ("POST", "/api/chat"): lambda: self._answer(body, chat=True),
            ("POST", "/api/generate"): lambda: self._answer(body, chat=False),
        }.get((method, self.path.split("?")[0]))
        if route is None:
            self._send(404, "404 page not found", "text/plain")
            return
        try:
            route()
        except (_Dropped, BrokenPipeError, ConnectionResetError):
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
        words = self.fake.reply.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
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
                    total_duration=LOAD_DURATION + PROMPT_EVAL_DURATION + EVAL_DURATION + 50_000_000,
                    load_duration=LOAD_DURATION,
                    prompt_eval_count=PROMPT_EVAL_COUNT,
                    prompt_eval_duration=PROMPT_EVAL_DURATION,
                    eval_count=EVAL_COUNT,
                    eval_duration=EVAL_DURATION,
                )
            return out

        if body.get("stream") is False:
            final = chunk(self.fake.reply, True)
            self._send(200, final)
            return
        self._start_stream()
        for piece in pieces:
            self._line(chunk(piece, False))
        self._line(chunk("", True))
        self._end_stream()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
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
