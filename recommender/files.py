"""The one guarded way taskprof reads and writes its own files.

Reading: a regular file only (a FIFO, a device or a link that leaves its folder is refused, and a
FIFO is opened without blocking so it can never hang a command), at most `max_bytes`, UTF-8, and
for JSON a nesting-depth check before parsing and bounded numbers. Every problem is a `DamagedFile`
naming the file and what is wrong, in one line; the caller says what it did about it (ignored it,
moved it aside with `move_aside`).

Writing: atomic (a temporary file beside the target, then os.replace), created 0600, in a data
directory created 0700. A data directory an older taskprof left readable by others is made private
once, with a note (`private_data_dir`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender import paths
from recommender.errors import TaskprofError

# Caps by what the file is: settings and state are a few kB; a profile a few kB; the personal
# model's texts and arrays a few MB.
SMALL_JSON_BYTES = 1_000_000
MAX_DEPTH = 32
# JSON numbers: more digits than any size, count or time taskprof keeps (2**64 has 20).
MAX_INT_DIGITS = 24
FILE_MODE = 0o600
DIR_MODE = 0o700


class DamagedFile(TaskprofError):
    """A file taskprof owns cannot be used as it is; the message names it and says what is wrong."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class WriteFailed(TaskprofError, OSError):
    """A file cannot be written (a read-only or full disk, no permission). An OSError too, so that code
    that already treats a failed write as a warning keeps doing so."""


# --- reading ---------------------------------------------------------------------------------


