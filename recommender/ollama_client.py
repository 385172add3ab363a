"""Ollama through its official Python client: where the server is, what it holds, pulls, deletes, chat.

Everything here speaks to the server with `ollama.Client`; httpx is touched only to read the one
endpoint the client has no method for (`/api/version`) through the client's own connection, and to
name the transport errors the client lets through. The client and httpx are imported lazily, so
`taskprof suggest` without `--install` never loads them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.errors import InputError, OllamaError, OllamaUnavailable

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"
REACH_TIMEOUT = 2.0  # seconds: "not reachable" must be said within 3 s
PULL_READ_TIMEOUT = 300.0  # a pull that sends nothing for five minutes has vanished
CHAT_READ_TIMEOUT = 900.0  # loading a 70B model from disk can take minutes
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}


# --- the address ----------------------------------------------------------------------------------


def resolve_host(host: str | None = None) -> str:
    """The server URL from --host, else OLLAMA_HOST, else 127.0.0.1:11434 — in every form Ollama accepts.

    No scheme means http and port 11434; `http://h` means port 80 and `https://h` 443; IPv6 in
    brackets; a path prefix is kept (a reverse proxy). A wildcard bind address (0.0.0.0, ::) is
    where a server listens, not where a client connects: it becomes the loopback address.
    """
    raw = (host if host is not None else os.environ.get("OLLAMA_HOST", "")).strip()
    if not raw:
        return DEFAULT_HOST
    from urllib.parse import urlsplit  # not at import: a plain `suggest` on the default host never needs it

    has_scheme = "://" in raw
    try:
        parts = urlsplit(raw if has_scheme else f"http://{raw}")
    except ValueError as exc:
        raise InputError(f"'{raw}' is not an Ollama address: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(f"'{raw}' is not an Ollama address: use host, host:port or http(s)://host[:port]")
    try:
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise InputError(f"'{raw}' is not an Ollama address: the port is not a number from 1 to 65535") from None
    if port is None:
        port = (443 if scheme == "https" else 80) if has_scheme else DEFAULT_PORT
    hostname = hostname or "127.0.0.1"
    if hostname == "0.0.0.0":
        hostname = "127.0.0.1"
    elif hostname == "::":
        hostname = "::1"
    netloc = f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def is_local(host: str) -> bool:
    """Does this address point at this machine (so its disk is where the models go)?"""
    if host == DEFAULT_HOST:
        return True
    from urllib.parse import urlsplit

    return (urlsplit(host).hostname or "") in LOOPBACK


def models_dir() -> Path:
    """Where a local Ollama keeps models: OLLAMA_MODELS, else ~/.ollama/models."""
    configured = os.environ.get("OLLAMA_MODELS")
    return Path(configured).expanduser() if configured else Path.home() / ".ollama" / "models"


def free_bytes(path: Path) -> int:
    """Free space on the file system that holds `path` (or would, once it is created)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def unreachable(host: str) -> OllamaUnavailable:
    return OllamaUnavailable(
        f"Ollama is not reachable at {host}: start it with `ollama serve` (or open the Ollama app), "
        "or point --host / OLLAMA_HOST at a running server"
    )


