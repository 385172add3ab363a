"""`taskprof usage …` and `taskprof config …` through the CLI, and suggest's use of the log."""

from __future__ import annotations

import csv
import io
import json

from recommender import paths, usage


def seed():
    for profile, n in [("programming", 5), ("writing", 2)]:
        for i in range(n):
            usage.record(usage.Event("suggest", profile=profile, tier="fast", confidence=0.9, abstained=False, text=f"{profile} {i}"))


def test_stats_json_and_chart(run):
    seed()
    data = json.loads(run("usage", "stats", "--json").stdout)
    assert data["total"] == 7
    first = data["profiles"][0]
    assert {"profile", "uses", "share", "last_used", "installed"} <= set(first)
    assert (first["profile"], first["uses"]) == ("programming", 5)
    assert first["installed"] is None  # no Ollama here
    text = run("usage", "stats").output
    assert "programming" in text and "#" * 30 in text


def test_stats_on_empty_log(run):
    result = run("usage", "stats")
    assert result.exit_code == 0 and "No usage recorded yet" in result.output
    assert not paths.usage_db_path().exists()


def test_suggest_records_and_no_log_skips(run):
    run("suggest", "review this contract")
    run("suggest", "--no-log", "write a python function")
    events = list(usage.events())
    assert [(e.command, e.profile) for e in events] == [("suggest", "document-intelligence")]
    assert events[0].text == "review this contract"


def test_usage_off_and_on(run):
    assert "off" in run("usage", "off").output
    run("suggest", "review this contract")
    assert list(usage.events()) == []
    run("usage", "on")
    run("suggest", "review this contract")
    assert len(list(usage.events())) == 1


def test_path_export_and_clear(run):
    seed()
    assert run("usage", "path").output.strip() == str(paths.usage_db_path())
    lines = run("usage", "export").output.splitlines()
    assert len(lines) == 7 and json.loads(lines[0])["command"] == "suggest"
    rows = list(csv.DictReader(io.StringIO(run("usage", "export", "--format", "csv").output)))
    assert len(rows) == 7 and rows[0]["profile"] == "programming"
    refused = run("usage", "clear")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert "Deleted 7 event(s)" in run("usage", "clear", "--yes").output
    assert list(usage.events()) == []


def test_suggest_without_text_shows_favourites(run):
    seed()
    result = run("suggest")
    assert result.exit_code == 0
    assert result.output.index("programming") < result.output.index("writing")
    assert "taskprof install" in result.output


def test_suggest_without_text_and_no_history_is_usage_error(run):
    result = run("suggest")
    assert result.exit_code == 2


def test_corrupt_database_still_works_through_cli(run):
    seed()
    db = paths.usage_db_path()
    for side in ("usage.db-wal", "usage.db-shm"):
        (db.parent / side).unlink(missing_ok=True)
    db.write_bytes(b"\x00garbage" * 500)
    result = run("suggest", "review this contract")
    assert result.exit_code == 0
    assert "document-intelligence" in result.output
    assert "moved it to" in result.stderr
    assert list(db.parent.glob("usage.db.corrupt-*"))


def test_config_commands(run):
    assert run("config", "set", "auto_install", "true").exit_code == 0
    assert run("config", "get", "auto_install").output.strip() == "true"
    assert json.loads(run("config", "list", "--json").stdout)["auto_install"] is True
    assert run("config", "unset", "auto_install").exit_code == 0
    assert run("config", "get", "auto_install").output.strip() == "false"
    bad = run("config", "set", "auto_install", "perhaps")
    assert bad.exit_code == 2 and "true or false" in bad.stderr
    assert run("config", "get", "nope").exit_code == 2


def test_broken_config_file_is_one_line_error(run):
    paths.config_path().parent.mkdir(parents=True, exist_ok=True)
    paths.config_path().write_text("{nope")
    result = run("config", "list")
    assert result.exit_code == 1
    assert "config.json" in result.stderr
