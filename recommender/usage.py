"""The SQLite usage log: every suggestion, install and use, so taskprof can learn what matters here.

STUB: the interface below is fixed; the usage-log work fills in the storage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One thing the user did. Fields that do not apply stay None."""

    command: str  # suggest, install, ask, remove, update, bench, correct, auto-install
    profile: str | None = None
    tier: str | None = None
    model: str | None = None
    confidence: float | None = None
    abstained: bool | None = None
    text: str | None = None


def record(event: Event) -> str | None:
    """Append one event unless logging is switched off.

    Never raises: a failure to log must not fail the command. Returns a one-line warning for the
    CLI to print on stderr when something went wrong (e.g. a corrupt database was moved aside),
    else None.
    """
    return None
