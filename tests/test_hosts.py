"""The heavy tier on another server, and updates that follow "latest" (issue on the design's format):
two loopback Ollama servers at once, the real client, real state and settings files."""

from __future__ import annotations

import json

import pytest

from tests.test_ollama import pulls, write_profile


@pytest.fixture
def two(run, taskprof_home, ollama_server, gpu_box, monkeypatch):
    """programming and data-work as tiny profiles; the local server is OLLAMA_HOST, the quality tier
    lives on gpu_box."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b", follow=True)
    write_profile(taskprof_home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b", follow=True)
    for server in (ollama_server, gpu_box):
        for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b"):
            server.publish(ref)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.host)
    assert run("config", "set", "quality_host", gpu_box.host).exit_code == 0
    return ollama_server, gpu_box


def test_install_sends_each_tier_to_its_server(run, two):
    local, gpu = two
    result = run("install", "programming", "--tier", "all", "--yes")
    assert result.exit_code == 0, result.output
    assert pulls(local) == ["qwen2.5-coder:7b"]
    assert pulls(gpu) == ["qwen2.5-coder:32b"]
    assert f"{gpu.host} is remote" not in result.stderr  # loopback: its disk is checked


def test_status_groups_models_by_server(run, two):
    local, gpu = two
    assert run("install", "programming", "--tier", "all", "--yes").exit_code == 0
    data = json.loads(run("status", "--json").stdout)
    assert [(s["host"], s["tiers"]) for s in data["servers"]] == [(local.host, ["fast"]), (gpu.host, ["quality"])]
    tiers = {p["name"]: p["tiers"] for p in data["profiles"]}["programming"]
    assert tiers["quality"]["host"] == gpu.host and tiers["quality"]["installed"] is True
    assert tiers["quality"]["last_updated"]  # pulled through taskprof just now
    text = run("status").stdout
    assert f"On {local.host}:" in text and f"On {gpu.host}:" in text
    assert text.index("qwen2.5-coder:32b", text.index(f"On {gpu.host}:")) > text.index(f"On {gpu.host}:")


def test_update_repulls_every_installed_model_on_the_server_that_holds_it(run, two):
    local, gpu = two
    assert run("install", "programming", "--tier", "all", "--yes").exit_code == 0
    gpu.publish_update("qwen2.5-coder:32b")
    result = run("update", "--yes", "--json")
    assert result.exit_code == 0, result.output
    by_model = {m["model"]: m for m in json.loads(result.stdout)["models"]}
    assert by_model["qwen2.5-coder:32b"]["result"] == "updated"
    assert by_model["qwen2.5-coder:32b"]["host"] == gpu.host
    assert by_model["qwen2.5-coder:32b"]["fetched_bytes"] > 0
    assert by_model["qwen2.5-coder:7b"] == {**by_model["qwen2.5-coder:7b"], "result": "unchanged",
                                            "host": local.host, "fetched_bytes": 0}
    assert pulls(gpu).count("qwen2.5-coder:32b") == 2 and pulls(local).count("qwen2.5-coder:7b") == 2


def test_remove_counts_references_per_server(run, two, taskprof_home):
    local, gpu = two
    # qwen2.5-coder:32b is programming's quality model (on gpu_box) and "coder-lite"'s fast one (local).
    write_profile(taskprof_home, "coder-lite", "qwen2.5-coder:32b", "deepseek-r1:32b", follow=True)
    assert run("install", "coder-lite", "--tier", "fast", "--yes").exit_code == 0
    assert run("install", "programming", "--tier", "quality", "--yes").exit_code == 0
    result = run("remove", "programming", "--yes")
    assert result.exit_code == 0, result.output
    assert "qwen2.5-coder:32b" not in gpu.installed  # nothing else needs it on gpu_box
    assert "qwen2.5-coder:32b" in local.installed  # coder-lite's copy on the local server stays


def test_the_fit_check_is_skipped_for_a_remote_server_without_its_memory(run, two, monkeypatch):
    monkeypatch.setenv("TASKPROF_MEMORY", "8GB")
    assert run("config", "set", "quality_host", "http://gpu-box.invalid:11434").exit_code == 0
    skipped = json.loads(run("suggest", "--json", "--no-log", "design a URL shortener").stdout)
    assert skipped["recommended_tier"] == "quality" and "skipped" in skipped["tier_reason"]
    assert run("config", "set", "quality_host_memory", "128GB").exit_code == 0
    known = json.loads(run("suggest", "--json", "--no-log", "design a URL shortener").stdout)
    assert known["recommended_tier"] == "quality" and "skipped" not in known["tier_reason"]
    assert run("config", "set", "quality_host_memory", "4GB").exit_code == 0
    small = json.loads(run("suggest", "--json", "--no-log", "design a URL shortener").stdout)
    assert small["recommended_tier"] == "fast"


def test_ask_and_bench_use_the_quality_server(run, two):
    local, gpu = two
    gpu.install("qwen2.5-coder:32b")
    result = run("ask", "--tier", "quality", "write a python function that reverses a list")
    assert result.exit_code == 0, result.output
    assert [p for _, p, _ in gpu.requests if p == "/api/chat"] and not [p for _, p, _ in local.requests
                                                                       if p == "/api/chat"]
    bench = json.loads(run("bench", "programming", "--tier", "quality", "--json").stdout)
    assert [m["model"] for m in bench["models"]] == ["qwen2.5-coder:32b"]


def test_update_reminder_once_a_day_until_an_update_runs(run, two):
    assert run("config", "set", "update_every", "7d").exit_code == 0
    first = run("install", "programming", "--tier", "fast", "--yes")
    assert first.exit_code == 0
    assert "update of your models is due" in first.stderr
    assert "update of your models is due" not in run("status").output  # once a day
    assert run("update", "--yes", "--quiet").exit_code == 0
    from recommender import state

    assert state.load().last_update


def test_update_quiet_exit_code_says_whether_anything_failed(run, two):
    local, _ = two
    assert run("install", "programming", "--tier", "fast", "--yes").exit_code == 0
    local.fail_500.add("/api/pull")
    result = run("update", "--yes", "--quiet")
    assert result.exit_code == 1
    assert result.stdout.startswith("failed")
