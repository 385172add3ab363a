"""`taskprof usage …` and `taskprof config …` through the CLI, and suggest's use of the log."""

from __future__ import annotations

import csv
import io
import json

from recommender import history, paths, usage
from recommender.api import Taskprof


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


def test_stats_count_conversations_and_switches(run):
    for profile, route in [("programming", "new"), ("programming", "kept"), ("writing", "switched")]:
        usage.record(usage.Event("chat", profile=profile, tier="fast", text="turn", conversation="c1", route=route))
    usage.record(usage.Event("chat", profile="research", tier="fast", text="a turn", conversation="c2", route="new"))
    data = json.loads(run("usage", "stats", "--json").stdout)
    assert (data["total"], data["conversations"], data["switches"]) == (3, 2, 1)
    assert "2 routed conversations (each one use per profile it used), 1 switch to another profile" in \
        run("usage", "stats").output


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
    assert refused.exit_code == 1 and "--yes" in refused.stderr  # no terminal to ask on: declined
    assert "Deleted 7 events" in run("usage", "clear", "--yes").output
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
    warnings = [line for line in result.stderr.splitlines() if "usage log" in line]
    assert len(warnings) == 1 and "moved it to" in warnings[0], result.stderr
    assert list(db.parent.glob("usage.db.broken-*"))


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
    # Reading falls back to the defaults (with a warning); writing would destroy the file, so it refuses.
    assert json.loads(run("config", "list", "--json").stdout)["logging"] is True
    result = run("config", "set", "logging", "false")
    assert result.exit_code == 1
    assert "config.json" in result.stderr
    assert paths.config_path().read_text() == "{nope"


# --- the history at work, against the loopback Ollama --------------------------------------------


def test_stats_and_favourites_show_install_state(run, ollama_server):
    seed()
    ollama_server.install("qwen2.5-coder:7b")
    ollama_server.install("qwen2.5-coder:32b")
    data = json.loads(run("usage", "stats", "--json", "--host", ollama_server.host).stdout)
    assert {p["profile"]: p["installed"] for p in data["profiles"]} == {"programming": "both", "writing": "no"}
    favourites = run("suggest", "--host", ollama_server.host, input="")
    assert favourites.exit_code == 0, favourites.output
    assert "programming" in favourites.stdout and "installed" in favourites.stdout
    assert "Install the missing ones: taskprof install writing" in favourites.stderr


def test_auto_install_installs_the_most_used_missing_profiles(run, ollama_server):
    seed()  # programming 5 uses, writing 2
    for ref in ("qwen2.5-coder:7b", "llama3.1:8b"):
        ollama_server.publish(ref, weights=1000)
    result = run("usage", "auto-install", "--top", "2", "--min-uses", "3", "--tier", "fast", "--yes",
                 "--host", ollama_server.host)
    assert result.exit_code == 0, result.output
    pulled = [body["model"] for _, path, body in ollama_server.requests if path == "/api/pull"]
    assert pulled == ["qwen2.5-coder:7b"]  # writing has only 2 uses
    dry = run("usage", "auto-install", "--min-uses", "1", "--tier", "fast", "--dry-run", "--host", ollama_server.host)
    assert dry.exit_code == 0 and "llama3.1:8b" in dry.stderr and "Dry run" in dry.stderr


def test_auto_install_setting_installs_after_k_suggestions(run, ollama_server):
    ollama_server.publish("qwen2.5-coder:7b", weights=1000)
    assert run("config", "set", "auto_install", "true").exit_code == 0
    assert run("config", "set", "auto_install_after", "2").exit_code == 0
    text = "fix the null pointer exception in my java service"
    first = run("suggest", "--host", ollama_server.host, text)
    assert first.exit_code == 0 and "auto-install" not in first.output
    second = run("suggest", "--host", ollama_server.host, text)
    assert second.exit_code == 0, second.output
    assert "auto-install is on and 'programming' has been suggested often enough: installing its fast tier." in second.stderr
    assert "qwen2.5-coder:7b" in ollama_server.installed


def test_history_breaks_a_close_call_and_says_so_but_never_a_confident_one(run):
    from recommender import classifier

    clf = classifier.load()
    candidates = ["look into the beta feedback", "thoughts on user interviews",
                  "questions about our pricing page", "help with note taking apps"]
    torn = [(t, p) for t, p in zip(candidates, clf.predict(candidates), strict=True) if classifier.is_torn(p)]
    assert torn, "no close call among the candidates: pick new ones for this model"
    text, prediction = torn[0]
    runner_up = prediction.alternatives[0].profile
    for i in range(6):
        usage.record(usage.Event("suggest", profile=runner_up, text=f"earlier task {i}"))
    decided = json.loads(run("suggest", "--json", "--no-log", text).stdout)
    assert decided["profile"] == runner_up
    assert decided["history_decided"]
    assert "your usage history chose" in run("suggest", "--no-log", text).stdout

    confident = "write a haiku about the sea"
    for i in range(50):
        usage.record(usage.Event("suggest", profile="programming", text=f"more {i}"))
    assert json.loads(run("suggest", "--json", "--no-log", confident).stdout)["profile"] == "writing"


# --- what counts as a use, and installed tiers beside it ---------------------------------------

def test_maintenance_is_recorded_but_is_no_use(run, coding):
    assert run("install", "brainstorming", "--yes", "--host", coding.host).exit_code == 0
    assert run("remove", "brainstorming", "--yes", "--host", coding.host).exit_code == 0
    assert [e.command for e in usage.events()] == ["install", "remove"]
    assert usage.profile_counts() == {}


def test_history_never_picks_a_removed_profile(run, coding):
    for _ in range(3):
        usage.record(usage.Event("suggest", profile="brainstorming"))
    assert run("install", "brainstorming", "--yes", "--host", coding.host).exit_code == 0
    assert history.counts(Taskprof(host=coding.host)) == {"brainstorming": 3}
    assert run("remove", "brainstorming", "--yes", "--host", coding.host).exit_code == 0
    assert history.counts(Taskprof(host=coding.host)) == {}


def test_a_string_false_turns_logging_off_with_a_warning(run, taskprof_home):
    taskprof_home.mkdir(parents=True, exist_ok=True)
    (taskprof_home / "config.json").write_text(json.dumps({"logging": "false"}))
    result = run("suggest", "--json", "review this contract")
    assert result.exit_code == 0
    assert "logging" in result.stderr
    assert list(usage.events()) == []


def test_stats_status_and_history_show_installed_tiers(run, coding):
    run("suggest", "--json", "write a python function to parse dates")
    assert run("install", "programming", "--tier", "fast", "--yes", "--host", coding.host).exit_code == 0
    stats = json.loads(run("usage", "stats", "--json", "--host", coding.host).stdout)
    assert stats["profiles"][0] == {**stats["profiles"][0], "profile": "programming", "installed": "fast"}
    status = json.loads(run("status", "--json", "--host", coding.host).stdout)
    assert {p["name"]: p["installed"] for p in status["profiles"]}["programming"] == "fast"
    history = json.loads(run("suggest", "--json", "--host", coding.host).stdout)
    assert history["profiles"][0]["installed"] == "fast"
