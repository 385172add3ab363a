"""`taskprof suggest` end to end through the CLI: text, stdin, --json, --batch and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recommender import history, paths, usage
from tests.conftest import assert_one_line_error
from tests.test_ollama import pulls, script
from training import dataset

JSON_FIELDS = {"text", "profile", "confidence", "alternatives", "abstained", "fallback_profile", "models",
               "recommended_tier", "similar"}


def test_suggest_review_this_contract(run):
    result = run("suggest", "review", "this", "contract", "--no-log")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("document-intelligence")
    assert "granite3.1-dense:8b" in result.output
    assert "llama3.3:70b" in result.output
    assert "Start with the" in result.output
    assert "Similar to:" in result.output
    assert "taskprof correct" in result.output


def test_suggest_json_fields(run):
    result = run("suggest", "--json", "--no-log", "write a SQL query for monthly revenue by region")
    data = json.loads(result.stdout)
    assert set(data) >= JSON_FIELDS
    assert data["profile"] == "data-work"
    assert data["abstained"] is False and data["fallback_profile"] is None
    assert data["models"]["fast"]["name"] == "qwen2.5-coder:7b"
    assert data["models"]["quality"]["name"] == "deepseek-r1:32b"
    assert data["recommended_tier"] in {"fast", "quality"}
    assert len(data["similar"]) == 3
    assert all({"profile", "confidence"} == set(a) for a in data["alternatives"])


def test_suggest_abstains_and_falls_back(run):
    result = run("suggest", "--json", "--no-log", "tell me a joke")
    data = json.loads(result.stdout)
    assert data["abstained"] is True
    assert data["fallback_profile"] == "balanced"
    assert data["profile"] in dataset.TASK_LABELS
    assert data["models"]["fast"]["name"] == "llama3.1:8b"  # the balanced profile's models
    plain = run("suggest", "--no-log", "tell me a joke")
    assert "No task profile fits this well" in plain.output
    assert "balanced" in plain.output


def test_suggest_reads_piped_stdin(run):
    result = run("suggest", "--json", "--no-log", input="design a notification service for 50M users\n")
    assert json.loads(result.stdout)["profile"] == "systems-architecture"


def test_undecodable_stdin_is_one_line_error(run_script):
    result = run_script("suggest", "--no-log", input=b"\xff\xfe review \x80 this")
    assert_one_line_error(result, 2, "standard input is not UTF-8 text (byte 0xff at offset 0)")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_usage_error(run, text):
    result = run("suggest", text)
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_huge_text_is_truncated_with_a_note(run):
    result = run("suggest", "--no-log", "summarise this report " * 100_000)
    assert result.exit_code == 0
    assert "longer than the encoder reads" in result.output
    data = json.loads(run("suggest", "--json", "--no-log", "summarise this report " * 100_000).stdout)
    assert data["truncated"] is True


def test_batch_one_object_per_line_in_order(run):
    lines = ["review this contract", "", "write a python function to flatten a nested list", "tell me a joke"]
    result = run("suggest", "--batch", input="\n".join(lines) + "\n")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert rows[0]["profile"] == "document-intelligence"
    assert rows[1] == {"text": "", "error": "empty line"}
    assert rows[2]["profile"] == "programming"
    assert rows[3]["abstained"] is True


def test_batch_rejects_text_argument(run):
    assert run("suggest", "--batch", "some text").exit_code == 2


def test_memory_option_changes_the_tier(run):
    small = json.loads(run("suggest", "--json", "--no-log", "--memory", "8GB", "design a URL shortener").stdout)
    big = json.loads(run("suggest", "--json", "--no-log", "--memory", "128GB", "design a URL shortener").stdout)
    assert small["recommended_tier"] == "fast"
    assert big["recommended_tier"] == "quality"


def test_bad_memory_value_is_an_error(run_script):
    result = run_script("suggest", "--no-log", "--memory", "lots", "design a URL shortener")
    assert_one_line_error(result, 2, "'lots' is not a memory size")
    assert result.stdout == ""


@pytest.mark.slow
def test_full_encoder_reference_path(run):
    data = json.loads(run("suggest", "--json", "--no-log", "--encoder", "full", "review this contract").stdout)
    assert data["encoder"] == "full"
    assert data["profile"] == "document-intelligence"


# --- moved from the edges grab-bag: suggest's output, auto-install, corrections, what is logged ---

def test_suggest_json_install_prints_one_document(run, coding):
    result = run("suggest", "--json", "--install", "--tier", "fast", "--yes", "--host", coding.host,
                 "--no-log", "brainstorm names for a bakery")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the plan and the progress went to stderr
    assert data["profile"] == "brainstorming"
    assert "Plan for brainstorming" in result.stderr and "Installed: dolphin-llama3:8b" in result.stderr
    assert pulls(coding) == ["dolphin-llama3:8b"]


def test_auto_install_keeps_stdout_one_document(run, coding):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    result = run("suggest", "--json", "--host", coding.host, "brainstorm names for a bakery")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["profile"] == "brainstorming"
    assert "auto-install is on" in result.stderr
    assert pulls(coding) == ["dolphin-llama3:8b"]


def test_auto_install_acts_only_when_the_tier_is_missing_and_is_no_use(run, coding):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    for _ in range(3):
        assert run("suggest", "--json", "--host", coding.host, "brainstorm names for a bakery").exit_code == 0
    assert pulls(coding) == ["dolphin-llama3:8b"]  # once, not on every suggestion after the threshold
    stats = json.loads(run("usage", "stats", "--json", "--host", coding.host).stdout)
    assert stats["profiles"][0]["uses"] == 3  # the three suggestions; the install is no use


def test_auto_install_with_ollama_down_does_not_change_suggest(run, dead_host):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    result = run("suggest", "--json", "--host", dead_host, "brainstorm names for a bakery")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["profile"] == "brainstorming"
    assert "not reachable" in result.stderr


def test_correct_after_a_piped_suggestion_relabels_that_one():
    assert script("suggest", "write a poem about autumn").returncode == 0
    # `| head -1`: the reader leaves after one line; the suggestion was logged before printing.
    proc = subprocess.Popen([sys.executable, "-m", "recommender", "suggest", "estimate churn from billing data"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    proc.wait(timeout=30)
    proc.stderr.close()
    result = script("correct", "business-research")
    assert result.returncode == 0, result.stderr
    assert b'"estimate churn from billing data" -> business-research' in result.stdout
    assert [c.text for c in usage.corrections()] == ["estimate churn from billing data"]


def test_suggestions_carry_an_id_that_correct_accepts(run):
    first = json.loads(run("suggest", "--json", "write a poem about autumn").stdout)
    run("suggest", "--json", "estimate churn from billing data")
    assert isinstance(first["id"], int)
    result = run("correct", "--id", str(first["id"]), "brainstorming")
    assert result.exit_code == 0
    assert f'#{first["id"]} "write a poem about autumn" -> brainstorming' in result.stdout
    again = run("correct", "--id", str(first["id"]), "writing")
    assert "1 correction stored" in again.stdout  # the same text again replaces the earlier one
    assert [(c.text, c.profile) for c in usage.corrections()] == [("write a poem about autumn", "writing")]
    assert run("correct", "--id", "99999", "writing").exit_code == 2


def test_text_output_prints_the_id():
    result = script("suggest", "review this contract")
    event = usage.last_suggestion()
    assert f"taskprof correct --id {event.id} PROFILE".encode() in result.stderr


def test_a_bad_setting_is_a_warning_not_a_traceback(taskprof_home):
    taskprof_home.mkdir(parents=True, exist_ok=True)
    (taskprof_home / "config.json").write_text(json.dumps({"auto_install_after": "abc", "auto_install": True}))
    result = script("suggest", "brainstorm names for a bakery")
    assert result.returncode == 0
    assert b"auto_install_after" in result.stderr and b"Traceback" not in result.stderr


def test_a_damaged_personal_model_warns_and_uses_the_shipped_one():
    personal = paths.personal_model_dir()
    personal.mkdir(parents=True)
    shipped = json.loads((paths.bundled_dir("models") / "manifest.json").read_text())
    (personal / "manifest.json").write_text(json.dumps({
        "format": shipped["format"], "labels": shipped["labels"], "examples_file": "examples.json",
        "base_training_data": shipped["training_data"]["sha256"],
        "heads": {"static": {"file": "head-static.npz", "threshold": 0.4}}}))
    (personal / "head-static.npz").write_bytes(b"not a zip file")
    result = script("suggest", "--json", "review this contract")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["personal"] is False
    assert result.stderr.count(b"personal model") == 1 and b"train --reset" in result.stderr


def test_the_log_stores_at_most_what_the_classifier_reads(run):
    diff = "diff --git a/x.py b/x.py\n" + "+    value = compute(value)\n" * 20_000
    assert run("suggest", "--json", input=diff).exit_code == 0
    stored = usage.last_suggestion().text
    assert 0 < len(stored) <= history.LOG_TEXT_CHARS < len(diff)


def test_log_text_false_keeps_a_hash(run):
    run("config", "set", "log_text", "false")
    assert run("suggest", "--json", "review this contract").exit_code == 0
    assert usage.last_suggestion().text.startswith("hmac:")  # keyed: see tests/test_privacy.py
    assert "review this contract" not in json.dumps([e.text for e in usage.events()])
    assert run("correct", "writing").exit_code == 2  # the text was not kept: say so


def test_tier_without_install_is_a_usage_error(run):
    result = run("suggest", "--tier", "fast", "review this contract")
    assert result.exit_code == 2
    assert "--install" in result.stderr


def test_suggest_batch_and_ask_choose_the_same_profile(run, coding):
    coding.install("qwen2.5-coder:7b")
    coding.install("deepseek-r1:32b")
    texts = ["write a SQL query for monthly revenue by region", "fix the off-by-one error in my python loop"]
    batch = [json.loads(line)["profile"] for line in run("suggest", "--batch", input="\n".join(texts)).stdout.splitlines()]
    for text, from_batch in zip(texts, batch, strict=True):
        single = json.loads(run("suggest", "--json", "--no-log", text).stdout)["profile"]
        asked = run("ask", "--no-log", "--tier", "fast", "--host", coding.host, text)
        assert asked.exit_code == 0, asked.output
        assert single == from_batch and f"[{single} -> " in asked.stderr
