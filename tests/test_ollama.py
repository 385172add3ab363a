"""install, suggest --install, status, remove, update and ask, end to end through the real ollama
client against the loopback server in tests/ollama_server.py."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recommender import ollama_client, paths, usage
from recommender.errors import InputError
from tests.conftest import assert_one_line_error
from tests.ollama_server import EVAL_COUNT, UNKNOWN_MANIFEST


def write_profile(home: Path, name: str, fast: str, quality: str, size_gb: float = 0.01,
                  follow: bool = False) -> None:
    """A user profile in the data dir (overriding a bundled one of the same name): tiny downloads,
    so the disk check passes on any machine the tests run on."""
    def model(ref: str, tier: str) -> dict:
        # Unless `follow`, only a ':latest' reference follows updates; the others are pinned (a made-up digest).
        tag = "latest" if follow or ref.endswith(":latest") else "sha256:" + "0" * 64
        return {"name": ref, "tag": tag, "tier": tier, "purpose": f"The {tier} one.",
                "size_gb": size_gb, "params_b": 7.6 if tier == "fast" else 32.8, "context": 32768}

    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({
        "name": name, "kind": "task", "description": f"Test profile {name}.",
        "models": [model(fast, "fast"), model(quality, "quality")],
        "recommended_for": ["tests"], "size_estimate": "tiny",
    }))


@pytest.fixture
def small(taskprof_home, ollama_server):
    """programming, research and writing as tiny profiles with their real model names, all pullable."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    write_profile(taskprof_home, "research", "llama3.1:8b", "llama3.3:70b")
    write_profile(taskprof_home, "writing", "llama3.1:8b", "llama3.3:70b")
    for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "llama3.1:8b", "llama3.3:70b"):
        ollama_server.publish(ref)
    return ollama_server


def pulls(fake) -> list[str]:
    return [body.get("model") for method, path, body in fake.requests if path == "/api/pull"]


