"""The words every front end shares: Literal tiers, and the results of deciding (`Decision`, `Route`).

Results are small frozen dataclasses with `to_json()`, so the CLI's `--json`, a user's script and
the tests read the same fields. Nothing here imports the rest of the core: the CLI may import this
module without loading numpy, SQLite or the Ollama client. The results of the workflows `suggest`
never runs (installs, status, usage, bench...) are in recommender.results, loaded when one is built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

Tier = Literal["fast", "quality"]
InstallTier = Literal["fit", "fast", "quality", "all"]  # fit: the tiers the machine can run
TierSelection = Literal["fast", "quality", "all"]
RouteKind = Literal["new", "kept", "switched"]
Encoder = Literal["static", "full"]
ProfileState = Literal["installed", "partial", "missing", "unknown"]

TIERS: tuple[Tier, ...] = ("fast", "quality")
ENCODERS: tuple[Encoder, ...] = ("static", "full")
GB = 1_000_000_000

JSON = dict[str, Any]


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


class UsageLogger(Protocol):
    """What `Decision.log` and `Route.log` write through: a `recommender.Taskprof`."""

    def log_decision(self, decision: Decision, command: str, *, model: str | None = None,
                     tier: Tier | None = None) -> int | None: ...

    def log_route(self, route: Route, command: str, *, model: str | None = None, tier: Tier | None = None,
                  conversation: str | None = None) -> int | None: ...


# --- deciding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """A profile and the classifier's confidence in it."""

    profile: str
    confidence: float


@dataclass(frozen=True)
class SimilarExample:
    """A training example near the task: why the classifier leans the way it does."""

    text: str
    profile: str
    similarity: float


@dataclass(frozen=True)
class ModelChoice:
    """One tier of the chosen profile, with how fast it answers: expected, and measured once benched."""

    tier: Tier
    ref: str
    purpose: str
    size_gb: float
    expected_seconds: tuple[int, int]
    measured_seconds: float | None

    def to_json(self) -> JSON:
        return {"name": self.ref, "purpose": self.purpose, "size_gb": self.size_gb,
                "expected_seconds": list(self.expected_seconds), "measured_seconds": _r(self.measured_seconds, 2)}


@dataclass(frozen=True)
class Decision:
    """Which profile a text gets, why, and which of its tiers suits the machine that would run it."""

    text: str  # the task as given (whitespace collapsed)
    read_text: str  # the part that decided: the instruction of a paste, else the text as the encoder read it
    profile: str  # the best task profile (after a history tie-break), even when abstaining
    confidence: float
    alternatives: tuple[Scored, ...]
    abstained: bool
    fallback_profile: str | None
    recommended_tier: Tier
    tier_reason: str
    tier_hint: str | None
    similar: tuple[SimilarExample, ...]
    truncated: bool
    encoder: str
    personal: bool
    history_decided: str | None
    tier_fits: bool = True  # False: not even the recommended tier fits the machine that would run it
    focus: str | None = None
    payload_kind: str | None = None
    language: str = "en"
    language_note: str | None = None  # set when the text is in a language the classifier does not read
    models: tuple[ModelChoice, ...] = ()  # the chosen profile's tiers
    max_tokens: int = 0  # what the encoder reads: a truncated text was cut there
    id: int | None = None  # the usage-log event, once logged

    @property
    def chosen_profile(self) -> str:
        """The profile to act on: the fallback when abstaining."""
        return self.fallback_profile or self.profile

    def with_id(self, event_id: int | None) -> Decision:
        return replace(self, id=event_id)

    def log(self, tp: UsageLogger, command: str = "suggest", *, model: str | None = None,
            tier: Tier | None = None) -> Decision:
        """Record this decision in the usage log (unless logging is off) and return it with its id,
        as llm's `response.log_to_db()`: deciding and logging stay apart, so a dry look logs nothing."""
        return self.with_id(tp.log_decision(self, command, model=model, tier=tier))

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "text": self.text,
            "profile": self.profile,
            "confidence": _r(self.confidence),
            "alternatives": [{"profile": a.profile, "confidence": _r(a.confidence)} for a in self.alternatives],
            "abstained": self.abstained,
            "fallback_profile": self.fallback_profile,
            "models": {m.tier: m.to_json() for m in self.models},
            "recommended_tier": self.recommended_tier,
            "tier_reason": self.tier_reason,
            "tier_fits": self.tier_fits,
            "similar": [{"text": x.text, "profile": x.profile, "similarity": _r(x.similarity)} for x in self.similar],
            "truncated": self.truncated,
            "focus": self.focus,
            "payload_kind": self.payload_kind,
            "language": self.language,
            "language_note": self.language_note,
            "encoder": self.encoder,
            "personal": self.personal,
            "history_decided": self.history_decided,
        }


@dataclass(frozen=True)
class Route:
    """A conversation's profile and the tier to answer it with: what `tp.route(messages)` returns."""

    profile: str
    route: RouteKind  # new: first user turn; kept: the profile of the turn before; switched: another
    confidence: float
    previous: str | None
    reason: str
    tier: Tier
    tier_reason: str
    text: str  # the latest user turn: what is logged
    id: int | None = None

    def log(self, tp: UsageLogger, command: str = "ask", *, model: str | None = None, tier: Tier | None = None,
            conversation: str | None = None) -> Route:
        """Record this turn as a use; with `conversation` (conversation.conversation_key of the messages)
        the usage log keeps one use per (conversation, profile), however many turns it has."""
        return replace(self, id=tp.log_route(self, command, model=model, tier=tier, conversation=conversation))

    def to_json(self) -> JSON:
        return {"id": self.id, "profile": self.profile, "route": self.route, "confidence": _r(self.confidence),
                "previous": self.previous, "reason": self.reason, "tier": self.tier, "tier_reason": self.tier_reason}


# --- installing --------------------------------------------------------------------------------


class Progress(Protocol):
    """What install and update report while pulling (the CLI draws bars; serve logs)."""

    def start(self, ref: str, host: str, estimate_bytes: int) -> None: ...
    def update(self, completed: int, total: int) -> None: ...
    def finish(self, ok: bool) -> None: ...


class NoProgress:
    def start(self, ref: str, host: str, estimate_bytes: int) -> None:
        pass

    def update(self, completed: int, total: int) -> None:
        pass

    def finish(self, ok: bool) -> None:
        pass
