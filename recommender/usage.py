"""The SQLite usage log: every suggestion, install and use, so taskprof can learn what matters here.

One database, <data dir>/usage.db. Opening it runs the named migrations that have not run yet,
in order, inside a write transaction, so concurrent first opens cannot apply one twice. WAL mode
and a busy timeout let several taskprof processes write at once; every write is a transaction.
Reading functions never create the file. A file that is not a database, or is damaged, is moved
aside to usage.db.corrupt-<UTC time> and replaced by a fresh one, with a warning.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from recommender import files, paths
from recommender.errors import InputError, TaskprofError, UsageLogError

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0
# Events that count as a use of a profile: a suggestion shown, an answer from `ask`, a chat routed
# by `serve`. Maintenance (install, remove, update, bench, auto-install) is recorded but is no use:
# installing and removing a profile must not make history steer suggestions towards it.
USE_COMMANDS = ("suggest", "ask", "chat")

# Fills the daily summary from the events table: by migration 005, and after a bulk import.
DAILY_BACKFILL = (
    "INSERT INTO daily_uses (day, profile, tier, command, uses, last_ts) "
    "SELECT substr(ts, 1, 10), ifnull(profile, ''), ifnull(tier, ''), command, COUNT(*), MAX(ts) "
    "FROM events GROUP BY 1, 2, 3, 4"
)

# Named migrations, applied in this order and recorded in the `migrations` table. Never edit or
# reorder one that has shipped: add a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_create_events",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            command TEXT NOT NULL,
            profile TEXT,
            tier TEXT,
            model TEXT,
            confidence REAL,
            abstained INTEGER,
            text TEXT
        )""",
    ),
    ("002_index_events", "CREATE INDEX events_profile_ts ON events(profile, ts); CREATE INDEX events_command_ts ON events(command, ts)"),
    (
        "003_create_bench",
        """CREATE TABLE bench (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            model TEXT NOT NULL,
            tokens_per_second REAL,
            seconds_per_response REAL,
            load_seconds REAL,
            ttft_seconds REAL,
            prompt_tokens_per_second REAL
        ); CREATE INDEX bench_model_ts ON bench(model, ts)""",
    ),
    (
        "004_create_corrections",
        """CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            text TEXT NOT NULL,
            profile TEXT NOT NULL,
            predicted TEXT
        )""",
    ),
    (
        "005_create_daily_uses",
        # Stats read this summary, kept in step with `events` in the same transaction, so that
        # `usage stats` costs O(days x profiles), not O(events).
        """CREATE TABLE daily_uses (
            day TEXT NOT NULL,
            profile TEXT NOT NULL,
            tier TEXT NOT NULL,
            command TEXT NOT NULL,
            uses INTEGER NOT NULL,
            last_ts TEXT NOT NULL,
            PRIMARY KEY (day, profile, tier, command)
        ) WITHOUT ROWID;
        """ + DAILY_BACKFILL,
    ),
    (
        "006_events_autoincrement",
        # AUTOINCREMENT: an id is never handed out twice, even after `usage clear` emptied the table,
        # so `correct --id N` can never relabel a task other than the one it was shown for.
        # SQLite cannot add it to a table: copy the rows into one that has it.
        """CREATE TABLE events_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            command TEXT NOT NULL,
            profile TEXT,
            tier TEXT,
            model TEXT,
            confidence REAL,
            abstained INTEGER,
            text TEXT
        );
        INSERT INTO events_new (id, ts, command, profile, tier, model, confidence, abstained, text)
            SELECT id, ts, command, profile, tier, model, confidence, abstained, text FROM events;
        DROP TABLE events;
        ALTER TABLE events_new RENAME TO events;
        CREATE INDEX events_profile_ts ON events(profile, ts);
        CREATE INDEX events_command_ts ON events(command, ts)""",
    ),
    (
        "007_events_conversation",
        # A routed conversation is one use per (conversation, profile): `conversation` holds its key
        # (keyed hash), `route` how the turn that first reached the profile was routed.
        """ALTER TABLE events ADD COLUMN conversation TEXT;
        ALTER TABLE events ADD COLUMN route TEXT;
        CREATE UNIQUE INDEX events_conversation_profile ON events(conversation, ifnull(profile, ''))
            WHERE conversation IS NOT NULL""",
    ),
]

ROUTES = ("new", "kept", "switched")


@dataclass(frozen=True)
class Event:
    """One thing the user did. Fields that do not apply stay None."""

    command: str  # suggest, ask, chat (uses); install, remove, update, bench, auto-install (maintenance)
    profile: str | None = None
    tier: str | None = None
    model: str | None = None
    confidence: float | None = None
    abstained: bool | None = None
    text: str | None = None
    conversation: str | None = None  # a routed chat's conversation key: stored as its keyed hash
    route: str | None = None  # new, kept or switched: how that chat turn was routed


