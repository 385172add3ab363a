from __future__ import annotations

import pytest
from click.testing import CliRunner

from recommender.cli import cli

# The loopback Ollama server and its fixtures live beside the tests that use them.
pytest_plugins = ["tests.ollama_server"]


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
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr, output)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None):
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke
