"""The usage log: migrations, concurrency, corruption, and the queries suggest relies on."""

from __future__ import annotations

import os
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
    moved = [c for c in path.parent.glob("usage.db.broken-*") if not c.name.endswith(("-wal", "-shm"))]
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


# --- the usage log never blocks the main job ---------------------------------------------------

COMMANDS_THAT_LOG = [
    ("suggest", "write a python function to parse dates"),
    ("status",),
    ("profiles",),
    ("ask", "--tier", "fast", "write a python function to parse dates"),
]


@pytest.fixture
def coder(taskprof_home, ollama_server):
    """programming as a tiny profile whose fast model is installed, so `ask` can answer."""
    from tests.test_ollama import write_profile

    write_profile(taskprof_home, "programming", "qwen2.5-coder:7b", "qwen2.5-coder:32b")
    ollama_server.install("qwen2.5-coder:7b")
    return ollama_server


def _run(prefix: list[str], args: tuple[str, ...], host: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    from tests.conftest import console_script

    hosted = ("--host", host) if args[0] in ("status", "ask") else ()
    return subprocess.run([*prefix, *console_script(), *args[:1], *hosted, *extra, *args[1:]], capture_output=True,
                          text=True, timeout=120)


def _warnings(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("Warning:")]


@pytest.mark.parametrize("args", COMMANDS_THAT_LOG, ids=lambda a: a[0])
def test_a_folder_in_place_of_the_log_is_one_warning(coder, taskprof_home, args):
    (taskprof_home / "usage.db").mkdir()
    proc = _run([], args, coder.host)
    assert proc.returncode == 0, proc.stderr
    assert all("usage.db" in w for w in _warnings(proc)) and len(_warnings(proc)) <= 1
    if args[0] in ("suggest", "ask"):  # these record a use, so they meet the log and say so once
        (warning,) = _warnings(proc)
        assert "not a file" in warning and "carrying on without it" in warning
    assert (taskprof_home / "usage.db").is_dir()  # left alone


def test_no_log_never_opens_it(coder, taskprof_home):
    (taskprof_home / "usage.db").mkdir()
    proc = _run([], ("suggest", "write a python function to parse dates"), coder.host, ("--no-log",))
    assert proc.returncode == 0 and _warnings(proc) == [], proc.stderr
    config.set_value("logging", "false")
    proc = _run([], ("suggest", "write a python function to parse dates"), coder.host)
    assert proc.returncode == 0 and _warnings(proc) == [], proc.stderr


@pytest.mark.parametrize("args", COMMANDS_THAT_LOG, ids=lambda a: a[0])
def test_a_read_only_data_dir_is_one_warning(coder, taskprof_home, args):
    from tests.test_damaged_files import _without_root_powers

    prefix = _without_root_powers()
    taskprof_home.chmod(0o500)
    try:
        proc = _run(prefix, args, coder.host)
    finally:
        taskprof_home.chmod(0o700)
    assert proc.returncode == 0, proc.stderr
    warnings = _warnings(proc)
    about_log = [w for w in warnings if "usage.db" in w]
    assert len(about_log) == (1 if args[0] in ("suggest", "ask") else 0), proc.stderr
    # ask also keeps the conversation for `ask -c`: a cause already named (the data dir) is not named again.
    assert [w for w in warnings if w not in about_log] == [], proc.stderr
    assert not (taskprof_home / "usage.db").exists()


FULL_DISK = """
set -e
mount -t tmpfs -o size=200k,mode=0700 tmpfs "$HOME_DIR"
{ head -c 10000000 /dev/zero > "$HOME_DIR/filler" ; } 2>/dev/null || true
exec "$@"
"""


@pytest.mark.parametrize("existing", [False, True], ids=["new-log", "existing-log"])
def test_a_full_disk_is_one_warning(coder, taskprof_home, existing):
    """A real full disk: a 200 kB tmpfs filled to the last byte, in a mount namespace of its own."""
    import shutil as sh

    from tests.conftest import console_script

    if not sh.which("unshare") or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no mount namespaces here (unshare -rm): a full disk cannot be made")
    taskprof_home.mkdir(parents=True, exist_ok=True)
    script = FULL_DISK
    if existing:  # a log with rows, copied in before the disk fills
        usage.record(usage.Event("suggest", profile="programming", text="before"))
        keep = taskprof_home.parent / "keep.db"
        sqlite3.connect(paths.usage_db_path()).execute(f"VACUUM INTO '{keep}'").close()
        script = script.replace("{ head", f'cp "{keep}" "$HOME_DIR/usage.db"\n{{ head')
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *console_script(), "suggest",
                           "write a python function to parse dates"],
                          env={**os.environ, "HOME_DIR": str(taskprof_home)}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    (warning,) = _warnings(proc)
    assert "usage.db" in warning and ("full" in warning or "disk" in warning), warning


