"""A fake Ollama that keeps only a few models in memory, for benchmarks of model loads.

    python benchmarks/residency_ollama.py [--resident 2] [--seconds-per-gb 2] [--time-scale 0.001] [--port 11434]

It is the loopback fake of the tests (tests/ollama_server.py) with Ollama's residency on top: every
model of the bundled profiles is installed (sizes from profiles/*.json); at most `resident` models
are loaded at once and the least recently used one is evicted to make room; a chat with a model that
is not loaded first loads it, which takes `seconds-per-gb` per GB of the model's size. That load
time is simulated: the server sleeps for it multiplied by `time-scale` (so a benchmark runs in
seconds) and reports the unscaled time as Ollama does, in nanoseconds in `load_duration` of the final
chat chunk (0 when the model was already loaded). `GET /api/ps` lists the loaded models in Ollama's
shape. A chat with no messages only loads the model (`done_reason: "load"`), and `keep_alive: 0`
unloads it after the answer, as in Ollama.

Every load is recorded in `load_log` (model, size, simulated seconds, what it evicted, which
endpoint); a client in another process reads it at `GET /_residency/log` and clears it and the loaded
models with `POST /_residency/reset`. Run standalone it serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import ollama_server as base  # noqa: E402  (the repo root must be on sys.path first)

GB = 1_000_000_000
KEEP_ALIVE = timedelta(minutes=5)  # Ollama's default: a loaded model stays this long after its last use


def bundled_models(profiles_dir: Path = ROOT / "profiles") -> dict[str, float]:
    """Every model reference of the bundled profiles and its download size in GB."""
    sizes: dict[str, float] = {}
    for path in sorted(profiles_dir.glob("*.json")):
        data = json.loads(path.read_text())
        for model in data.get("models", []) if isinstance(data, dict) else []:
            name = model.get("name")
            if isinstance(name, str):
                sizes[base.ref_of(name)] = float(model.get("size_gb") or 5.0)
    return sizes


@dataclass
class Load:
    model: str
    size_gb: float
    seconds: float  # simulated (unscaled) load time
    evicted: list[str]
    endpoint: str
    at: float  # time.monotonic() when it started


@dataclass
class ResidencyOllama(base.FakeOllama):
    """FakeOllama plus which models are in memory. Tests and benchmarks read `load_log`."""

    resident: int = 2
    seconds_per_gb: float = 2.0
    time_scale: float = 0.001
    sizes_gb: dict[str, float] = field(default_factory=dict)
    loaded: collections.OrderedDict[str, datetime] = field(default_factory=collections.OrderedDict)  # ref -> expires
    load_log: list[Load] = field(default_factory=list)
    chats: int = 0
    residency_lock: threading.Lock = field(default_factory=threading.Lock)

    def install_bundled(self, profiles_dir: Path = ROOT / "profiles") -> None:
        for ref, size in bundled_models(profiles_dir).items():
            self.install_sized(ref, size)

    def install_sized(self, name: str, size_gb: float) -> str:
        ref = self.install(name, weights=max(1, int(size_gb * GB) - 1_296))  # the small layers make up the rest
        self.sizes_gb[ref] = size_gb
        return ref

    def reset(self) -> None:
        with self.residency_lock:
            self.loaded.clear()
            self.load_log.clear()
            self.chats = 0

    def use(self, name: str, endpoint: str) -> float:
        """Make `name` resident (loading it when it is not, evicting the least recently used model when
        memory is full); returns the simulated load time in seconds, 0.0 when it was loaded already."""
        ref = base.ref_of(name)
        # One load at a time, as Ollama's scheduler does: concurrent requests for a model wait for its load.
        with self.residency_lock:
            self.chats += 1
            expires = datetime.now(UTC) + KEEP_ALIVE
            if ref in self.loaded:
                self.loaded.move_to_end(ref)
                self.loaded[ref] = expires
                return 0.0
            evicted = []
            while len(self.loaded) >= max(1, self.resident):
                evicted.append(self.loaded.popitem(last=False)[0])
            size = self.sizes_gb.get(ref) or float(self.installed[ref]["size"]) / GB
            seconds = size * self.seconds_per_gb
            self.load_log.append(Load(ref, size, seconds, evicted, endpoint, time.monotonic()))
            if seconds * self.time_scale > 0:
                time.sleep(seconds * self.time_scale)
            self.loaded[ref] = expires
            return seconds

    def unload(self, name: str) -> None:
        with self.residency_lock:
            self.loaded.pop(base.ref_of(name), None)

    def ps(self) -> list[dict[str, Any]]:
        """The loaded models as Ollama's /api/ps lists them, most recently used first."""
        with self.residency_lock:
            refs = list(reversed(self.loaded.items()))
        out = []
        for ref, expires in refs:
            info = self.installed.get(ref, {"size": 0, "digest": ""})
            family = ref.split(":")[0].split("/")[-1]
            out.append({
                "name": ref,
                "model": ref,
                "size": info["size"],
                "digest": info["digest"],
                "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                            "parameter_size": "7.6B", "quantization_level": "Q4_K_M"},
                "expires_at": expires.isoformat(),
                "size_vram": info["size"],
                "context_length": 4096,
            })
        return out

    def log_json(self) -> dict[str, Any]:
        with self.residency_lock:
            loads = [vars(load).copy() for load in self.load_log]
            return {"chats": self.chats, "loads": loads, "loaded": list(self.loaded),
                    "simulated_seconds": sum(load["seconds"] for load in loads)}


