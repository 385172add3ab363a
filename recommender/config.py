"""Persistent settings in <data dir>/config.json: typed, checked on every load, written atomically.

The file holds JSON-typed values (true, 5, "fast", 604800, null). `config set` parses the text a user
types into that form. On load a value of the right type and range is used; a string that `config set`
would accept (a hand-written "false") is read as what it says, with a warning; anything else gets a
warning and the default. A file that is not a JSON object gives a warning and every default: a typo in
config.json must not stop every command, but `config set` refuses to overwrite it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from recommender import files, lock, paths
from recommender.errors import InputError, TaskprofError


@dataclass(frozen=True)
class Setting:
    """One setting: its default, its kind (how it is parsed, checked and shown) and its help line."""

    default: Any
    kind: str  # a key of KINDS
    help: str


SETTINGS: dict[str, Setting] = {
    "logging": Setting(True, "bool", "record suggestions, installs and uses in the usage log"),
    "log_text": Setting(True, "bool", "keep each task's text in the usage log; false keeps a hash of it instead"),
    "auto_install": Setting(False, "bool", "let `suggest` install a profile suggested often enough that is still missing"),
    "auto_install_after": Setting(3, "count", "how many suggestions of a profile before auto_install installs it"),
    "auto_install_tier": Setting("fast", "tier", "which tier auto_install pulls: fast, quality or all"),
    "update_every": Setting(None, "duration", "how often install, ask and status remind you that `taskprof update` "
                                              "is due: 7d, 12h, 30m, 2w, or off"),
    "fast_host": Setting(None, "host", "the Ollama server for fast-tier models, e.g. http://localhost:11434 "
                                       "(unset: --host or OLLAMA_HOST)"),
    "quality_host": Setting(None, "host", "the Ollama server for quality-tier models, e.g. http://gpu-box:11434 "
                                          "(unset: --host or OLLAMA_HOST)"),
    "fast_host_memory": Setting(None, "memory", "memory of fast_host's machine for the fit check, e.g. 128GB "
                                                "(unset: a remote host's fit is not checked)"),
    "quality_host_memory": Setting(None, "memory", "memory of quality_host's machine for the fit check, e.g. 128GB "
                                                   "(unset: a remote host's fit is not checked)"),
    "serve_origins": Setting(None, "origins", "web pages `taskprof serve` answers besides loopback ones, comma-separated, "
                                              "e.g. https://chat.example.org,https://*.mycorp.test ('*': every site)"),
}


# --- kinds: what `config set` accepts, and what a stored value must be ---------------------------

COUNT_RANGE = (1, 1000)
_DURATION_RE = re.compile(r"^(\d+)\s*([mhdw])$")
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_RANGE = (60, 52 * 7 * 86400)  # a minute to a year: shorter nags, longer never comes


def _parse_bool(text: str) -> bool:
    text = text.strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError


def _parse_count(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not COUNT_RANGE[0] <= int(text) <= COUNT_RANGE[1]:
        raise ValueError
    return int(text)


def _parse_tier(text: str) -> str:
    text = text.strip().lower()
    if text not in ("fast", "quality", "all"):
        raise ValueError
    return text


def _parse_duration(text: str) -> int | None:
    text = text.strip().lower()
    if text == "off":
        return None
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError
    return _check_duration(int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _check_duration(seconds: Any) -> int | None:
    if seconds is None:
        return None
    if type(seconds) is not int or not DURATION_RANGE[0] <= seconds <= DURATION_RANGE[1]:
        raise ValueError
    return seconds


def _parse_host(text: str) -> str:
    # The installer's parser is the one every --host goes through; it imports no Ollama client.
    from recommender.ollama_client import resolve_host

    if not text.strip():
        raise ValueError
    try:
        return resolve_host(text)
    except InputError as exc:
        raise ValueError(str(exc)) from None


def _check_host(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError
    return _parse_host(value)


# No machine has an exabyte of memory: a larger figure is a typo (and 400 digits would overflow a float).
MAX_MEMORY_BYTES = 2**60


def _parse_memory(text: str) -> int:
    from recommender.hardware import parse_size

    try:
        size = parse_size(text)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    except OverflowError:
        size = MAX_MEMORY_BYTES + 1
    if size > MAX_MEMORY_BYTES:
        raise ValueError(f"'{text[:20]}{'...' if len(text) > 20 else ''}' is more memory than any machine has")
    return size


def _check_memory(value: Any) -> int | None:
    from recommender.hardware import MIN_MEMORY_BYTES

    if value is None:
        return None
    if type(value) is not int or not MIN_MEMORY_BYTES <= value <= MAX_MEMORY_BYTES:
        raise ValueError
    return value


# An origin as a browser sends it (scheme://host[:port]); `*` in the host stands for any part of it.
_ORIGIN_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[a-z0-9*._\-\[\]:]+$")
MAX_ORIGINS_CHARS = 4096


def _parse_origins(text: str) -> str | None:
    if text.strip().lower() in ("off", "none"):
        return None
    items = [item.strip().lower().rstrip("/") for item in text.split(",") if item.strip()]
    if not items or len(text) > MAX_ORIGINS_CHARS:
        raise ValueError
    for item in items:
        if item != "*" and not _ORIGIN_RE.match(item):
            raise ValueError(f"'{item[:60]}' is not an origin: write scheme://host[:port], e.g. https://chat.example.org")
    return ",".join(dict.fromkeys(items))


def _check_origins(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _parse_origins(value) != value:
        raise ValueError
    return value


def _exactly(test: Callable[[Any], bool]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not test(value):
            raise ValueError
        return value
    return check


@dataclass(frozen=True)
class Kind:
    """How a kind of setting is parsed from `config set`, checked when read from config.json, and shown."""

    takes: str  # what a user may write, for messages
    parse: Callable[[str], Any]  # text from `config set` -> typed value; ValueError when it is not one
    check: Callable[[Any], Any]  # a stored JSON value -> typed value; ValueError when it is not one
    show: Callable[[Any], str] = lambda value: json.dumps(value)


def _show_duration(seconds: int | None) -> str:
    if seconds is None:
        return "off"
    for unit in "wdh":
        if seconds % _DURATION_UNITS[unit] == 0:
            return f"{seconds // _DURATION_UNITS[unit]}{unit}"
    return f"{seconds // 60}m"


def _show_memory(size: int | None) -> str:
    return "not set" if size is None else f"{size / 1e9:g} GB"


KINDS: dict[str, Kind] = {
    "bool": Kind("true or false", _parse_bool, _exactly(lambda v: isinstance(v, bool))),
    # bool is an int in Python; JSON true is not a count.
    "count": Kind(f"a whole number from {COUNT_RANGE[0]} to {COUNT_RANGE[1]}", _parse_count,
                  _exactly(lambda v: type(v) is int and COUNT_RANGE[0] <= v <= COUNT_RANGE[1])),
    "tier": Kind("fast, quality or all", _parse_tier, _exactly(lambda v: v in ("fast", "quality", "all"))),
    "duration": Kind("a duration such as 7d, 12h, 30m or 2w (1m to 52w), or off", _parse_duration,
                     _check_duration, _show_duration),
    "host": Kind("an Ollama address such as http://gpu-box:11434 or gpu-box:11434", _parse_host, _check_host,
                 lambda v: "--host or OLLAMA_HOST" if v is None else v),
    "memory": Kind("a memory size such as 128GB, 48GiB or 16000MB", _parse_memory, _check_memory, _show_memory),
    "origins": Kind("comma-separated origins such as https://chat.example.org, '*' or off", _parse_origins,
                    _check_origins, lambda v: "not set" if v is None else v),
}


# --- the settings in force ---------------------------------------------------------------------

InstallTier = Literal["fast", "quality", "all"]


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """Every setting, typed; read-only. `warnings` says, one line each, what the file got wrong.

    Also a read-only mapping by setting name (`settings.get("logging", True)`, `dict(settings)`), for
    the callers that name a setting by string.
    """

    logging: bool = True
    log_text: bool = True
    auto_install: bool = False
    auto_install_after: int = 3
    auto_install_tier: InstallTier = "fast"
    update_every: int | None = None  # seconds
    fast_host: str | None = None
    quality_host: str | None = None
    fast_host_memory: int | None = None  # bytes
    quality_host_memory: int | None = None
    serve_origins: str | None = None  # comma-separated
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __getitem__(self, name: str) -> Any:
        if name not in SETTINGS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(SETTINGS)

    def __len__(self) -> int:
        return len(SETTINGS)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTINGS}


def load(path: Path | None = None) -> Settings:
    """Every setting: stored values checked against their kind, defaults for the rest.

    Never raises for what the file holds: every problem is a line in `.warnings` and the default
    stands in for the value it concerns.
    """
    path = path or paths.config_path()
    notes = [note] if (note := files.private_data_dir(path.parent)) else []
    values = {name: s.default for name, s in SETTINGS.items()}
    stored, problem = _read(path)
    if problem:
        return Settings(**values, warnings=(*notes, f"{problem}; using the default settings"))
    warnings = list(notes)
    for name, raw in stored.items():
        if name not in SETTINGS:
            warnings.append(f"{path}: unknown setting '{name}' is ignored (`taskprof config list` shows the known ones)")
            continue
        value, warning = _typed(name, raw, path)
        values[name] = value
        if warning:
            warnings.append(warning)
    return Settings(**values, warnings=tuple(warnings))


def _typed(name: str, raw: Any, path: Path) -> tuple[Any, str | None]:
    setting = SETTINGS[name]
    kind = KINDS[setting.kind]
    try:
        return kind.check(raw), None
    except ValueError:
        pass
    if isinstance(raw, str):
        try:
            value = kind.parse(raw)
        except ValueError:
            pass
        else:
            import shlex

            return value, (f"{path}: {name} is the string {_brief(raw)}, read as {kind.show(value)}; "
                           f"store it typed with `taskprof config set {name} {shlex.quote(raw.strip())}`")
    return setting.default, (f"{path}: {name} = {_brief(raw)} is not {kind.takes}; "
                             f"using the default, {kind.show(setting.default)}")


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


# --- changing them -------------------------------------------------------------------------------


def check_name(name: str) -> str:
    if name not in SETTINGS:
        raise InputError(f"unknown setting '{name}': known are {', '.join(SETTINGS)}")
    return name


def parse(name: str, raw: str) -> Any:
    """The typed value `config set NAME RAW` stores; InputError saying what NAME takes."""
    kind = KINDS[SETTINGS[check_name(name)].kind]
    try:
        return kind.parse(raw)
    except ValueError as exc:
        # A parser borrowed from elsewhere (addresses, sizes) says itself what is wrong.
        raise InputError(f"{name}: {exc}" if str(exc) else f"{name} takes {kind.takes}, not '{raw}'") from None


def show(name: str, value: Any) -> str:
    """A typed value as a person reads it: 7d for 604800 seconds, 128 GB for a memory size."""
    return KINDS[SETTINGS[check_name(name)].kind].show(value)


def set_value(name: str, raw: str, path: Path | None = None) -> Any:
    """Store one setting; read and rewritten under the state lock, so concurrent sets all land."""
    path = path or paths.config_path()
    value = parse(name, raw)
    with lock.state_lock(f"taskprof config set {name}"):
        stored = _stored_for_writing(path)
        stored[name] = value
        files.write_text(path, json.dumps(stored, indent=2) + "\n")
    return value


def unset(name: str, path: Path | None = None) -> None:
    check_name(name)
    path = path or paths.config_path()
    with lock.state_lock(f"taskprof config unset {name}"):
        stored = _stored_for_writing(path)
        if name in stored:
            del stored[name]
            files.write_text(path, json.dumps(stored, indent=2) + "\n")


def _stored_for_writing(path: Path) -> dict[str, Any]:
    """What the file holds, unknown keys included so that a rewrite keeps them; a file that cannot be
    read is an error: rewriting it would silently throw away whatever the user had in it."""
    stored, problem = _read(path)
    if problem:
        raise TaskprofError(f"{problem}; fix or delete it, then try again")
    return stored


CONFIG_BYTES = 64_000  # ten settings take a few hundred bytes


def _read(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the stored object, None), or ({}, what is wrong with the file). No file is no settings."""
    try:
        stored = files.read_json(path, max_bytes=CONFIG_BYTES, within=path.parent, expect=dict)
    except files.DamagedFile as exc:
        return {}, str(exc)
    return ({} if stored is None else stored), None
