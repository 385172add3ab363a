"""Private by default: the data dir 0700, its files 0600, and with log_text=false no task text anywhere."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess

import pytest

from recommender import config, paths, usage
from tests.conftest import assert_one_line_error

TASK = "draft a letter to my landlord about the broken heating"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_file(folder):
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def test_a_new_data_dir_and_its_files_are_private(run_script, taskprof_home, ollama_server):
    old = os.umask(0o022)  # a user's usual umask: taskprof must not depend on it
    try:
        assert run_script("suggest", TASK).returncode == 0
        assert run_script("config", "set", "update_every", "7d").returncode == 0
        assert run_script("status", "--host", ollama_server.host).returncode == 0
        usage.keyed_hash("make the key")
    finally:
        os.umask(old)
    assert mode(taskprof_home) == 0o700
    made = {p.name: mode(p) for p in every_file(taskprof_home)}
    assert {"usage.db", "config.json", ".lock", "text-hash.key"} <= set(made)
    assert set(made.values()) == {0o600}, made


def test_an_existing_readable_dir_is_made_private_once_with_a_note(run_script, taskprof_home):
    taskprof_home.mkdir(mode=0o755)
    taskprof_home.chmod(0o755)
    (taskprof_home / "config.json").write_text("{}")
    (taskprof_home / "config.json").chmod(0o644)
    first = run_script("suggest", TASK)
    assert first.returncode == 0
    (note,) = [line for line in first.stderr.splitlines() if line.startswith("Warning:")]
    assert str(taskprof_home) in note and "private" in note and "755" in note
    assert mode(taskprof_home) == 0o700 and mode(taskprof_home / "config.json") == 0o600
    second = run_script("suggest", TASK)
    assert "private" not in second.stderr


def _everything_stored(folder) -> bytes:
    return b"".join(p.read_bytes() for p in every_file(folder))


def test_log_text_false_stores_no_task_text_anywhere(run_script, taskprof_home):
    assert run_script("config", "set", "log_text", "false").returncode == 0
    for _ in range(2):
        assert run_script("suggest", TASK).returncode == 0
    refused = run_script("correct", "--text", TASK, "writing")
    assert_one_line_error(refused, 1, "log_text is false")
    by_id = run_script("correct", "--id", "1", "writing")
    assert by_id.returncode != 0 and "Traceback" not in by_id.stderr
    stored = _everything_stored(taskprof_home)
    for piece in (TASK, "landlord", "heating"):
        assert piece.encode() not in stored, piece
    texts = [e.text for e in usage.events()]
    assert len(texts) == 2 and texts[0] == texts[1]  # identical tasks still group
    assert texts[0].startswith("hmac:")
    assert usage.corrections() == []


def test_the_keyed_hash_needs_the_installations_key(tmp_path, monkeypatch):
    here = usage.keyed_hash(TASK)
    assert here == usage.keyed_hash(TASK) and here != usage.keyed_hash(TASK + ".")
    assert here.removeprefix("hmac:") != hashlib.sha256(TASK.encode()).hexdigest()  # no dictionary attack
    assert usage.keyed_hash(here) == here
    key = paths.hash_key_path()
    assert mode(key) == 0o600 and len(key.read_bytes()) == usage.KEY_BYTES
    monkeypatch.setenv("TASKPROF_HOME", str(tmp_path / "another-install"))
    assert usage.keyed_hash(TASK) != here


def test_the_key_is_made_once_when_many_processes_need_it(taskprof_home):
    import sys

    code = "from recommender import usage; print(usage.keyed_hash('same task'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    outputs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(outputs) == 1 and next(iter(outputs)).startswith("hmac:")


def test_log_text_true_keeps_the_text(run_script):
    assert run_script("suggest", TASK).returncode == 0
    (event,) = usage.events()
    assert event.text == TASK
    assert config.load().log_text is True


@pytest.mark.parametrize("bad", ["", "short"])
def test_a_damaged_key_is_replaced(bad):
    key = paths.hash_key_path()
    key.parent.mkdir(parents=True)
    key.write_text(bad)
    value = usage.keyed_hash(TASK)
    assert value.startswith("hmac:") and len(key.read_bytes()) == usage.KEY_BYTES


def test_settings_json_is_written_private(taskprof_home):
    config.set_value("logging", "false")
    assert mode(paths.config_path()) == 0o600
    assert json.loads(paths.config_path().read_text()) == {"logging": False}
