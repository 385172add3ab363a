"""Where taskprof keeps the user's files and where the bundled catalogue and classifier live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "TASKPROF_HOME"
_PACKAGE = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The user data directory: platformdirs' choice, moved by TASKPROF_HOME."""
    moved = os.environ.get(HOME_ENV)
    if moved:
        return Path(moved).expanduser()
    return platformdirs.user_data_path("taskprof")


def user_profiles_dir() -> Path:
    return data_dir() / "profiles"


def usage_db_path() -> Path:
    return data_dir() / "usage.db"


def personal_model_dir() -> Path:
    return data_dir() / "personal"


def hash_key_path() -> Path:
    """The per-installation key of usage.keyed_hash: what stands in for a task's text with log_text off."""
    return data_dir() / "text-hash.key"


def config_path() -> Path:
    return data_dir() / "config.json"


def state_path() -> Path:
    """Which profiles the user installed: kept apart from the usage log, which can be switched off."""
    return data_dir() / "state.json"


def bundled_dir(name: str) -> Path:
    """A bundled folder (profiles or models): inside the package in a wheel, at the repo root otherwise."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    # Report the repository location: it is where a developer would look first.
    return _PACKAGE.parent / name


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that a reader sees either the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
