"""What the serve tests share: the test profiles and their models, a real uvicorn server running the
app in a thread (`start`), and the fixtures `fake` (the loopback fake Ollama with the profiles
written) and `served` (serve in front of it)."""

from __future__ import annotations

import threading
import time

import ollama
import pytest
import uvicorn

from recommender import paths, serve
from recommender.serve import net
from tests.test_ollama import write_profile

# profile -> (fast model, quality model); each model belongs to one profile only.
MODELS = {
    "programming": ("coder-fast:7b", "coder-deep:32b"),
    "writing": ("writer-fast:8b", "writer-deep:70b"),
    "data-work": ("data-fast:7b", "data-deep:32b"),
    "brainstorming": ("ideas-fast:8b", "ideas-deep:70b"),
    "research": ("research-fast:8b", "research-deep:70b"),
    "business-research": ("biz-fast:8b", "biz-deep:70b"),
    "document-intelligence": ("docs-fast:8b", "docs-deep:70b"),
    "systems-architecture": ("arch-fast:14b", "arch-deep:32b"),
    "skills-building": ("learn-fast:14b", "learn-deep:32b"),
    "balanced": ("plain-fast:8b", "plain-deep:14b"),
}
TASKS = {  # a task each of three profiles, as `suggest` routes them
    "programming": "write a python function that parses ISO dates",
    "writing": "write a poem about autumn leaves",
    "data-work": "estimate customer churn from this billing data csv",
}


class Served:
    def __init__(self, url: str, fake, app, session):
        self.url = url
        self.fake = fake
        self.app = app
        self.session = session

    @property
    def ollama_host(self) -> str:
        return self.url

    def client(self, **kwargs) -> ollama.Client:
        return ollama.Client(host=self.url, timeout=10, **kwargs)

    def uses(self) -> list[tuple[str, str, str, str | None]]:
        """The routed chats in the usage log: (profile, tier, model, text)."""
        import sqlite3

        self.app.server.uses.flush()
        db = paths.usage_db_path()
        if not db.exists():
            return []
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT profile, tier, model, text FROM events WHERE command = 'chat' ORDER BY id").fetchall()


def start(session, config: dict | None = None, **kwargs):
    """A uvicorn server with the app on 127.0.0.1 and a free port, in a thread; returns (url, app, stop).
    `config`: uvicorn settings over serve's own (net.config)."""
    app = serve.create_app(session, **kwargs)
    sock = serve.bind(serve.Listen("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(net.config(app, **(config or {})))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{port}", app, stop


@pytest.fixture
def fake(taskprof_home, ollama_server):
    """Every test profile written; programming and data-work installed (both tiers), writing fast
    only; the rest pullable but not installed."""
    for name, (fast, quality) in MODELS.items():
        write_profile(taskprof_home, name, fast, quality)
        ollama_server.publish(fast)
        ollama_server.publish(quality)
    for ref in (*MODELS["programming"], *MODELS["data-work"], MODELS["writing"][0], "mistral:7b"):
        ollama_server.install(ref)
    ollama_server.echo_model = True
    return ollama_server


@pytest.fixture
def served(fake):
    session = serve.ServeSession(host=fake.host, memory="128GB")
    url, app, stop = start(session)
    try:
        yield Served(url, fake, app, session)
    finally:
        stop()


def chat_body(model: str, text: str = "hello", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}




def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`taskprof serve` as its own process (for what it costs in memory and file descriptors)."""

    def __init__(self, fake, home, *, nofile: tuple[int, int] | None = None, args: tuple[str, ...] = ()):
        import os
        import subprocess
        import sys
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  closed by stop()
        env = {**os.environ, "TASKPROF_HOME": str(home)}

        def limits() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recommender", "serve", "--listen", f"127.0.0.1:{self.port}", "--host", fake.host,
             *args], stderr=self.log, env=env, preexec_fn=limits if nofile else None)

    def wait_ready(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

    def status(self, field: str) -> int:
        """A /proc/PID/status figure in kB (VmRSS, VmHWM), or a count (FDSize)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)

    def open_files(self) -> int:
        import os

        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
                raise
        out = self.stderr()
        self.log.close()
        return out