class ResidencyHandler(base._Handler):
    """The tests' handler with residency: /api/ps, load on chat, load_duration, the load log."""

    @property
    def fake(self) -> ResidencyOllama:
        return self.server.fake  # type: ignore[return-value]

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?")[0]
        if (method, path) == ("GET", "/api/ps"):
            self._send(200, {"models": self.fake.ps()})
        elif (method, path) == ("GET", "/_residency/log"):
            self._send(200, self.fake.log_json())
        elif (method, path) == ("POST", "/_residency/reset"):
            self._body()
            self.fake.reset()
            self._send(200, {"status": "reset"})
        else:
            super()._dispatch(method)

    def _known(self, name: str) -> bool:
        return base.ref_of(name) in self.fake.installed

    def _answer(self, body: dict[str, Any], chat: bool) -> None:
        name = self._model_arg(body)
        if not self._known(name):
            super()._answer(body, chat)  # the fake's own "not found"
            return
        load = self.fake.use(name, "/api/chat" if chat else "/api/generate")
        stamp = datetime.now(UTC).isoformat()
        empty = not body.get("messages") if chat else not body.get("prompt")
        if empty:  # Ollama: an empty chat or prompt only loads the model
            out: dict[str, Any] = {"model": name, "created_at": stamp, "done": True, "done_reason": "load"}
            if chat:
                out["message"] = {"role": "assistant", "content": ""}
            else:
                out["response"] = ""
            self._send(200, out)
            self._after(body, name)
            return
        self._reply(name, chat, body.get("stream") is not False, load_ns=int(load * 1e9))
        self._after(body, name)

    def _openai_chat(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or "")
        if body.get("messages") and self._known(name):
            self.fake.use(name, "/v1/chat/completions")
        super()._openai_chat(body)

    def _after(self, body: dict[str, Any], name: str) -> None:
        if body.get("keep_alive") in (0, "0", "0s", "0m"):
            self.fake.unload(name)


@contextlib.contextmanager
def running(resident: int = 2, seconds_per_gb: float = 2.0, time_scale: float = 0.001,
            port: int = 0, record: int = 50) -> Iterator[ResidencyOllama]:
    """A ResidencyOllama serving on 127.0.0.1 (an ephemeral port unless given), all bundled models installed.
    Only the last `record` requests are kept in `requests` (histories are long)."""
    server = base._Server(("127.0.0.1", port), ResidencyHandler)
    fake = ResidencyOllama(host=f"http://127.0.0.1:{server.server_address[1]}", resident=resident,
                           seconds_per_gb=seconds_per_gb, time_scale=time_scale)
    fake.requests = collections.deque(maxlen=record)  # type: ignore[assignment]
    fake.install_bundled()
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if fake.errors:
        raise RuntimeError("the residency fake failed:\n" + "\n".join(fake.errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resident", type=int, default=2, help="models held in memory at once (default 2)")
    parser.add_argument("--seconds-per-gb", type=float, default=2.0, help="simulated load time per GB (default 2)")
    parser.add_argument("--time-scale", type=float, default=0.001,
                        help="real sleep = simulated load time x this (default 0.001)")
    parser.add_argument("--port", type=int, default=11434, help="port on 127.0.0.1 (default 11434)")
    args = parser.parse_args()
    with running(args.resident, args.seconds_per_gb, args.time_scale, args.port) as fake:
        print(f"residency fake on {fake.host}: {len(fake.installed)} models installed, "
              f"{args.resident} resident", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            log = fake.log_json()
            print(f"{log['chats']} chats, {len(log['loads'])} loads, "
                  f"{log['simulated_seconds']:.1f} s of loading simulated", file=sys.stderr)


if __name__ == "__main__":
    main()
