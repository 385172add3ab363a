"""The usage log: migrations, concurrency, corruption, and the queries suggest relies on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from recommender import config, paths, usage


def first_schema_db(path):
    """A database as the first release wrote it: migration 001 only, with rows."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    conn.execute(usage.MIGRATIONS[0][1])
    conn.execute("INSERT INTO migrations VALUES ('001_create_events', '2026-01-01T00:00:00+00:00')")
    conn.executemany(
        "INSERT INTO events (ts, command, profile, tier, model, confidence, abstained, text) VALUES (?,?,?,?,?,?,?,?)",
        [(f"2026-01-0{i}T10:00:00+00:00", "suggest", "programming", "fast", None, 0.9, 0, f"task {i}") for i in range(1, 4)],
    )
    conn.commit()
    conn.close()


def test_migrates_the_first_schema_keeping_rows():
    path = paths.usage_db_path()
    path.parent.mkdir(parents=True)
    first_schema_db(path)
    log = usage.UsageLog.open()
    names = [r[0] for r in log.conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [m[0] for m in usage.MIGRATIONS]
    assert log.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
    assert log.conn.execute("PRAGMA user_version").fetchone()[0] == len(usage.MIGRATIONS)
    assert log.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in log.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"bench", "corrections"} <= tables
    log.close()
    stats, _ = usage.stats()
    assert stats.total == 3 and stats.profiles[0].profile == "programming"


def test_reading_never_creates_the_database():
    assert usage.stats()[0].total == 0
    assert usage.top_profiles() == []
    assert usage.last_suggestion() is None
    assert usage.corrections() == []
    assert list(usage.events()) == []
    assert not paths.usage_db_path().exists()


def test_record_and_stats_shares_and_tiers():
    for profile, tier in [("writing", "fast"), ("writing", "quality"), ("writing", "fast"), ("research", "quality")]:
        logged = usage.record(usage.Event("suggest", profile=profile, tier=tier, confidence=0.8, abstained=False, text="t"))
        assert logged.warning is None and logged.id > 0
    usage.record(usage.Event("remove", profile="research"))  # not a use
    stats, warning = usage.stats()
    assert warning is None
    assert stats.total == 4
    writing = stats.profiles[0]
    assert (writing.profile, writing.uses, writing.top_tier) == ("writing", 3, "fast")
    assert writing.share == pytest.approx(0.75)
    assert stats.commands == {"suggest": 4, "remove": 1}
    assert usage.profile_counts() == {"writing": 3, "research": 1}
    assert usage.times_suggested("writing") == 3


def test_logging_off_records_nothing():
    from recommender.api import Taskprof

    config.set_value("logging", "false")
    assert Taskprof().record("suggest", profile="writing") is None
    assert not paths.usage_db_path().exists()


WRITER = textwrap.dedent(
    """
    import sys
    from recommender import usage
    for i in range(250):
        warning = usage.record(usage.Event("suggest", profile="programming", tier="fast", text=f"{sys.argv[1]}-{i}")).warning
        if warning:
            print(warning)
            sys.exit(1)
    """
)


def test_eight_processes_writing_at_once_lose_nothing(taskprof_home):
    env = {"TASKPROF_HOME": str(taskprof_home), "PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env=env, stdout=subprocess.PIPE, text=True)
             for n in range(8)]
    outputs = [(p.wait(timeout=120), p.stdout.read()) for p in procs]
    assert all(code == 0 for code, _ in outputs), outputs
    assert not any("locked" in out for _, out in outputs)
    conn = sqlite3.connect(paths.usage_db_path())
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2000
    assert conn.execute("SELECT COUNT(DISTINCT text) FROM events").fetchone()[0] == 2000


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_database_is_moved_aside_and_replaced(damage):
    for i in range(300):
        usage.record(usage.Event("suggest", profile="writing", text="x" * 200 + str(i)))
    path = paths.usage_db_path()
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    original = path.read_bytes()
    damaged = b"this is not a database at all" * 100 if damage == "garbage" else original[: len(original) // 3]
    path.write_bytes(damaged)
    # Either damage is the documented case: the file is moved aside whole with a warning, a fresh log takes the event.
    warning = usage.record(usage.Event("suggest", profile="research", text="after")).warning
    assert warning and "moved it to" in warning
    moved = [c for c in path.parent.glob("usage.db.corrupt-*") if not c.name.endswith(("-wal", "-shm"))]
    assert [m.read_bytes() for m in moved] == [damaged]
    stats, _ = usage.stats()
    assert stats.total == 1 and stats.profiles[0].profile == "research"


def test_corrections_and_last_suggestion():
    usage.record(usage.Event("suggest", profile="research", text="estimate churn"))
    last = usage.last_suggestion()
    assert (last.profile, last.text) == ("research", "estimate churn")
    assert usage.record_correction(text="estimate churn", profile="data-work", predicted="research") == 1
    assert [(c.text, c.profile, c.predicted) for c in usage.corrections()] == [("estimate churn", "data-work", "research")]


def test_bench_results_latest_per_model():
    usage.record_bench("llama3.1:8b", tokens_per_second=30.0, seconds_per_response=4.0, load_seconds=1.0,
                       ttft_seconds=0.5, prompt_tokens_per_second=200.0)
    usage.record_bench("llama3.1:8b", tokens_per_second=40.0, seconds_per_response=3.0, load_seconds=0.5,
                       ttft_seconds=0.3, prompt_tokens_per_second=250.0)
    usage.record_bench("qwen2.5:14b", tokens_per_second=20.0, seconds_per_response=6.0, load_seconds=2.0,
                       ttft_seconds=0.8, prompt_tokens_per_second=150.0)
    latest = usage.latest_bench()
    assert latest["llama3.1:8b"].tokens_per_second == 40.0
    assert set(usage.latest_bench(["qwen2.5:14b"])) == {"qwen2.5:14b"}


def test_config_validation():
    from recommender.errors import InputError

    with pytest.raises(InputError, match="unknown setting"):
        config.set_value("colour", "red")
    with pytest.raises(InputError, match="true or false"):
        config.set_value("auto_install", "maybe")
    assert config.set_value("auto_install_after", "5") == 5
    assert config.load()["auto_install_after"] == 5
    config.unset("auto_install_after")
    assert config.load()["auto_install_after"] == 3