@dataclass(frozen=True)
class StoredEvent(Event):
    """An event as read back from the log, with its id and UTC timestamp."""

    id: int = 0
    ts: str = ""


@dataclass(frozen=True)
class ProfileTally:
    """How often one profile was used, its share of all uses, when last, and its most used tier."""

    profile: str
    uses: int
    share: float
    last_used: str
    top_tier: str | None


@dataclass(frozen=True)
class Stats:
    """What `usage stats` shows: uses per profile and per command over a period."""

    total: int
    days: int | None
    profiles: tuple[ProfileTally, ...]
    commands: dict[str, int]
    conversations: int = 0  # routed conversations (each counted once, whatever its turns)
    switches: int = 0  # turns that switched a conversation to a profile it had not used yet


@dataclass(frozen=True)
class BenchResult:
    """One `bench` measurement of a model (None where Ollama did not report the figure)."""

    model: str
    ts: str
    tokens_per_second: float | None
    seconds_per_response: float | None
    load_seconds: float | None
    ttft_seconds: float | None
    prompt_tokens_per_second: float | None


@dataclass(frozen=True)
class CorrectionRow:
    """A task the user relabelled, and what the classifier had said."""

    text: str
    profile: str
    predicted: str | None
    ts: str


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UsageLog:
    """An open usage database. Use `UsageLog.open()` or the module functions below."""

    def __init__(self, conn: sqlite3.Connection, path: Path, warning: str | None = None):
        self.conn = conn
        self.path = path
        self.warning = warning  # set when a corrupt file was moved aside while opening

    @classmethod
    def open(cls, path: Path | None = None, *, create: bool = True) -> UsageLog | None:
        """Open (and migrate) the log; None when it does not exist and `create` is False."""
        path = path or paths.usage_db_path()
        if not create and not path.exists():
            return None
        if path.exists() and not path.is_file():
            raise UsageLogError(f"the usage log {path} is not a file; carrying on without it")
        warning = None
        for attempt in range(2):
            try:
                if create:
                    files.create_private(path)  # 0600 before SQLite creates it (its -wal and -shm follow its mode)
                conn = _connect(path)
                migrate(conn)
                return cls(conn, path, warning)
            except sqlite3.DatabaseError as exc:
                if attempt == 0 and _is_corruption(exc):
                    warning = move_aside(path, exc)
                    continue
                raise UsageLogError(f"the usage log {path} cannot be used ({exc}); carrying on without it") from None
            except OSError as exc:
                raise UsageLogError(f"the usage log {path} cannot be used ({exc.strerror or exc}); "
                                    "carrying on without it") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One statement in its own write transaction."""
        with _transaction(self.conn):
            return self.conn.execute(sql, params)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are opened explicitly with BEGIN IMMEDIATE.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
    return conn


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error. Takes the write lock up front."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        _retry_locked(lambda: self.conn.execute("BEGIN IMMEDIATE"))
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc_type is None:
            _retry_locked(lambda: self.conn.execute("COMMIT"))
        else:
            self.conn.execute("ROLLBACK")
        return False


def _retry_locked(fn: Callable[[], T], seconds: float = BUSY_TIMEOUT_S) -> T:
    """Retry on 'database is locked': some lock waits (the WAL switch, a busy snapshot) skip the busy handler."""
    deadline = time.monotonic() + seconds
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied; returns their names."""
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    pending = [m for m in MIGRATIONS if m[0] not in applied]
    if not pending:
        return []
    done = []
    with _transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_utc()))
            done.append(name)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return done


def rebuild_summary(conn: sqlite3.Connection) -> None:
    """Recompute daily_uses from events (after a bulk import that bypassed record())."""
    with _transaction(conn):
        conn.execute("DELETE FROM daily_uses")
        conn.execute(DAILY_BACKFILL)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return "not a database" in str(exc) or "malformed" in str(exc)


def move_aside(path: Path, exc: Exception) -> str:
    """Keep a damaged database for inspection and make room for a fresh one."""
    target = files.move_aside(path)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return f"the usage log {path} was damaged ({exc}); moved it to {target.name} and started a new one"


