"""serve's gate and the rest of its API, with the real uvicorn server: who may use it (Host, Origin,
CORS preflight, keys), what a body may be (400s in the route's shape, never a 500), and the
endpoints beside chat (model by id, completions, embeddings, show, HEAD /)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import ollama
import pytest

from recommender import serve
from recommender.errors import InputError
from recommender.serve import validate
from tests.serve_support import TASKS, chat_body, start


@pytest.fixture
def logged(fake):
    """serve with its event lines collected: (url, app, lines)."""
    lines: list[str] = []
    session = serve.ServeSession(host=fake.host, memory="128GB")
    url, app, stop = start(session, on_event=lines.append)
    try:
        yield url, app, lines
    finally:
        stop()


# --- Origin and Host ------------------------------------------------------------------------------


def test_a_foreign_origin_is_refused_before_any_work(served):
    before = len(served.fake.requests)
    for origin in ("https://evil.example", "http://localhost.evil.example", "null", "http://127.0.0.1.nip.io"):
        # text/plain needs no preflight: the browser sends it as it is, so serve must refuse it itself.
        response = httpx.post(served.url + "/api/chat", headers={"Origin": origin, "Content-Type": "text/plain"},
                              content=json.dumps(chat_body("taskprof/auto", TASKS["programming"], stream=False)))
        assert response.status_code == 403, origin
        assert "origin" in response.json()["error"] and "access-control-allow-origin" not in response.headers
        v1 = httpx.get(served.url + "/v1/models", headers={"Origin": origin})
        assert v1.status_code == 403 and v1.json()["error"]["type"] == "permission_error"
    assert served.fake.requests[before:] == []  # nothing reached Ollama
    assert served.uses() == []


@pytest.mark.parametrize("origin", ["http://localhost:3000", "https://localhost", "http://127.0.0.1:8080",
                                    "http://[::1]:5173", "http://0.0.0.0:3000", "app://obsidian.md",
                                    "file://", "tauri://localhost", "vscode-webview://abc123"])
def test_loopback_and_app_origins_are_allowed_with_cors_headers(served, origin):
    response = httpx.post(served.url + "/api/chat", headers={"Origin": origin},
                          json=chat_body("taskprof/programming:fast", stream=False))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "X-Taskprof-Profile" in response.headers["access-control-expose-headers"]


def test_a_preflight_from_an_allowed_origin_is_answered_204(served):
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type, authorization, x-stainless-os, x-stainless-retry-count"}
    for path in ("/api/chat", "/v1/chat/completions", "/v1/models"):
        response = httpx.options(served.url + path, headers=headers)
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "authorization", "x-stainless-os", "x-stainless-retry-count"} <= allowed
    foreign = httpx.options(served.url + "/api/chat", headers={**headers, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    odd = httpx.options(served.url + "/api/chat", headers={**headers, "Access-Control-Request-Headers": "x-evil"})
    assert odd.status_code == 403


def test_a_request_without_origin_works_as_from_curl(served):
    out = subprocess.run(["curl", "-s", "-i", served.url + "/api/chat", "-d",
                          json.dumps(chat_body("taskprof/programming:fast", stream=False))],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.startswith("HTTP/1.1 200"), out.stdout[:300]
    assert "access-control-allow-origin" not in out.stdout.lower()
    assert '"model":"coder-fast:7b"' in out.stdout.replace(" ", "")


def test_origins_can_be_allowed_by_setting_flag_or_ollama_origins(fake, run, run_script, monkeypatch):
    monkeypatch.setenv("OLLAMA_ORIGINS", "https://chat.example.org")
    result = run_script("config", "set", "serve_origins", "https://*.mycorp.test")
    assert result.returncode == 0, result.stderr
    session = serve.ServeSession(host=fake.host, memory="128GB")
    assert session.settings.serve_origins == "https://*.mycorp.test"
    url, _, stop = start(session, origins=("http://intranet:8080",))
    try:
        for origin, status in (("https://chat.example.org", 200), ("https://ui.mycorp.test", 200),
                               ("http://intranet:8080", 200), ("https://other.example", 403)):
            assert httpx.get(url + "/api/tags", headers={"Origin": origin}).status_code == status, origin
    finally:
        stop()
    url, _, stop = start(serve.ServeSession(host=fake.host, memory="128GB"), origins=("*",))
    try:
        assert httpx.get(url + "/api/tags", headers={"Origin": "https://anything.example"}).status_code == 200
    finally:
        stop()


def test_a_foreign_host_header_is_refused_on_loopback(served):
    for host in ("evil.example", "evil.example:11435", "192.168.1.5:11435", "localhost.evil.example"):
        response = httpx.get(served.url + "/api/tags", headers={"Host": host})
        assert response.status_code == 403, host
        assert "Host" in response.json()["error"]
    for host in ("localhost:11435", "127.0.0.1", "[::1]:11435", "app.localhost:3000", "127.0.0.2:8080"):
        assert httpx.get(served.url + "/api/tags", headers={"Host": host}).status_code == 200, host


def test_any_host_is_answered_when_not_on_loopback(fake):
    """Listening on all interfaces needs a key; then the Host check is off (the key is the defence)."""
    key = "k" * 20
    url, _, stop = start(serve.ServeSession(host=fake.host, memory="128GB"), api_key=key, loopback=False)
    try:
        response = httpx.get(url + "/api/tags", headers={"Host": "gpu-box.lan:11435", "Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    finally:
        stop()


# --- keys, listen, banner -------------------------------------------------------------------------


def test_keys_are_stripped_and_must_be_long_enough():
    assert serve.clean_key("  0123456789abcdef \n", "--api-key") == "0123456789abcdef"
    assert serve.clean_key(None, "--api-key") is None
    for bad in ("", "   ", "x", "short-key"):
        with pytest.raises(InputError):
            serve.clean_key(bad, "--api-key")


def test_a_key_with_spaces_around_it_authenticates(fake, taskprof_home):
    """The configured key (from the environment, with a newline from `cat key.txt`) is compared stripped."""
    key = "correct-horse-battery-staple"
    session = serve.ServeSession(host=fake.host, memory="128GB")
    url, _, stop = start(session, api_key=serve.clean_key(f"  {key}\n", "TASKPROF_SERVE_KEY"))
    try:
        assert httpx.get(url + "/api/tags", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        stop()


@pytest.mark.parametrize("text", ["nope", "nope:11435", "my host:1", "localhost:http", "1.2.3:80", "::1"])
def test_listen_errors_name_what_is_wrong(run, text):
    result = run("serve", "--listen", text)
    assert result.exit_code == 2, result.output
    assert f"--listen '{text}'" in result.output and "Traceback" not in result.output


def test_a_short_key_is_a_usage_error(run):
    result = run("serve", "--api-key", "abc")
    assert result.exit_code == 2 and "at least 16" in result.output


def test_the_banner_names_a_url_a_client_can_use(fake, taskprof_home):
    """Listening on 0.0.0.0: the banner's URLs are loopback ones, never http://0.0.0.0."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TASKPROF_HOME": str(taskprof_home), "TASKPROF_SERVE_KEY": "  0123456789abcdefgh \n"}
    proc = subprocess.Popen([sys.executable, "-m", "recommender", "serve", "--listen", f"0.0.0.0:{port}",
                             "--host", fake.host], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/tags",
                                   headers={"Authorization": "Bearer 0123456789abcdefgh"}).status_code
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    banner = [line for line in stderr.splitlines() if "http://" in line]
    assert banner and all("http://0.0.0.0" not in line.split("(all interfaces")[0] for line in banner)
    assert f"OLLAMA_HOST=127.0.0.1:{port}" in stderr and f"base_url=http://127.0.0.1:{port}/v1" in stderr