def normal_ref(name: str) -> str:
    """Ollama's normal form of a model reference: no tag means :latest."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


# --- the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledModel:
    """A model a server holds, as /api/tags lists it."""

    ref: str
    size: int
    digest: str
    modified_at: str


class Server:
    """One Ollama server, reached through the official client."""

    def __init__(self, host: str | None = None, *, read_timeout: float | None = PULL_READ_TIMEOUT):
        self.host = resolve_host(host)
        import httpx

        try:
            import ollama  # builds a default client from OLLAMA_HOST as it is imported
        except ValueError as exc:
            raise InputError(f"OLLAMA_HOST={os.environ.get('OLLAMA_HOST', '')!r} is not a usable address: {exc}") from None
        self._httpx = httpx
        self._ollama = ollama
        self.client = ollama.Client(host=self.host, timeout=httpx.Timeout(read_timeout, connect=REACH_TIMEOUT))

    # Every call goes through here, so each failure has one message.
    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        httpx, ollama = self._httpx, self._ollama
        try:
            return fn()
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
            raise unreachable(self.host) from None
        except ollama.ResponseError as exc:
            # status -1: an {"error"} line inside a stream; the HTTP status was 200 and says nothing.
            status = f" (HTTP {exc.status_code})" if exc.status_code > 0 else ""
            raise OllamaError(f"Ollama at {self.host} refused to {what}: {exc.error}{status}") from None
        except httpx.TimeoutException:
            raise OllamaUnavailable(f"Ollama at {self.host} stopped answering while trying to {what}") from None
        except httpx.HTTPError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise OllamaError(f"the connection to Ollama at {self.host} broke while trying to {what}: {reason}",
                              resumable=True) from None

    def version(self) -> str:
        """GET /api/version, within REACH_TIMEOUT; raises OllamaUnavailable when nobody answers."""

        def get() -> str:
            response = self.client._client.get("/api/version", timeout=REACH_TIMEOUT)
            if response.status_code != 200:
                raise OllamaError(
                    f"{self.host} answered HTTP {response.status_code} to /api/version: is it an Ollama server?"
                )
            return str(response.json().get("version", "unknown"))

        try:
            return str(self._call("report its version", get))
        except OllamaUnavailable:
            # Refused or silent for REACH_TIMEOUT seconds: either way, nobody to talk to.
            raise unreachable(self.host) from None
        except ValueError:
            raise OllamaError(f"{self.host} answered, but not like an Ollama server") from None

    def installed(self) -> dict[str, InstalledModel]:
        listing = self._call("list its models", self.client.list)
        out = {}
        for m in listing.models:
            ref = normal_ref(m.model or "")
            out[ref] = InstalledModel(ref, int(m.size or 0), m.digest or "", str(m.modified_at or ""))
        return out

    def pull(self, ref: str, on_progress: Callable[[int, int], None],
             on_layer: Callable[[str, int, int], None] | None = None) -> None:
        """Pull one model; on_progress(completed, total) summed over the layers seen so far, and
        on_layer(digest, completed, total) for each layer line (how many bytes really came).

        Only `success` and `error` are matched in the stream; the other statuses are prose.
        """
        layers: dict[str, tuple[int, int]] = {}

        def run() -> bool:
            for part in self.client.pull(ref, stream=True):
                if part.digest and part.total:
                    completed, total = int(part.completed or 0), int(part.total)
                    layers[part.digest] = (completed, total)
                    if on_layer is not None:
                        on_layer(part.digest, completed, total)
                    on_progress(sum(c for c, _ in layers.values()), sum(t for _, t in layers.values()))
                if part.status == "success":
                    return True
            return False

        if not self._call(f"pull {ref}", run):
            raise OllamaError(f"the pull of {ref} ended before Ollama said it succeeded", resumable=True)

    def delete(self, ref: str) -> None:
        self._call(f"delete {ref}", lambda: self.client.delete(ref))

    def chat(self, ref: str, prompt: str | list[dict[str, str]]) -> Iterator[Any]:
        """Stream a chat answer to a prompt or to a whole conversation (a list of role/content
        messages); the chunks are the client's ChatResponse objects."""
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        stream = self._call(
            f"answer with {ref}",
            lambda: self.client.chat(model=ref, messages=messages, stream=True),
        )
        iterator = iter(stream)
        while True:
            chunk = self._call(f"answer with {ref}", lambda: next(iterator, None))
            if chunk is None:
                return
            yield chunk


def listening(host: str | None = None, timeout: float = 0.3) -> bool:
    """Does anything accept connections at the server's address? A TCP connect, no request: it lets
    read-only commands skip importing the client (~0.2 s) when no server runs."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(resolve_host(host))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT), timeout=timeout):
            return True
    except OSError:
        return False