def _with_log(fn: Callable[[UsageLog], T], *, create: bool, empty: T, path: Path | None = None) -> tuple[T, str | None]:
    """Run fn on the open log; a database that turns out damaged mid-query is moved aside once.

    A log that cannot be opened or written (a folder in its place, a read-only or full disk) is no
    error for the command: `empty` comes back with a one-line warning, the same line every time.
    """
    for attempt in range(2):
        try:
            log = UsageLog.open(path, create=create)
        except UsageLogError as exc:
            return empty, str(exc)
        if log is None:
            return empty, None
        try:
            return fn(log), log.warning
        except sqlite3.DatabaseError as exc:
            log.close()
            if attempt == 0 and _is_corruption(exc):
                warning = move_aside(log.path, exc)
                if not create:
                    return empty, warning
                result, _ = _with_log(fn, create=create, empty=empty, path=path)
                return result, warning
            return empty, f"the usage log {log.path} cannot be used ({exc}); carrying on without it"
        finally:
            log.close()
    raise AssertionError("unreachable")


# --- writing -----------------------------------------------------------------------------------


_pending_warnings: list[str] = []


def pop_warnings() -> list[str]:
    """Warnings from reads that had nothing to return them through (e.g. a damaged log moved aside)."""
    out = list(dict.fromkeys(_pending_warnings))
    _pending_warnings.clear()
    return out


def _pending(warning: str | None) -> None:
    if warning and warning not in _pending_warnings:
        _pending_warnings.append(warning)


# --- keeping task text private ------------------------------------------------------------------

HASH_PREFIX = "hmac:"
KEY_BYTES = 32


def keyed_hash(text: str) -> str:
    """What is kept instead of a text: HMAC-SHA256 under this installation's own random key.

    Identical texts give the same value, so they still group, but without the key (0600 in the data
    dir) a dictionary of likely tasks cannot be hashed to find which one it was, as an unsalted
    hash would allow. Already hashed text is returned as it is.
    """
    if text.startswith(HASH_PREFIX):
        return text
    import hashlib  # not at module level: OpenSSL takes milliseconds to load, and most runs keep text
    import hmac

    return HASH_PREFIX + hmac.new(_hash_key(), text.encode("utf-8"), hashlib.sha256).hexdigest()


_key: bytes | None = None


def _hash_key() -> bytes:
    """The per-installation key, made on first need: written whole to a temporary file, then linked
    into place, so two processes making it at once agree on one key and no reader sees half of one."""
    global _key
    path = paths.hash_key_path()
    if _key is not None and getattr(_hash_key, "path", None) == path:
        return _key
    raw = files.read_bytes(path, max_bytes=4096, within=path.parent)
    if raw is None or len(raw) < KEY_BYTES:
        files.ensure_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        files.write_bytes(tmp, os.urandom(KEY_BYTES))
        try:
            if raw is not None:  # a short (damaged) key: nothing hashed with it can match anyway
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        raw = files.read_bytes(path, max_bytes=4096, within=path.parent) or b""
    _key = raw
    _hash_key.path = path  # type: ignore[attr-defined]
    return raw


def text_kept() -> bool:
    """The `log_text` setting: False means no task text is stored anywhere, only its keyed hash."""
    from recommender import config

    return config.load().log_text


def _stored_text(text: str | None) -> str | None:
    if text is None or text_kept():
        return text
    return keyed_hash(text)


@dataclass(frozen=True)
class Logged:
    """What recording an event gave: its id, and one warning line when it could not be kept."""

    id: int | None  # the event's id, None when nothing was recorded
    warning: str | None  # one line for stderr when something went wrong


def record(event: Event) -> Logged:
    """Append one event (the caller checks the `logging` setting). With log_text off the text is
    replaced by its keyed hash here, whatever the caller passed; a conversation key is always hashed.

    A routed chat (`conversation` set) is one use per (conversation, profile): a later turn of the
    same conversation on a profile it already used records nothing and returns that first event's id.

    Never raises: a failure to log must not fail the command; it comes back as a warning.
    """
    earlier = pop_warnings()
    try:
        if event.route is not None and event.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, not {event.route!r}")
        stored = replace(event, text=_stored_text(event.text),
                         conversation=None if event.conversation is None else keyed_hash(event.conversation))
        event_id, warning = _with_log(lambda log: _insert(log, stored), create=True, empty=None)
    except (TaskprofError, sqlite3.Error, OSError, ValueError) as exc:
        event_id, warning = None, f"the usage log {paths.usage_db_path()} was not written ({exc}); carrying on without it"
    messages = list(dict.fromkeys([*earlier, *([warning] if warning else [])]))
    return Logged(event_id, "; ".join(messages) or None)