# --- the address -------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":56789", "http://127.0.0.1:56789"),
    ("1.2.3.4:56789", "http://1.2.3.4:56789"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://example.com:56789/path/", "https://example.com:56789/path"),
    ("example.com", "http://example.com:11434"),
    ("example.com/", "http://example.com:11434"),
    ("[::1]", "http://[::1]:11434"),
    ("[0001:002:003:0004::1]:56789", "http://[0001:002:003:0004::1]:56789"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:9999", "http://127.0.0.1:9999"),
])
def test_every_host_form_ollama_accepts(given, expected, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert ollama_client.resolve_host(given) == expected


def test_ollama_host_variable_is_read_when_no_flag(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:8080")
    assert ollama_client.resolve_host() == "http://gpu-box:8080"
    assert ollama_client.resolve_host("other") == "http://other:11434"


def test_bad_host_is_an_input_error():
    with pytest.raises(InputError):
        ollama_client.resolve_host("ftp://nope")
    with pytest.raises(InputError):
        ollama_client.resolve_host("host:99999")
    with pytest.raises(InputError):
        ollama_client.resolve_host("http://[::1")


def test_a_malformed_ollama_host_is_one_line(run_script):
    result = run_script("status", env={"OLLAMA_HOST": "http://[::1"})
    assert_one_line_error(result, 2, "'http://[::1' is not an Ollama address")


def test_local_and_remote():
    assert ollama_client.is_local("http://127.0.0.1:11434")
    assert ollama_client.is_local("http://localhost:1")
    assert not ollama_client.is_local("http://gpu-box:11434")


def test_models_dir_follows_ollama_models(monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "m"))
    assert ollama_client.models_dir() == tmp_path / "m"
    monkeypatch.delenv("OLLAMA_MODELS")
    assert ollama_client.models_dir() == Path.home() / ".ollama" / "models"
    assert ollama_client.free_bytes(tmp_path / "does" / "not" / "exist") > 0


# --- install -------------------------------------------------------------------------------------


def test_install_pulls_both_tiers_with_progress_and_a_summary(run, small):
    result = run("install", "programming", "--yes", "--host", small.host)
    assert result.exit_code == 0, result.output
    assert {"qwen2.5-coder:7b", "qwen2.5-coder:32b"} <= set(small.installed)
    assert "pulling qwen2.5-coder:7b" in result.stderr
    assert "qwen2.5-coder:32b:  50% of 2.0 MB" in result.stderr  # aggregated over its three layers
    assert "Installed: qwen2.5-coder:7b, qwen2.5-coder:32b" in result.stdout
    assert "Free disk where Ollama keeps models" in result.stderr  # the plan is not the result
    assert [e.command for e in usage.events()] == ["install"]


def test_install_skips_what_is_installed(run, small):
    small.install("qwen2.5-coder:7b")
    result = run("install", "programming", "--yes", "--host", small.host)
    assert result.exit_code == 0, result.output
    assert pulls(small) == ["qwen2.5-coder:32b"]
    assert "Already present: qwen2.5-coder:7b" in result.stdout


def test_everything_installed_downloads_nothing(run, small):
    small.install("qwen2.5-coder:7b")
    small.install("qwen2.5-coder:32b")
    result = run("install", "programming", "--host", small.host)
    assert result.exit_code == 0
    assert "Everything is already installed" in result.stdout
    assert pulls(small) == []


def test_shared_models_are_planned_and_pulled_once(run, small):
    result = run("install", "research", "writing", "--yes", "--host", small.host)
    assert result.exit_code == 0, result.output
    assert sorted(pulls(small)) == ["llama3.1:8b", "llama3.3:70b"]
    assert "in 2 models" in result.stderr


def test_tier_fast_pulls_only_the_fast_model(run, small):
    assert run("install", "programming", "--tier", "fast", "--yes", "--host", small.host).exit_code == 0
    assert pulls(small) == ["qwen2.5-coder:7b"]


def test_dry_run_shows_the_plan_and_downloads_nothing(run, small):
    result = run("install", "programming", "--dry-run", "--host", small.host)
    assert result.exit_code == 0
    assert "to download" in result.stderr and "Dry run" in result.stderr
    assert pulls(small) == []


def test_without_a_terminal_or_yes_it_refuses_instead_of_hanging(run, small):
    result = run("install", "programming", "--host", small.host)
    assert result.exit_code == 1
    assert "add --yes" in result.output
    assert pulls(small) == []


def test_a_download_that_cannot_fit_is_refused(run, small, taskprof_home):
    write_profile(taskprof_home, "huge", "qwen2.5-coder:7b", "qwen2.5-coder:32b", size_gb=2000)  # 4 TB in all
    result = run("install", "huge", "--yes", "--host", small.host)
    assert result.exit_code == 1
    assert "not enough disk" in result.output
    assert pulls(small) == []


def test_a_client_resetting_its_connection_leaves_no_trace(ollama_server, capfd):
    # CI once failed because the fake server printed a traceback into a command's captured output
    # when the client reset an idle keep-alive connection; Ollama itself says nothing then.
    host, port = ollama_server.host.removeprefix("http://").split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port))) as s:
            s.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err
    assert ollama_server.errors == []


def test_unknown_tag_fails_with_the_servers_reason_and_the_rest_go_on(run_script, small, taskprof_home):
    write_profile(taskprof_home, "mixed", "qwen2.5-coder:7b", "llama3.3:8b")
    result = run_script("install", "mixed", "--yes", "--host", small.host)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 1
    assert "qwen2.5-coder:7b" in small.installed
    assert f"llama3.3:8b: Ollama at {small.host} refused to pull llama3.3:8b: {UNKNOWN_MANIFEST}" in result.stdout


def test_a_server_error_fails_that_model_without_a_traceback(run_script, small):
    small.fail_500.add("/api/pull")
    result = run_script("install", "programming", "--yes", "--host", small.host)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 1
    assert "HTTP 500" in result.stdout


