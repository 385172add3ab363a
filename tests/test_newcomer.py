"""A newcomer's first hour (issue 21, item 5): each rough edge, fixed and held here."""

from __future__ import annotations

import json
import subprocess

import pytest

from recommender import hardware, usage
from recommender.profiles import load_catalogue
from tests.conftest import assert_one_line_error, console_script
from tests.test_ollama import write_profile


@pytest.fixture
def coding(taskprof_home, ollama_server):
    """programming and data-work share qwen2.5-coder:7b (which follows latest, so it can update)."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b", follow=True)
    write_profile(taskprof_home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b", follow=True)
    for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b"):
        ollama_server.publish(ref)
    return ollama_server


def events(command: str) -> list[usage.StoredEvent]:
    return [e for e in usage.events() if e.command == command]


def test_install_dry_run_json_prints_the_plan(run, coding):
    result = run("install", "programming", "--tier", "fast", "--dry-run", "--json", "--host", coding.host)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True
    plan = data["plan"]
    assert plan["profiles"] == ["programming"]
    assert [m["model"] for m in plan["models"]] == ["qwen2.5-coder:7b"]
    assert plan["models"][0]["installed"] is False and plan["download_bytes"] > 0
    assert coding.installed == {}  # nothing pulled


def test_suggest_install_json_includes_the_install_result(run, coding):
    result = run("suggest", "--json", "--install", "--tier", "fast", "--yes", "--host", coding.host,
                 "write a python function to parse dates")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # one document: the suggestion and what installing it did
    assert data["profile"] == "programming"
    assert data["install"]["installed"] == ["qwen2.5-coder:7b"]
    assert data["install"]["plan"]["profiles"] == ["programming"]


def test_empty_piped_stdin_to_suggest_is_a_usage_error():
    for piped in ("", "   \n\n"):
        proc = subprocess.run([*console_script(), "suggest"], input=piped, capture_output=True, text=True,
                              timeout=60)
        assert_one_line_error(proc, 2, "standard input is empty")
        assert proc.stdout == ""


def test_update_reports_bytes_only_for_changed_models_and_logs_the_profile_it_updated(run, coding):
    host = ("--host", coding.host)
    assert run("install", "programming", "--tier", "fast", "--yes", *host).exit_code == 0
    assert run("install", "data-work", "--tier", "fast", "--yes", *host).exit_code == 0
    unchanged = json.loads(run("update", "programming", "--json", *host).stdout)
    (model,) = unchanged["models"]
    assert (model["result"], model["fetched_bytes"]) == ("unchanged", 0)
    coding.publish_update("qwen2.5-coder:7b")
    updated = json.loads(run("update", "programming", "--json", *host).stdout)
    (model,) = updated["models"]
    assert model["result"] == "updated" and model["fetched_bytes"] > 0
    # data-work shares the model, but the update was for programming: it is the one logged.
    assert [e.profile for e in events("update")] == ["programming", "programming"]


def test_remove_logs_no_no_op_runs(run, coding):
    host = ("--host", coding.host)
    assert run("remove", "programming", "--yes", *host).exit_code == 0  # nothing installed: nothing to log
    assert events("remove") == []
    assert run("install", "programming", "--tier", "fast", "--yes", *host).exit_code == 0
    assert run("remove", "programming", "--yes", *host).exit_code == 0
    assert run("remove", "programming", "--yes", *host).exit_code == 0  # again: a no-op
    assert [e.profile for e in events("remove")] == ["programming"]
    assert coding.installed == {}


def test_fit_wording_says_what_fits():
    machine = hardware.Machine(25 * hardware.GB, None, None, False, "--memory")
    choice = hardware.recommend_tier(load_catalogue()["programming"], machine)
    assert choice.tier == "fast"
    assert "more than this machine's 25 GB" not in choice.reason
    assert "of this machine's 25 GB" in choice.reason and "75%" in choice.reason


def test_install_left_out_wording_says_what_fits(run, coding, taskprof_home):
    result = run("install", "programming", "--dry-run", "--json", "--host", coding.host,
                 env={"TASKPROF_MEMORY": "1GB"})
    assert result.exit_code == 0, result.output
    (left,) = json.loads(result.stdout)["plan"]["left_out"]
    assert left["tier"] == "quality"
    assert "75% of this machine's 1 GB" in left["why"] and "more than this machine's 1 GB" not in left["why"]


def test_the_memory_variable_is_named_in_its_error():
    import os

    for bad in ("lots", "9" * 400):
        proc = subprocess.run([*console_script(), "suggest", "write a python function"], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "TASKPROF_MEMORY": bad})
        assert_one_line_error(proc, 2, "TASKPROF_MEMORY")


def test_export_into_a_missing_folder_is_a_one_line_error(tmp_path):
    target = tmp_path / "no-such-folder" / "litellm.yaml"
    proc = subprocess.run([*console_script(), "export", "litellm", "programming", "-o", str(target)],
                          capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc, 1, "does not exist")
    assert not target.parent.exists()