def _insert(log: UsageLog, event: Event) -> int:
    ts = now_utc()
    with _transaction(log.conn):
        if event.conversation is not None:
            found = log.conn.execute("SELECT id FROM events WHERE conversation = ? AND ifnull(profile, '') = ?",
                                     (event.conversation, event.profile or "")).fetchone()
            if found:
                return int(found[0])
        cursor = log.conn.execute(
            "INSERT INTO events (ts, command, profile, tier, model, confidence, abstained, text, conversation, route)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (ts, event.command, event.profile, event.tier, event.model, event.confidence,
             None if event.abstained is None else int(event.abstained), event.text, event.conversation, event.route),
        )
        log.conn.execute(
            "INSERT INTO daily_uses (day, profile, tier, command, uses, last_ts) VALUES (?,?,?,?,1,?) "
            "ON CONFLICT (day, profile, tier, command) DO UPDATE SET uses = uses + 1, last_ts = max(last_ts, excluded.last_ts)",
            (ts[:10], event.profile or "", event.tier or "", event.command, ts),
        )
        return int(cursor.lastrowid or 0)


def record_bench(model: str, *, tokens_per_second: float | None, seconds_per_response: float | None,
                 load_seconds: float | None, ttft_seconds: float | None,
                 prompt_tokens_per_second: float | None) -> str | None:
    """Store one benchmark result; returns a warning like record()."""
    def insert(log: UsageLog) -> None:
        log.write(
            "INSERT INTO bench (ts, model, tokens_per_second, seconds_per_response, load_seconds, ttft_seconds,"
            " prompt_tokens_per_second) VALUES (?,?,?,?,?,?,?)",
            (now_utc(), model, tokens_per_second, seconds_per_response, load_seconds, ttft_seconds,
             prompt_tokens_per_second),
        )
    _, warning = _with_log(insert, create=True, empty=None)
    return warning


class TextNotKept(TaskprofError):
    """A correction needs its task text, and log_text=false forbids keeping any."""


def record_correction(*, text: str, profile: str, predicted: str | None) -> int:
    """Store a correction, replacing an earlier one of the same text; returns how many are stored.

    A correction is the text the personal model trains on: its keyed hash would teach it nothing,
    so with log_text off it is refused (TextNotKept) rather than stored as a hash or as text.
    A log that cannot be written is an error here: storing the correction is the command's job.
    """
    if text.startswith((HASH_PREFIX, "sha256:")):
        raise InputError("that suggestion was logged without its text (log_text was false): "
                          'use --text "the task" PROFILE')
    if not text_kept():
        raise TextNotKept("log_text is false, so taskprof keeps no task text, and a correction is the text the "
                          "personal model learns from: nothing was stored (`taskprof config set log_text true` "
                          "to allow it)")

    def insert(log: UsageLog) -> int:
        with _transaction(log.conn):
            log.conn.execute("DELETE FROM corrections WHERE text = ?", (text,))
            log.conn.execute("INSERT INTO corrections (ts, text, profile, predicted) VALUES (?,?,?,?)",
                             (now_utc(), text, profile, predicted))
            return int(log.conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0])
    count, warning = _with_log(insert, create=True, empty=None)
    if count is None:
        raise UsageLogError(warning or "the correction could not be stored")
    return count


def clear() -> int:
    """Delete every event (corrections and benchmark results stay); returns how many went.
    Ids are never handed out again (AUTOINCREMENT, migration 006)."""
    def delete(log: UsageLog) -> int:
        with _transaction(log.conn):
            log.conn.execute("DELETE FROM daily_uses")
            return int(log.conn.execute("DELETE FROM events").rowcount)
    count, warning = _with_log(delete, create=False, empty=None)
    if count is None:
        if warning and "cannot be used" in warning:
            raise UsageLogError(warning)
        return 0
    return count


# --- reading (never creates the database) ------------------------------------------------------


def _since(days: int | None) -> str:
    if days is None:
        return ""
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