def test_a_damaged_log_moved_aside_says_so_once(run_script, taskprof_home):
    taskprof_home.mkdir()
    (taskprof_home / "usage.db").write_bytes(b"this is not a database" * 200)
    proc = run_script("suggest", "write a python function to parse dates")
    assert proc.returncode == 0
    (warning,) = _warnings(proc)
    assert "usage.db" in warning and "moved it to usage.db.broken-" in warning
    (kept,) = taskprof_home.glob("usage.db.broken-*")
    assert kept.read_bytes() == b"this is not a database" * 200
    assert [e.command for e in usage.events()] == ["suggest"]  # the fresh log took the event


# --- ids are never reused; the migration that made them so -------------------------------------

OLD_SCHEMA = [name for name, _ in usage.MIGRATIONS[:5]]


def _old_database(path, rows: int) -> None:
    """A log as taskprof made it before migration 006: plain INTEGER PRIMARY KEY, with rows."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, sql in usage.MIGRATIONS[:5]:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00+00:00')", (name,))
    for i in range(rows):
        conn.execute("INSERT INTO events (ts, command, profile, text) VALUES ('2026-01-02T00:00:00+00:00', 'suggest', "
                     "'writing', ?)", (f"old task {i}",))
    conn.commit()
    conn.close()


def test_migration_keeps_old_rows_and_ids_are_never_reused(taskprof_home):
    taskprof_home.mkdir()
    _old_database(paths.usage_db_path(), rows=5)
    new = usage.record(usage.Event("suggest", profile="research", text="new task"))
    assert new.id == 6 and new.warning is None
    kept = list(usage.events())
    assert [e.id for e in kept] == [1, 2, 3, 4, 5, 6]
    assert [e.text for e in kept][:2] == ["old task 0", "old task 1"]
    conn = sqlite3.connect(paths.usage_db_path())
    applied = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied[-2:] == ["006_events_autoincrement", "007_events_conversation"]
    assert "AUTOINCREMENT" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    assert usage.clear() == 6
    after = usage.record(usage.Event("suggest", profile="writing", text="after clear"))
    assert after.id == 7  # not 1: `correct --id 1` can never relabel this task as the old one
    assert usage.event_by_id(1) is None


# --- conversations: one use per (conversation, profile) -----------------------------------------


def test_a_twelve_turn_chat_is_one_use_and_a_switch_is_counted():
    def turn(profile: str, route: str) -> usage.Logged:
        return usage.record(usage.Event("chat", profile=profile, tier="fast", text="turn",
                                        conversation="conv-A", route=route))

    first = turn("programming", "new")
    later = [turn("programming", "kept") for _ in range(11)]
    assert {r.id for r in later} == {first.id}
    switched = turn("writing", "switched")
    back = turn("programming", "switched")  # back to a profile this conversation already used: nothing new
    assert switched.id != first.id and back.id == first.id
    usage.record(usage.Event("chat", profile="programming", tier="fast", conversation="conv-B", route="new"))
    stats, warning = usage.stats()
    assert warning is None
    assert (stats.conversations, stats.switches) == (2, 1)
    assert usage.profile_counts() == {"programming": 2, "writing": 1}
    rows = sqlite3.connect(paths.usage_db_path()).execute(
        "SELECT conversation, route FROM events ORDER BY id").fetchall()
    assert len(rows) == 3
    assert all(key.startswith("hmac:") and "conv" not in key for key, _ in rows)  # the key is stored hashed
    assert [route for _, route in rows] == ["new", "switched", "new"]
    assert rows[0][0] == usage.keyed_hash("conv-A")


def test_an_unknown_route_is_not_recorded():
    logged = usage.record(usage.Event("chat", profile="writing", conversation="c", route="sideways"))
    assert logged.id is None and "route" in logged.warning


def test_concurrent_turns_of_one_conversation_record_it_once(taskprof_home):
    code = textwrap.dedent("""
        from recommender import usage
        for _ in range(20):
            usage.record(usage.Event("chat", profile="writing", conversation="shared", route="kept"))
    """)
    env = {**os.environ, "TASKPROF_HOME": str(taskprof_home)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert sqlite3.connect(paths.usage_db_path()).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
