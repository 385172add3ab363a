"""The CLI at its edges (issue "One core, one truth"): one JSON document on stdout, install state that
outlives the usage log, what counts as a use, corrections of the task the user saw, typed settings,
a damaged personal model, one exit-code table. Each test failed before the service layer."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from recommender import history, paths, usage
from recommender.api import Taskprof
from tests.test_ollama import pulls, write_profile


def script(*args: str, input: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 60):
    """The console script in a child process: what a user's shell sees, tracebacks included."""
    return subprocess.run([sys.executable, "-m", "recommender", *args], input=input, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def coding(taskprof_home, ollama_server):
    """programming and data-work (they share qwen2.5-coder:7b) and brainstorming, tiny and pullable."""
    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    write_profile(taskprof_home, "data-work", "qwen2.5-coder:7b", "deepseek-r1:32b")
    write_profile(taskprof_home, "brainstorming", "dolphin-llama3:8b", "llama3.3:70b")
    for ref in ("qwen2.5-coder:7b", "qwen2.5-coder:32b", "deepseek-r1:32b", "dolphin-llama3:8b", "llama3.3:70b"):
        ollama_server.publish(ref)
    return ollama_server


# --- 1. --json is one JSON document on stdout, always ---------------------------------------------


def test_suggest_json_install_prints_one_document(run, coding):
    result = run("suggest", "--json", "--install", "--tier", "fast", "--yes", "--host", coding.host,
                 "--no-log", "brainstorm names for a bakery")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the plan and the progress went to stderr
    assert data["profile"] == "brainstorming"
    assert "Plan for brainstorming" in result.stderr and "Installed: dolphin-llama3:8b" in result.stderr
    assert pulls(coding) == ["dolphin-llama3:8b"]


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


def test_auto_install_keeps_stdout_one_document(run, coding):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    result = run("suggest", "--json", "--host", coding.host, "brainstorm names for a bakery")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["profile"] == "brainstorming"
    assert "auto-install is on" in result.stderr
    assert pulls(coding) == ["dolphin-llama3:8b"]


# --- 2. auto-install ------------------------------------------------------------------------------


def test_auto_install_acts_only_when_the_tier_is_missing_and_is_no_use(run, coding):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    for _ in range(3):
        assert run("suggest", "--json", "--host", coding.host, "brainstorm names for a bakery").exit_code == 0
    assert pulls(coding) == ["dolphin-llama3:8b"]  # once, not on every suggestion after the threshold
    stats = json.loads(run("usage", "stats", "--json", "--host", coding.host).stdout)
    assert stats["profiles"][0]["uses"] == 3  # the three suggestions; the install is no use


def test_auto_install_with_ollama_down_does_not_change_suggest(run, dead_host):
    run("config", "set", "auto_install", "true")
    run("config", "set", "auto_install_after", "1")
    result = run("suggest", "--json", "--host", dead_host, "brainstorm names for a bakery")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["profile"] == "brainstorming"
    assert "not reachable" in result.stderr


# --- 3. install state is not the usage log ---------------------------------------------------------


@pytest.mark.parametrize("forget", ["off", "clear"])
def test_remove_keeps_a_model_another_installed_profile_needs_without_the_log(run, coding, forget):
    if forget == "off":
        run("usage", "off")
    assert run("install", "data-work", "--tier", "fast", "--yes", "--host", coding.host).exit_code == 0
    if forget == "clear":
        run("usage", "clear", "--yes")
    coding.install("qwen2.5-coder:32b")
    result = run("remove", "programming", "--yes", "--host", coding.host)
    assert result.exit_code == 0, result.output
    assert "qwen2.5-coder:7b" in coding.installed  # data-work's fast model stays
    assert "keep    qwen2.5-coder:7b: still used by data-work" in result.stdout
    assert "qwen2.5-coder:32b" not in coding.installed


def test_remove_without_state_infers_from_what_ollama_holds(run, coding):
    coding.install("qwen2.5-coder:7b")
    coding.install("qwen2.5-coder:32b")
    assert not paths.state_path().exists()
    result = run("remove", "programming", "--yes", "--host", coding.host)
    assert result.exit_code == 0, result.output
    # data-work's fast tier is all there, so it looks installed: its model stays.
    assert "qwen2.5-coder:7b" in coding.installed and "qwen2.5-coder:32b" not in coding.installed


def test_remove_asks_and_defaults_to_no(coding, taskprof_home):
    coding.install("qwen2.5-coder:7b")
    coding.install("qwen2.5-coder:32b")
    code, out = _in_terminal(["remove", "programming", "--host", coding.host], answer=b"\r")
    assert "[y/N]" in out
    assert code == 1
    assert "qwen2.5-coder:32b" in coding.installed


# --- 4. what counts as a use ----------------------------------------------------------------------


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


# --- 5. correct fixes the task the user saw -------------------------------------------------------


def test_correct_after_a_piped_suggestion_relabels_that_one():
    assert script("suggest", "write a poem about autumn").returncode == 0
    # `| head -1`: the reader leaves after one line; the suggestion was logged before printing.
    proc = subprocess.Popen([sys.executable, "-m", "recommender", "suggest", "estimate churn from billing data"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    proc.wait(timeout=30)
    proc.stderr.close()
    result = script("correct", "business-research")
    assert result.returncode == 0, result.stderr
    assert b'"estimate churn from billing data" -> business-research' in result.stdout
    assert [c.text for c in usage.corrections()] == ["estimate churn from billing data"]


def test_suggestions_carry_an_id_that_correct_accepts(run):
    first = json.loads(run("suggest", "--json", "write a poem about autumn").stdout)
    run("suggest", "--json", "estimate churn from billing data")
    assert isinstance(first["id"], int)
    result = run("correct", "--id", str(first["id"]), "brainstorming")
    assert result.exit_code == 0
    assert f'#{first["id"]} "write a poem about autumn" -> brainstorming' in result.stdout
    again = run("correct", "--id", str(first["id"]), "writing")
    assert "1 correction stored" in again.stdout  # the same text again replaces the earlier one
    assert [(c.text, c.profile) for c in usage.corrections()] == [("write a poem about autumn", "writing")]
    assert run("correct", "--id", "99999", "writing").exit_code == 2


def test_text_output_prints_the_id():
    result = script("suggest", "review this contract")
    event = usage.last_suggestion()
    assert f"taskprof correct --id {event.id} PROFILE".encode() in result.stderr


# --- 6. settings are typed on load -----------------------------------------------------------------


def test_a_string_false_turns_logging_off_with_a_warning(run, taskprof_home):
    taskprof_home.mkdir(parents=True, exist_ok=True)
    (taskprof_home / "config.json").write_text(json.dumps({"logging": "false"}))
    result = run("suggest", "--json", "review this contract")
    assert result.exit_code == 0
    assert "logging" in result.stderr
    assert list(usage.events()) == []


def test_a_bad_setting_is_a_warning_not_a_traceback(taskprof_home):
    taskprof_home.mkdir(parents=True, exist_ok=True)
    (taskprof_home / "config.json").write_text(json.dumps({"auto_install_after": "abc", "auto_install": True}))
    result = script("suggest", "brainstorm names for a bakery")
    assert result.returncode == 0
    assert b"auto_install_after" in result.stderr and b"Traceback" not in result.stderr


# --- 8. a damaged personal model ------------------------------------------------------------------


def test_a_damaged_personal_model_warns_and_uses_the_shipped_one():
    personal = paths.personal_model_dir()
    personal.mkdir(parents=True)
    shipped = json.loads((paths.bundled_dir("models") / "manifest.json").read_text())
    (personal / "manifest.json").write_text(json.dumps({
        "format": shipped["format"], "labels": shipped["labels"], "examples_file": "examples.json",
        "base_training_data": shipped["training_data"]["sha256"],
        "heads": {"static": {"file": "head-static.npz", "threshold": 0.4}}}))
    (personal / "head-static.npz").write_bytes(b"not a zip file")
    result = script("suggest", "--json", "review this contract")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["personal"] is False
    assert result.stderr.count(b"personal model") == 1 and b"train --reset" in result.stderr


# --- 9. one exit-code table -----------------------------------------------------------------------


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
    code, out = _in_terminal(["remove", "programming", "--host", coding.host], answer=b"\x03")
    assert code == 130, out
    assert "Traceback" not in out
    assert "qwen2.5-coder:32b" in coding.installed


def test_ollama_down_is_exit_1_and_one_line(dead_host):
    result = script("install", "programming", "--yes", "--host", dead_host)
    assert result.returncode == 1
    assert result.stderr.decode().strip().count("\n") == 0 and b"not reachable" in result.stderr


# --- 10. the log keeps at most what the classifier reads ---------------------------------------


def test_the_log_stores_at_most_what_the_classifier_reads(run):
    diff = "diff --git a/x.py b/x.py\n" + "+    value = compute(value)\n" * 20_000
    assert run("suggest", "--json", input=diff).exit_code == 0
    stored = usage.last_suggestion().text
    assert 0 < len(stored) <= history.LOG_TEXT_CHARS < len(diff)


def test_log_text_false_keeps_a_hash(run):
    run("config", "set", "log_text", "false")
    assert run("suggest", "--json", "review this contract").exit_code == 0
    assert usage.last_suggestion().text.startswith("hmac:")  # keyed: see tests/test_privacy.py
    assert "review this contract" not in json.dumps([e.text for e in usage.events()])
    assert run("correct", "writing").exit_code == 2  # the text was not kept: say so


# --- 11. install what fits -------------------------------------------------------------------------


def test_install_without_tier_installs_what_fits_and_says_what_it_left_out(run, coding, taskprof_home):
    # Tiny downloads, but a quality model that needs far more memory than the machine has.
    profile = json.loads((taskprof_home / "profiles" / "programming.json").read_text())
    profile["models"][1]["params_b"] = 400
    profile["models"][1]["size_gb"] = 0.01
    (taskprof_home / "profiles" / "programming.json").write_text(json.dumps(profile))
    result = run("install", "programming", "--yes", "--host", coding.host, env={"TASKPROF_MEMORY": "4GB"})
    assert result.exit_code == 0, result.output
    assert pulls(coding) == ["qwen2.5-coder:7b"]
    assert "Left out: programming's quality tier" in result.stderr
    both = run("install", "programming", "--tier", "all", "--yes", "--host", coding.host,
               env={"TASKPROF_MEMORY": "4GB"})
    assert both.exit_code == 0 and pulls(coding) == ["qwen2.5-coder:7b", "qwen2.5-coder:32b"]


def test_stats_status_and_history_show_installed_tiers(run, coding):
    run("suggest", "--json", "write a python function to parse dates")
    assert run("install", "programming", "--tier", "fast", "--yes", "--host", coding.host).exit_code == 0
    stats = json.loads(run("usage", "stats", "--json", "--host", coding.host).stdout)
    assert stats["profiles"][0] == {**stats["profiles"][0], "profile": "programming", "installed": "fast"}
    status = json.loads(run("status", "--json", "--host", coding.host).stdout)
    assert {p["name"]: p["installed"] for p in status["profiles"]}["programming"] == "fast"
    history = json.loads(run("suggest", "--json", "--host", coding.host).stdout)
    assert history["profiles"][0]["installed"] == "fast"


# --- 12. smaller things --------------------------------------------------------------------------


def test_an_unknown_tag_is_not_http_minus_one_and_not_resumable(run, coding, taskprof_home):
    write_profile(taskprof_home, "mixed", "qwen2.5-coder:7b", "llama3.3:8b")
    result = run("install", "mixed", "--tier", "all", "--yes", "--host", coding.host)
    assert result.exit_code == 1
    assert "HTTP -1" not in result.output
    assert "resume" not in result.output


def test_plurals(run, coding):
    assert "1 distinct model)" in run("profiles", "size", "programming", "--tier", "fast").stdout
    run("suggest", "--json", "write a python function to parse dates")
    assert "1 use of profiles" in run("usage", "stats", "--host", coding.host).stdout


def test_config_help_shows_the_whole_set_line(run):
    assert "Change a setting." in run("config", "--help").stdout


def test_bench_of_a_model_names_a_profile_and_tier_that_belong_together(run, ollama_server):
    ollama_server.install("llama3.1:8b")
    data = json.loads(run("bench", "llama3.1:8b", "--json", "--host", ollama_server.host).stdout)
    row = data["models"][0]
    from recommender.profiles import load_catalogue

    assert load_catalogue()[row["profile"]].model_for(row["tier"]).ref == "llama3.1:8b"


def test_profile_names_shell_complete():
    env = {"_TASKPROF_COMPLETE": "bash_complete", "COMP_WORDS": "taskprof install prog", "COMP_CWORD": "2"}
    result = script(env=env)
    assert b"programming" in result.stdout


def test_tier_without_install_is_a_usage_error(run):
    result = run("suggest", "--tier", "fast", "review this contract")
    assert result.exit_code == 2
    assert "--install" in result.stderr


# --- helpers ---------------------------------------------------------------------------------------


def _reading_terminal(pid: int) -> bool:
    """Is the process blocked reading its terminal? A ^C that lands after the prompt is written but
    before the read starts is held until the read returns (the signal is noted, the read then waits
    for a line), so the answer waits for the read. Where /proc cannot tell, True."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip() in ("wait_woken", "n_tty_read")
    except OSError:
        return True


def _in_terminal(args: list[str], answer: bytes, timeout: float = 90,
                 prompt: bytes = b"? [y/N]: ") -> tuple[int, str]:
    """Run the console script on a pseudo-terminal, answer its prompt, return (exit code, screen).

    The answer goes only once the whole prompt is on the screen and the process is reading the
    terminal: sent at the first sign of a question, a ^C could land before the read began and be
    held until a line came, which failed on a loaded machine. A long deadline only bounds a hang;
    nothing sleeps."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "recommender", *args], os.environ)
    screen = b""
    deadline = time.monotonic() + timeout
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not answered and screen.rstrip(b" ").endswith(prompt.rstrip(b" ")) and _reading_terminal(pid):
            os.write(fd, answer)
            answered = True
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:  # still running past the deadline: never leave the test hanging on it
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def test_the_terminal_bar_never_drops_back_and_ends_on_the_average_speed():
    from recommender.cli.common import RichProgress

    bar = RichProgress()
    bar.start("qwen2.5-coder:7b", "http://127.0.0.1:11434", 4_700_000)
    shown = []
    for completed, total in [(1_000_000, 4_680_000), (4_680_000, 4_680_000), (4_680_500, 4_681_296),
                             (4_681_296, 4_681_296)]:
        bar.update(completed, total)  # the small layers after the weights raise the layers' total
        task = bar.progress.tasks[0]
        shown.append((task.total, task.finished))
    # The bar is never full before the model is (it used to fill at the end of the weights layer,
    # then fall back when the next layer raised the total).
    assert shown == [(4_700_000, False)] * 4
    bar.finish(True)
    bar.close()
    task = bar.progress.tasks[0]
    assert task.completed == task.total == 4_681_296
    assert task.fields["speed"].endswith("/s avg")


def test_suggest_batch_and_ask_choose_the_same_profile(run, coding):
    coding.install("qwen2.5-coder:7b")
    coding.install("deepseek-r1:32b")
    texts = ["write a SQL query for monthly revenue by region", "fix the off-by-one error in my python loop"]
    batch = [json.loads(line)["profile"] for line in run("suggest", "--batch", input="\n".join(texts)).stdout.splitlines()]
    for text, from_batch in zip(texts, batch, strict=True):
        single = json.loads(run("suggest", "--json", "--no-log", text).stdout)["profile"]
        asked = run("ask", "--no-log", "--tier", "fast", "--host", coding.host, text)
        assert asked.exit_code == 0, asked.output
        assert single == from_batch and f"[{single} -> " in asked.stderr
