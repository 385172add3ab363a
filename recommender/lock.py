"""The one lock that changes to taskprof's state take: installs, removals, updates, config writes, training.

`with state_lock("install programming"): ...` holds an exclusive lock on <data dir>/.lock. Read the
state and make the plan inside the block, from fresh state, so that two commands run together never
act on what the other is about to change.

fcntl.flock, not a library: the kernel drops the lock when its process dies (no stale lock files to
clean up), it costs no import on the CLI's cold path, and the holder writes who it is into the file
it locks, so a command that waits can say what it waits for. The lock is re-entrant within a
process (a config write inside an install takes it again without waiting on itself). Where fcntl
does not exist (Windows) the block runs unlocked: writes stay atomic, only concurrent changes may
be lost.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from recommender import files, paths
from recommender.errors import TaskprofError

TIMEOUT_ENV = "TASKPROF_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
_POLL_S = 0.02


class LockTimeout(TaskprofError):
    """Another taskprof process held the state lock for longer than the timeout."""


_held = threading.local()
_process_lock = threading.RLock()  # threads of one process (serve) take turns before the file lock


def lock_path() -> Path:
    return paths.data_dir() / ".lock"


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if 0 <= value <= 86_400 else DEFAULT_TIMEOUT_S


@contextlib.contextmanager
def state_lock(what: str = "", *, timeout: float | None = None) -> Iterator[None]:
    """Hold the state lock for the block; LockTimeout naming the holder when it stays busy past `timeout`."""
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    wait = timeout_s() if timeout is None else timeout
    if not _process_lock.acquire(timeout=wait if wait > 0 else -1):
        raise LockTimeout(f"another task in this process held taskprof's state lock for more than {wait:g} s")
    try:
        with _file_lock(lock_path(), what, wait):
            _held.depth = 1
            try:
                yield
            finally:
                _held.depth = 0
    finally:
        _process_lock.release()


@contextlib.contextmanager
def _file_lock(path: Path, what: str, wait: float) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:
        yield
        return
    files.ensure_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, files.FILE_MODE)
    except OSError as exc:
        raise files.WriteFailed(f"cannot write in {path.parent} ({exc.strerror or exc}), where taskprof keeps its "
                                f"settings and state; nothing was changed") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{holder(path)} has held taskprof's state lock ({path}) for longer than "
                                      f"{wait:g} s; try again when it has finished") from None
                time.sleep(_POLL_S)
        try:
            _write_holder(fd, what)
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_holder(fd: int, what: str) -> None:
    command = what or " ".join(["taskprof", *sys.argv[1:]])[:200]
    line = f"{os.getpid()} {datetime.now().strftime('%H:%M:%S')} {command}\n".encode("utf-8", "replace")
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, line, 0)


def holder(path: Path | None = None) -> str:
    """Who holds the lock, as the holder wrote it: 'process 1234 (taskprof install programming, since 17:40:02)'."""
    try:
        text = (files.read_text(path or lock_path(), max_bytes=4096) or "").strip()
    except files.DamagedFile:
        text = ""
    pid, _, rest = text.partition(" ")
    since, _, command = rest.partition(" ")
    if not pid.isdigit():
        return "another taskprof process"
    return f"process {pid} ({command or 'taskprof'}, since {since})"