def test_a_dropped_connection_fails_one_model_and_a_rerun_resumes(run, small):
    small.drop_after["qwen2.5-coder:7b"] = 900_000
    first = run("install", "programming", "--yes", "--host", small.host)
    assert first.exit_code == 1
    assert "qwen2.5-coder:7b: the connection to Ollama" in first.stdout
    assert "qwen2.5-coder:32b" in small.installed  # the rest went on
    weights = small.library["qwen2.5-coder:7b"][0]
    assert 0 < small.blobs[weights.digest] < weights.size  # a partial blob stays on the server
    partial = small.blobs[weights.digest]

    second = run("install", "programming", "--yes", "--host", small.host)
    assert second.exit_code == 0, second.output
    assert "qwen2.5-coder:7b" in small.installed
    assert pulls(small).count("qwen2.5-coder:7b") == 2
    assert partial >= 800_000  # resumed from there, not from zero: the server only sent the rest


def test_ollama_down_is_one_line_within_three_seconds(run, dead_host, small):
    started = time.monotonic()
    result = run("install", "programming", "--yes", "--host", dead_host)
    assert time.monotonic() - started < 3
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"Error: Ollama is not reachable at {dead_host}: start it with `ollama serve` "
                     "(or open the Ollama app), or point --host / OLLAMA_HOST at a running server"]


