"""One lock for state changes: concurrent config writes all land, a held lock names its holder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from recommender import config, lock, paths, state
from tests.conftest import assert_one_line_error, console_script

SETS = [("logging", "false"), ("log_text", "false"), ("auto_install", "true"), ("auto_install_after", "5"),
        ("auto_install_tier", "all"), ("update_every", "7d")]


def test_six_concurrent_config_sets_all_land(taskprof_home):
    for _ in range(3):  # the race that lost two of six needs no luck to show: run it a few times
        paths.config_path().unlink(missing_ok=True)
        procs = [subprocess.Popen([*console_script(), "config", "set", name, value], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for name, value in SETS]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        settings = config.load()
        assert (settings.logging, settings.log_text, settings.auto_install, settings.auto_install_after,
                settings.auto_install_tier, settings.update_every) == (False, False, True, 5, "all", 7 * 86400)
        assert len(json.loads(paths.config_path().read_text())) == 6


HOLDER = textwrap.dedent("""
    import sys, time
    from recommender import lock
    with lock.state_lock("taskprof install programming"):
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
""")


def _hold(seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_lock_times_out_with_a_message_naming_the_holder(taskprof_home):
    holder = _hold(30)
    try:
        proc = subprocess.run([*console_script(), "config", "set", "logging", "false"], capture_output=True,
                              text=True, timeout=60, env={**os.environ, lock.TIMEOUT_ENV: "0.5"})
        assert_one_line_error(proc, 1, f"process {holder.pid} (taskprof install programming, since ")
        assert "try again when it has finished" in proc.stderr
        assert not paths.config_path().exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_change_goes_through_when_the_holder_finishes(taskprof_home):
    holder = _hold(1.5)
    started = time.monotonic()
    proc = subprocess.run([*console_script(), "config", "set", "logging", "false"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started >= 0.5  # it waited for the holder
    holder.wait(timeout=30)
    assert config.load().logging is False


def test_a_killed_holder_leaves_no_stale_lock(taskprof_home):
    holder = _hold(60)
    holder.kill()
    holder.wait()
    with lock.state_lock("test", timeout=2):
        pass


def test_the_lock_is_reentrant_within_a_process(taskprof_home):
    with lock.state_lock("outer", timeout=1):
        config.set_value("logging", "false")  # takes it again: must not wait on itself
        state.change(lambda s: s.mark_installed("writing", {"fast"}))
    assert state.load().installed == {"writing": ["fast"]}
    assert config.load().logging is False


def test_threads_of_one_process_take_turns(taskprof_home):
    import threading

    order: list[str] = []

    def worker(name: str) -> None:
        with lock.state_lock(name, timeout=10):
            order.append(f"{name} in")
            time.sleep(0.05)
            order.append(f"{name} out")

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(order[i].split()[0] == order[i + 1].split()[0] for i in range(0, len(order), 2))


@pytest.mark.parametrize("value", ["", "abc", "-1", "1e9"])
def test_a_bad_timeout_setting_falls_back_to_the_default(monkeypatch, value):
    monkeypatch.setenv(lock.TIMEOUT_ENV, value)
    assert lock.timeout_s() == lock.DEFAULT_TIMEOUT_S
