"""What every command promises, whichever it is: --json prints one JSON document on stdout even while
warnings happen, one exit-code table (2 usage, 1 failed, 130 interrupted) with no traceback, help
and completion that work, and words in the right number."""

from __future__ import annotations

import json

import pytest

from tests.test_ollama import in_terminal, script


def test_every_json_command_prints_one_document_while_warnings_happen(run, coding, taskprof_home):
    # A broken user profile and a wrongly typed setting make warnings on every command.
    (taskprof_home / "profiles" / "broken.json").write_text("{not json")
    (taskprof_home / "config.json").write_text(json.dumps({"auto_install_after": "abc"}))
    coding.install("qwen2.5-coder:7b")
    host = ("--host", coding.host)
    commands = [
        ("suggest", "--json", "write a python function to parse dates"),
        ("suggest", "--json"),
        ("profiles", "--json"),
        ("profiles", "show", "programming", "--json"),
        ("profiles", "size", "--json"),
        ("status", "--json", *host),
        ("usage", "stats", "--json", *host),
        ("config", "list", "--json"),
        ("install", "programming", "--tier", "fast", "--yes", "--json", *host),
        ("update", "programming", "--json", *host),
        ("bench", "programming", "--tier", "fast", "--json", *host),
        ("correct", "programming", "--json"),
        ("remove", "data-work", "--yes", "--json", *host),
        ("train", "--reset", "--json"),
    ]
    for args in commands:
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        json.loads(result.stdout)
        assert "Warning:" in result.stderr or args[0] in ("train",), args


@pytest.mark.parametrize("args", [
    ("install", "nope", "--yes"), ("remove", "nope", "--yes"), ("profiles", "show", "nope"), ("bench", "nope"),
    ("install", "../x", "--yes"), ("profiles", "show", "../x"), ("bench", "../x"),
])
def test_an_unknown_profile_is_a_usage_error_everywhere(args, ollama_server):
    # bench also takes model names, so it asks the server whether "nope" is one.
    result = script(*args, "--host", ollama_server.host) if args[0] != "profiles" else script(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith(f"Usage: taskprof {' '.join(args[:2] if args[0] == 'profiles' else args[:1])}")
    assert b"Traceback" not in result.stderr


def test_ctrl_c_at_a_prompt_exits_130(coding):
    coding.install("qwen2.5-coder:7b")
    coding.install("qwen2.5-coder:32b")
    code, out = in_terminal(["remove", "programming", "--host", coding.host], answer=b"\x03")
    assert code == 130, out
    assert "Traceback" not in out
    assert "qwen2.5-coder:32b" in coding.installed


def test_ollama_down_is_exit_1_and_one_line(dead_host):
    result = script("install", "programming", "--yes", "--host", dead_host)
    assert result.returncode == 1
    assert result.stderr.decode().strip().count("\n") == 0 and b"not reachable" in result.stderr


def test_profile_names_shell_complete():
    env = {"_TASKPROF_COMPLETE": "bash_complete", "COMP_WORDS": "taskprof install prog", "COMP_CWORD": "2"}
    result = script(env=env)
    assert b"programming" in result.stdout


def test_config_help_shows_the_whole_set_line(run):
    assert "Change a setting." in run("config", "--help").stdout


def test_plurals(run, coding):
    assert "1 distinct model)" in run("profiles", "size", "programming", "--tier", "fast").stdout
    run("suggest", "--json", "write a python function to parse dates")
    assert "1 use of profiles" in run("usage", "stats", "--host", coding.host).stdout