def read_bytes(path: Path, *, max_bytes: int, within: Path | None = None) -> bytes | None:
    """The file's bytes; None when it does not exist. DamagedFile when it is not a regular file, is a
    link out of `within`, or is larger than `max_bytes`."""
    try:
        link = path.is_symlink()
    except OSError as exc:
        raise DamagedFile(path, f"cannot be read ({exc.strerror or exc})") from None
    if link:
        if not path.exists():
            return None  # a dangling link is a missing file
        if within is not None and not _is_within(path.resolve(), within.resolve()):
            raise DamagedFile(path, f"is a link to {path.resolve()}, outside {within}")
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DamagedFile(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DamagedFile(path, f"is not a regular file (it is a {_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise DamagedFile(path, f"is {info.st_size:,} bytes, more than the {max_bytes:,} such a file can be")
        chunks, size = [], 0
        while size <= max_bytes:  # the size can change between fstat and read: read at most one byte more
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise DamagedFile(path, f"is more than the {max_bytes:,} bytes such a file can be")
        return b"".join(chunks)
    except OSError as exc:
        raise DamagedFile(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def read_text(path: Path, *, max_bytes: int = SMALL_JSON_BYTES, within: Path | None = None) -> str | None:
    """The file as UTF-8 text; None when it does not exist."""
    raw = read_bytes(path, max_bytes=max_bytes, within=within)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedFile(path, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def read_json(path: Path, *, max_bytes: int = SMALL_JSON_BYTES, within: Path | None = None,
              expect: type | tuple[type, ...] | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """The file's JSON value; None when it does not exist. `expect` is the type the top level must have."""
    text = read_text(path, max_bytes=max_bytes, within=within)
    if text is None:
        return None
    return parse_json(text, path, expect=expect, max_depth=max_depth)


def parse_json(text: str, path: Path, *, expect: type | tuple[type, ...] | None = None,
               max_depth: int = MAX_DEPTH) -> Any:
    """JSON text checked for depth before parsing, with bounded numbers; DamagedFile naming `path`."""
    # No deeper than it has brackets: counting them (~0.1 ms on the 334 kB examples.json every suggest
    # reads) spares the string-aware scan (~5 ms there) for almost every file.
    depth = text.count("[") + text.count("{")
    if depth > max_depth:
        depth = json_depth(text)
    if depth > max_depth:
        raise DamagedFile(path, f"is nested {depth} levels deep, more than the {max_depth} taskprof reads")
    try:
        value = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant)
    except _NumberOutOfRange as exc:
        raise DamagedFile(path, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise DamagedFile(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # a number Python will not convert
        raise DamagedFile(path, f"is not valid JSON ({exc})") from None
    if expect is not None and not isinstance(value, expect):
        wanted = expect if isinstance(expect, tuple) else (expect,)
        raise DamagedFile(path, f"must hold {' or '.join(_JSON_NAMES.get(t, t.__name__) for t in wanted)}, "
                                f"not {_JSON_NAMES.get(type(value), 'that')}")
    return value


_JSON_NAMES = {dict: "a JSON object", list: "a JSON array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}
# A JSON string. Written as "unrolled loop" (runs of plain characters between escapes): the same
# matches as '"(?:[^"\\]|\\.)*"', whose alternation the regex engine takes one character at a time:
# 64 ms against 2 ms on the classifier's 334 kB examples.json, which every `suggest` reads.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deep the arrays and objects of JSON text nest (brackets inside strings do not count). Linear,
    and without recursion: json.loads itself recurses once per level and overflows the stack."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class _NumberOutOfRange(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NumberOutOfRange(f"holds a number of {len(text.lstrip('-'))} digits, more than any setting takes")
    return int(text)


def _bounded_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NumberOutOfRange(f"holds the number {text[:20]}..., too large for any setting")
    return value


def _no_constant(name: str) -> Any:
    raise _NumberOutOfRange(f"holds {name}, which is not a JSON number")


def checked(value: Any, path: Path, field: str, test: Callable[[Any], bool], wanted: str) -> Any:
    """A value read from a file, checked: DamagedFile saying which field is not what."""
    if not test(value):
        shown = json.dumps(value, ensure_ascii=False, default=str)
        raise DamagedFile(path, f"{field} is {shown[:40]}, not {wanted}")
    return value


def read_npz(path: Path, *, max_bytes: int = 64_000_000, within: Path | None = None) -> dict[str, Any]:
    """The arrays of an .npz file (no pickles); FileNotFoundError when it is missing, DamagedFile when
    it is truncated, empty or not an .npz at all."""
    raw = read_bytes(path, max_bytes=max_bytes, within=within)
    if raw is None:
        raise FileNotFoundError(path)
    if not raw:
        raise DamagedFile(path, "is empty")
    import io
    import zipfile

    import numpy as np

    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DamagedFile(path, f"is damaged ({exc.__class__.__name__}: {exc})") from None


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def move_aside(path: Path) -> Path:
    """Keep a damaged file for inspection as NAME.broken-<UTC time> and make room for a new one."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


# --- writing ---------------------------------------------------------------------------------


def ensure_dir(folder: Path) -> None:
    """Create a folder (and its parents) 0700; WriteFailed when that is not possible."""
    try:
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteFailed(f"cannot create {folder}: {exc.strerror or exc}") from None


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (a reader sees the old content or the new, never half) and privately (0600)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def create_private(path: Path) -> None:
    """Create an empty file 0600 unless it exists (for files another library opens, such as SQLite's)."""
    ensure_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
    except OSError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.strerror or exc}") from None


def private_data_dir(folder: Path | None = None) -> str | None:
    """Make an existing data directory that others can read private: the folder 0700, the files in it
    0600. Returns a one-line note when it changed anything (so once), else None. Never raises."""
    folder = folder or paths.data_dir()
    try:
        mode = folder.stat().st_mode
    except OSError:
        return None
    if not stat.S_ISDIR(mode) or not mode & 0o077 or os.name != "posix":
        return None
    try:
        if folder.stat().st_uid != os.getuid():
            return None  # someone else's folder (a shared TASKPROF_HOME): not ours to change
        os.chmod(folder, DIR_MODE)
        for root, dirs, names in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), DIR_MODE, follow_symlinks=False)
            for name in names:
                full = os.path.join(root, name)
                if not os.path.islink(full):
                    os.chmod(full, FILE_MODE)
    except OSError as exc:
        return f"{folder} can be read by other users (mode {stat.S_IMODE(mode):o}) and could not be made private: {exc.strerror}"
    return (f"made {folder} private: it was readable by other users (mode {stat.S_IMODE(mode):o}), "
            "now only you can read it (0700, files 0600)")
