"""`taskprof suggest` end to end through the CLI: text, stdin, --json, --batch and bad input."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_one_line_error
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