def test_an_unreachable_upstream_is_one_line_at_start_and_serve_still_starts(taskprof_home, dead_host):
    lines: list[str] = []
    url, _, stop = start(serve.ServeSession(host=dead_host, memory="128GB"), on_event=lines.append)
    try:
        assert httpx.get(url + "/").text == "Ollama is running"
    finally:
        stop()
    warnings = [line for line in lines if dead_host in line]
    assert len(warnings) == 1 and "not reachable" in warnings[0]


# --- bodies ---------------------------------------------------------------------------------------


def test_depth_is_measured_without_parsing():
    brackets = b"[" * 100  # inside strings: not nesting (and enough of them to need the exact count)
    assert validate.depth(b'{"a": [1, {"b": "' + brackets + b'"}]}') == 3
    assert validate.depth(b'{"a": "\\"' + brackets + b'", "b": [[]]}') == 3
    assert validate.depth(b'{"a": [1, 2]}') <= validate.MAX_DEPTH  # few brackets: bounded by their count
    assert validate.depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    assert validate.depth(b'"plain"') == 0


BAD_BODIES = [
    (b"{not json", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nests"),
    (b'{"model": "taskprof/auto", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests"),
    (b"\xff\xfe{}", "not JSON"),
    (b'"a string"', "JSON object"),
    (b'[{"model": "x"}]', "JSON object"),
    (b'{"model": 7, "messages": []}', "'model' must be a string"),
    (b'{"model": ["taskprof/auto"], "messages": []}', "'model' must be a string"),
    (b'{"model": "taskprof/auto", "messages": "hello"}', "'messages' must be an array"),
    (b'{"model": "coder-fast:7b", "messages": "hello"}', "'messages' must be an array"),
    (b'{"model": "taskprof/auto", "messages": ["hello"]}', "'messages[0]' must be"),
    (b'{"model": "taskprof/auto", "messages": [{"role": 1, "content": "x"}]}', "'messages[0].role'"),
    (b'{"model": "taskprof/auto", "messages": [{"role": "user", "content": 5}]}', "'messages[0].content'"),
    (b'{"model": "taskprof/auto", "messages": [], "stream": "yes"}', "'stream' must be true or false"),
    (b'{"model": "taskprof/auto", "messages": [], "options": [1]}', "'options' must be an object"),
]


@pytest.mark.parametrize(("raw", "said"), BAD_BODIES)
def test_bad_chat_bodies_are_400_in_ollamas_shape(logged, raw, said):
    url, _, lines = logged
    response = httpx.post(url + "/api/chat", content=raw, timeout=30)
    assert response.status_code == 400
    assert said in response.json()["error"]
    assert lines and all("Traceback" not in line for line in lines)
    assert sum(1 for line in lines if line.startswith("400 ")) == 1  # one line in the log


@pytest.mark.parametrize(("path", "raw", "said"), [
    ("/api/generate", b'{"model": "taskprof/auto", "prompt": ["a", "b"]}', "'prompt' must be a string"),
    ("/api/generate", b'{"model": "taskprof/auto", "prompt": "x", "options": "fast"}', "'options'"),
    ("/api/generate", b'{"prompt": "x"}', "model is required"),
    ("/api/show", b'{"model": {"name": "x"}}', "'model' must be a string"),
    ("/api/embed", b'{"model": "embed:1", "input": {"a": 1}}', "'input' must be"),
    ("/api/embeddings", b'{"model": "embed:1", "prompt": ["a"]}', "'prompt' must be a string"),
])
def test_bad_bodies_on_other_ollama_routes_are_400(served, path, raw, said):
    response = httpx.post(served.url + path, content=raw)
    assert response.status_code == 400 and said in response.json()["error"]


@pytest.mark.parametrize(("path", "raw", "said"), [
    ("/v1/chat/completions", b'{"model": "taskprof/auto", "messages": "hello"}', "'messages' must be an array"),
    ("/v1/chat/completions", b'{"model": "taskprof/auto"}', "'messages' is required"),
    ("/v1/chat/completions", b'{"model": "taskprof/auto", "messages": []}', "must not be empty"),
    ("/v1/chat/completions", b'{"model": "taskprof/auto", "messages": [{"role": "user", "content": 3}]}',
     "'messages[0].content'"),
    ("/v1/chat/completions", b'{"model": "taskprof/auto", "messages": [{"role": "user", "content": "x"}], '
                             b'"stream": 1}', "'stream'"),
    ("/v1/chat/completions", b"[" * 50_000 + b"]" * 50_000, "nests"),
    ("/v1/completions", b'{"model": "taskprof/auto", "prompt": 12}', "'prompt' must be"),
    ("/v1/embeddings", b'{"model": "embed:1", "input": [true]}', "'input' must be"),
])
def test_bad_bodies_on_v1_are_400_in_openais_shape(served, path, raw, said):
    response = httpx.post(served.url + path, content=raw)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and said in error["message"]


# --- the rest of the API ---------------------------------------------------------------------------


def test_head_root(served):
    response = httpx.head(served.url + "/")
    assert response.status_code == 200


def test_a_model_by_id_virtual_or_real(served):
    for name in ("taskprof/auto", "taskprof/programming:fast", "taskprof/programming", "coder-fast:7b"):
        response = httpx.get(f"{served.url}/v1/models/{name}")
        assert response.status_code == 200, name
        assert response.json()["id"] == name and response.json()["object"] == "model"
    assert httpx.get(served.url + "/v1/models/taskprof/programming").json()["owned_by"] == "taskprof"
    for name in ("nothere:1b", "taskprof/brainstorming", "taskprof/nosuch"):
        missing = httpx.get(f"{served.url}/v1/models/{name}")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_completions_are_routed_like_generate(served):
    response = httpx.post(served.url + "/v1/completions",
                          json={"model": "taskprof/auto", "prompt": TASKS["programming"]})
    assert response.status_code == 200
    assert response.headers["X-Taskprof-Profile"] == "programming"
    assert response.json()["model"] == "coder-deep:32b"
    assert response.json()["choices"][0]["text"].startswith("[coder-deep:32b]")
    with httpx.stream("POST", served.url + "/v1/completions",
                      json={"model": "taskprof/data-work:fast", "prompt": "hi", "stream": True}) as streamed:
        events = [line.removeprefix("data: ") for line in streamed.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]).startswith("[data-fast:7b]")


def test_embeddings_pass_through_to_real_models(served):
    served.fake.install("nomic-embed-text:latest")
    served.app.server.upstream.forget()
    client = served.client()
    embedded = client.embed(model="nomic-embed-text", input=["a contract", "a poem"])
    assert len(embedded.embeddings) == 2 and embedded.embeddings[0] != embedded.embeddings[1]
    old = client.embeddings(model="nomic-embed-text", prompt="a contract")
    assert old.embedding == embedded.embeddings[0]
    v1 = httpx.post(served.url + "/v1/embeddings", json={"model": "nomic-embed-text", "input": "a contract"})
    assert v1.status_code == 200 and v1.json()["data"][0]["embedding"] == embedded.embeddings[0]
    assert served.fake.requests[-1][1] == "/v1/embeddings"


def test_embeddings_for_a_taskprof_name_are_a_clear_400(served):
    for path, body in (("/api/embed", {"model": "taskprof/auto", "input": "x"}),
                       ("/api/embeddings", {"model": "taskprof/programming", "prompt": "x"})):
        response = httpx.post(served.url + path, json=body)
        assert response.status_code == 400 and "name a real model" in response.json()["error"]
    v1 = httpx.post(served.url + "/v1/embeddings", json={"model": "taskprof/auto", "input": "x"})
    assert v1.status_code == 400 and "name a real model" in v1.json()["error"]["message"]


def test_show_for_virtual_models(served):
    client = served.client()
    shown = client.show("taskprof/programming:fast")
    assert shown.modelfile == "FROM coder-fast:7b\n"
    response = httpx.post(served.url + "/api/show", json={"name": "taskprof/data-work"})
    assert response.status_code == 200 and response.headers["X-Taskprof-Profile"] == "data-work"
    with pytest.raises(ollama.ResponseError) as caught:
        client.show("taskprof/brainstorming")
    assert caught.value.status_code == 404
