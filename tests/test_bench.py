"""taskprof bench against the loopback Ollama, whose answers carry known timings."""

from __future__ import annotations

import json

import pytest

from recommender import bench, usage
from tests.conftest import assert_one_line_error
from tests.ollama_server import (
    EVAL_COUNT,
    EVAL_DURATION,
    LOAD_DURATION,
    PROMPT_EVAL_COUNT,
    PROMPT_EVAL_DURATION,
)

TOKENS_PER_SECOND = EVAL_COUNT / EVAL_DURATION * 1e9  # 40.0
PROMPT_TOKENS_PER_SECOND = PROMPT_EVAL_COUNT / PROMPT_EVAL_DURATION * 1e9  # 120.0
# total_duration - load_duration, as the server reports it
SECONDS_PER_RESPONSE = (PROMPT_EVAL_DURATION + EVAL_DURATION + 50_000_000) / 1e9  # 3.3


def test_bench_reads_ollamas_timings(run, ollama_server):
    ollama_server.install("qwen2.5-coder:7b")
    result = run("bench", "programming", "--tier", "fast", "--json", "--host", ollama_server.host)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [m] = data["models"]
    assert m["model"] == "qwen2.5-coder:7b"
    assert m["tokens_per_second"] == pytest.approx(TOKENS_PER_SECOND)
    assert m["prompt_tokens_per_second"] == pytest.approx(PROMPT_TOKENS_PER_SECOND)
    assert m["seconds_per_response"] == pytest.approx(SECONDS_PER_RESPONSE)
    assert m["load_seconds"] == pytest.approx(LOAD_DURATION / 1e9)
    assert m["expected_seconds"] == [2, 5]
    assert m["verdict"] == "as expected"
    assert 0 < m["ttft_seconds"] < 5
    asked = [body["messages"][0]["content"] for _, path, body in ollama_server.requests if path == "/api/chat"]
    assert asked == list(bench.PROMPTS["programming"])


def test_results_are_stored_and_shown_by_status_and_suggest(run, ollama_server):
    ollama_server.install("qwen2.5-coder:7b")
    assert run("bench", "qwen2.5-coder:7b", "--host", ollama_server.host).exit_code == 0
    stored = usage.latest_bench()["qwen2.5-coder:7b"]
    assert stored.tokens_per_second == pytest.approx(TOKENS_PER_SECOND)
    status = json.loads(run("status", "--json", "--host", ollama_server.host).stdout)
    programming = next(p for p in status["profiles"] if p["name"] == "programming")
    assert programming["tiers"]["fast"]["seconds_per_response"] == pytest.approx(SECONDS_PER_RESPONSE)
    text = run("status", "--host", ollama_server.host).stdout
    assert "qwen2.5-coder:7b [yes, 3.3 s/answer]" in text
    suggestion = json.loads(run("suggest", "--json", "--no-log", "fix this python stack trace").stdout)
    assert suggestion["models"]["fast"]["measured_seconds"] == pytest.approx(SECONDS_PER_RESPONSE)
    assert suggestion["models"]["quality"]["measured_seconds"] is None
    assert suggestion["models"]["quality"]["expected_seconds"] == [10, 20]
    shown = run("suggest", "--no-log", "fix this python stack trace").stdout
    assert "3.3 s/answer measured" in shown and "~10-20 s/answer expected" in shown


def test_table_beside_the_design_expectation(run, ollama_server):
    ollama_server.install("llama3.1:8b")
    result = run("bench", "research", "--host", ollama_server.host)
    assert result.exit_code == 0, result.output
    assert "skipped llama3.3:70b: not installed" in result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("llama3.1:8b"))
    assert "40.0" in row and "3.3" in row and "2-5" in row and "as expected" in row


def test_models_outside_the_catalogue_use_their_tag_for_the_estimate(run, ollama_server):
    ollama_server.install("mistral-small:24b")
    data = json.loads(run("bench", "mistral-small:24b", "--json", "--host", ollama_server.host).stdout)
    assert data["models"][0]["expected_seconds"] == [10, 20]
    assert bench.params_from_tag("qwen2.5:0.5b") == 0.5
    assert bench.params_from_tag("llama3.2:latest") is None


def test_nothing_installed_is_skipped_with_a_note(run, ollama_server):
    result = run("bench", "writing", "--host", ollama_server.host)
    assert result.exit_code == 0
    assert "No installed model to measure" in result.stdout


def test_bench_with_ollama_down(run_script, dead_host):
    result = run_script("bench", "--host", dead_host)
    assert_one_line_error(result, 1, f"Ollama is not reachable at {dead_host}")


@pytest.mark.parametrize(("target", "code", "message"), [
    ("nosuchthing", 2, "'nosuchthing' is neither a profile nor a model"),
    ("../etc", 2, "'../etc' is not a profile name"),  # a bad argument in every command alike
])
def test_unknown_targets_are_one_line_errors(run_script, ollama_server, target, code, message):
    result = run_script("bench", target, "--host", ollama_server.host)
    assert_one_line_error(result, code, message)
    assert result.stdout == ""



def test_bench_of_a_model_names_a_profile_and_tier_that_belong_together(run, ollama_server):
    ollama_server.install("llama3.1:8b")
    data = json.loads(run("bench", "llama3.1:8b", "--json", "--host", ollama_server.host).stdout)
    row = data["models"][0]
    from recommender.profiles import load_catalogue

    assert load_catalogue()[row["profile"]].model_for(row["tier"]).ref == "llama3.1:8b"