def stats(days: int | None = None) -> tuple[Stats, str | None]:
    """Uses per profile from the daily summary; with `days`, whole UTC days back from today."""
    def query(log: UsageLog) -> Stats:
        since = _since(days)[:10]
        rows = log.conn.execute(
            "SELECT profile, tier, command, SUM(uses), MAX(last_ts) FROM daily_uses WHERE day >= ? "
            "GROUP BY profile, tier, command", (since,)
        ).fetchall()
        per_profile: dict[str, list[Any]] = {}
        per_tier: dict[tuple[str, str], int] = {}
        commands: dict[str, int] = {}
        for profile, tier, command, n, last in rows:
            commands[command] = commands.get(command, 0) + n
            if command not in USE_COMMANDS or not profile:
                continue
            entry = per_profile.setdefault(profile, [0, ""])
            entry[0] += n
            entry[1] = max(entry[1], last)
            if tier:
                per_tier[(profile, tier)] = per_tier.get((profile, tier), 0) + n
        total = sum(n for n, _ in per_profile.values())

        def top_tier(profile: str) -> str | None:
            tiers = [(n, t) for (p, t), n in per_tier.items() if p == profile]
            return max(tiers)[1] if tiers else None

        uses = sorted(
            (ProfileTally(p, n, n / total, last, top_tier(p)) for p, (n, last) in per_profile.items()),
            key=lambda u: (-u.uses, u.profile),
        )
        conversations, switches = log.conn.execute(
            "SELECT COUNT(DISTINCT conversation), ifnull(SUM(route = 'switched'), 0) FROM events "
            "WHERE conversation IS NOT NULL AND ts >= ?", (_since(days),)
        ).fetchone()
        return Stats(total, days, tuple(uses), commands, int(conversations), int(switches))

    return _with_log(query, create=False, empty=Stats(0, days, (), {}))


def top_profiles(limit: int = 5, days: int | None = None) -> list[ProfileTally]:
    result, warning = stats(days)
    _pending(warning)
    return list(result.profiles[:limit])


def profile_counts(days: int | None = None) -> dict[str, int]:
    result, warning = stats(days)
    _pending(warning)
    return {u.profile: u.uses for u in result.profiles}


def times_suggested(profile: str) -> int:
    def query(log: UsageLog) -> int:
        return int(log.conn.execute(
            "SELECT ifnull(SUM(uses), 0) FROM daily_uses WHERE command = 'suggest' AND profile = ?", (profile,)
        ).fetchone()[0])
    count, warning = _with_log(query, create=False, empty=0)
    _pending(warning)
    return count


def last_suggestion() -> StoredEvent | None:
    """The newest logged suggestion (or ask) with its task."""
    return _one_event("command IN ('suggest', 'ask') AND text IS NOT NULL ORDER BY id DESC LIMIT 1", ())


def event_by_id(event_id: int) -> StoredEvent | None:
    return _one_event("id = ?", (event_id,))


def _one_event(where: str, params: tuple[Any, ...]) -> StoredEvent | None:
    def query(log: UsageLog) -> StoredEvent | None:
        row = log.conn.execute(
            "SELECT id, ts, command, profile, tier, model, confidence, abstained, text FROM events WHERE " + where,
            params,
        ).fetchone()
        return _event(row) if row else None
    event, warning = _with_log(query, create=False, empty=None)
    _pending(warning)
    return event


def events(days: int | None = None) -> Iterator[StoredEvent]:
    """Every event, oldest first (for export)."""
    log = UsageLog.open(create=False)
    if log is None:
        return
    try:
        for row in log.conn.execute(
            "SELECT id, ts, command, profile, tier, model, confidence, abstained, text FROM events "
            "WHERE ts >= ? ORDER BY id", (_since(days),)
        ):
            yield _event(row)
    except sqlite3.DatabaseError as exc:
        raise UsageLogError(f"usage log {log.path}: {exc}") from None
    finally:
        log.close()


def _event(row: tuple[Any, ...]) -> StoredEvent:
    id_, ts, command, profile, tier, model, confidence, abstained, text = row
    return StoredEvent(command=command, profile=profile, tier=tier, model=model, confidence=confidence,
                       abstained=None if abstained is None else bool(abstained), text=text, id=id_, ts=ts)


def corrections() -> list[CorrectionRow]:
    def query(log: UsageLog) -> list[CorrectionRow]:
        return [CorrectionRow(t, p, pr, ts) for t, p, pr, ts in
                log.conn.execute("SELECT text, profile, predicted, ts FROM corrections ORDER BY id")]
    empty: list[CorrectionRow] = []
    rows, warning = _with_log(query, create=False, empty=empty)
    _pending(warning)
    return rows


def latest_bench(refs: list[str] | None = None) -> dict[str, BenchResult]:
    """The newest benchmark result of each model (of `refs`, or of all)."""
    def query(log: UsageLog) -> dict[str, BenchResult]:
        rows = log.conn.execute(
            "SELECT model, ts, tokens_per_second, seconds_per_response, load_seconds, ttft_seconds, "
            "prompt_tokens_per_second FROM bench b WHERE id = (SELECT MAX(id) FROM bench WHERE model = b.model)"
        ).fetchall()
        found = {r[0]: BenchResult(*r) for r in rows}
        return found if refs is None else {k: v for k, v in found.items() if k in refs}
    empty: dict[str, BenchResult] = {}
    result, warning = _with_log(query, create=False, empty=empty)
    _pending(warning)  # a read that found the log damaged or unusable: the next record() reports it
    return result
