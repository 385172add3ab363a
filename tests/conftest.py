from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recommender.cli import cli

# The loopback Ollama server and its fixtures live beside the tests that use them.
pytest_plugins = ["tests.ollama_server", "tests.serve_support"]


def pytest_configure(config):
    # Folders the tests make by hand are private, as taskprof makes its own; otherwise taskprof's
    # one-time "made the data dir private" note would appear in every test that prepares a file.
    # tests/test_privacy.py makes readable folders on purpose.
    os.umask(0o077)


@pytest.fixture(autouse=True)
def taskprof_home(tmp_path, monkeypatch):
    """Every test gets its own data directory: no test touches the real one."""
    home = tmp_path / "taskprof-home"
    monkeypatch.setenv("TASKPROF_HOME", str(home))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


@pytest.fixture
def run():
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr, output).

    click strips colour codes from output that is not a terminal; `color=True` keeps them, as a terminal would.
    """
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None, color: bool = False):
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False, color=color)

    return invoke


def console_script() -> list[str]:
    """The installed `taskprof` entry point beside this interpreter (what a user runs)."""
    beside = Path(sys.executable).parent / "taskprof"
    found = str(beside) if beside.is_file() else shutil.which("taskprof")
    if found is None:
        pytest.fail("the taskprof console script is not installed: pip install -e '.[test]'")
    return [found]


@pytest.fixture
def run_script():
    """Run the console script in a subprocess: the only place a traceback a user would see can show.

    Inherits the environment (so TASKPROF_HOME from the autouse fixture), plus `env`; returns the
    CompletedProcess with text stdout and stderr.
    """

    def invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        proc = subprocess.run([*console_script(), *args], input=input, env={**os.environ, **(env or {})},
                              capture_output=True, text=text, timeout=timeout)
        if not text:
            proc.stdout = proc.stdout.decode("utf-8", "replace")
            proc.stderr = proc.stderr.decode("utf-8", "replace")
        return proc

    return invoke


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, message: str) -> None:
    """A failure we can name: the exit code, one `Error:` line on stderr holding `message`, no traceback.

    Exit 1 prints that line alone; a usage error (exit 2) has click's usage hint above it.
    """
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    if code == 1:
        assert lines == errors, proc.stderr


@pytest.fixture
def coding(taskprof_home, ollama_server):
    """programming and data-work (they share qwen2.5-coder:7b) and brainstorming, tiny and pullable."""
    from tests.test_ollama import write_profile

    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    write_profile(taskprof_home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b")
    write_profile(taskprof_home, "brainstorming", "dolphin-llama3:8b", "llama3.3:70b")
    for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b", "dolphin-llama3:8b", "llama3.3:70b"):
        ollama_server.publish(ref)
    return ollama_server
