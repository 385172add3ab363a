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


def test_broken_user_profile_is_skipped_with_one_line_warning(run):
    paths.user_profiles_dir().mkdir(parents=True)
    (paths.user_profiles_dir() / "mine.json").write_text("{not json")
    result = run("profiles")
    assert result.exit_code == 0
    assert "mine.json: invalid JSON at line 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "programming" in result.stdout


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


# --- the design's format, written by hand -----------------------------------------------------------

DESIGN_FORM = {
    "name": "legal-drafting",
    "description": "Drafting and redlining legal agreements.",
    "models": [
        {"name": "qwen2.5:14b", "tag": "latest", "purpose": "Fast iteration - quick clauses", "tier": "fast"},
        {"name": "mistral", "tag": "latest", "purpose": "Deep work - careful drafting", "tier": "quality"},
    ],
    "recommended_for": ["contracts", "redlines"],
}


def write_user(name: str, doc: object) -> None:
    paths.user_profiles_dir().mkdir(parents=True, exist_ok=True)
    (paths.user_profiles_dir() / f"{name}.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))


def test_design_form_profile_works_in_every_profiles_command(run):
    write_user("legal-drafting", DESIGN_FORM)
    listed = run("profiles")
    assert listed.exit_code == 0 and not listed.stderr
    assert "legal-drafting" in listed.stdout and "mistral:latest" in listed.stdout

    data = next(p for p in json.loads(run("profiles", "--json").stdout) if p["name"] == "legal-drafting")
    assert data["kind"] == "task"
    assert data["source"] == "user"
    fast, quality = data["models"]
    # qwen2.5:14b is a bundled model: its stated size and parameters, not a guess from the tag (one size everywhere)
    assert (fast["ref"], fast["params_b"], fast["size_gb"], fast["estimated"]) == ("qwen2.5:14b", 14.8, 9.0, False)
    assert (quality["name"], quality["ref"], quality["params_b"]) == ("mistral", "mistral:latest", 7.0)
    assert fast["context"] == quality["context"] == 8192
    assert data["size_gb"] == 13.5
    assert data["size_estimate"] == "~14 GB total, estimated from the model tags"

    shown = run("profiles", "show", "legal-drafting")
    assert shown.exit_code == 0
    assert "mistral:latest" in shown.stdout
    assert "(estimated from the tag)" in shown.stdout
    assert "Size: 13.5 GB for both tiers (~14 GB total, estimated from the model tags)" in shown.stdout

    plan = json.loads(run("profiles", "size", "legal-drafting", "--json").stdout)
    assert plan["total_gb"] == 13.5
    assert {m["ref"] for m in plan["models"]} == {"qwen2.5:14b", "mistral:latest"}


def test_design_form_override_works_in_suggest(run):
    doc = dict(DESIGN_FORM, name="document-intelligence")
    write_user("document-intelligence", doc)
    result = run("suggest", "review this contract and flag risky clauses", "--json")
    assert result.exit_code == 0 and not result.stderr
    data = json.loads(result.stdout)
    assert data["profile"] == "document-intelligence"
    assert data["models"]["fast"]["name"] == "qwen2.5:14b"
    assert data["models"]["quality"]["name"] == "mistral:latest"


def test_broken_user_file_warns_on_stderr_and_json_stays_clean(run):
    broken = dict(DESIGN_FORM, name="broken")
    broken["models"] = [dict(DESIGN_FORM["models"][0]), dict(DESIGN_FORM["models"][1], tier="slow")]
    write_user("broken", broken)
    expected = "broken.json: models[1].tier: 'slow' is not one of ['fast', 'quality'] (skipped)"
    for args in (("profiles", "--json"), ("profiles", "show", "programming", "--json"), ("profiles", "size", "--json"),
                 ("suggest", "review this contract", "--json")):
        result = run(*args)
        assert result.exit_code == 0, args
        json.loads(result.stdout)  # stdout is the one JSON document, the warning went to stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Warning: ") and line.endswith(expected), args
    assert "broken" not in {p["name"] for p in json.loads(run("profiles", "--json").stdout)}


def test_pinned_model_is_shown_as_pinned(run):
    digest = "sha256:" + "ab" * 32
    doc = dict(DESIGN_FORM)
    doc["models"] = [DESIGN_FORM["models"][0], dict(DESIGN_FORM["models"][1], tag=digest)]
    write_user("legal-drafting", doc)
    data = json.loads(run("profiles", "show", "legal-drafting", "--json").stdout)
    assert [m["pinned_digest"] for m in data["models"]] == [None, digest]
    assert [m["tag"] for m in data["models"]] == ["latest", digest]
    assert f"updates: pinned to {digest[:19]}" in run("profiles", "show", "legal-drafting").stdout
