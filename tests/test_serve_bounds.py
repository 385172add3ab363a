"""Bounded work per text: what routing reads of a long paste or a long word costs little and the same
whatever the input's length (issue 20: a 60,000-letter word took `suggest` past 9.5 GB; a paste of
blank lines took reading's line patterns a minute)."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import time

import pytest

from recommender import classifier, reading
from recommender.spelling import MAX_LENGTH, Speller


@pytest.fixture(scope="module")
def model():
    clf = classifier.load("static")
    clf.predict(["warm the classifier up"], similar=0)
    return clf


def _word(n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def test_the_speller_leaves_a_word_longer_than_any_slip_alone():
    calls = []

    def counts() -> dict[str, int]:
        calls.append(1)
        return {"contract": 5, "review": 3}

    speller = Speller(counts, lambda w: False)
    assert speller.correct_word("contarct") == "contract"  # a slip is still mended
    long = "a" * 60_000
    started = time.perf_counter()
    assert speller.correct_word(long) == long
    assert speller.correct_word("x" * (MAX_LENGTH + 1)) == "x" * (MAX_LENGTH + 1)
    assert time.perf_counter() - started < 0.05


PASTES = {
    "one word": lambda: "review " + _word(60_000),
    "one letter": lambda: "a" * 60_000,
    "blank lines": lambda: "fix this\n" + "\n" * 1_000_000 + "x",
    "blank lines with spaces": lambda: "fix\n" + " \n" * 500_000,
    "a csv": lambda: "a,b,c\n" * 170_000 + "summarise the table above",
    "prose without a stop": lambda: "please do not " + "lorem ipsum dolor " * 60_000,
    "code": lambda: "def f(x):\n    return x + 1\n\n" * 40_000,
    "a transcript": lambda: "[00:01] Alice: hi\n" * 60_000,
}


@pytest.mark.parametrize("kind", list(PASTES))
def test_a_megabyte_or_a_long_word_is_read_in_bounded_time(model, kind):
    text = PASTES[kind]()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        (p,) = model.predict([text], similar=0)
        times.append(time.perf_counter() - started)
    assert p.profile in model.labels
    # The best of five: the work itself, whatever else the shared machine runs meanwhile (a quadratic
    # pattern took seconds to a minute here; bounded, each is ~10-40 ms on a quiet machine).
    assert min(times) < 0.1, (kind, times)


def test_what_the_head_reads_is_capped_but_the_truncation_still_shows(model):
    r = reading.read("review this " + "clause " * 200_000)
    assert len(r.model_text) <= reading.READ_CHARS
    (p,) = model.predict(["review this " + "clause " * 200_000], similar=0)
    assert p.truncated


def test_suggest_with_a_60000_letter_word_is_quick_and_small(taskprof_home):
    """The whole command in a subprocess: < 1 s wall and < 150 MB peak resident memory.

    The wall time counted is the process's own: its time waiting in the kernel's run queue for a
    CPU (the last field but one of /proc/PID/schedstat, read from the exited child before it is
    reaped) is taken off, so that another job on a shared machine cannot fail it (it did at load 8 on
    2 cores: 1.32 s wall for 0.33 s of CPU) while a command that is slow on its own still does.
    """
    env = {**os.environ, "TASKPROF_HOME": str(taskprof_home)}
    code = ("import os, resource, subprocess, sys, time; s = time.perf_counter(); "
            "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT); wall = time.perf_counter() - s; "
            "queued = int(open(f'/proc/{p.pid}/schedstat').read().split()[1]) / 1e9; p.wait(); "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(wall - queued, u.ru_utime + u.ru_stime, u.ru_maxrss, p.returncode, wall)")
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "recommender", "suggest", "--no-log",
                              "review " + _word(60_000)], capture_output=True, text=True, env=env, timeout=60)
        own_wall, cpu, rss_kb, status, _wall = out.stdout.split()
        assert status == "0", out
        runs.append((float(own_wall), float(cpu), int(rss_kb) / 1024))
    # Wall time (less the run-queue wait): the best of three; CPU time: the median. It was 9.5 GB and
    # minutes before the speller's length bound.
    assert min(w for w, _, _ in runs) < 1.0, runs
    assert sorted(c for _, c, _ in runs)[1] < 1.0, runs
    assert max(m for _, _, m in runs) < 150, runs
