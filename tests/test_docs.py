"""Docs that cannot drift: every command has help text and appears in the README with an example."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from recommender.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


COMMANDS = list(all_commands())


def test_every_registered_command_loads_and_is_listed():
    """The lazy table in cli/app.py is what `taskprof --help` lists, and each entry imports to a command."""
    from recommender.cli.app import COMMANDS as REGISTERED

    top = [path[0] for path, _ in COMMANDS if len(path) == 1]
    assert top == sorted(REGISTERED)
    assert all(isinstance(command, click.Command) for _, command in COMMANDS)
    subcommands = {" ".join(path) for path, _ in COMMANDS if len(path) == 2}
    assert {"usage conversations", "profiles show", "config set", "export litellm"} <= subcommands


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path, command):
    assert command.help and len(command.help.strip()) > 20, f"taskprof {' '.join(path)} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"option {param.opts} of taskprof {' '.join(path)} has no help text"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_readme(path, command):
    pattern = r"taskprof " + r"\s+".join(map(re.escape, path)) + r"\b"
    assert re.search(pattern, README), f"README.md has no example of `taskprof {' '.join(path)}`"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci
    assert "<!-- test-command -->" in README
    assert "ruff check" in ci


def test_profiles_doc_covers_every_profile_and_model():
    from recommender.profiles import load_catalogue

    doc = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    for profile in load_catalogue().values():
        assert f"### {profile.name}" in doc
        for model in profile.models:
            assert f"`{model.ref}`" in doc
            assert model.ref in README


def test_model_selection_hardware_table_matches_the_formula():
    from recommender import hardware
    from recommender.profiles import load_catalogue

    doc = (ROOT / "docs" / "model-selection.md").read_text(encoding="utf-8")
    models = {m.ref: m for p in load_catalogue().values() for m in p.models}
    columns = ["qwen2.5-coder:7b", "phi4-reasoning:14b", "gemma3:27b", "qwen2.5-coder:32b", "llama3.3:70b"]
    rows = re.findall(r"^\| (\d+) GB \| (\d+) GB \| (.+) \|$", doc, flags=re.MULTILINE)
    assert [int(r[0]) for r in rows] == [16, 24, 36, 48, 64, 128]
    for memory, usable, cells in rows:
        machine = hardware.Machine(int(memory) * hardware.GB, None, None, False, "doc")
        assert round(hardware.usable_bytes(machine) / hardware.GB) == int(usable)
        said = [c.strip() == "yes" for c in cells.split("|")]
        assert said == [hardware.fits(models[ref], machine) for ref in columns], f"{memory} GB row is wrong"
    for profile in load_catalogue().values():
        if profile.kind == "task":
            assert f"`{profile.name}`" in doc
