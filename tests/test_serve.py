"""`taskprof serve` end to end: a real uvicorn server on loopback in front of the loopback fake
Ollama, driven with the real `ollama` client and with httpx for the OpenAI-compatible `/v1`.

Each test profile here has models of its own (no model shared between profiles), so "which model
answered" names the profile; the fake starts every answer with the model's name (`echo_model`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import ollama
import pytest

from recommender import config, paths, serve
from tests.serve_support import MODELS, TASKS, chat_body, start

# --- listing -------------------------------------------------------------------------------------


def test_listing_shows_installed_profiles_and_passes_real_models_untouched(served):
    listed = served.client().list().models
    names = [m.model for m in listed]
    virtual = [n for n in names if n.startswith("taskprof/")]
    assert virtual[0] == "taskprof/auto:latest"
    assert set(virtual) == {
        "taskprof/auto:latest",
        "taskprof/programming:latest", "taskprof/programming:fast", "taskprof/programming:quality",
        "taskprof/data-work:latest", "taskprof/data-work:fast", "taskprof/data-work:quality",
        "taskprof/writing:latest", "taskprof/writing:fast",  # its quality model is not installed
    }
    # The real models, exactly as Ollama lists them.
    direct = httpx.get(served.fake.host + "/api/tags").json()["models"]
    through = httpx.get(served.url + "/api/tags").json()["models"]
    assert [m for m in through if not m["name"].startswith("taskprof/")] == direct
    # A virtual model carries its real model's details and names it.
    prog = next(m for m in through if m["name"] == "taskprof/programming:fast")
    assert prog["details"]["parent_model"] == "coder-fast:7b"
    assert prog["size"] == served.fake.installed["coder-fast:7b"]["size"]

    v1 = httpx.get(served.url + "/v1/models").json()
    assert v1["object"] == "list"
    ids = [m["id"] for m in v1["data"]]
    assert ids == [m["name"] for m in through]
    assert {m["owned_by"] for m in v1["data"] if m["id"].startswith("taskprof/")} == {"taskprof"}


def test_root_version_ps(served):
    assert httpx.get(served.url + "/").text == "Ollama is running"
    assert httpx.get(served.url + "/api/version").json() == {"version": "0.12.6"}
    assert httpx.get(served.url + "/api/ps").json() == {"models": []}
    assert httpx.post(served.url + "/api/pull", json={"model": "x"}).status_code == 404


# --- routing -------------------------------------------------------------------------------------


def test_auto_routes_each_task_to_its_profile_and_logs_the_use(served):
    client = served.client()
    for profile, task in TASKS.items():
        answer = client.chat(model="taskprof/auto", messages=[
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": task},  # the latest user message decides
        ], stream=False)
        fast, quality = MODELS[profile]
        expected = quality if profile != "writing" else fast  # writing has only its fast tier
        assert answer.model == expected
        assert answer.message.content.startswith(f"[{expected}] ")
    response = httpx.post(served.url + "/api/chat", json=chat_body("taskprof/auto", TASKS["data-work"], stream=False))
    assert response.headers["X-Taskprof-Profile"] == "data-work"
    assert response.headers["X-Taskprof-Tier"] == "quality"
    uses = served.uses()
    assert [(p, t, m) for p, t, m, _ in uses] == [
        ("programming", "quality", "coder-deep:32b"), ("writing", "fast", "writer-fast:8b"),
        ("data-work", "quality", "data-deep:32b"), ("data-work", "quality", "data-deep:32b")]
    assert uses[0][3] == TASKS["programming"]


@pytest.mark.parametrize(("name", "expected"), [
    ("taskprof/programming", "coder-deep:32b"),  # the tier that fits 128 GB
    ("taskprof/programming:latest", "coder-deep:32b"),
    ("taskprof/programming:fast", "coder-fast:7b"),
    ("taskprof/programming:quality", "coder-deep:32b"),
    ("taskprof/writing", "writer-fast:8b"),  # quality missing: the installed tier answers
    ("taskprof/auto", "coder-deep:32b"),
    ("taskprof/auto:latest", "coder-deep:32b"),
    ("coder-fast:7b", "coder-fast:7b"),  # a real model passes through
])
def test_every_name_form_on_every_endpoint(served, name, expected):
    task = TASKS["programming"]
    client = served.client()
    chat = client.chat(model=name, messages=[{"role": "user", "content": task}], stream=False)
    assert chat.model == expected
    generated = client.generate(model=name, prompt=task, stream=False)
    assert generated.model == expected and generated.response.startswith(f"[{expected}]")
    shown = httpx.post(served.url + "/api/show", json={"model": name})
    assert shown.status_code == 200
    if "auto" not in name:  # show has no message to route: auto shows its default profile's model
        assert shown.json()["modelfile"] == f"FROM {expected}\n"
    v1 = httpx.post(served.url + "/v1/chat/completions", json=chat_body(name, task))
    assert v1.status_code == 200
    assert v1.json()["model"] == expected
    assert v1.json()["choices"][0]["message"]["content"].startswith(f"[{expected}]")
    if name.startswith("taskprof/"):
        assert v1.headers["X-Taskprof-Profile"] == ("writing" if "writing" in name else "programming")
    else:
        assert "X-Taskprof-Profile" not in v1.headers


def test_a_real_model_request_reaches_ollama_byte_for_byte(served):
    raw = b'{"model":"coder-fast:7b","prompt":"hi","stream":false,"options":{"seed":7}}'
    response = httpx.post(served.url + "/api/generate", content=raw)
    assert response.status_code == 200
    assert served.fake.requests[-1] == ("POST", "/api/generate", json.loads(raw))
    assert served.uses() == []  # not routed, so no use


def test_a_client_loading_the_model_first_gets_an_answer_and_no_use_is_logged(served):
    """`ollama run` shows the model, then sends a chat with no messages to load it."""
    shown = httpx.post(served.url + "/api/show", json={"model": "taskprof/auto"})
    assert shown.status_code == 200 and shown.headers["X-Taskprof-Profile"] in MODELS
    loaded = httpx.post(served.url + "/api/chat", json={"model": "taskprof/auto", "messages": [], "stream": False})
    assert loaded.status_code == 200
    assert served.uses() == []


def test_auto_with_a_task_no_profile_fits_uses_the_default_installed_profile(served):
    """An abstention falls back to balanced, which is not installed here: the first installed profile
    answers (as for a request with no text), not an error asking to install balanced."""
    answer = served.client().chat(model="taskprof/auto", messages=[{"role": "user", "content": "hello"}],
                                  stream=False)
    assert answer.model in {m for pair in MODELS.values() for m in pair}
    served.fake.install(MODELS["balanced"][1])
    served.app.server.upstream.forget()
    answer = served.client().chat(model="taskprof/auto", messages=[{"role": "user", "content": "hello"}],
                                  stream=False)
    assert answer.model == MODELS["balanced"][1]
    uses = served.uses()
    assert len(uses) == 2 and uses[1][:3] == ("balanced", "quality", MODELS["balanced"][1])
    assert {u[3] for u in uses} == {"hello"}


def test_names_are_not_paths(served):
    before = len(served.fake.requests)
    for name in ("taskprof/../../etc/passwd", "taskprof/..", "taskprof/programming:../../x", "taskprof/Programming"):
        response = httpx.post(served.url + "/api/chat", json=chat_body(name))
        assert response.status_code == 404, name
        assert "not found" in response.json()["error"]
    assert [p for _, p, _ in served.fake.requests[before:] if p != "/api/tags"] == []


# --- streaming -----------------------------------------------------------------------------------


def test_chunks_arrive_as_ollama_sends_them(served):
    served.fake.line_delay = 0.15
    served.fake.reply = "one two three four five"
    arrivals, text = [], ""
    for part in served.client().chat(model="taskprof/programming:fast",
                                     messages=[{"role": "user", "content": "hi"}], stream=True):
        arrivals.append(time.monotonic())
        text += part.message.content
        assert part.model == "coder-fast:7b"
    assert text == "[coder-fast:7b] one two three four five"
    assert len(arrivals) == 7  # name, five words, the final chunk
    # Unbuffered: the first chunk came long before the last one was sent.
    assert arrivals[-1] - arrivals[0] > 0.6


def test_openai_stream_arrives_event_by_event(served):
    served.fake.line_delay = 0.15
    served.fake.reply = "alpha beta gamma"
    arrivals, events = [], []
    with httpx.stream("POST", served.url + "/v1/chat/completions",
                      json=chat_body("taskprof/data-work:fast", stream=True), timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["X-Taskprof-Profile"] == "data-work"
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
                events.append(line.removeprefix("data: "))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["model"] for c in chunks} == {"data-fast:7b"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "[data-fast:7b] alpha beta gamma"
    assert arrivals[-1] - arrivals[0] > 0.45


# --- failures ------------------------------------------------------------------------------------


def test_a_profile_with_nothing_installed_names_the_install_command(served):
    client = served.client()
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="taskprof/brainstorming", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert "taskprof install brainstorming" in caught.value.error
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="taskprof/writing:quality", messages=[{"role": "user", "content": "hi"}])
    assert "taskprof install writing --tier quality" in caught.value.error
    v1 = httpx.post(served.url + "/v1/chat/completions", json=chat_body("taskprof/brainstorming"))
    assert v1.status_code == 404
    assert v1.json()["error"]["type"] == "not_found_error"
    assert "taskprof install brainstorming" in v1.json()["error"]["message"]
    # auto routes a brainstorming task to brainstorming, and says the same
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="taskprof/auto", messages=[{"role": "user", "content": "brainstorm names for a bakery"}])
    assert "taskprof install brainstorming" in caught.value.error
    assert served.uses() == []


def test_auto_install_starts_in_the_background_then_answers(served, run):
    assert run("config", "set", "auto_install", "true").exit_code == 0
    served.session.__dict__.pop("settings", None)  # the running server reads the new setting
    client = served.client()
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="taskprof/brainstorming", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404
    assert "started installing its fast tier" in caught.value.error
    deadline = time.monotonic() + 10
    while "ideas-fast:8b" not in served.fake.installed:
        assert time.monotonic() < deadline, "the background install did not finish"
        time.sleep(0.05)
    while served.app.server.installs.running:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    answer = client.chat(model="taskprof/brainstorming", messages=[{"role": "user", "content": "hi"}], stream=False)
    assert answer.model == "ideas-fast:8b"
    assert "ideas-deep:70b" not in served.fake.installed  # auto_install_tier is fast


def test_ollama_down_is_a_502_naming_the_address(taskprof_home, dead_host):
    session = serve.ServeSession(host=dead_host, memory="128GB")
    url, _app, stop = start(session)
    try:
        client = ollama.Client(host=url, timeout=10)
        with pytest.raises(ollama.ResponseError) as caught:
            client.chat(model="taskprof/auto", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 502
        assert f"Ollama is not reachable at {dead_host}" in caught.value.error
        for path in ("/api/tags", "/v1/models"):
            response = httpx.get(url + path)
            assert response.status_code == 502 and dead_host in response.text
        response = httpx.post(url + "/api/chat", json=chat_body("mistral:7b"))
        assert response.status_code == 502 and dead_host in response.json()["error"]
    finally:
        stop()


def test_a_client_that_leaves_mid_stream_stops_the_upstream_answer(served):
    served.fake.line_delay = 0.05
    served.fake.reply = " ".join(f"w{i}" for i in range(60))  # three seconds if read to the end
    started = time.monotonic()
    with httpx.stream("POST", served.url + "/api/chat", json=chat_body("taskprof/programming:fast"),
                      timeout=10) as response:
        first = next(response.iter_lines())
        assert json.loads(first)["model"] == "coder-fast:7b"
    # Closed after one line: the fake's next writes fail, because serve closed its request too.
    deadline = time.monotonic() + 2
    while not served.fake.hung_up:
        assert time.monotonic() < deadline, "the upstream request was not cancelled"
        time.sleep(0.02)
    path, sent = served.fake.hung_up[0]
    assert path == "/api/chat"
    assert sent < 20  # of 62 lines
    assert time.monotonic() - started < 2.5


def test_a_client_that_leaves_before_the_first_token_stops_the_upstream_request_at_once(served):
    """Ollama sends nothing while it loads a model: the client's leaving is noticed without a write."""
    served.fake.line_delay = 1.5
    with httpx.stream("POST", served.url + "/api/chat", json=chat_body("taskprof/programming:fast"),
                      timeout=10) as response:
        assert response.status_code == 200
        deadline = time.monotonic() + 2
        while served.app.server.open_streams[0] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    left = time.monotonic()
    while served.app.server.open_streams[0]:
        assert time.monotonic() - left < 0.5, "the upstream request outlived its client"
        time.sleep(0.01)
    deadline = time.monotonic() + 5
    while not served.fake.hung_up:  # and Ollama sees the connection gone at its next write
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert served.fake.hung_up[0][1] <= 1


