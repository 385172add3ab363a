"""What the user installed through taskprof, kept apart from the usage log.

`usage off` and `usage clear` concern the log of what the user did; which profiles are installed
is state the tool needs to remove models safely, so it lives in <data dir>/state.json, written
atomically under the state lock (lock.py). A damaged file is moved aside with one warning, and the state counts as
missing: callers then infer it from what Ollama holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender import files, lock, paths

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
    """state.json as read: which profiles (and tiers) the user installed or removed, the models pulled
    and when `update` last ran."""

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


STATE_BYTES = 4_000_000  # a few hundred bytes per installed model


def load(path: Path | None = None) -> State:
    """The state in the file; a missing one is an empty State, a damaged one is moved aside (one warning)."""
    path = path or paths.state_path()
    try:
        obj = files.read_json(path, max_bytes=STATE_BYTES, within=path.parent, expect=dict)
        if obj is None:
            return State()
        return _parse(obj, path)
    except files.DamagedFile as exc:
        try:
            target = files.move_aside(path)
        except OSError as move_exc:
            return State(warning=f"{exc}; ignored it (could not move it aside: {move_exc.strerror}); "
                                 "install state inferred from Ollama")
        return State(warning=f"{exc}; moved it to {target.name}; install state inferred from Ollama")


def _parse(obj: dict[str, Any], path: Path) -> State:
    def need(value: Any, field: str, kind: type, wanted: str) -> Any:
        return files.checked(value, path, field, lambda v: isinstance(v, kind), wanted)

    if obj.get("version") != VERSION:
        raise files.DamagedFile(path, f"is not a taskprof state file of version {VERSION}")
    installed: dict[str, list[str]] = {}
    for name, tiers in need(obj.get("installed", {}), "installed", dict, "an object").items():
        need(tiers, f"installed.{name}", list, "a list of tiers")
        kept = [t for t in tiers if t in ("fast", "quality")]
        if kept:
            installed[name] = kept
    removed = {str(k): str(v) for k, v in need(obj.get("removed", {}), "removed", dict, "an object").items()}
    models = {}
    for key, rec in need(obj.get("models", {}), "models", dict, "an object").items():
        need(rec, f"models.{key}", dict, "an object")
        models[key] = ModelRecord(str(rec.get("digest", "")), str(rec.get("pulled_at", "")),
                                  str(rec.get("changed_at", "")))
    return State(
        exists=True,
        installed=installed,
        removed=removed,
        models=models,
        last_update=str(obj.get("last_update", "")),
        reminded_at=str(obj.get("reminded_at", "")),
    )


def change(fn: Callable[[State], None], path: Path | None = None) -> State:
    """Read, change and write the state in one step under the state lock; returns the new state."""
    path = path or paths.state_path()
    with lock.state_lock():
        current = load(path)
        fn(current)
        files.write_text(path, json.dumps(current.to_json(), indent=2, sort_keys=True) + "\n")
        current.exists = True
        return current
