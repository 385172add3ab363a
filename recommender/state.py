"""What the user installed through taskprof, kept apart from the usage log.

`usage off` and `usage clear` concern the log of what the user did; which profiles are installed
is state the tool needs to remove models safely, so it lives in <data dir>/state.json, written
atomically under a lock. A damaged file is moved aside with a warning, and the state counts as
missing: callers then infer it from what Ollama holds.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender import paths

VERSION = 1


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ModelRecord:
    """One model on one server, as taskprof last saw it after a pull."""

    digest: str = ""
    pulled_at: str = ""  # the last pull through taskprof (install or update)
    changed_at: str = ""  # the last pull that brought a new digest (or the first one)


@dataclass
class State:
    exists: bool = False  # False: no file yet (or a damaged one moved aside): infer from Ollama
    installed: dict[str, list[str]] = field(default_factory=dict)  # profile -> tiers the user installed
    removed: dict[str, str] = field(default_factory=dict)  # profile -> when the user removed it
    models: dict[str, ModelRecord] = field(default_factory=dict)  # "<host> <ref>" -> record
    last_update: str = ""  # the last `taskprof update` that finished without failures
    reminded_at: str = ""  # the last "an update is due" reminder
    warning: str | None = None

    def tiers_of(self, profile: str) -> set[str]:
        return set(self.installed.get(profile, ()))

    def model(self, host: str, ref: str) -> ModelRecord | None:
        return self.models.get(model_key(host, ref))

    def mark_installed(self, profile: str, tiers: set[str]) -> None:
        if tiers:
            self.installed[profile] = sorted(self.tiers_of(profile) | tiers)
            self.removed.pop(profile, None)

    def mark_removed(self, profile: str, tiers: set[str]) -> None:
        left = self.tiers_of(profile) - tiers
        if left:
            self.installed[profile] = sorted(left)
        else:
            self.installed.pop(profile, None)
            self.removed[profile] = now_utc()

    def record_pull(self, host: str, ref: str, digest: str) -> bool:
        """Note a finished pull; True when it brought a digest other than the one seen before."""
        now = now_utc()
        record = self.models.setdefault(model_key(host, ref), ModelRecord())
        changed = record.digest != digest
        if changed:
            record.digest, record.changed_at = digest, now
        record.pulled_at = now
        return changed

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "installed": self.installed,
            "removed": self.removed,
            "models": {k: vars(v) for k, v in sorted(self.models.items())},
            "last_update": self.last_update,
            "reminded_at": self.reminded_at,
        }


def model_key(host: str, ref: str) -> str:
    return f"{host} {ref}"


def load(path: Path | None = None) -> State:
    path = path or paths.state_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State()
    except OSError as exc:
        return State(warning=f"cannot read {path} ({exc.strerror}); install state inferred from Ollama")
    try:
        return _parse(json.loads(raw))
    except (ValueError, TypeError, AttributeError) as exc:
        target = _move_aside(path)
        return State(warning=f"{path} was damaged ({exc}); moved it to {target}; install state inferred from Ollama")


def _parse(obj: Any) -> State:
    if not isinstance(obj, dict) or obj.get("version") != VERSION:
        raise ValueError("not a taskprof state file of version 1")
    installed = {str(k): [str(t) for t in v if t in ("fast", "quality")] for k, v in obj.get("installed", {}).items()}
    models = {}
    for key, rec in obj.get("models", {}).items():
        models[str(key)] = ModelRecord(str(rec.get("digest", "")), str(rec.get("pulled_at", "")),
                                       str(rec.get("changed_at", "")))
    return State(
        exists=True,
        installed={k: v for k, v in installed.items() if v},
        removed={str(k): str(v) for k, v in obj.get("removed", {}).items()},
        models=models,
        last_update=str(obj.get("last_update", "")),
        reminded_at=str(obj.get("reminded_at", "")),
    )


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, target)
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the file, so two taskprof processes do not lose each other's change."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: writes are still atomic, only concurrent changes may be lost
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def change(fn: Callable[[State], None], path: Path | None = None) -> State:
    """Read, change and write the state in one locked step; returns the new state."""
    path = path or paths.state_path()
    with _locked(path):
        current = load(path)
        fn(current)
        paths.atomic_write_text(path, json.dumps(current.to_json(), indent=2, sort_keys=True) + "\n")
        current.exists = True
        return current