@pytest.fixture
def silent_host():
    """A port that accepts connections and never answers: the timeout path, not the refused one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_server_that_never_answers_is_unreachable_within_three_seconds(run, silent_host):
    started = time.monotonic()
    result = run("status", "--host", silent_host)
    assert time.monotonic() - started < 3
    assert result.exit_code == 1
    assert f"Error: Ollama is not reachable at {silent_host}" in result.output


def test_ollama_host_variable_reaches_the_server(run, small):
    port = small.host.rsplit(":", 1)[1]
    result = run("install", "programming", "--tier", "fast", "--yes", env={"OLLAMA_HOST": f"127.0.0.1:{port}"})
    assert result.exit_code == 0, result.output
    assert pulls(small) == ["qwen2.5-coder:7b"]


def test_unknown_and_path_like_profiles_are_rejected(run_script, small):
    for name, message in (("nope", "no profile named 'nope'"), ("../etc/passwd", "'../etc/passwd' is not a profile name")):
        result = run_script("install", name, "--yes", "--host", small.host)
        assert_one_line_error(result, 2, message)  # a bad argument: usage error
    assert pulls(small) == []


def test_ctrl_c_stops_at_once_and_says_what_finished(small, taskprof_home):
    small.line_delay = 0.05
    small.chunk = 100_000  # 20 lines a weights layer, about a second per model
    env = {**os.environ, "TASKPROF_HOME": str(taskprof_home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender", "install", "programming", "--yes", "--host", small.host],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 30
    # Fast models are pulled first; interrupt once the quality model's pull has begun.
    while "qwen2.5-coder:32b" not in pulls(small) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "Interrupted while pulling qwen2.5-coder:32b. Finished: qwen2.5-coder:7b." in err
    assert "Traceback" not in err + out


# --- suggest --install ------------------------------------------------------------------------


def test_suggest_install_classifies_then_installs(run, small):
    result = run("suggest", "--install", "--tier", "fast", "--yes", "--host", small.host,
                 "fix the segfault in my C++ linked list implementation")
    assert result.exit_code == 0, result.output
    assert "programming" in result.stdout
    assert pulls(small) == ["qwen2.5-coder:7b"]
    assert [e.command for e in usage.events()] == ["suggest", "install"]


# --- status --------------------------------------------------------------------------------------


def test_status_reports_server_and_per_profile_state(run, small):
    small.install("qwen2.5-coder:7b")
    small.install("llama3.1:8b")
    small.install("llama3.3:70b")
    data = json.loads(run("status", "--json", "--memory", "24GB", "--host", small.host).stdout)
    assert data["server"] == {"host": small.host, "reachable": True, "version": "0.12.6", "error": None}
    assert data["machine"]["total_gb"] == 24.0 and data["machine"]["source"] == "--memory"
    assert data["machine"]["free_disk_gb"] > 0 and data["machine"]["models_dir"]
    by_name = {p["name"]: p for p in data["profiles"]}
    assert by_name["programming"]["state"] == "partial"
    assert by_name["programming"]["tiers"]["fast"]["installed"] is True
    assert by_name["programming"]["tiers"]["fast"]["disk_bytes"] == small.installed["qwen2.5-coder:7b"]["size"] == 2_001_296
    assert by_name["programming"]["tiers"]["quality"]["installed"] is False
    assert by_name["research"]["state"] == "installed"
    assert by_name["data-work"]["state"] == "partial"  # shares qwen2.5-coder:7b
    assert by_name["skills-building"]["state"] == "missing"
    # 24 GB cannot hold a 70B model; it can hold an 8B one.
    assert by_name["brainstorming"]["tiers"]["quality"]["fits"] is False
    assert by_name["brainstorming"]["tiers"]["fast"]["fits"] is True
    text = run("status", "--memory", "24GB", "--host", small.host)
    assert text.exit_code == 0
    assert "qwen2.5-coder:7b [yes]" in text.stdout and "llama3.3:70b [yes x]" in text.stdout
    assert "qwen2.5:32b [no x]" in text.stdout and "2.0 MB" in text.stdout


def test_status_when_ollama_is_down(run, dead_host):
    result = run("status", "--json", "--host", dead_host)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["server"]["reachable"] is False
    assert {p["state"] for p in data["profiles"]} == {"unknown"}


# --- remove --------------------------------------------------------------------------------------


def test_remove_deletes_models_no_other_profile_in_use_needs(run, small):
    assert run("install", "research", "--yes", "--host", small.host).exit_code == 0
    result = run("remove", "research", "--yes", "--host", small.host)
    assert result.exit_code == 0, result.output
    assert "llama3.1:8b" not in small.installed and "llama3.3:70b" not in small.installed
    assert "remove  llama3.1:8b" in result.stdout


def test_remove_keeps_models_another_installed_profile_uses(run, small):
    assert run("install", "research", "writing", "--yes", "--host", small.host).exit_code == 0
    result = run("remove", "research", "--yes", "--host", small.host)
    assert result.exit_code == 0
    assert {"llama3.1:8b", "llama3.3:70b"} <= set(small.installed)
    assert "keep    llama3.1:8b: still used by writing" in result.stdout
    assert "Nothing to delete" in result.stdout


def test_remove_keeps_a_model_a_partly_installed_profile_shares(run, small, taskprof_home):
    write_profile(taskprof_home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b")
    small.install("qwen2.5-coder:7b")
    small.install("qwen2.5-coder:32b")
    small.install("deepseek-r1:32b")
    result = run("remove", "programming", "--yes", "--host", small.host)
    assert result.exit_code == 0
    assert "qwen2.5-coder:7b" in small.installed  # data-work still has deepseek-r1:32b installed
    assert "qwen2.5-coder:32b" not in small.installed


def test_remove_without_yes_or_terminal_refuses(run, small):
    small.install("qwen2.5-coder:32b")  # programming's alone: nothing else keeps it
    result = run("remove", "programming", "--host", small.host)
    assert result.exit_code == 1
    assert "qwen2.5-coder:32b" in small.installed


# --- update --------------------------------------------------------------------------------------


def test_update_repulls_latest_models_and_reports_digests(run, ollama_server, taskprof_home):
    write_profile(taskprof_home, "fast", "llama3.2:latest", "llama3.1:8b")
    (taskprof_home / "profiles" / "fast.json").write_text(
        (taskprof_home / "profiles" / "fast.json").read_text().replace('"kind": "task"', '"kind": "general"')
    )
    before = ollama_server.install("llama3.2:latest")
    ollama_server.install("llama3.1:8b")
    old_digest = ollama_server.installed[before]["digest"]

    unchanged = run("update", "fast", "--host", ollama_server.host)
    assert unchanged.exit_code == 0, unchanged.output
    assert f"unchanged llama3.2:latest: {old_digest[:12]}" in unchanged.stdout

    ollama_server.publish_update("llama3.2:latest")
    changed = run("update", "--host", ollama_server.host)
    assert changed.exit_code == 0, changed.output
    new_digest = ollama_server.installed[before]["digest"]
    assert new_digest != old_digest
    assert f"llama3.2:latest: {old_digest[:12]} -> {new_digest[:12]}" in changed.stdout
    assert pulls(ollama_server) == ["llama3.2:latest", "llama3.2:latest"]  # never the pinned llama3.1:8b


def test_update_with_nothing_following_latest(run, small):
    small.install("qwen2.5-coder:7b")
    result = run("update", "programming", "--host", small.host)
    assert result.exit_code == 0
    assert "nothing to update" in result.stdout


# --- ask -----------------------------------------------------------------------------------------


def test_ask_streams_the_answer_from_the_installed_model(run, small):
    small.install("qwen2.5-coder:7b")
    result = run("ask", "--host", small.host, "--memory", "16GB", "write a python function that reverses a list")
    assert result.exit_code == 0, result.output
    assert small.reply in result.stdout
    assert "answered by qwen2.5-coder:7b" in result.stderr
    assert f"{EVAL_COUNT / 3:.1f} tokens/s" in result.stderr
    chats = [body for _, path, body in small.requests if path == "/api/chat"]
    assert chats[0]["model"] == "qwen2.5-coder:7b" and chats[0]["stream"] is True
    assert [(e.command, e.model) for e in usage.events()] == [("ask", "qwen2.5-coder:7b")]


def test_ask_falls_back_to_the_other_tier(run, small):
    small.install("qwen2.5-coder:32b")
    result = run("ask", "--tier", "fast", "--host", small.host, "write a python function that reverses a list")
    assert result.exit_code == 0, result.output
    assert "fast tier not installed" in result.stderr
    assert "answered by qwen2.5-coder:32b" in result.stderr


def test_ask_with_nothing_installed_says_how_to_install(run, small):
    result = run("ask", "--tier", "fast", "--host", small.host, "write a python function that reverses a list")
    assert result.exit_code == 1
    assert "taskprof install programming --tier fast" in result.output


def test_ask_with_ollama_down(run_script, dead_host):
    result = run_script("ask", "--host", dead_host, "write a python function that reverses a list")
    assert_one_line_error(result, 1, f"Ollama is not reachable at {dead_host}")


# --- ask: piped material and conversations ----------------------------------------------------------


def test_ask_reads_piped_material_with_the_instruction(run, small):
    small.install("qwen2.5-coder:7b")
    code = "def reverse(xs):\n    return xs[::-1]\n"
    result = run("ask", "--host", small.host, "explain this python function", input=code)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == small.reply  # the answer alone on stdout
    assert "qwen2.5-coder:7b" in result.stderr and "qwen2.5-coder:7b" not in result.stdout
    (chat,) = [body for _, path, body in small.requests if path == "/api/chat"]
    sent = chat["messages"][-1]["content"]
    assert sent.startswith(code.strip()) and sent.endswith("explain this python function")


def test_ask_continues_the_last_conversation_and_another_by_id(run, small):
    small.install("qwen2.5-coder:7b")
    assert run("ask", "--host", small.host, "write a python function that reverses a list").exit_code == 0
    first = json.loads(run("usage", "conversations", "--json").stdout)[0]["id"]
    assert run("ask", "--host", small.host, "write a python function that sorts a dict").exit_code == 0
    result = run("ask", "--host", small.host, "-c", "now add python type hints to that function")
    assert result.exit_code == 0, result.output
    assert "kept conversation" in result.stderr
    result = run("ask", "--host", small.host, "--cid", first, "also write a python unit test for it")
    assert result.exit_code == 0, result.output
    listed = {c["id"]: c for c in json.loads(run("usage", "conversations", "--json").stdout)}
    assert listed[first]["turns"] == 2 and listed[first]["profile"] == "programming"
    assert sorted(c["turns"] for c in listed.values()) == [2, 2]
    chats = [body for _, path, body in small.requests if path == "/api/chat"]
    assert chats[-1]["messages"][0]["content"] == "write a python function that reverses a list"
    text = run("usage", "conversations").stdout
    assert first in text and "programming" in text
    assert run("usage", "conversations", "--delete", first).exit_code == 0
    assert first not in run("usage", "conversations").stdout
    assert run("usage", "conversations", "--clear", "--yes").stdout.startswith("Deleted 1 conversation.")
    assert "No conversations kept yet" in run("usage", "conversations").stdout


def test_ask_continue_without_kept_text_says_why(run_script, small):
    small.install("qwen2.5-coder:7b")
    assert run_script("config", "set", "log_text", "false").returncode == 0
    assert run_script("ask", "--host", small.host, "write a python function that reverses a list").returncode == 0
    result = run_script("ask", "--host", small.host, "-c", "now add type hints")
    assert_one_line_error(result, 2, "log_text is false")
    result = run_script("usage", "conversations", "--delete", "../../x")
    assert_one_line_error(result, 2, "not a conversation id")


def test_ask_with_no_log_keeps_no_conversation(run, small):
    small.install("qwen2.5-coder:7b")
    assert run("ask", "--no-log", "--host", small.host, "write a python function that reverses a list").exit_code == 0
    assert json.loads(run("usage", "conversations", "--json").stdout) == []
    result = run("ask", "--host", small.host, "-c", "--cid", "0123456789ab", "more")
    assert result.exit_code == 2 and "not both" in result.output


# --- remove keeps what another installed profile needs; install what fits; terminals -----------

def script(*args: str, input: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 60):
    """The console script in a child process: what a user's shell sees, tracebacks included."""
    return subprocess.run([sys.executable, "-m", "recommender", *args], input=input, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def _reading_terminal(pid: int) -> bool:
    """Is the process blocked reading its terminal? A ^C that lands after the prompt is written but
    before the read starts is held until the read returns (the signal is noted, the read then waits
    for a line), so the answer waits for the read. Where /proc cannot tell, True."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip() in ("wait_woken", "n_tty_read")
    except OSError:
        return True


def in_terminal(args: list[str], answer: bytes, timeout: float = 90) -> tuple[int, str]:
    """Run the console script on a pseudo-terminal, answer its prompt, return (exit code, screen).

    The answer goes only once a whole prompt ("...? [y/N]: ") is on the screen and the process is
    reading the terminal: sent at the first sign of a question, a ^C could land before the read began
    and be held until a line came, which failed on a loaded machine. The long deadline only bounds a
    hang; nothing sleeps."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "recommender", *args], os.environ)
    screen = b""
    deadline = time.monotonic() + timeout
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not answered and re.search(rb"\? \[[yY]/[nN]\]: *$", screen) and _reading_terminal(pid):
            os.write(fd, answer)
            answered = True
    # The terminal closes a moment before the child is reaped: wait for it, up to the deadline.
    done, status = os.waitpid(pid, os.WNOHANG)
    while done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:  # still running past the deadline: never leave the test hanging on it
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


@pytest.mark.parametrize("forget", ["off", "clear"])
def test_remove_keeps_a_model_another_installed_profile_needs_without_the_log(run, coding, forget):
    if forget == "off":
        run("usage", "off")
    assert run("install", "data-work", "--tier", "fast", "--yes", "--host", coding.host).exit_code == 0
    if forget == "clear":
        run("usage", "clear", "--yes")
    coding.install("qwen2.5-coder:32b")
    result = run("remove", "programming", "--yes", "--host", coding.host)
    assert result.exit_code == 0, result.output
    assert "qwen2.5-coder:7b" in coding.installed  # data-work's fast model stays
    assert "keep    qwen2.5-coder:7b: still used by data-work" in result.stdout
    assert "qwen2.5-coder:32b" not in coding.installed


def test_remove_without_state_infers_from_what_ollama_holds(run, coding):
    coding.install("qwen2.5-coder:7b")
    coding.install("qwen2.5-coder:32b")
    assert not paths.state_path().exists()
    result = run("remove", "programming", "--yes", "--host", coding.host)
    assert result.exit_code == 0, result.output
    # data-work's fast tier is all there, so it looks installed: its model stays.
    assert "qwen2.5-coder:7b" in coding.installed and "qwen2.5-coder:32b" not in coding.installed


def test_remove_asks_and_defaults_to_no(coding, taskprof_home):
    coding.install("qwen2.5-coder:7b")
    coding.install("qwen2.5-coder:32b")
    code, out = in_terminal(["remove", "programming", "--host", coding.host], answer=b"\r")
    assert "[y/N]" in out
    assert code == 1
    assert "qwen2.5-coder:32b" in coding.installed


def test_install_without_tier_installs_what_fits_and_says_what_it_left_out(run, coding, taskprof_home):
    # Tiny downloads, but a quality model that needs far more memory than the machine has.
    profile = json.loads((taskprof_home / "profiles" / "programming.json").read_text())
    profile["models"][1]["params_b"] = 400
    profile["models"][1]["size_gb"] = 0.01
    (taskprof_home / "profiles" / "programming.json").write_text(json.dumps(profile))
    result = run("install", "programming", "--yes", "--host", coding.host, env={"TASKPROF_MEMORY": "4GB"})
    assert result.exit_code == 0, result.output
    assert pulls(coding) == ["qwen2.5-coder:7b"]
    assert "Left out: programming's quality tier" in result.stderr
    both = run("install", "programming", "--tier", "all", "--yes", "--host", coding.host,
               env={"TASKPROF_MEMORY": "4GB"})
    assert both.exit_code == 0 and pulls(coding) == ["qwen2.5-coder:7b", "qwen2.5-coder:32b"]


def test_an_unknown_tag_is_not_http_minus_one_and_not_resumable(run, coding, taskprof_home):
    write_profile(taskprof_home, "mixed", "qwen2.5-coder:7b", "llama3.3:8b")
    result = run("install", "mixed", "--tier", "all", "--yes", "--host", coding.host)
    assert result.exit_code == 1
    assert "HTTP -1" not in result.output
    assert "resume" not in result.output


def test_the_terminal_bar_never_drops_back_and_ends_on_the_average_speed():
    from recommender.cli.common import RichProgress

    bar = RichProgress()
    bar.start("qwen2.5-coder:7b", "http://127.0.0.1:11434", 4_700_000)
    shown = []
    for completed, total in [(1_000_000, 4_680_000), (4_680_000, 4_680_000), (4_680_500, 4_681_296),
                             (4_681_296, 4_681_296)]:
        bar.update(completed, total)  # the small layers after the weights raise the layers' total
        task = bar.progress.tasks[0]
        shown.append((task.total, task.finished))
    # The bar is never full before the model is (it used to fill at the end of the weights layer,
    # then fall back when the next layer raised the total).
    assert shown == [(4_700_000, False)] * 4
    bar.finish(True)
    bar.close()
    task = bar.progress.tasks[0]
    assert task.completed == task.total == 4_681_296
    assert task.fields["speed"].endswith("/s avg")
