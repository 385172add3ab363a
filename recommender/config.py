"""Persistent settings in <data dir>/config.json, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender import paths
from recommender.errors import InputError, TaskprofError


@dataclass(frozen=True)
class Setting:
    default: Any
    kind: str  # bool, int, tier
    help: str


SETTINGS: dict[str, Setting] = {
    "logging": Setting(True, "bool", "record suggestions, installs and uses in the usage log"),
    "auto_install": Setting(False, "bool", "let `suggest` install a profile suggested often enough that is still missing"),
    "auto_install_after": Setting(3, "int", "how many suggestions of a profile before auto_install installs it"),
    "auto_install_tier": Setting("fast", "tier", "which tier auto_install pulls: fast, quality or all"),
}


def load(path: Path | None = None) -> dict[str, Any]:
    """Every setting, stored values over defaults. A damaged file is an error naming it."""
    values = {name: s.default for name, s in SETTINGS.items()}
    values.update({k: v for k, v in _stored(path or paths.config_path()).items() if k in SETTINGS})
    return values


def check_name(name: str) -> str:
    if name not in SETTINGS:
        raise InputError(f"unknown setting '{name}': known are {', '.join(SETTINGS)}")
    return name


def parse(name: str, raw: str) -> Any:
    kind = SETTINGS[check_name(name)].kind
    text = raw.strip().lower()
    if kind == "bool":
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise InputError(f"{name} takes true or false, not '{raw}'")
    if kind == "int":
        if not text.isdigit() or not 1 <= int(text) <= 1000:
            raise InputError(f"{name} takes a whole number from 1 to 1000, not '{raw}'")
        return int(text)
    if text not in ("fast", "quality", "all"):
        raise InputError(f"{name} takes fast, quality or all, not '{raw}'")
    return text


def set_value(name: str, raw: str, path: Path | None = None) -> Any:
    path = path or paths.config_path()
    value = parse(name, raw)
    stored = _stored(path)
    stored[name] = value
    paths.atomic_write_text(path, json.dumps(stored, indent=2) + "\n")
    return value


def unset(name: str, path: Path | None = None) -> None:
    check_name(name)
    path = path or paths.config_path()
    stored = _stored(path)
    if stored.pop(name, None) is not None:
        paths.atomic_write_text(path, json.dumps(stored, indent=2) + "\n")


def _stored(path: Path) -> dict[str, Any]:
    """What the file holds (unknown keys included, so a rewrite keeps them); {} when there is none."""
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskprofError(f"{path}: cannot read settings ({exc}); fix or delete the file") from None
    if not isinstance(stored, dict):
        raise TaskprofError(f"{path}: settings must be a JSON object; fix or delete the file")
    return stored
