"""The public Python API, one test (at least) per function, against the loopback fake Ollama with
the real ollama client and a real SQLite usage log."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import recommender
from recommender import api, usage
from recommender.api import Taskprof
from recommender.errors import InputError, InstallRefused, TaskprofError, TrainingError
from recommender.types import GB, Decision
from tests.test_ollama import write_profile

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = "review this contract for risky clauses"
CODE = "write a python function that reverses a list"


@pytest.fixture
def small(taskprof_home, ollama_server, monkeypatch):
    """programming and writing as tiny profiles on the fake; OLLAMA_HOST points at it."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b", follow=True)
    write_profile(taskprof_home, "writing", "llama3.1:8b", "llama3.3:70b")
    for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "llama3.1:8b", "llama3.3:70b"):
        ollama_server.publish(ref)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.host)
    monkeypatch.setenv("TASKPROF_MEMORY", "16GB")
    return ollama_server


class Bars:
    """A progress object as the CLI's, recording what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        self.events.append(("start", ref))

    def update(self, completed: int, total: int) -> None:
        self.events.append(("update", completed <= total))

    def finish(self, ok: bool) -> None:
        self.events.append(("finish", ok))


# --- the package -----------------------------------------------------------------------------------


def test_import_recommender_loads_no_api_until_used():
    code = ("import sys, recommender; before = 'recommender.api' in sys.modules; recommender.Taskprof; "
            "print(before, 'recommender.api' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "False"]  # the API itself loads without numpy; deciding loads it


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        recommender.nothing  # noqa: B018
    assert recommender.Taskprof is Taskprof and recommender.TaskprofError is TaskprofError
    assert {"Taskprof", "Decision"} <= set(dir(recommender))


# --- deciding ----------------------------------------------------------------------------------------


def test_decide_and_log(small):
    tp = Taskprof()
    d = tp.decide(CODE)
    assert isinstance(d, Decision) and d.chosen_profile == "programming" and d.id is None
    assert [e.command for e in usage.events()] == []  # deciding logs nothing
    logged = d.log(tp)
    assert logged.id is not None and logged.to_json()["id"] == logged.id
    event = usage.last_suggestion()
    assert (event.id, event.profile, event.command) == (logged.id, "programming", "suggest")
    data = logged.to_json()
    assert set(data["models"]) == {"fast", "quality"} and data["recommended_tier"] in ("fast", "quality")
    json.dumps(data)  # plain JSON all the way down


def test_decide_is_the_classifier_plus_tier_and_history():
    """The one way to classify is Taskprof.decide: the classifier's reading, with the tier on top
    (the old classifier.classify shortcut is gone, and nothing else decides)."""
    from recommender import classifier

    texts = [CONTRACT, "write a SQL query for monthly revenue", "hi"]
    predictions = classifier.load().predict(texts)
    for d, p in zip(Taskprof(memory="16GB").decide_many(texts), predictions, strict=True):
        assert (d.profile, d.abstained) == (p.profile, p.abstained)
        assert d.confidence == pytest.approx(p.confidence)
        assert d.chosen_profile == (classifier.FALLBACK_PROFILE if p.abstained else p.profile)


def test_decide_with_log_off_keeps_no_id(small):
    tp = Taskprof(log=False)
    assert tp.decide(CODE).log(tp).id is None
    assert list(usage.events()) == []


def test_decide_many_is_one_decide_per_text(small):
    tp = Taskprof()
    many = tp.decide_many([CODE, "write a poem about autumn"])
    assert [d.chosen_profile for d in many] == ["programming", tp.decide("write a poem about autumn").chosen_profile]
    assert tp.decide_many([]) == []
    with pytest.raises(InputError, match="empty"):
        tp.decide_many(["  "])


def test_route_keeps_a_follow_up_and_gives_a_tier(small):
    tp = Taskprof()
    first = tp.route([{"role": "user", "content": CODE}])
    assert (first.profile, first.route, first.previous) == ("programming", "new", None)
    assert first.tier in ("fast", "quality") and first.tier_reason
    assert first.to_json()["route"] == "new"
    logged = first.log(tp)
    assert logged.id == usage.events().__next__().id
    with pytest.raises(InputError):
        tp.route([{"role": "assistant", "content": "hello"}])


def test_record_and_history(small):
    tp = Taskprof()
    for _ in range(2):
        tp.record("suggest", profile="programming", tier="fast")
    used = tp.history()
    assert [(u.profile, u.uses) for u in used.profiles] == [("programming", 2)]
    assert used.profiles[0].installed == "no" and used.missing == ("programming",)
    assert used.to_json()["install_command"] == "taskprof install programming"


# --- installing ------------------------------------------------------------------------------------


def test_plan_install_install_with_progress(small, monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))
    tp = Taskprof()
    plan = tp.plan_install(["programming"], tier="all")
    assert [m.ref for m in plan.missing] == ["qwen2.5-coder:7b", "qwen2.5-coder:32b"]
    assert plan.to_json()["tiers"] == {"programming": ["fast", "quality"]}
    bars = Bars()
    outcome = tp.install(plan, progress=bars)
    assert outcome.ok and outcome.installed == ["qwen2.5-coder:7b", "qwen2.5-coder:32b"]
    assert [e for e in bars.events if e[0] != "update"] == [
        ("start", "qwen2.5-coder:7b"), ("finish", True), ("start", "qwen2.5-coder:32b"), ("finish", True)]
    assert ("update", True) in bars.events
    assert tp.installed_state().tiers("programming") == "both"
    assert outcome.to_json()["ok"] is True


def test_installed_model_and_answer_model(small):
    small.install("qwen2.5-coder:32b")
    tp = Taskprof()
    model, host, note = tp.installed_model("programming", "fast")
    assert (model.ref, host, note) == ("qwen2.5-coder:32b", small.host, "fast tier not installed")
    assert tp.answer_model("programming", "quality").note is None
    with pytest.raises(InstallRefused, match="taskprof install writing"):
        tp.answer_model("writing")


def test_plan_removal_and_remove(small, monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))
    tp = Taskprof()
    assert tp.install(tp.plan_install(["programming", "writing"], "fast")).ok
    plan = tp.plan_removal("programming", "fast")
    assert [ref for _, ref, _ in plan.goes] == ["qwen2.5-coder:7b"]
    removal = tp.remove(plan)
    assert removal.deleted == ("qwen2.5-coder:7b",)
    assert "qwen2.5-coder:7b" not in small.installed and "llama3.1:8b" in small.installed
    assert removal.to_json()["deleted"] == ["qwen2.5-coder:7b"]


def test_update_with_progress(small):
    small.install("qwen2.5-coder:7b")
    tp = Taskprof()
    assert [m.ref for _, m in tp.update_targets()[0]] == ["qwen2.5-coder:7b"]
    small.publish_update("qwen2.5-coder:7b")
    bars = Bars()
    outcome = tp.update(progress=bars)
    assert [(m.ref, m.result) for m in outcome.models] == [("qwen2.5-coder:7b", "updated")]
    assert bars.events[0] == ("start", "qwen2.5-coder:7b") and bars.events[-1] == ("finish", True)
    assert outcome.to_json()["ok"] is True


def test_update_reminder_once_a_day(small):
    api.set_setting("update_every", "7d")
    assert "update of your models is due" in Taskprof().update_reminder()
    assert Taskprof().update_reminder() is None


def test_auto_install_due(small):
    api.set_setting("auto_install", "true")
    tp = Taskprof()
    d = tp.decide(CODE)
    assert tp.auto_install_due(d) is None  # not suggested often enough yet
    for _ in range(3):
        d.log(tp)
    assert tp.auto_install_due(d) == ("programming", "fast")


def test_status(small):
    small.install("qwen2.5-coder:7b")
    status = Taskprof().status()
    assert status.ok and [s.host for s in status.servers] == [small.host]
    programming = next(p for p in status.profiles if p.name == "programming")
    assert (programming.state, programming.installed) == ("partial", "fast")
    assert status.machine.total_gb == 16.0 and status.machine.source == "TASKPROF_MEMORY"
    assert status.to_json()["server"]["reachable"] is True


def test_status_with_ollama_down(dead_host):
    status = Taskprof(host=dead_host).status()
    assert not status.ok and "not reachable" in status.servers[0].error
    assert all(p.state == "unknown" for p in status.profiles)


# --- fit: one machine() for every command ----------------------------------------------------------


@pytest.fixture
def gpu_tier(run, taskprof_home, ollama_server, gpu_box, monkeypatch):
    """This machine has 16 GB; the quality tier runs on gpu_box, said to have 128 GB (a loopback
    address, as an SSH tunnel to a GPU box is)."""
    for server in (ollama_server, gpu_box):
        for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b"):
            server.publish(ref)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.host)
    monkeypatch.setenv("TASKPROF_MEMORY", "16GB")
    api.set_setting("quality_host", gpu_box.host)
    api.set_setting("quality_host_memory", "128GB")
    return gpu_box


def test_profiles_and_suggest_agree_on_fit(run, gpu_tier):
    profiles = json.loads(run("profiles", "--json").stdout)
    programming = next(p for p in profiles if p["name"] == "programming")
    fits = {m["tier"]: m["fits"] for m in programming["models"]}
    suggestion = json.loads(run("suggest", "--json", "--no-log", "refactor this python class").stdout)
    assert suggestion["profile"] == "programming"
    assert fits["quality"] is True  # 32B on 128 GB; it would not fit this 16 GB machine
    assert suggestion["recommended_tier"] == "quality" and suggestion["tier_fits"] is True
    assert "too big" not in run("profiles").stdout.split("qwen2.5-coder:32b")[1].splitlines()[0]


def test_loopback_quality_host_memory_is_honoured(gpu_tier):
    tp = Taskprof()
    machine = tp.machine("quality")
    assert (machine.total_bytes, machine.source) == (128 * GB, "quality_host_memory")
    assert tp.machine("fast").total_bytes == 16 * GB
    plan = tp.plan_install(["programming"])  # fit: the quality tier fits its own server
    assert plan.tiers["programming"] == ("fast", "quality") and plan.left_out == ()
    assert Taskprof(host=gpu_tier.host).machine("quality").total_bytes == 16 * GB  # --host: both tiers there
    api.unset_setting("quality_host")  # the memory of quality_host, and there is none: this machine's
    assert Taskprof().machine("quality").total_bytes == 16 * GB


# --- the usage log -----------------------------------------------------------------------------------


def test_usage_stats_and_events(small):
    tp = Taskprof()
    tp.decide(CODE).log(tp)
    tp.record("install", profile="programming")
    stats = tp.usage_stats(days=30)
    assert (stats.total, stats.days, stats.commands) == (1, 30, {"suggest": 1, "install": 1})
    assert stats.profiles[0].profile == "programming" and stats.ollama_reachable is True
    assert stats.to_json()["profiles"][0]["uses"] == 1
    assert [e.command for e in tp.usage_events()] == ["suggest", "install"]


def test_correct(small):
    tp = Taskprof()
    d = tp.decide(CODE).log(tp)
    c = tp.correct("writing")
    assert (c.event_id, c.profile, c.was, c.stored) == (d.id, "writing", "programming", 1)
    assert tp.correct("programming", text="  my   task ").text == "my task"
    with pytest.raises(InputError, match="not both"):
        tp.correct("writing", text="x", event_id=1)
    assert c.to_json()["corrections"] == 1


def test_train_personal_needs_corrections(small):
    with pytest.raises(TrainingError, match="no corrections yet"):
        Taskprof().train_personal()
    assert api.reset_personal() is False


def test_bench(small):
    small.install("qwen2.5-coder:7b")
    seen = []
    report = Taskprof().bench(["programming"], "fast", progress=lambda t: seen.append(t.ref))
    assert seen == ["qwen2.5-coder:7b"] and report.skipped == ()
    run = report.runs[0]
    assert (run.model, run.profile, run.tier, run.responses) == ("qwen2.5-coder:7b", "programming", "fast", 2)
    assert usage.latest_bench()["qwen2.5-coder:7b"].seconds_per_response == run.seconds_per_response
    assert report.to_json()["models"][0]["verdict"] == run.verdict


def test_storage_plan_profiles_memory_and_export(small):
    tp = Taskprof()
    plan = tp.storage_plan(["programming", "writing"], "fast")
    assert [m.ref for m in plan.models] == ["qwen2.5-coder:7b", "llama3.1:8b"] or len(plan.models) == 2
    assert plan.to_json()["tier"] == "fast"
    assert "programming" in [p.name for p in tp.profiles()] and "programming" in api.profile_names()
    model = tp.profile("programming").model_for("quality")
    assert tp.memory_gb(model) > tp.memory_gb(tp.profile("programming").model_for("fast"))
    assert "taskprof/programming:fast" in tp.export_litellm(["programming"])


def test_settings_functions():
    assert api.set_setting("auto_install_after", "5") == 5
    assert api.settings()["auto_install_after"] == 5
    assert api.show_setting("auto_install_after", 5) == "5"
    assert api.check_setting("auto_install_after") == "auto_install_after"
    assert api.unset_setting("auto_install_after") == 3
    assert "auto_install" in api.setting_help()
    assert api.usage_db_path().endswith("usage.db")
    assert api.clear_usage() == 0 and api.top_profiles() == []


# --- ask and its conversations ------------------------------------------------------------------------


def test_ask_streams_and_keeps_the_conversation(small):
    small.install("qwen2.5-coder:7b")
    tp = Taskprof()
    answer = tp.ask(CODE)
    assert "".join(answer) == small.reply == answer.text
    assert answer.model.ref == "qwen2.5-coder:7b" and answer.route.route == "new"
    (info,) = tp.conversations()
    assert (info.id, info.profile, info.turns) == (answer.conversation_id, "programming", 1)
    path = Path(os.environ["TASKPROF_HOME"]) / "conversations" / f"{info.id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = tp.ask("now write a python unit test for that function", conversation="last")
    "".join(again)
    assert again.route.route == "kept" and again.conversation_id == info.id
    chats = [body for _, p, body in small.requests if p == "/api/chat"]
    assert [m["role"] for m in chats[-1]["messages"]] == ["user", "assistant", "user"]
    assert tp.conversations()[0].turns == 2
    # A conversation is one use per profile it goes to, not one per turn.
    assert [e.command for e in usage.events()] == ["ask"]
    tp.delete_conversation(info.id)
    assert tp.conversations() == []
    with pytest.raises(InputError, match="no conversation to continue"):
        tp.ask("more", conversation="last")


def test_ask_with_log_text_false_keeps_nothing(small):
    small.install("qwen2.5-coder:7b")
    api.set_setting("log_text", "false")
    tp = Taskprof()
    answer = tp.ask(CODE)
    "".join(answer)
    assert answer.conversation_id is None and tp.conversations() == []
    with pytest.raises(InputError, match="log_text is false"):
        tp.ask("more", conversation="last")


def test_conversation_ids_are_checked_and_cleared(small):
    tp = Taskprof()
    for bad in ("../../etc/passwd", "ZZZ"):
        with pytest.raises(InputError, match="not a conversation id"):
            tp.delete_conversation(bad)
    with pytest.raises(InputError, match="no conversation"):
        tp.ask("x", conversation="0123456789ab")
    assert tp.clear_conversations() == 0


# --- the README's example runs as written ---------------------------------------------------------------


def test_readme_python_api_example_runs(ollama_server, tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- python-api -->\s*```python\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md has no python-api block"
    from recommender.profiles import load_catalogue

    for p in load_catalogue().values():
        for m in p.models:
            ollama_server.publish(m.ref)
    env = {**os.environ, "OLLAMA_HOST": ollama_server.host, "OLLAMA_MODELS": str(tmp_path / "models"),
           "TASKPROF_MEMORY": "16GB"}
    (tmp_path / "models").mkdir()
    proc = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[0] == "document-intelligence"
    assert lines[1].startswith("True [")
    assert lines[2].split()[:2] == ["data-work", "kept"]


def test_a_cold_suggest_loads_no_install_workflow():
    """suggest decides, logs and prints: the install, update, bench and conversation workflows and their
    25 result dataclasses (~30 ms of a cold start) stay unloaded, as do the heavy libraries."""
    code = ("import sys\nfrom recommender.cli import main\ntry:\n    main(['suggest', '--json', 'review this contract'])\n"
            "except SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    loaded = set(proc.stderr.split()[-1000:])
    assert json.loads(proc.stdout)["profile"] == "document-intelligence"
    unwanted = {"recommender.results", "recommender.installs", "recommender.updates", "recommender.bench",
                "recommender.conversations", "ollama", "httpx", "torch", "sklearn", "starlette", "uvicorn"}
    assert not unwanted & loaded, unwanted & loaded


def test_a_damaged_conversation_file_is_named_and_passed_over(small, taskprof_home):
    folder = taskprof_home / "conversations"
    folder.mkdir(parents=True)
    (folder / "0123456789ab.json").write_text("{not json")
    (folder / "ba9876543210.json").write_text(json.dumps({"id": "ba9876543210", "profile": "programming",
                                                          "updated": "2026-01-01T00:00:00+00:00",
                                                          "messages": [{"role": "user", "content": "hi"}]}))
    tp = Taskprof()
    assert [c.id for c in tp.conversations()] == ["ba9876543210"]  # the damaged one is left out
    with pytest.raises(InputError, match=r"0123456789ab\.json.*--delete 0123456789ab"):
        tp.ask("more", conversation="0123456789ab")
    tp.delete_conversation("0123456789ab")
    assert not (folder / "0123456789ab.json").exists()


def test_route_log_keeps_one_use_per_conversation_and_profile(small):
    from recommender.conversation import conversation_key, read_turns

    tp = Taskprof()
    messages = [{"role": "user", "content": CODE}]
    first = tp.route(messages).log(tp, "chat", model="qwen2.5-coder:7b", conversation=conversation_key(read_turns(messages)))
    messages += [{"role": "assistant", "content": "def rev(xs): ..."},
                 {"role": "user", "content": "now write a python unit test for that function"}]
    again = tp.route(messages).log(tp, "chat", conversation=conversation_key(read_turns(messages)))
    assert again.route == "kept" and again.id == first.id  # the same use, not a second one
    assert [e.command for e in usage.events()] == ["chat"]


def test_set_listing_is_what_installed_model_sees(small):
    from recommender.ollama_client import InstalledModel

    tp = Taskprof()
    tp.set_listing(small.host, {"qwen2.5-coder:7b": InstalledModel("qwen2.5-coder:7b", 1, "d", "")})
    assert tp.answer_model("programming", "fast").ref == "qwen2.5-coder:7b"  # no /api/tags asked
    assert "/api/tags" not in small.paths_called()