def test_ollama_hanging_up_mid_stream_is_an_error_inside_the_stream(served):
    served.fake.drop_answer_after = 3
    seen = []
    with pytest.raises(ollama.ResponseError) as caught:
        for part in served.client().chat(model="taskprof/programming", messages=[{"role": "user", "content": "x"}],
                                         stream=True):
            seen.append(part.message.content)
    assert len(seen) == 3  # what came before the break arrived
    assert caught.value.status_code == -1  # inside a 200 stream, as Ollama reports errors there
    assert "broke mid-answer" in caught.value.error and served.fake.host in caught.value.error
    with httpx.stream("POST", served.url + "/v1/chat/completions",
                      json=chat_body("taskprof/programming", stream=True), timeout=10) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) == 4
    assert "broke mid-answer" in json.loads(events[-1].removeprefix("data: "))["error"]["message"]


def test_an_upstream_error_status_comes_back_as_ollama_gave_it(served):
    response = httpx.post(served.url + "/api/chat", json=chat_body("nothere:1b"))
    assert response.status_code == 404
    assert response.json() == {"error": 'model "nothere:1b" not found, try pulling it first'}
    response = httpx.post(served.url + "/api/chat", content=b"{not json")
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    response = httpx.post(served.url + "/api/chat", json={"messages": []})
    assert response.status_code == 400 and response.json() == {"error": "model is required"}


