"""`taskprof profiles`, `profiles show`, `profiles size` and the CLI's error contract."""

from __future__ import annotations

import json

import click

from recommender import paths
from tests.conftest import assert_one_line_error


def test_profiles_table_lists_every_profile(run):
    result = run("profiles")
    assert result.exit_code == 0
    for name in ("programming", "document-intelligence", "balanced", "all-rounders"):
        assert name in result.output
    assert "qwen2.5-coder:32b" in result.output


def test_profiles_json_fields(run):
    data = json.loads(run("profiles", "--json").stdout)
    assert len(data) == 13
    first = data[0]
    assert {"name", "kind", "description", "models", "recommended_for", "size_gb"} <= set(first)
    assert {"name", "tier", "purpose", "size_gb"} <= set(first["models"][0])
    programming = next(p for p in data if p["name"] == "programming")
    assert programming["size_gb"] == 24.7


def test_profiles_show(run):
    result = run("profiles", "show", "document-intelligence")
    assert result.exit_code == 0
    assert "granite3.1-dense:8b" in result.output
    assert "llama3.3:70b" in result.output
    assert "Pick for" in result.output
    data = json.loads(run("profiles", "show", "writing", "--json").stdout)
    assert data["name"] == "writing"


def test_profiles_size_prints_deduplicated_total(run):
    result = run("profiles", "size")
    assert result.exit_code == 0
    assert "Total to download: 122.3 GB (9 distinct models)" in result.output
    assert "348.8 GB" in result.output
    data = json.loads(run("profiles", "size", "--json").stdout)
    assert data["total_gb"] == 122.3
    assert data["naive_gb"] == 348.8


def test_profiles_size_named_and_tier(run):
    data = json.loads(run("profiles", "size", "programming", "data-work", "--tier", "fast", "--json").stdout)
    assert data["total_gb"] == 4.7
    assert [m["ref"] for m in data["models"]] == ["qwen2.5-coder:7b"]


def test_path_like_name_is_one_line_error(run_script):
    result = run_script("profiles", "show", "../x")
    # A bad argument: a usage error, exit 2, with the subcommand's own usage line above the one error line.
    assert_one_line_error(result, 2, "Error: '../x' is not a profile name: use lowercase letters, digits and '-' (not a path)")
    assert result.stderr.startswith("Usage: taskprof profiles show [OPTIONS] NAME")


def test_broken_user_profile_is_one_line_error(run):
    paths.user_profiles_dir().mkdir(parents=True)
    (paths.user_profiles_dir() / "mine.json").write_text("{not json")
    result = run("profiles")
    assert result.exit_code == 1
    assert "mine.json: invalid JSON at line 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_option_is_usage_error(run):
    result = run("profiles", "size", "--tier", "huge")
    assert result.exit_code == 2


def test_no_color_removes_escape_codes(run):
    # Colour forced on, as on a terminal: the profile's name is styled unless NO_COLOR says otherwise.
    colored = run("profiles", "show", "writing", color=True)
    plain = run("profiles", "show", "writing", env={"NO_COLOR": "1"}, color=True)
    assert colored.exit_code == plain.exit_code == 0
    assert "\x1b[" in colored.output
    assert "\x1b[" not in plain.output
    assert plain.output == click.unstyle(colored.output)


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0
    assert "taskprof, version" in result.output
