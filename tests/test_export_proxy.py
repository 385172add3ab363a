"""The README's LiteLLM example, run for real: `taskprof export litellm -o litellm.yaml` and then the
LiteLLM proxy started on that file, with a master key, answering a chat from the fake Ollama.

Slow (the proxy takes seconds to start) and needs the `proxy` extra (`pip install -e '.[proxy]'`),
which CI installs with the slow tests; missing, the test fails rather than skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.test_ollama import write_profile

pytestmark = pytest.mark.slow

MASTER_KEY = "sk-taskprof-proxy-test"
START_TIMEOUT_S = 180


def _litellm() -> str:
    found = shutil.which("litellm") or str(Path(sys.executable).parent / "litellm")
    if not Path(found).is_file():
        pytest.fail("the LiteLLM proxy is not installed: pip install -e '.[proxy]' (CI installs it with the slow tests)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None, key: str | None = None, timeout: float = 60) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"text": raw.decode("utf-8", "replace")}


@pytest.fixture
def proxy(tmp_path, taskprof_home, ollama_server):
    """The README's two steps: export the config, start the proxy on it (loopback, a free port)."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    ollama_server.install("qwen2.5-coder:7b")
    config = tmp_path / "litellm.yaml"
    exported = subprocess.run([*console_script(), "export", "litellm", "programming", "--host", ollama_server.host,
                               "-o", str(config)], capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    port = _free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY,
           # No network here: use the cost map bundled with LiteLLM instead of fetching it.
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    env.pop("DATABASE_URL", None)
    log = (tmp_path / "proxy.log").open("w")
    proc = subprocess.Popen([_litellm(), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the LiteLLM proxy exited ({proc.returncode}):\n{(tmp_path / 'proxy.log').read_text()[-3000:]}")
            try:
                if _request(f"{base}/health/liveliness", timeout=2)[0] == 200:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the LiteLLM proxy did not start in {START_TIMEOUT_S} s:\n"
                            f"{(tmp_path / 'proxy.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, ollama_server, tmp_path / "proxy.log"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_readme_litellm_example_answers_through_the_proxy(proxy):
    base, fake, log = proxy
    chat = {"model": "taskprof/programming:fast", "messages": [{"role": "user", "content": "refactor this"}]}
    status, body = _request(f"{base}/v1/chat/completions", chat, key=MASTER_KEY)
    assert status == 200, (body, log.read_text()[-3000:], fake.errors)
    assert body["choices"][0]["message"]["content"] == fake.reply
    # It reached the fast tier's model on the server export named.
    assert any(path == "/api/chat" and b.get("model") == "qwen2.5-coder:7b" for _, path, b in fake.requests)
    status, listed = _request(f"{base}/v1/models", key=MASTER_KEY)
    assert status == 200
    assert {"taskprof/programming", "taskprof/programming:fast", "taskprof/programming:quality"} <= {
        m["id"] for m in listed["data"]}
    # The master key is what guards it: without the key, no answer and no call to Ollama. (LiteLLM
    # 1.108.7 says 500 rather than 401 here: its refusal path imports prisma, which litellm[proxy]
    # does not install.)
    chats = sum(1 for _, path, _ in fake.requests if path == "/api/chat")
    denied = _request(f"{base}/v1/chat/completions", chat)
    assert denied[0] in (401, 500) and "choices" not in denied[1], denied
    assert sum(1 for _, path, _ in fake.requests if path == "/api/chat") == chats