# --- who may use it ------------------------------------------------------------------------------


def test_a_key_is_required_and_checked(fake):
    """The app configured as for a non-loopback address (a key set), bound to 127.0.0.1 for the test."""
    session = serve.ServeSession(host=fake.host, memory="128GB")
    url, _app, stop = start(session, api_key="s3cret-key-0123456789")
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key-0123456789"},
                        {"Authorization": "Basic s3cret-key-0123456789"}, {"Authorization": "Bearer s3cret-key-01234567892"}):
            response = httpx.get(url + "/api/tags", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
        v1 = httpx.post(url + "/v1/chat/completions", json=chat_body("taskprof/auto"))
        assert v1.status_code == 401 and v1.json()["error"]["type"] == "authentication_error"
        client = ollama.Client(host=url, timeout=10, headers={"Authorization": "Bearer s3cret-key-0123456789"})
        assert client.chat(model="taskprof/programming:fast", messages=[{"role": "user", "content": "x"}],
                           stream=False).model == "coder-fast:7b"
        # The key is serve's: it is not sent on to Ollama.
        assert all("authorization" not in json.dumps(body).lower() for _, _, body in fake.requests)
    finally:
        stop()


def test_serve_refuses_a_non_loopback_address_without_a_key(run, monkeypatch):
    monkeypatch.delenv("TASKPROF_SERVE_KEY", raising=False)
    for address in ("0.0.0.0:11435", "[::]:11435", "192.168.1.20:8080"):
        result = run("serve", "--listen", address)
        assert result.exit_code == 2, (address, result.output)
        assert "--api-key" in result.output and "TASKPROF_SERVE_KEY" in result.output


@pytest.mark.parametrize(("text", "host", "port", "loopback"), [
    ("127.0.0.1:11435", "127.0.0.1", 11435, True),
    ("127.0.0.2:9", "127.0.0.2", 9, True),
    (":8080", "127.0.0.1", 8080, True),
    ("[::1]:11435", "::1", 11435, True),
    ("localhost", "localhost", 11435, True),
    ("0.0.0.0:11435", "0.0.0.0", 11435, False),
    ("[::]", "::", 11435, False),
    ("10.0.0.5:1", "10.0.0.5", 1, False),
])
def test_listen_addresses(text, host, port, loopback):
    listen = serve.parse_listen(text)
    assert (listen.host, listen.port, listen.loopback) == (host, port, loopback)


def test_an_oversized_body_is_refused_with_413(served):
    limit = serve.MAX_BODY_BYTES
    big = json.dumps(chat_body("taskprof/auto", "x" * (limit + 10))).encode()
    response = httpx.post(served.url + "/api/chat", content=big, timeout=30)
    assert response.status_code == 413 and "32 MB" in response.json()["error"]

    def chunks():  # no Content-Length: counted while read
        for i in range(0, len(big), 1 << 20):
            yield big[i:i + (1 << 20)]

    response = httpx.post(served.url + "/v1/chat/completions", content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert all(p != "/api/chat" for _, p, _ in served.fake.requests)


# --- many at once --------------------------------------------------------------------------------


def test_32_concurrent_streaming_chats_each_answered_by_its_profiles_model(served):
    for profile in ("writing", "brainstorming", "research", "business-research", "document-intelligence",
                    "systems-architecture", "skills-building", "balanced"):
        for ref in MODELS[profile]:
            served.fake.install(ref)
    served.fake.line_delay = 0.01
    served.fake.reply = "a b c d e f g h"
    jobs = [(profile, tier) for profile in MODELS for tier in ("fast", "quality")]
    jobs = (jobs * 2)[:32]
    assert len({p for p, _ in jobs}) == 10

    async def one(client: httpx.AsyncClient, profile: str, tier: str) -> tuple[str, str, set[str], str]:
        async with client.stream("POST", served.url + "/api/chat",
                                 json=chat_body(f"taskprof/{profile}:{tier}")) as response:
            assert response.status_code == 200, await response.aread()
            header = response.headers["X-Taskprof-Profile"]
            models, text = set(), ""
            async for line in response.aiter_lines():
                part = json.loads(line)
                assert "error" not in part, part
                models.add(part["model"])
                text += part["message"]["content"]
        return header, tier, models, text

    async def main():
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
            return await asyncio.gather(*(one(client, p, t) for p, t in jobs))

    results = asyncio.run(main())
    assert len(results) == 32
    for (profile, tier), (header, _, models, text) in zip(jobs, results, strict=True):
        expected = MODELS[profile][0 if tier == "fast" else 1]
        assert header == profile
        assert models == {expected}
        assert text == f"[{expected}] a b c d e f g h"
    assert len(served.uses()) == 32


@pytest.mark.skipif("quality_host" not in config.SETTINGS, reason="the quality_host setting is not in this branch yet")
def test_each_tier_goes_to_its_server(fake, gpu_box, run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake.host)
    assert run("config", "set", "quality_host", gpu_box.host).exit_code == 0
    gpu_box.echo_model = True
    gpu_box.install("writer-deep:70b")
    session = serve.ServeSession(memory="128GB", log=False)
    url, _app, stop = start(session)
    try:
        client = ollama.Client(host=url, timeout=10)
        names = {m.model for m in client.list().models}
        assert {"taskprof/writing:fast", "taskprof/writing:quality"} <= names
        assert "taskprof/programming:quality" not in names  # its model is on the local server only
        for name, model, server in (("taskprof/writing:quality", "writer-deep:70b", gpu_box),
                                    ("taskprof/writing:fast", "writer-fast:8b", fake)):
            before = len(server.paths_called("POST"))
            assert client.chat(model=name, messages=[{"role": "user", "content": "x"}], stream=False).model == model
            assert server.paths_called("POST")[before:] == ["/api/chat"]
    finally:
        stop()


# --- the log and the import ----------------------------------------------------------------------


def test_no_log_records_nothing(fake):
    session = serve.ServeSession(host=fake.host, memory="128GB", log=False)
    url, app, stop = start(session)
    try:
        answer = ollama.Client(host=url, timeout=10).chat(
            model="taskprof/auto", messages=[{"role": "user", "content": TASKS["programming"]}], stream=False)
        assert answer.model == "coder-deep:32b"
        app.server.uses.flush()
        assert not paths.usage_db_path().exists()
    finally:
        stop()


def test_importing_the_cli_does_not_load_the_server_stack():
    code = ("import sys, recommender.cli; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'recommender.serve') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_console_script_serves_until_ctrl_c_and_names_a_taken_port(fake, taskprof_home):
    """The real command in a subprocess: starts, answers, stops on Ctrl-C after a graceful shutdown with
    the table's 130; a port in use is a one-line error (exit 1), not a traceback."""
    import os
    import signal
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**os.environ, "TASKPROF_HOME": str(taskprof_home)}
        busy = subprocess.run([sys.executable, "-m", "recommender", "serve", "--listen", f"127.0.0.1:{port}",
                               "--host", fake.host], capture_output=True, text=True, env=env, timeout=60)
    assert busy.returncode == 1
    assert f"cannot listen on http://127.0.0.1:{port}" in busy.stderr and "Traceback" not in busy.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "recommender", "serve", "--listen", f"127.0.0.1:{port}",
                             "--host", fake.host], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                names = [m["name"] for m in httpx.get(f"http://127.0.0.1:{port}/api/tags").json()["models"]]
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert "taskprof/auto:latest" in names
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and f"Listening on http://127.0.0.1:{port}" in stderr
