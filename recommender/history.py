"""The usage log as the workflows see it: record what was decided and used, read it back as
history, stats and corrections.

usage.py owns the database (open, migrate, query); this module decides what a workflow records
(capped or hashed text, nothing at all with logging off) and turns rows into the API's results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recommender import usage
from recommender.errors import InputError, TaskprofError
from recommender.session import Session
from recommender.types import Decision, Route, Tier

if TYPE_CHECKING:
    from recommender.results import Corrected, ProfileUse

# How much of a task the usage log keeps: what the encoder reads, no more (a pasted diff is not kept whole).
LOG_TEXT_CHARS = 6144


def record(session: Session, command: str, *, profile: str | None = None, tier: str | None = None,
           model: str | None = None, confidence: float | None = None, abstained: bool | None = None,
           text: str | None = None, conversation: str | None = None, route: str | None = None) -> int | None:
    """Log one event unless logging is off; returns its id. The text is capped here; with log_text off
    usage.record keeps only its keyed hash."""
    if not session.logging_on():
        return None
    if text is not None:
        text = text[:LOG_TEXT_CHARS]
    logged = usage.record(usage.Event(command=command, profile=profile, tier=tier, model=model,
                                      confidence=confidence, abstained=abstained, text=text,
                                      conversation=conversation, route=route))
    session.warn(logged.warning)
    return logged.id


def log_decision(session: Session, decision: Decision, command: str = "suggest", *, model: str | None = None,
                 tier: Tier | None = None) -> int | None:
    """The one way a decision becomes a use (suggest, ask, serve): what was chosen and the text that decided."""
    return record(session, command, profile=decision.chosen_profile, tier=tier or decision.recommended_tier,
                  model=model, confidence=decision.confidence, abstained=decision.abstained, text=decision.read_text)


def log_route(session: Session, route: Route, command: str = "ask", *, model: str | None = None,
              tier: Tier | None = None, conversation: str | None = None) -> int | None:
    """A routed turn. With `conversation` (its key), the log keeps one use per (conversation, profile)."""
    return record(session, command, profile=route.profile, tier=tier or route.tier, model=model,
                  confidence=route.confidence, abstained=False, text=route.text, conversation=conversation,
                  route=route.route)


def counts(session: Session) -> dict[str, int]:
    """Uses per profile, without the profiles the user removed (they break ties for no one)."""
    try:
        found = usage.profile_counts()
    except TaskprofError as exc:
        session.warn(f"usage history not read: {exc}")
        return {}
    for message in usage.pop_warnings():
        session.warn(message)
    return {name: n for name, n in found.items() if name not in session.state.removed}


def top_profiles(limit: int = 5, days: int | None = None) -> list[usage.ProfileTally]:
    return usage.top_profiles(limit=limit, days=days)


def uses(rows: list[usage.ProfileTally] | tuple[usage.ProfileTally, ...], installed: dict[str, str | None]) -> tuple[ProfileUse, ...]:
    from recommender.results import ProfileUse  # not for suggest: see recommender.results

    return tuple(ProfileUse(u.profile, u.uses, u.share, u.last_used, u.top_tier, installed.get(u.profile))
                 for u in rows)


def stats(session: Session, days: int | None = None) -> usage.Stats:
    result, warning = usage.stats(days)
    session.warn(warning)
    return result


def correct(session: Session, profile: str, *, text: str | None = None, event_id: int | None = None) -> Corrected:
    """Relabel a task: the one given, the logged suggestion `event_id`, else the newest suggestion."""
    if text is not None and event_id is not None:
        raise InputError("give --id or --text, not both")
    target = session.profile(profile)
    if target.kind != "task" and not target.is_user:
        raise InputError(f"'{profile}' is a general profile; correct a task to a task profile or a profile of your own")
    predicted = None
    if text is not None:
        text = " ".join(text.split())
        if not text:
            raise InputError("--text is empty")
    else:
        event = usage.event_by_id(event_id) if event_id is not None else usage.last_suggestion()
        if event is None or event.command not in ("suggest", "ask") or not event.text:
            raise InputError(f"no logged suggestion #{event_id}" if event_id is not None else
                             'no suggestion to correct yet: pass --text "the task" PROFILE')
        if event.text.startswith((usage.HASH_PREFIX, "sha256:")):
            raise InputError(f"suggestion #{event.id} was logged without its text (log_text is false): "
                             'use --text "the task" PROFILE')
        text, predicted, event_id = event.text, event.profile, event.id
    from recommender.results import Corrected  # not for suggest: see recommender.results

    stored = usage.record_correction(text=text, profile=target.name, predicted=predicted)
    return Corrected(event_id, text, target.name, predicted, stored)

